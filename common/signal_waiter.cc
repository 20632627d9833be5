#include "common/signal_waiter.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace p2pshare {

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
    on_signal(sig == SIGINT ? "SIGINT" : "SIGTERM");
  }).detach();
}

}  // namespace p2pshare
