#include "central/certificates.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "common/mutex.h"
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
  MutexLock lock(mu_);
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
    MutexLock lock(mu_);
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
    MutexLock lock(mu_);
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

Certificates::News Certificates::RevokedAfter(int64_t after) {
  const auto now = std::chrono::steady_clock::now();
  uint64_t as_of = 0;
  int64_t known = 0;
  bool read = false;
  {
    MutexLock lock(mu_);
    read = revoked_as_of_ != revocations_ || now - revoked_read_ >= std::chrono::seconds(1);
    // The usual heartbeat: it has heard of everything there is.
    if (!read && after == known_seq_) return News{{}, known_seq_, false};
    as_of = revocations_;
    known = known_seq_;
  }
  if (read) {
    auto fresh = store_->RevokedAfter(known, now_unix_());
    MutexLock lock(mu_);
    if (!fresh.ok()) {
      spdlog::warn("cannot read the revoked certificates: {}", fresh.status().message());
    } else if (known == known_seq_) {  // no other reader appended meanwhile
      for (RevokedCertificate& r : *fresh) {
        known_seq_ = std::max(known_seq_, r.seq);
        revoked_.push_back(std::move(r));
      }
      revoked_read_ = now;
      revoked_as_of_ = std::max(revoked_as_of_, as_of);  // a revocation meanwhile leaves it stale
    }
  }
  MutexLock lock(mu_);
  const int64_t unix_now = now_unix_();
  if (now - revoked_pruned_ >= std::chrono::minutes(1)) {  // expired: no longer worth telling
    std::erase_if(revoked_, [&](const RevokedCertificate& r) { return r.not_after < unix_now; });
    revoked_pruned_ = now;
  }
  if (after > known_seq_) after = 0;  // a cursor from another database: tell everything
  News news;
  auto it = std::upper_bound(revoked_.begin(), revoked_.end(), after,
                             [](int64_t seq, const RevokedCertificate& r) { return seq < r.seq; });
  int64_t last = after;
  for (; it != revoked_.end(); ++it) {
    // Whole revocations only: the cursor moves past a seq once all of it is told.
    if (news.serials.size() >= kRevokedPerReply && it->seq != last) {
      news.more = true;
      break;
    }
    last = it->seq;
    if (it->not_after >= unix_now) news.serials.push_back(it->serial);
  }
  news.seq = news.more ? last : std::max(after, known_seq_);
  return news;
}

void Certificates::Invalidate() {
  MutexLock lock(mu_);
  ++revocations_;
}

}  // namespace p2pshare::central
