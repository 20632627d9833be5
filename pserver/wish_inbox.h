// WishInbox: the wishes of this peer's account that came true, as central
// tells them over its channel (docs/protocol.md, "Wishes"), kept for the
// REPL to ask (the WishNews call): the newest kWishInbox, numbered.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/json_fields.h"
#include "common/mutex.h"

namespace p2pshare::pserver {

inline constexpr size_t kWishInbox = 64;

struct WishNews {
  uint64_t seq = 0;
  int64_t wish = 0;
  std::string query;
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::string holder;
};

class WishInbox {
 public:
  // One {type: "wish", ...} message from central; false (and logged at
  // debug) when it does not parse.
  bool Add(const Json& message);
  // News after `after`, waiting up to `wait` for some; `*last` gets the
  // newest number there is.
  std::vector<WishNews> After(uint64_t after, std::chrono::milliseconds wait, uint64_t* last);
  // Wakes every waiter now (the server is shutting down: its calls must
  // end); later calls wait again.
  void WakeAll();
  void Close();  // wakes every waiter, for good
  bool closed() const;
  uint64_t wakes() const;  // WakeAll calls so far

 private:
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<WishNews> news_ GUARDED_BY(mu_);
  uint64_t last_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
  uint64_t wakes_ GUARDED_BY(mu_) = 0;
};

}  // namespace p2pshare::pserver
