// PeerServer: builds and runs one peer-server from its config — the shared
// folder, catalog, watcher, session agent and gRPC server — and turns
// signals and agent events into a clean stop. main.cpp only parses flags.
//
// Thread-safe: Run on the main thread; RequestStop from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "common/peer_config.h"
#include "common/status.h"

namespace p2pshare::pserver {

class PeerServer {
 public:
  explicit PeerServer(PeerConfig config);
  ~PeerServer();

  // Serves until RequestStop (then logs out) or the peer is logged out from
  // elsewhere. OK on both; an error when it cannot start or go on.
  Status Run();
  // Asks Run to log out and return (e.g. from a signal thread).
  void RequestStop();

 private:
  struct Event {
    enum Kind { kStop, kLoggedOut, kPortChanged, kFatal } kind;
    int port = 0;
    std::string why;
  };
  void Push(Event e);
  Event Pop();

  const PeerConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;  // GUARDED_BY(mu_)
  std::function<void()> cancel_login_;  // set while Run is active
};

}  // namespace p2pshare::pserver
