// RelayServer: central's relay for peers that cannot reach each other
// (docs/protocol.md, "Relay"; the wire and the peers' ends are in
// common/relay_link.h).
//
// DESIGN: central makes every session (Open) for two members it has
// authenticated, with a fresh one-time token for each side; the relay
// accepts nothing else. A connection that presents a token waits for the
// other side (up to ticket_ttl), then the relay copies bytes both ways.
// It never looks into them: the peers' own mutual TLS runs end to end
// through it. Work is bounded by what members hold, not by what anyone
// sends: sessions at once (all, per asking account, per asking address,
// per holder, per asking account and holder), connections waiting to
// present a token (per address and in all, each for seconds), and bytes a
// second (per session and in all). So one stranger's account takes two
// of a holder's 32 places, and one address 16: filling a holder's share
// takes several addresses, and costs central nothing beyond its bounds.
//
// Why not coturn (TURN with TCP allocations, RFC 6062): no Debian library
// has a TURN client for TCP allocations, each side would need one, and
// TURN's allocations, permissions and credentials would be a second set
// of identities to keep in step with the network's accounts; this relay
// is a token check and a copy loop, with the limits the network needs.
//
// Thread-safe. One thread accepts; each connection has a thread while it
// presents its token and each session one while it runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/limits.h"
#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::central {

struct RelayOptions {
  int64_t max_sessions = 256;         // waiting for both sides or running
  int64_t sessions_per_account = 8;   // an account asking
  int64_t sessions_per_address = 16;  // asked for from one address
  int64_t sessions_per_pair = 2;      // one account asking for one holder (a channel needs one)
  int64_t sessions_per_holder = 32;   // of one holder (what its peer-server splices at once)
  int64_t session_rate = 16 << 20;    // bytes a second, each session (0: no cap)
  int64_t total_rate = 64 << 20;      // bytes a second, all sessions (0: no cap)
  std::chrono::milliseconds ticket_ttl{15000};  // to present a token and meet the other side
  std::chrono::milliseconds idle{600000};       // a session with nothing moving ends
  int64_t waiting_per_address = 8;    // connections yet to present a token
};

struct RelayStats {
  int64_t sessions = 0;       // running now
  int64_t waiting = 0;        // opened, not both sides there yet
  int64_t bytes = 0;          // relayed since start, both ways
  int64_t sessions_done = 0;  // ended since start
  int64_t refused = 0;        // tokens refused, connections over a bound
};

// The two tokens of one session.
struct RelayTokens {
  std::string caller;
  std::string holder;
};

class RelayServer {
 public:
  // Listens on host:port (port 0: any free port). Unavailable when it cannot.
  static Result<std::unique_ptr<RelayServer>> Start(const std::string& host, int port,
                                                    RelayOptions options);
  ~RelayServer();  // stops; running sessions are cut

  int port() const { return port_; }
  const RelayOptions& options() const { return options_; }

  // A session between `caller` (asking from `address`) and `holder`.
  // Unavailable "busy" when a bound holds (say which).
  Result<RelayTokens> Open(const std::string& caller, const std::string& address,
                           const std::string& holder);

  RelayStats stats() const;

 private:
  struct Session;
  class RateCap;
  RelayServer(int fd, int port, RelayOptions options);
  void AcceptLoop();
  void Admit(int fd, std::string address);
  // Ends `s`: gives back its places (the caller holds mu_).
  void Forget(const std::shared_ptr<Session>& s) REQUIRES(mu_);
  void Run(std::shared_ptr<Session> s, int first, int second);
  void Expire() REQUIRES(mu_);

  const RelayOptions options_;
  const int listen_fd_;
  const int port_;
  std::unique_ptr<RateCap> total_;
  ConcurrencyLimits waiting_by_address_;
  mutable Mutex mu_;
  CondVar met_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<Session>> by_token_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> per_caller_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> per_holder_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> per_pair_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> per_address_ GUARDED_BY(mu_);
  int64_t sessions_ GUARDED_BY(mu_) = 0;  // open: waiting or running
  int64_t running_ GUARDED_BY(mu_) = 0;
  std::map<int, int> live_fds_ GUARDED_BY(mu_);  // fds of running sessions, to cut at stop
  int threads_ GUARDED_BY(mu_) = 0;
  CondVar threads_done_;
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> refused_{0};
  std::thread acceptor_;
};

}  // namespace p2pshare::central
