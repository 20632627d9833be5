#include "central/certificates.h"

#include <spdlog/spdlog.h>

#include <ctime>

#include "common/x509.h"

namespace p2pshare::central {
Certificates::Certificates(DirectoryStore* store, const CertificateAuthority* ca,
                           int64_t lifetime_s, std::function<int64_t()> now_unix)
    : store_(store), ca_(ca), lifetime_s_(lifetime_s), now_unix_(std::move(now_unix)) {}

Result<std::string> Certificates::CheckRequest(const std::string& csr_pem) const {
  if (csr_pem.size() > 8192) return InvalidArgument("field 'csr' is over 8192 bytes");
  return CsrPublicKey(csr_pem);
}

Result<IssuedCertificate> Certificates::IssueAndRecord(const std::string& username,
                                                       const std::string& token_hash,
                                                       const std::string& public_key) {
  ASSIGN_OR_RETURN(IssuedCertificate cert, ca_->IssuePeer(username, public_key, lifetime_s_));
  RETURN_IF_ERROR(store_->AddCertificate(
      CertificateRecord{cert.serial, username, token_hash, cert.not_after}));
  std::lock_guard<std::mutex> lock(mu_);
  held_[token_hash] = Held{public_key, cert.not_after};
  if (held_.size() > 100000) {  // sessions that ended long ago; reloaded on demand
    std::erase_if(held_, [&](const auto& e) { return e.second.not_after < now_unix_(); });
  }
  return cert;
}

Result<IssuedCertificate> Certificates::Issue(const std::string& username,
                                              const std::string& token_hash,
                                              const std::string& public_key) {
  return IssueAndRecord(username, token_hash, public_key);
}

Result<std::optional<IssuedCertificate>> Certificates::RenewIfDue(const std::string& username,
                                                                  const std::string& token_hash) {
  std::optional<Held> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_.find(token_hash);
    if (it != held_.end()) held = it->second;
  }
  if (!held) {  // after a restart (or on another replica): from the store
    ASSIGN_OR_RETURN(auto session, store_->FindSession(token_hash));
    if (!session) return std::optional<IssuedCertificate>();
    held = Held{session->public_key, 0};
    if (!session->public_key.empty()) {
      ASSIGN_OR_RETURN(auto newest, store_->NewestCertificate(token_hash));
      if (newest) held->not_after = newest->not_after;
    }
    // Kept either way: a session without a key (a login without a CSR)
    // must not cost two reads at each heartbeat.
    std::lock_guard<std::mutex> lock(mu_);
    if (held_.size() > 100000) {
      std::erase_if(held_, [&](const auto& e) { return e.second.not_after < now_unix_(); });
    }
    held_[token_hash] = *held;
  }
  if (held->public_key.empty()) return std::optional<IssuedCertificate>();  // nothing to renew
  if (held->not_after - now_unix_() > lifetime_s_ / 2) return std::optional<IssuedCertificate>();
  ASSIGN_OR_RETURN(IssuedCertificate cert, IssueAndRecord(username, token_hash, held->public_key));
  return std::optional<IssuedCertificate>(std::move(cert));
}

std::vector<std::string> Certificates::Revoked() {
  const auto now = std::chrono::steady_clock::now();
  uint64_t as_of = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (revoked_as_of_ == revocations_ && now - revoked_read_ < std::chrono::seconds(30)) {
      return revoked_;
    }
    as_of = revocations_;
  }
  auto fresh = store_->RevokedCertificates(now_unix_());
  std::lock_guard<std::mutex> lock(mu_);
  if (!fresh.ok()) {
    spdlog::warn("cannot read the revoked certificates: {}", fresh.status().message());
    return revoked_;
  }
  revoked_ = std::move(fresh).value();
  revoked_read_ = now;
  revoked_as_of_ = as_of;  // a revocation meanwhile leaves it stale
  return revoked_;
}

void Certificates::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  ++revocations_;
}

}  // namespace p2pshare::central
