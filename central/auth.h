// Secrets of the directory: password hashes, session tokens, and the
// slow-down of repeated failed logins.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace p2pshare::central {

// PBKDF2-HMAC-SHA256 iterations for new password hashes.
inline constexpr int kPbkdf2Iterations = 100000;

// A self-describing salted hash: "pbkdf2-sha256$<iterations>$<salt>$<hash>"
// (salt 16 random bytes, hash 32 bytes, both hex).
std::string HashPassword(const std::string& password, int iterations = kPbkdf2Iterations);
// Constant-time check of `password` against a HashPassword() string. False
// for a malformed hash.
bool VerifyPassword(const std::string& password, const std::string& hash);

// 256 random bits as 64 hex digits.
std::string NewToken();
// What the store keeps of a token: its SHA-256 (tokens are random, so a
// fast hash suffices).
std::string TokenHash(const std::string& token);

// Slows down password guessing: after `free_failures` failed logins for one
// username (or 4x that for one address) each further attempt must wait
// 1, 2, 4 ... up to `max_delay` seconds; a success for the username clears
// its count, and counts are forgotten after 15 minutes without failures, so
// the owner is never locked out for good. Thread-safe.
class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(int free_failures = 5,
                         std::chrono::seconds max_delay = std::chrono::seconds(60));

  // 0 when an attempt is allowed now; else the seconds to wait.
  int64_t RetryAfter(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordFailure(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordSuccess(const std::string& username);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point blocked_until{};
    Clock::time_point last_failure{};
  };
  int64_t WaitFor(const std::string& key, Clock::time_point now);  // REQUIRES: mu_ held
  void Fail(const std::string& key, int free_failures, Clock::time_point now);  // REQUIRES: mu_ held

  const int free_failures_;
  const std::chrono::seconds max_delay_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_); "u:name", "a:addr"
};

}  // namespace p2pshare::central
