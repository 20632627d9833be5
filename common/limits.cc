#include "common/limits.h"
#include "common/mutex.h"

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
  MutexLock lock(mu_);
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
  MutexLock lock(mu_);
  return buckets_.size();
}

ConcurrencyLimits::ConcurrencyLimits(int64_t per_key, int64_t total)
    : per_key_(per_key), total_(total) {}

std::optional<ConcurrencyLimits::Slot> ConcurrencyLimits::Enter(const std::string& key) {
  MutexLock lock(mu_);
  if (total_ > 0 && all_ >= total_) return std::nullopt;
  auto it = in_flight_.find(key);
  int64_t mine = it == in_flight_.end() ? 0 : it->second;
  if (per_key_ > 0 && mine >= per_key_) return std::nullopt;
  ++in_flight_[key];
  ++all_;
  return Slot(this, key);
}

void ConcurrencyLimits::Leave(const std::string& key) {
  MutexLock lock(mu_);
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  --all_;
  if (--it->second <= 0) in_flight_.erase(it);
}

int64_t ConcurrencyLimits::InFlight(const std::string& key) const {
  MutexLock lock(mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

int64_t ConcurrencyLimits::InFlight() const {
  MutexLock lock(mu_);
  return all_;
}

}  // namespace p2pshare

namespace p2pshare {

FairSlots::FairSlots(int64_t capacity, int64_t per_key, size_t max_waiting)
    : capacity_(std::max<int64_t>(1, capacity)), per_key_(std::max<int64_t>(1, per_key)), max_waiting_(max_waiting) {}

int64_t FairSlots::running() const {
  MutexLock lock(mu_);
  return running_;
}

size_t FairSlots::waiting() const {
  MutexLock lock(mu_);
  return waiters_.size();
}

void FairSlots::TakeLocked(const std::vector<std::string>& keys) {
  ++running_;
  ++admissions_;
  for (const std::string& k : keys) {
    KeyState& st = keys_[k];
    st.running++;
    st.served_at = admissions_;
  }
}

void FairSlots::ForgetIdleLocked(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    auto it = keys_.find(k);
    if (it != keys_.end() && it->second.running == 0 && it->second.waiting == 0) keys_.erase(it);
  }
}

int64_t FairSlots::MostWaitingLocked(const std::vector<std::string>& keys) const {
  int64_t most = 0;
  for (const std::string& k : keys) {
    auto it = keys_.find(k);
    if (it != keys_.end()) most = std::max(most, it->second.waiting);
  }
  return most;
}

void FairSlots::AdmitLocked() {
  bool any = false;
  while (running_ < capacity_) {
    Waiter* best = nullptr;
    uint64_t best_served = 0;
    for (Waiter* w : waiters_) {
      bool room = true;
      uint64_t served = 0;  // its keys' most recent service
      for (const std::string& k : w->keys) {
        const KeyState& st = keys_.at(k);
        room = room && st.running < per_key_;
        served = std::max(served, st.served_at);
      }
      if (room && (best == nullptr || served < best_served)) {
        best = w;
        best_served = served;
      }
    }
    if (best == nullptr) break;
    waiters_.remove(best);
    for (const std::string& k : best->keys) keys_[k].waiting--;
    TakeLocked(best->keys);
    best->admitted = true;
    any = true;
  }
  if (any) changed_.notify_all();
}

std::optional<FairSlots::Slot> FairSlots::Enter(std::vector<std::string> keys, Clock::duration wait) {
  std::erase_if(keys, [](const std::string& k) { return k.empty(); });
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  MutexLock lock(mu_);
  auto fits = [&] {
    mu_.AssertHeld();  // called below with the lock held (a lambda: the analysis cannot follow)
    if (running_ >= capacity_) return false;
    for (const std::string& k : keys) {
      auto it = keys_.find(k);
      if (it != keys_.end() && it->second.running >= per_key_) return false;
    }
    return true;
  };
  if (waiters_.empty() && fits()) {
    TakeLocked(keys);
    return Slot(this, std::move(keys));
  }
  if (waiters_.size() >= max_waiting_) {
    // Full: the crowd of the most crowded key makes room, if it is more of
    // a crowd than this caller's.
    Waiter* victim = nullptr;
    int64_t crowd = MostWaitingLocked(keys);
    for (Waiter* w : waiters_) {
      const int64_t c = MostWaitingLocked(w->keys);
      if (c > crowd) {
        crowd = c;
        victim = w;
      }
    }
    if (victim == nullptr) return std::nullopt;
    victim->refused = true;
    waiters_.remove(victim);
    for (const std::string& k : victim->keys) keys_[k].waiting--;
    changed_.notify_all();
  }
  Waiter me{keys, ++arrivals_, false, false};
  for (const std::string& k : keys) keys_[k].waiting++;
  waiters_.push_back(&me);
  AdmitLocked();
  const auto deadline = Clock::now() + wait;
  changed_.wait_until(lock, deadline, [&] { return me.admitted || me.refused; });
  if (me.admitted) return Slot(this, std::move(keys));
  if (!me.refused) {  // its wait ran out
    waiters_.remove(&me);
    for (const std::string& k : keys) keys_[k].waiting--;
  }
  ForgetIdleLocked(keys);
  return std::nullopt;
}

void FairSlots::Leave(const std::vector<std::string>& keys) {
  MutexLock lock(mu_);
  --running_;
  for (const std::string& k : keys) keys_[k].running--;
  ForgetIdleLocked(keys);
  AdmitLocked();
}

}  // namespace p2pshare
