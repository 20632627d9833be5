#include "central/page_cache.h"
#include "common/mutex.h"

namespace p2pshare::central {

PageCache::PageCache(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

std::optional<std::string> PageCache::Get(const std::string& key, uint64_t generation) const {
  MutexLock lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->generation != generation) {
    Drop(it->second);  // made from data that has changed since
    return std::nullopt;
  }
  items_.splice(items_.begin(), items_, it->second);
  return items_.front().value;
}

void PageCache::Put(std::string key, uint64_t generation, std::string value) {
  const size_t size = key.size() + value.size();
  if (max_entries_ == 0 || size > max_bytes_ / 8) return;
  MutexLock lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) Drop(it->second);
  items_.push_front(Item{std::move(key), generation, std::move(value)});
  index_.emplace(items_.front().key, items_.begin());
  bytes_ += size;
  while (items_.size() > max_entries_ || bytes_ > max_bytes_) Drop(std::prev(items_.end()));
}

void PageCache::Drop(std::list<Item>::iterator it) const {
  bytes_ -= it->key.size() + it->value.size();
  index_.erase(it->key);
  items_.erase(it);
}

size_t PageCache::entries() const {
  MutexLock lock(mu_);
  return items_.size();
}

size_t PageCache::bytes() const {
  MutexLock lock(mu_);
  return bytes_;
}

}  // namespace p2pshare::central
