// TokenVerifier: whose is a caller's bearer token? The peer-server asks
// central (POST /verify) and caches a good answer for at most 30 s (keyed
// by the token's hash: callers' tokens are never kept). Unknown tokens and
// failures to ask are not cached.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/directory_client.h"
#include "common/status.h"

namespace p2pshare::pserver {

class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // The username owning `token`. Unauthenticated when it owns none;
  // Unavailable when central cannot be asked.
  virtual Result<std::string> Verify(const std::string& token) = 0;
  // Whether central answers now (so tokens can be checked at all).
  virtual bool CentralAnswers() { return true; }
};

// Verifies through central with the peer-server's own token. Thread-safe.
class CentralTokenVerifier final : public TokenVerifier {
 public:
  using Clock = std::chrono::steady_clock;
  // `now` is the clock the cache's ages are measured with (tests move it).
  explicit CentralTokenVerifier(DirectoryClient* client,
                                std::chrono::seconds ttl = std::chrono::seconds(30),
                                std::function<Clock::time_point()> now = Clock::now);
  Result<std::string> Verify(const std::string& token) override;
  // Asks central's /healthz, at most once a second (the answer is kept).
  bool CentralAnswers() override;

 private:
  struct Cached {
    std::string username;
    Clock::time_point expires;
  };
  DirectoryClient* const client_;
  const std::chrono::seconds ttl_;
  const std::function<Clock::time_point()> now_;
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // GUARDED_BY(mu_); key: token hash
  bool answers_ = true;                            // GUARDED_BY(mu_)
  Clock::time_point answers_until_{};              // GUARDED_BY(mu_)
};

}  // namespace p2pshare::pserver
