#include "pserver/upload_room.h"
#include "common/mutex.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

namespace p2pshare::pserver {
namespace {

// a + b; nullopt when it would not fit.
std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// a + b, or INT64_MAX when it would not fit (both are 0 or more).
int64_t SaturatingAdd(int64_t a, int64_t b) { return CheckedAdd(a, b).value_or(INT64_MAX); }

}  // namespace

UploadRoom::Reservation::Reservation(Reservation&& o) noexcept
    : room_(std::exchange(o.room_, nullptr)), size_(o.size_), unwritten_(o.unwritten_) {}

UploadRoom::Reservation& UploadRoom::Reservation::operator=(Reservation&& o) noexcept {
  if (this != &o) {
    if (room_ != nullptr) room_->Release(size_, unwritten_);
    room_ = std::exchange(o.room_, nullptr);
    size_ = o.size_;
    unwritten_ = o.unwritten_;
  }
  return *this;
}

UploadRoom::Reservation::~Reservation() {
  if (room_ != nullptr) room_->Release(size_, unwritten_);
}

void UploadRoom::Reservation::Wrote(int64_t k) {
  k = std::clamp<int64_t>(k, 0, unwritten_);
  unwritten_ -= k;
  if (room_ != nullptr) room_->Written(k);
}

Result<UploadRoom::Reservation> UploadRoom::Reserve(int64_t size, int64_t shared, int64_t max_storage,
                                                    int64_t disk_free) {
  if (size < 0) return InvalidArgument("size must be 0 or more");
  if (size > kMaxUploadBytes) {
    return InvalidArgument("size must be at most " + std::to_string(kMaxUploadBytes) + " bytes (1 PiB)");
  }
  shared = std::max<int64_t>(0, shared);
  MutexLock lock(mu_);
  // Every term is 0 to INT64_MAX; a sum that would not fit is over any bound.
  std::optional<int64_t> quota_used = CheckedAdd(shared, reserved_);
  if (quota_used) quota_used = CheckedAdd(*quota_used, size);
  if (!quota_used || *quota_used > max_storage) {
    return ResourceExhausted("no room: this peer shares " + std::to_string(shared) + " of " +
                             std::to_string(max_storage) + " bytes");
  }
  std::optional<int64_t> disk_used = CheckedAdd(unwritten_, size);
  if (!disk_used || *disk_used > disk_free) {
    return ResourceExhausted("not enough free disk space for " + std::to_string(size) + " bytes");
  }
  reserved_ += size;
  unwritten_ += size;
  Reservation r;
  r.room_ = this;
  r.size_ = size;
  r.unwritten_ = size;
  return r;
}

int64_t UploadRoom::FreeBytes(int64_t shared, int64_t max_storage, int64_t disk_free) const {
  MutexLock lock(mu_);
  const int64_t quota_used = SaturatingAdd(std::max<int64_t>(0, shared), reserved_);
  const int64_t quota_left = max_storage > quota_used ? max_storage - quota_used : 0;
  const int64_t disk_left = disk_free > unwritten_ ? disk_free - unwritten_ : 0;
  return std::min(quota_left, disk_left);
}

int64_t UploadRoom::reserved() const {
  MutexLock lock(mu_);
  return reserved_;
}

int64_t UploadRoom::unwritten() const {
  MutexLock lock(mu_);
  return unwritten_;
}

void UploadRoom::Release(int64_t size, int64_t unwritten) {
  MutexLock lock(mu_);
  reserved_ -= size;
  unwritten_ -= unwritten;
}

void UploadRoom::Written(int64_t k) {
  MutexLock lock(mu_);
  unwritten_ -= k;
}

}  // namespace p2pshare::pserver
