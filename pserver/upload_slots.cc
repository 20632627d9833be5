#include "pserver/upload_slots.h"

#include <algorithm>

#include "common/central_trust.h"
#include "common/mutex.h"

namespace p2pshare::pserver {

UploadSlots::UploadSlots(int64_t slots, Clock::duration linger, Clock::duration forget, size_t max_queue,
                         Clock::duration turn)
    : slots_(slots),
      linger_(linger),
      forget_(forget),
      max_queue_(max_queue),
      turn_(turn),
      per_address_(std::max<int64_t>(1, (slots + 1) / 2)) {}

UploadSlots::Lease::~Lease() {
  if (owner_ != nullptr) owner_->Leave(account_);
}

void UploadSlots::Leave(const std::string& account) {
  MutexLock lock(mu_);
  auto it = holders_.find(account);
  if (it == holders_.end()) return;
  if (--it->second.active > 0) return;
  const auto now = Clock::now();
  it->second.last_end = now;
  // Its turn is over and others wait: no linger, the slot is theirs.
  if (now - it->second.since >= turn_ && OthersWaiting(account)) holders_.erase(it);
}

bool UploadSlots::OthersWaiting(const std::string& account) const {
  return std::any_of(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.account != account; });
}

bool UploadSlots::AddressFull(const std::string& address) const {
  if (address.empty() || IsLoopbackHost(address)) return false;
  int64_t n = 0;
  for (const auto& [account, h] : holders_) n += h.address == address;
  return n >= per_address_;
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

UploadSlots::Answer UploadSlots::Enter(const std::string& account, const std::string& address,
                                       Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  auto grant = [&]() {
    mu_.AssertHeld();  // called below with the lock held (a lambda: the analysis cannot follow)
    auto [h, fresh] = holders_.try_emplace(account);
    if (fresh) {
      h->second.since = now;
      h->second.address = address;
    }
    h->second.active++;
    return Answer{Lease(this, account), 0};
  };
  if (slots_ <= 0) return grant();
  if (auto held = holders_.find(account); held != holders_.end()) {
    // Its own slot, while no one else waits or its turn lasts.
    if (!OthersWaiting(account) || now - held->second.since < turn_) return grant();
    // Its turn is over: to the back of the queue. A slot with no call in
    // flight is free at once; one with calls frees as they end.
    if (held->second.active == 0) holders_.erase(held);
  }
  auto waiting = std::find_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.account == account; });
  if (waiting == queue_.end()) {
    if (queue_.size() >= max_queue_) return Answer{std::nullopt, 0};
    waiting = queue_.insert(queue_.end(), Waiting{account, address, now});
  }
  waiting->last_seen = now;
  waiting->address = address;
  // The first accounts of the queue take the free slots, in order, each
  // unless its address holds its share already.
  int64_t free = slots_ - static_cast<int64_t>(holders_.size());
  for (auto it = queue_.begin(); it != queue_.end() && free > 0; ++it) {
    if (holders_.count(it->account) > 0 || AddressFull(it->address)) continue;
    if (it == waiting) {
      queue_.erase(waiting);
      return grant();
    }
    --free;  // kept for one ahead of it (it takes it when it asks)
  }
  return Answer{std::nullopt, static_cast<int64_t>(waiting - queue_.begin()) + 1};
}

int64_t UploadSlots::busy(Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  return static_cast<int64_t>(holders_.size());
}

int64_t UploadSlots::queued(Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  return static_cast<int64_t>(queue_.size());
}

std::vector<std::string> UploadSlots::WaitingAccounts(Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  std::vector<std::string> out;
  for (const auto& w : queue_) out.push_back(w.account);
  return out;
}

UploadPacer::Clock::time_point UploadPacer::Reserve(int64_t bytes, Clock::time_point now) {
  if (rate_ <= 0) return now;
  MutexLock lock(mu_);
  const Clock::time_point start = std::max(now, next_);
  next_ = start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
  return start;
}

}  // namespace p2pshare::pserver
