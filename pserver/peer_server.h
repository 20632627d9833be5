// PeerServer: builds and runs one peer-server from its config — the shared
// folder, catalog, watcher, session agent, gRPC service, locator and
// metrics — and turns signals and agent events into a clean stop. main.cpp
// only parses flags.
//
// Run's steps: Assemble the parts (peer_server.cc's Parts), start
// /metrics, LoginAndBind (log in, bind the port central hands out, ask for
// another while some other program holds it), start the session agent and
// the folder watcher, then HandleEvents until a stop, a logout or a fatal
// error. A port change (a re-login got another port) rebinds the server.
//
// Thread-safe: Run on the main thread; RequestStop from any thread.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/central_trust.h"
#include "common/mutex.h"
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
  struct Parts;  // the running peer's pieces, wired together
  struct Event {
    enum Kind { kStop, kLoggedOut, kPortChanged, kFatal } kind;
    int port = 0;
    std::string why;
  };
  void Push(Event e);
  Event Pop();

  // Which CA to trust for central (common/central_trust.h), retrying while
  // central cannot be reached to pin it; Cancelled when a stop came first.
  Result<CentralTrust> TrustCentral();
  // Logs in and binds the port central hands out; while some other
  // program holds it, gives it back and asks for another. Cancelled when a
  // stop came first.
  Status LoginAndBind(Parts& parts, std::optional<int> preferred);
  // Whether a peer-server of this account answers Ping at host:port.
  bool AnswersAsThisAccount(const std::string& host, int port) const;
  // Serves on `port` at listen_host: Ok, AlreadyExists while another
  // program holds the port, or why it can never be served here.
  Status Bind(Parts& parts, int port);
  // Starts the agent's thread, its events feeding this loop.
  void StartAgent(Parts& parts);
  // Runs until a stop (logs out), a logout from elsewhere or a fatal error.
  Status HandleEvents(Parts& parts);
  // Moves the gRPC server to `port` (a re-login got another one); false
  // when Run must return `*out`.
  bool MoveTo(Parts& parts, int port, Status* out);

  const PeerConfig config_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Event> events_ GUARDED_BY(mu_);
  std::function<void()> cancel_login_ GUARDED_BY(mu_);  // set while Run is active
};

}  // namespace p2pshare::pserver
