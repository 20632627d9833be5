// PeerCredentials: a peer's key and the certificates central gives it
// (docs/protocol.md, "Trust"), kept in its internal folder where this
// process's peer transport (common/peer_channel.h) reads them.
//
// The key is made once (mode 0600) and never leaves the machine; a login
// sends a certificate request for it. What central answers — a certificate,
// the network's CA, the revoked serials — is checked before it is used: the
// certificate must be for this key and this account, issued by that CA,
// and (over https) that CA must be the one central itself is trusted by.
// peer-server and peer-client of one peer share the folder, the key and the
// newest certificate either of them received.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/peer_channel.h"
#include "common/status.h"

namespace p2pshare {

class PeerCredentials {
 public:
  // Loads (or makes) the key in `internal_dir` and makes this process's
  // peer transport use the identity there. `trusted_ca_pem`: the CA
  // central is trusted by (empty over plain http, where central's word is
  // all there is).
  static Result<std::unique_ptr<PeerCredentials>> Open(const std::string& internal_dir,
                                                       const std::string& username,
                                                       std::string trusted_ca_pem);

  // The certificate request to send at login (PEM).
  const std::string& csr() const { return csr_; }
  const PeerIdentity& identity() const { return identity_; }

  // Takes what a login or heartbeat reply carries: a certificate (may be
  // empty: none new), the CA (may be empty: unchanged), the serials
  // revoked since the last reply (added to those known). FailedPrecondition when the certificate or CA fails a check
  // (nothing is written then).
  Status Accept(const std::string& certificate, const std::string& ca,
                const std::vector<std::string>& revoked);

  // Whether the certificate on disk is valid now (e.g. central is away and
  // the peer must go on with what it has).
  bool HasValidCertificate() const;

 private:
  PeerCredentials() = default;

  PeerIdentity identity_;
  std::string username_;
  std::string key_pem_;
  std::string public_key_pem_;
  std::string csr_;
  std::string trusted_ca_pem_;
  mutable Mutex mu_;  // serializes writes of the files
};

}  // namespace p2pshare
