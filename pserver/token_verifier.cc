#include "pserver/token_verifier.h"

#include "common/sha256.h"

namespace p2pshare::pserver {

CentralTokenVerifier::CentralTokenVerifier(DirectoryClient* client, std::chrono::seconds ttl,
                                           std::function<Clock::time_point()> now)
    : client_(client), ttl_(ttl), now_(std::move(now)) {}

Result<std::string> CentralTokenVerifier::Verify(const std::string& token) {
  if (token.empty()) return Unauthenticated("missing 'authorization: Bearer <token>' metadata");
  if (token.size() > 256) return Unauthenticated("unknown token");
  const std::string key = Sha256Hex(token);  // never keep callers' tokens in memory
  auto now = now_();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires > now) return it->second.username;
      cache_.erase(it);
    }
  }
  auto user = client_->Verify(token);
  if (!user.ok()) {
    if (user.status().code() == Code::kNotFound) {
      return Unauthenticated("unknown or expired token", "unknown_token");
    }
    return Unavailable("cannot check the token with central: " + user.status().message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() > 10000) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() > 10000) cache_.clear();
  }
  cache_[key] = Cached{*user, now + ttl_};
  return *user;
}

bool CentralTokenVerifier::CentralAnswers() {
  auto now = now_();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < answers_until_) return answers_;
  }
  bool answers = client_->Healthz().ok();
  std::lock_guard<std::mutex> lock(mu_);
  answers_ = answers;
  answers_until_ = now_() + std::chrono::seconds(1);
  return answers;
}

}  // namespace p2pshare::pserver
