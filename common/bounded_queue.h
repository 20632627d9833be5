// BoundedQueue: a first-in first-out hand-over between one producer thread
// and one consumer thread, holding at most `capacity` items (what it holds
// is what the pipeline may buffer: memory stays bounded). Thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "common/mutex.h"

namespace p2pshare {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Waits while the queue is full. False once it is closed: the item was
  // not queued (the other side has stopped).
  bool Push(T item) {
    MutexLock lock(mu_);
    room_.wait(lock, [this] { mu_.AssertHeld(); return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    lock.Unlock();
    ready_.notify_one();
    return true;
  }

  // Waits while the queue is empty and open. Nothing once it is closed and
  // what was queued before has been taken.
  std::optional<T> Pop() {
    MutexLock lock(mu_);
    ready_.wait(lock, [this] { mu_.AssertHeld(); return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    lock.Unlock();
    room_.notify_one();
    return item;
  }

  // No more pushes (they return false); Pop still hands out what is queued.
  void Close() {
    {
      MutexLock lock(mu_);
      closed_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
  }

 private:
  const size_t capacity_;
  Mutex mu_;
  CondVar ready_;  // an item arrived, or closed
  CondVar room_;   // an item left, or closed
  std::deque<T> items_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace p2pshare
