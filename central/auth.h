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

// Slows down password guessing without handing attackers a lockout
// (docs/protocol.md, "Limits"). Failures are counted per (username,
// source address) and per source address: after `free_failures` failed
// logins for one username from one address (or 4x that for one address
// over all names) each further attempt from there must wait 1, 2, 4 ... up
// to `max_delay` seconds. There is no count per username over all
// addresses, so failures from an attacker's address never delay the owner
// at another one; and a (username, address) pair that has logged in
// successfully (remembered `known_for`) is not slowed by its address's
// count either, so a stranger guessing behind the owner's NAT does not
// keep the owner out. Counts are forgotten after 15 minutes without
// failures. Memory is bounded under a flood of names and addresses.
// Thread-safe.
class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(int free_failures = 5,
                         std::chrono::seconds max_delay = std::chrono::seconds(60),
                         std::chrono::hours known_for = std::chrono::hours(24 * 30));

  // 0 when an attempt is allowed now; else the seconds to wait.
  int64_t RetryAfter(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordFailure(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordSuccess(const std::string& username, const std::string& address,
                     Clock::time_point now);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point blocked_until{};
    Clock::time_point last_failure{};
  };
  int64_t WaitFor(const std::string& key, Clock::time_point now);  // REQUIRES: mu_ held
  void Fail(const std::string& key, int free_failures, Clock::time_point now);  // REQUIRES: mu_ held
  bool Known(const std::string& pair, Clock::time_point now);  // REQUIRES: mu_ held

  const int free_failures_;
  const std::chrono::seconds max_delay_;
  const std::chrono::hours known_for_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_); "p:name\naddr", "a:addr"
  // Pairs that logged in, with when; at most kMaxKnown (the oldest go).
  std::unordered_map<std::string, Clock::time_point> known_;  // GUARDED_BY(mu_)
};

}  // namespace p2pshare::central
