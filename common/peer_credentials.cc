#include "common/peer_credentials.h"

#include <ctime>
#include <filesystem>

#include "common/mutex.h"
#include "common/small_files.h"
#include "common/x509.h"

namespace p2pshare {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// The same certificate, whatever PEM line breaks a copy has.
bool SameCertificate(const std::string& a, const std::string& b) {
  auto x = ReadCertificate(a), y = ReadCertificate(b);
  return x.ok() && y.ok() && x->fingerprint == y->fingerprint;
}

}  // namespace

Result<std::unique_ptr<PeerCredentials>> PeerCredentials::Open(const std::string& internal_dir,
                                                               const std::string& username,
                                                               std::string trusted_ca_pem) {
  std::error_code ec;
  std::filesystem::create_directories(internal_dir, ec);
  if (ec) return Internal("cannot create " + internal_dir + ": " + ec.message());
  std::unique_ptr<PeerCredentials> c(new PeerCredentials());
  c->identity_ = PeerIdentityIn(internal_dir);
  c->username_ = username;
  c->trusted_ca_pem_ = std::move(trusted_ca_pem);
  ASSIGN_OR_RETURN(c->key_pem_, LoadOrCreatePrivateKey(c->identity_.key_file));
  ASSIGN_OR_RETURN(c->public_key_pem_, PublicKeyPem(c->key_pem_));
  ASSIGN_OR_RETURN(c->csr_, MakeCsr(c->key_pem_, kPeerNamePrefix + username));
  // A CA central is trusted by is the network's from the start: a peer
  // that cannot log in now can still check its callers.
  if (!c->trusted_ca_pem_.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(c->identity_.ca_file, c->trusted_ca_pem_, 0644));
  }
  UsePeerIdentity(c->identity_);
  return c;
}

Status PeerCredentials::Accept(const std::string& certificate, const std::string& ca,
                               const std::vector<std::string>& revoked) {
  AddRevokedCertificates(revoked);
  if (certificate.empty() && ca.empty()) return Status::Ok();
  MutexLock lock(mu_);
  std::string network_ca = ca;
  if (network_ca.empty()) {
    auto on_disk = ReadSmallFile(identity_.ca_file);
    if (!on_disk.ok()) return FailedPrecondition("central sent a certificate without its CA");
    network_ca = *on_disk;
  }
  if (!trusted_ca_pem_.empty() && !SameCertificate(network_ca, trusted_ca_pem_)) {
    return FailedPrecondition(
        "central sent a network CA other than the one its own certificate is from; refusing it");
  }
  if (!certificate.empty()) {
    auto info = VerifyCertificate(certificate, network_ca, Now());
    if (!info.ok()) return FailedPrecondition("central sent a bad certificate: " + info.status().message());
    if (PeerUsername(*info) != username_) {
      return FailedPrecondition("central sent a certificate for '" + info->common_name +
                                "', not for " + username_);
    }
    if (!CertificateMatchesKey(certificate, key_pem_)) {
      return FailedPrecondition("central sent a certificate for another key");
    }
    RETURN_IF_ERROR(WriteFileAtomically(identity_.ca_file, network_ca, 0644));
    RETURN_IF_ERROR(WriteFileAtomically(identity_.cert_file, certificate, 0644));
    ReloadPeerIdentity();
    return Status::Ok();
  }
  return WriteFileAtomically(identity_.ca_file, network_ca, 0644);
}

bool PeerCredentials::HasValidCertificate() const {
  auto cert = ReadSmallFile(identity_.cert_file);
  auto ca = ReadSmallFile(identity_.ca_file);
  if (!cert.ok() || !ca.ok()) return false;
  auto info = VerifyCertificate(*cert, *ca, Now());
  return info.ok() && PeerUsername(*info) == username_;
}

}  // namespace p2pshare
