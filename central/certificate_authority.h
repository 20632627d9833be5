// CertificateAuthority: central as the certificate authority of its
// network (docs/protocol.md, "Trust").
//
// DESIGN: the CA's key and certificate live in `dir` (ca.key mode 0600 in
// a 0700 folder, ca.pem), made on the first start and kept across restarts
// and kill -9 (written through a temp file and a rename); replicas on a
// shared store keep them in the store instead (FromPems), so that every
// replica signs for one network. At every start
// central also makes itself a TLS server key (in memory only) and a
// certificate for it, signed by the CA, for the names peers and browsers
// use to reach it; its common name is kCentralCommonName, which no peer
// certificate can carry. Peers' certificates bind the public key of the
// request they sent at login to "peer/<username>", for a short lifetime.
//
// Thread-safe: const after Open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace p2pshare::central {

struct IssuedCertificate {
  std::string pem;
  std::string serial;  // lowercase hex
  int64_t not_after = 0;
};

// A CA's key and certificate, PEM.
struct CaPemPair {
  std::string key_pem;
  std::string cert_pem;
};

class CertificateAuthority {
 public:
  // A new CA key and self-signed certificate (what a first start makes).
  static Result<CaPemPair> MakeCa();
  // The CA of `pems` (e.g. the one replicas share through their store),
  // with a server certificate for `server_names`. Internal when they do
  // not parse or the key is not the certificate's.
  static Result<std::unique_ptr<CertificateAuthority>> FromPems(
      const CaPemPair& pems, const std::vector<std::string>& server_names);
  // Loads (or makes) the CA in `dir` and issues central's server
  // certificate for `server_names` (host names and IP literals). Internal
  // when the folder cannot be made or the files are unreadable.
  static Result<std::unique_ptr<CertificateAuthority>> Open(
      const std::string& dir, const std::vector<std::string>& server_names);
  ~CertificateAuthority();

  const std::string& ca_pem() const { return ca_pem_; }
  // SHA-256 of the CA certificate (64 hex digits): what peers pin.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& server_key_pem() const { return server_key_pem_; }
  // Central's certificate followed by the CA's: the chain its TLS sends.
  const std::string& server_chain_pem() const { return server_chain_pem_; }

  // A certificate for `username` over `public_key_pem` (a CSR's, already
  // verified), valid from a minute ago (clock skew) for `lifetime_s`.
  Result<IssuedCertificate> IssuePeer(const std::string& username,
                                      const std::string& public_key_pem,
                                      int64_t lifetime_s) const;

 private:
  CertificateAuthority() = default;
  struct Keys;
  std::unique_ptr<Keys> keys_;  // the CA's key and certificate, parsed
  std::string ca_pem_;
  std::string fingerprint_;
  std::string server_key_pem_;
  std::string server_chain_pem_;
};

// The names central's certificate carries by default: localhost, 127.0.0.1,
// ::1, this machine's host name, and `listen_host` unless it is a wildcard.
std::vector<std::string> DefaultServerNames(const std::string& listen_host);

}  // namespace p2pshare::central
