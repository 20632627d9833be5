// How a peer-server shares its upload capacity among strangers
// (docs/protocol.md, "Upload slots and the upload rate").
//
//  - UploadSlots: at most `slots` other accounts download from here at
//    once. An account holds its slot while it has a Download in flight and
//    for `linger` after its last one ends (a swarm client's next request
//    follows at once). Others wait in a first-come queue and are told their
//    place; a place is kept only while its account asks again within
//    `forget` (a client polls about once a second), so a client that gave
//    up stops blocking the ones behind it. The queue holds at most
//    `max_queue` accounts.
//    Slots are shared over time, not kept: while others wait, an account
//    keeps its slot for one `turn` from when it got it; its requests after
//    that (and its slot, once its calls in flight end) go behind those
//    waiting. So accounts that make a tiny download a second each, which
//    the linger alone let keep every slot forever, give each slot up within
//    a turn, and a queued downloader's wait is bounded by the turns ahead
//    of it. One source address holds at most half of the slots (rounded
//    up; loopback is not counted), so free accounts from one machine do not
//    take them all.
//  - UploadPacer: all downloads together send at most `rate` bytes a
//    second; each chunk reserves its share of time before it is sent.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"

namespace p2pshare::pserver {

class UploadSlots {
 public:
  using Clock = std::chrono::steady_clock;
  // `slots` 0: no limit (every caller gets a slot at once).
  explicit UploadSlots(int64_t slots, Clock::duration linger = std::chrono::seconds(2),
                       Clock::duration forget = std::chrono::seconds(10), size_t max_queue = 1000,
                       Clock::duration turn = std::chrono::seconds(5));
  UploadSlots(const UploadSlots&) = delete;
  UploadSlots& operator=(const UploadSlots&) = delete;

  // One Download's hold on its account's slot; ends with it.
  class Lease {
   public:
    Lease(UploadSlots* owner, std::string account) : owner_(owner), account_(std::move(account)) {}
    Lease(Lease&& o) noexcept : owner_(o.owner_), account_(std::move(o.account_)) { o.owner_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

   private:
    UploadSlots* owner_;
    std::string account_;
  };

  // A lease for `account` calling from `address` (an IP address; empty:
  // unknown); else its place in the queue (1: next), or place 0 when the
  // queue is full.
  struct Answer {
    std::optional<Lease> lease;
    int64_t place = 0;
  };
  Answer Enter(const std::string& account, const std::string& address = "",
               Clock::time_point now = Clock::now());
  Answer Enter(const std::string& account, Clock::time_point now) { return Enter(account, "", now); }

  int64_t slots() const { return slots_; }
  int64_t busy(Clock::time_point now = Clock::now());    // accounts holding a slot
  int64_t queued(Clock::time_point now = Clock::now());  // accounts waiting
  std::vector<std::string> WaitingAccounts(Clock::time_point now = Clock::now());  // them, first in line first

 private:
  struct Holder {
    int64_t active = 0;
    Clock::time_point since;     // when it got the slot
    Clock::time_point last_end;  // when its last call ended (active 0)
    std::string address;
  };
  struct Waiting {
    std::string account;
    std::string address;
    Clock::time_point last_seen;
  };
  void Expire(Clock::time_point now) REQUIRES(mu_);
  void Leave(const std::string& account);
  // Whether someone other than `account` waits.
  bool OthersWaiting(const std::string& account) const REQUIRES(mu_);
  // Whether `address` holds its share of the slots.
  bool AddressFull(const std::string& address) const REQUIRES(mu_);

  const int64_t slots_;
  const Clock::duration linger_, forget_;
  const size_t max_queue_;
  const Clock::duration turn_;
  const int64_t per_address_;
  Mutex mu_;
  std::map<std::string, Holder> holders_ GUARDED_BY(mu_);
  std::deque<Waiting> queue_ GUARDED_BY(mu_);  // first come first
};

class UploadPacer {
 public:
  using Clock = std::chrono::steady_clock;
  // `rate` bytes a second; 0: no limit.
  explicit UploadPacer(int64_t rate) : rate_(rate) {}

  int64_t rate() const { return rate_; }
  // When `bytes` may go out (now, when unlimited or idle); the time is
  // reserved for them, so callers sharing the pacer take turns.
  Clock::time_point Reserve(int64_t bytes, Clock::time_point now = Clock::now());

 private:
  const int64_t rate_;
  Mutex mu_;
  Clock::time_point next_ GUARDED_BY(mu_){};  // when the link is free again
};

}  // namespace p2pshare::pserver
