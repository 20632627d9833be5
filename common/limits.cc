#include "common/limits.h"

#include <algorithm>
#include <cmath>

namespace p2pshare {

RateLimits::RateLimits(double rate, double burst, size_t max_keys)
    : rate_(rate), burst_(std::max(1.0, burst)), max_keys_(std::max<size_t>(1, max_keys)) {}

int64_t TakeFromBucket(double* tokens, double rate, double burst, double elapsed_s) {
  *tokens = std::min(burst, *tokens + std::max(0.0, elapsed_s) * rate);
  if (*tokens >= 1.0) {
    *tokens -= 1.0;
    return 0;
  }
  return static_cast<int64_t>(std::ceil((1.0 - *tokens) / rate * 1000.0));
}

int64_t RateLimits::Take(const std::string& key, Clock::time_point now) {
  if (rate_ <= 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    // Make room: the least recently used bucket goes.
    while (buckets_.size() >= max_keys_) {
      auto oldest = buckets_.find(order_.front());
      order_.pop_front();
      buckets_.erase(oldest);
    }
    order_.push_back(key);
    it = buckets_.emplace(key, Bucket{burst_, now, std::prev(order_.end())}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.order);  // most recent last
  }
  Bucket& b = it->second;
  const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
  b.at = now;
  return TakeFromBucket(&b.tokens, rate_, burst_, elapsed_s);
}

size_t RateLimits::keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

ConcurrencyLimits::ConcurrencyLimits(int64_t per_key, int64_t total)
    : per_key_(per_key), total_(total) {}

ConcurrencyLimits::Slot& ConcurrencyLimits::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = o.owner_;
    key_ = std::move(o.key_);
    o.owner_ = nullptr;
  }
  return *this;
}

void ConcurrencyLimits::Slot::reset() {
  if (owner_ != nullptr) owner_->Leave(key_);
  owner_ = nullptr;
}

std::optional<ConcurrencyLimits::Slot> ConcurrencyLimits::Enter(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ > 0 && all_ >= total_) return std::nullopt;
  auto it = in_flight_.find(key);
  int64_t mine = it == in_flight_.end() ? 0 : it->second;
  if (per_key_ > 0 && mine >= per_key_) return std::nullopt;
  ++in_flight_[key];
  ++all_;
  return Slot(this, key);
}

void ConcurrencyLimits::Leave(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  --all_;
  if (--it->second <= 0) in_flight_.erase(it);
}

int64_t ConcurrencyLimits::InFlight(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

int64_t ConcurrencyLimits::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_;
}

}  // namespace p2pshare
