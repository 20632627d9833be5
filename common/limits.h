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
//  - FairSlots: places that callers wait for, handed out fairly between
//    keys (below).
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
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"

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
  mutable Mutex mu_;
  std::list<std::string> order_ GUARDED_BY(mu_);  // least recent first
  std::unordered_map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
};

// A place held in `Owner` under `Key`, given back (Owner::Leave(key))
// when destroyed or reset; movable, not copyable.
template <class Owner, class Key>
class HeldPlace {
 public:
  HeldPlace() = default;
  HeldPlace(Owner* owner, Key key) : owner_(owner), key_(std::move(key)) {}
  HeldPlace(HeldPlace&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
  HeldPlace& operator=(HeldPlace&& o) noexcept {
    if (this != &o) {
      reset();
      owner_ = o.owner_;
      key_ = std::move(o.key_);
      o.owner_ = nullptr;
    }
    return *this;
  }
  HeldPlace(const HeldPlace&) = delete;
  HeldPlace& operator=(const HeldPlace&) = delete;
  ~HeldPlace() { reset(); }
  void reset() {
    if (owner_ != nullptr) owner_->Leave(key_);
    owner_ = nullptr;
  }

 private:
  Owner* owner_ = nullptr;
  Key key_{};
};

class ConcurrencyLimits {
 public:
  ConcurrencyLimits(int64_t per_key, int64_t total);

  // Gives its place back when destroyed (or reset).
  using Slot = HeldPlace<ConcurrencyLimits, std::string>;

  // A slot for `key`, or nullopt when `key` has per_key calls in flight or
  // all keys together have `total` (0 or less: no limit of that kind).
  std::optional<Slot> Enter(const std::string& key);
  int64_t InFlight(const std::string& key) const;
  int64_t InFlight() const;

 private:
  friend class HeldPlace<ConcurrencyLimits, std::string>;
  void Leave(const std::string& key);

  const int64_t per_key_, total_;
  mutable Mutex mu_;
  int64_t all_ GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, int64_t> in_flight_ GUARDED_BY(mu_);  // only keys > 0
};

// FairSlots: at most `capacity` holders at once, shared fairly between the
// keys each caller comes with (central: its source address and, where
// known, its account). A caller that finds no room waits its turn: when a
// place frees, it goes to the waiter whose keys were served longest ago
// (never-served keys first; ties in arrival order), and never to one whose
// key already holds `per_key` places. So a caller in a loop, however many
// connections it opens, takes at most `per_key` places and then waits
// behind everyone it has been served before. At most `max_waiting` wait:
// when that many do, a newcomer takes the place of a waiter of the key
// with the most waiters (which is told busy) if its own keys have fewer,
// else it is told busy itself. A waiter whose `wait` runs out is told busy.
//
// Thread-safe; Slot as ConcurrencyLimits's.
class FairSlots {
 public:
  using Clock = std::chrono::steady_clock;
  FairSlots(int64_t capacity, int64_t per_key, size_t max_waiting);

  using Slot = HeldPlace<FairSlots, std::vector<std::string>>;

  // A place for a caller with `keys` (empty keys are ignored), within
  // `wait`; nullopt when there was none (busy).
  std::optional<Slot> Enter(std::vector<std::string> keys, Clock::duration wait);
  int64_t running() const;
  size_t waiting() const;

 private:
  struct Waiter {
    std::vector<std::string> keys;
    uint64_t arrival = 0;
    bool admitted = false;
    bool refused = false;
  };
  struct KeyState {
    int64_t running = 0;
    int64_t waiting = 0;
    uint64_t served_at = 0;  // the admission count when it was last served (0: never)
  };
  // Gives free places to the waiters whose turn it is.
  void AdmitLocked() REQUIRES(mu_);
  // Counts `keys` in (or out of) the running.
  void TakeLocked(const std::vector<std::string>& keys) REQUIRES(mu_);
  friend class HeldPlace<FairSlots, std::vector<std::string>>;
  void Leave(const std::vector<std::string>& keys) EXCLUDES(mu_);
  // Forgets keys with nothing running or waiting.
  void ForgetIdleLocked(const std::vector<std::string>& keys) REQUIRES(mu_);
  int64_t MostWaitingLocked(const std::vector<std::string>& keys) const REQUIRES(mu_);

  const int64_t capacity_, per_key_;
  const size_t max_waiting_;
  mutable Mutex mu_;
  CondVar changed_;
  int64_t running_ GUARDED_BY(mu_) = 0;
  uint64_t arrivals_ GUARDED_BY(mu_) = 0;
  uint64_t admissions_ GUARDED_BY(mu_) = 0;
  std::list<Waiter*> waiters_ GUARDED_BY(mu_);  // in arrival order
  std::unordered_map<std::string, KeyState> keys_ GUARDED_BY(mu_);  // keys running or waiting
};

}  // namespace p2pshare
