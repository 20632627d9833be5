// How a peer comes to trust central (docs/protocol.md, "Trust"): central
// serves HTTPS with a certificate from the network's CA, and a peer trusts
// that CA — from a file (`central_ca`), or as pinned on first use, as SSH
// does with host keys — never whatever certificate a connection presents.
//
// The pin is the CA's certificate in <shared_dir>/.p2pshare/central-ca.pem.
// A first run with neither a CA file nor a pin fetches the CA central
// presents, checks it against `central_ca_sha256` when that is set, saves
// it and says so; later runs trust only that CA, and a central presenting
// another one fails TLS verification with a message naming the pin (a
// replaced CA is never re-pinned silently).
//
// Thread-safe: free functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2pshare {

struct CentralTrust {
  std::string ca_pem;     // the CA to trust for central; empty for plain http://
  std::string ca_source;  // where it came from, for messages ("pinned in ...")
  std::string note;       // a line for the user (a new pin), or empty
};

// Asked on first use, before anything is sent to central, with the
// SHA-256 fingerprint of the CA it presents: true to trust it (a person at
// a terminal who compared it with central's start-up line).
using ConfirmCentralCa = std::function<bool(const std::string& fingerprint)>;

// The CA to trust for `central_url`. `central_ca` (a PEM file) wins; else
// the pin at `pin_path`; else trust on first use as above, asking
// `confirm` first when it is set and `ca_sha256` is not (a fingerprint in
// the config is the answer already). FailedPrecondition when a CA does not
// match `ca_sha256` (64 hex digits, when set), and "untrusted_central" when
// `confirm` said no (nothing pinned, nothing sent); Unavailable
// "unreachable" when central cannot be reached to pin its CA.
Result<CentralTrust> ResolveCentralTrust(const std::string& central_url,
                                         const std::string& central_ca,
                                         const std::string& ca_sha256,
                                         const std::string& pin_path,
                                         const ConfirmCentralCa& confirm = nullptr);

// The certificates a TLS server at host:port presents (PEM, leaf first),
// without verifying them: what trust on first use looks at.
Result<std::vector<std::string>> PresentedChain(const std::string& host, int port,
                                                int timeout_ms = 5000);

// The scheme, host and port of an http:// or https:// URL; InvalidArgument
// for anything else. The port defaults to 80 or 443.
struct UrlParts {
  bool https = false;
  std::string host;  // without brackets
  int port = 0;
};
Result<UrlParts> ParseCentralUrl(const std::string& url);

// Whether `host` is this machine's loopback (localhost, 127.0.0.0/8, ::1).
bool IsLoopbackHost(const std::string& host);

}  // namespace p2pshare
