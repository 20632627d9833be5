// Backoff: the waits between retries of something that failed — `min`
// first, doubling each time, never above `max`, back to `min` after a
// success (Reset). Not thread-safe; one per retrying loop.
#pragma once

#include <algorithm>
#include <chrono>

namespace p2pshare {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(min), max_(std::max(min, max)), next_(min) {}

  // The wait before the next retry; the one after it doubles (capped).
  std::chrono::milliseconds Next() {
    auto wait = next_;
    next_ = std::min(next_ * 2, max_);
    return wait;
  }
  void Reset() { next_ = min_; }

 private:
  const std::chrono::milliseconds min_, max_;
  std::chrono::milliseconds next_;
};

}  // namespace p2pshare
