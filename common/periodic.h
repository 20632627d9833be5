// Periodic: runs a function every `period` on its own thread until
// destroyed or stopped. Stop() wakes the thread at once and joins it.
// Thread-safe: Stop from any thread but the periodic one.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "common/mutex.h"

namespace p2pshare {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds period, std::function<void()> fn)
      : thread_([this, period, fn = std::move(fn)] {
          MutexLock lock(mu_);
          while (!cv_.wait_for(lock, period, [this] { mu_.AssertHeld(); return stop_; })) {
            lock.Unlock();
            fn();
            lock.Lock();
          }
        }) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void Stop() {
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members above exist
};

}  // namespace p2pshare
