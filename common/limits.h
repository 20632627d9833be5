// Per-caller limits shared by central and peer-server (docs/protocol.md,
// "Limits"): a caller is whatever key the server knows it by (a source
// address, an account from a certificate).
//
//  - RateLimits: a token bucket per key (`rate` a second, up to `burst`
//    saved up). Take() says whether one more call may go now, or how long
//    until it may.
//  - ConcurrencyLimits: at most `per_key` calls of one key at a time (and
//    `total` of all keys); Enter() hands out a Slot that gives its place
//    back when destroyed.
//
// RateLimits keeps at most `max_keys` buckets: beyond, the least recently
// used is forgotten (it has refilled the most; forgetting can only favour
// the caller it belonged to), so a flood of distinct keys costs bounded
// memory. ConcurrencyLimits keeps only keys with calls in flight.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace p2pshare {

// One take from a token bucket of `rate` tokens a second holding at most
// `burst`, which held `*tokens` `elapsed_s` seconds ago: 0 when a token was
// taken (`*tokens` is what is left), else the milliseconds until one may
// be (`*tokens` is the refilled count). RateLimits keeps its buckets in
// memory; central's replicas keep theirs in the database with the same rule.
int64_t TakeFromBucket(double* tokens, double rate, double burst, double elapsed_s);

class RateLimits {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimits(double rate, double burst, size_t max_keys = 100000);

  // 0 when a call of `key` may go now (and takes its token); else the
  // milliseconds until one may (nothing taken). A rate of 0 or less means
  // no limit.
  int64_t Take(const std::string& key, Clock::time_point now = Clock::now());
  size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
    std::list<std::string>::iterator order;
  };

  const double rate_, burst_;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::list<std::string> order_;                      // GUARDED_BY(mu_): least recent first
  std::unordered_map<std::string, Bucket> buckets_;   // GUARDED_BY(mu_)
};

class ConcurrencyLimits {
 public:
  ConcurrencyLimits(int64_t per_key, int64_t total);

  // Gives its place back when destroyed (or reset).
  class Slot {
   public:
    Slot() = default;
    Slot(ConcurrencyLimits* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Slot(Slot&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }
    void reset();

   private:
    ConcurrencyLimits* owner_ = nullptr;
    std::string key_;
  };

  // A slot for `key`, or nullopt when `key` has per_key calls in flight or
  // all keys together have `total` (0 or less: no limit of that kind).
  std::optional<Slot> Enter(const std::string& key);
  int64_t InFlight(const std::string& key) const;
  int64_t InFlight() const;

 private:
  void Leave(const std::string& key);

  const int64_t per_key_, total_;
  mutable std::mutex mu_;
  int64_t all_ = 0;                                     // GUARDED_BY(mu_)
  std::unordered_map<std::string, int64_t> in_flight_;  // GUARDED_BY(mu_): only keys > 0
};

}  // namespace p2pshare
