#include "pserver/upload_slots.h"

#include <algorithm>

namespace p2pshare::pserver {

UploadSlots::UploadSlots(int64_t slots, Clock::duration linger, Clock::duration forget, size_t max_queue)
    : slots_(slots), linger_(linger), forget_(forget), max_queue_(max_queue) {}

UploadSlots::Lease::~Lease() {
  if (owner_ != nullptr) owner_->Leave(account_);
}

void UploadSlots::Leave(const std::string& account) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = holders_.find(account);
  if (it == holders_.end()) return;
  if (--it->second.active == 0) it->second.last_end = Clock::now();
}

void UploadSlots::Expire(Clock::time_point now) {
  for (auto it = holders_.begin(); it != holders_.end();) {
    if (it->second.active == 0 && now - it->second.last_end >= linger_) {
      it = holders_.erase(it);
    } else {
      ++it;
    }
  }
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const Waiting& w) { return now - w.last_seen >= forget_; }),
               queue_.end());
}

UploadSlots::Answer UploadSlots::Enter(const std::string& account, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Expire(now);
  auto held = holders_.find(account);
  auto grant = [&]() {
    Holder& h = holders_[account];
    h.active++;
    return Answer{Lease(this, account), 0};
  };
  if (held != holders_.end() || slots_ <= 0) return grant();
  auto waiting = std::find_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.account == account; });
  const int64_t free = slots_ - static_cast<int64_t>(holders_.size());
  // The first `free` accounts of the queue (a newcomer counts as last) may go.
  const int64_t pos = waiting != queue_.end() ? waiting - queue_.begin() : static_cast<int64_t>(queue_.size());
  if (pos < free) {
    if (waiting != queue_.end()) queue_.erase(waiting);
    return grant();
  }
  if (waiting == queue_.end()) {
    if (queue_.size() >= max_queue_) return Answer{std::nullopt, 0};
    waiting = queue_.insert(queue_.end(), Waiting{account, now});
  }
  waiting->last_seen = now;
  return Answer{std::nullopt, pos + 1};
}

int64_t UploadSlots::busy(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Expire(now);
  return static_cast<int64_t>(holders_.size());
}

int64_t UploadSlots::queued(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Expire(now);
  return static_cast<int64_t>(queue_.size());
}

UploadPacer::Clock::time_point UploadPacer::Reserve(int64_t bytes, Clock::time_point now) {
  if (rate_ <= 0) return now;
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::time_point start = std::max(now, next_);
  next_ = start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
  return start;
}

}  // namespace p2pshare::pserver
