// Secrets of the directory: password hashes, session tokens, and the
// slow-down of repeated failed logins.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/mutex.h"

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
// failures.
//
// The rules are the functions below, on times in milliseconds of whatever
// clock the caller keeps: LoginThrottle keeps the counts in this process;
// replicas keep them in their shared database (ReplicaStore), so guesses
// spread over the replicas count as one.
struct ThrottlePolicy {
  int free_failures = 5;
  int64_t max_delay_ms = 60'000;
  int64_t known_for_ms = int64_t{30} * 24 * 3600 * 1000;
  static constexpr int64_t kForgetAfterMs = 15 * 60 * 1000;
};

// One key's failed logins.
struct FailureCount {
  int64_t failures = 0;
  int64_t blocked_until_ms = 0;
  int64_t last_failure_ms = 0;
};

// The keys counts are kept under: a (username, address) pair and an address.
std::string ThrottlePairKey(const std::string& username, const std::string& address);
std::string ThrottleAddressKey(const std::string& address);

// True when `count` is old enough to be forgotten at `now_ms`.
bool Forgotten(const FailureCount& count, int64_t now_ms);
// The pair's and the address's counts (nullopt: none yet) after one more
// failed login at `now_ms`.
std::pair<FailureCount, FailureCount> AfterLoginFailure(const std::optional<FailureCount>& pair,
                                                        const std::optional<FailureCount>& address,
                                                        const ThrottlePolicy& policy, int64_t now_ms);
// The seconds an attempt must wait at `now_ms`: the pair's own wait and,
// unless the pair is `known` (it logged in within known_for), its address's.
int64_t RetryAfterSeconds(const std::optional<FailureCount>& pair,
                          const std::optional<FailureCount>& address, bool known, int64_t now_ms);

// The in-process counts. Memory is bounded under a flood of names and
// addresses. Thread-safe.
class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(ThrottlePolicy policy = {}) : policy_(policy) {}

  // 0 when an attempt is allowed now; else the seconds to wait.
  int64_t RetryAfter(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordFailure(const std::string& username, const std::string& address,
                     Clock::time_point now);
  void RecordSuccess(const std::string& username, const std::string& address,
                     Clock::time_point now);

 private:
  // The live count of `key`, if any (old ones go).
  std::optional<FailureCount> Count(const std::string& key, int64_t now_ms) REQUIRES(mu_);
  bool Known(const std::string& pair, int64_t now_ms) REQUIRES(mu_);

  const ThrottlePolicy policy_;
  Mutex mu_;
  std::unordered_map<std::string, FailureCount> entries_ GUARDED_BY(mu_);  // by ThrottlePairKey/AddressKey
  // Pairs that logged in, with when; at most kMaxKnown (the oldest go).
  std::unordered_map<std::string, int64_t> known_ GUARDED_BY(mu_);  // ms on Clock
};

}  // namespace p2pshare::central
