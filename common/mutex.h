// Mutexes the compiler can check (common/thread_annotations.h): Mutex and
// SharedMutex wrap the standard ones, MutexLock / ReaderLock hold them for
// a scope (and may let go and take them again inside it), CondVar waits on
// a held Mutex.
//
// The analysis cannot see into a condition variable: a predicate runs with
// the mutex held, but as a lambda of its own. Such a predicate says so with
// `mu_.AssertHeld()` as its first statement.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "common/thread_annotations.h"

namespace p2pshare {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis the mutex is held here (a condition variable's
  // predicate, a callback called under it). Checks nothing at run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }
  void AssertReaderHeld() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

// Holds `mu` from construction to the end of the scope; Unlock and Lock
// let go of it and take it again in between.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  friend class CondVar;
  Mutex& mu_;
  bool held_ = true;
};

// Holds `mu` exclusively (WriterLock) or shared (ReaderLock) for a scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

// std::condition_variable on a Mutex held through a MutexLock. The waits
// let go of the mutex and take it again before they return, as the
// standard ones do; the analysis sees the mutex held throughout.
class CondVar {
 private:
  // Runs `wait` on the standard lock that `lock` holds, leaving it held
  // by `lock` afterwards.
  template <class Wait>
  static auto Adopted(MutexLock& lock, Wait wait) {
    std::unique_lock<std::mutex> native(lock.mu_.mu_, std::adopt_lock);
    struct Release {
      std::unique_lock<std::mutex>& n;
      ~Release() { n.release(); }
    } release{native};
    return wait(native);
  }

 public:
  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }

  void wait(MutexLock& lock) {
    Adopted(lock, [&](auto& native) { cv_.wait(native); });
  }
  template <class Predicate>
  void wait(MutexLock& lock, Predicate pred) {
    Adopted(lock, [&](auto& native) { cv_.wait(native, pred); });
  }
  template <class Rep, class Period>
  std::cv_status wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& d) {
    return Adopted(lock, [&](auto& native) { return cv_.wait_for(native, d); });
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(MutexLock& lock, const std::chrono::duration<Rep, Period>& d, Predicate pred) {
    return Adopted(lock, [&](auto& native) { return cv_.wait_for(native, d, pred); });
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(MutexLock& lock, const std::chrono::time_point<Clock, Duration>& t) {
    return Adopted(lock, [&](auto& native) { return cv_.wait_until(native, t); });
  }
  template <class Clock, class Duration, class Predicate>
  bool wait_until(MutexLock& lock, const std::chrono::time_point<Clock, Duration>& t, Predicate pred) {
    return Adopted(lock, [&](auto& native) { return cv_.wait_until(native, t, pred); });
  }

 private:
  std::condition_variable cv_;
};

}  // namespace p2pshare
