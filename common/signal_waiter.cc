#include "common/signal_waiter.h"
#include "common/mutex.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace p2pshare {
namespace {
// Never destroyed: the waiting thread is detached and may outlive main.
Mutex& CallbackMutex() {
  static auto* mu = new Mutex;
  return *mu;
}
bool g_closed GUARDED_BY(CallbackMutex()) = false;
}  // namespace

void StopOnSignals(std::function<void(const char* name)> on_signal) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread([signals, on_signal = std::move(on_signal)] {
    int sig = 0;
    sigwait(&signals, &sig);
    MutexLock lock(CallbackMutex());
    if (!g_closed) on_signal(sig == SIGINT ? "SIGINT" : "SIGTERM");
  }).detach();
}

void StopHandlingSignals() {
  MutexLock lock(CallbackMutex());
  g_closed = true;
}

}  // namespace p2pshare
