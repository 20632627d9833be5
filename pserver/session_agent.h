// SessionAgent: keeps this peer's session with central alive.
//
// One thread does all of the peer-server's talking to central: after login
// it sends the full index, then heartbeats every heartbeat_interval_s and
// sends index changes (PATCH) when the folder changes. When the session is
// lost (evicted, central lost its records) it logs in again asking for its
// previous port and re-sends the full index. When central is unreachable it
// retries with capped backoff and logs each change of state once. When a
// heartbeat answers `logged_out` (the peer-client ran `logout` with another
// of this peer's tokens) it reports kLoggedOut and stops: that is how a
// client's logout reaches this process.
//
// The thread's loop (Loop) waits for work, then takes the steps in order:
// send folder changes, log in again if the session was lost, send the full
// index if central may have missed changes, heartbeat when due. A failed
// step waits for the backoff before the next call to central.
//
// Thread-safe: Login/Start/Stop/Logout from main; FolderChanged from the
// watcher and gRPC threads; the agent's own thread does the rest.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/directory_client.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pserver/catalog.h"

namespace p2pshare::pserver {

struct SessionAgentOptions {
  std::string username;
  std::string password;
  std::string advertise_host;  // sent at login when set; else central uses our source address
  std::chrono::milliseconds backoff_min{250};
  std::chrono::milliseconds backoff_max{8000};
  // Learns the friends central suggests, at each login and heartbeat.
  std::function<void(const std::vector<std::string>&)> on_friends;
  // After a login again while serving (the session was lost): waits until
  // this peer serves with the certificate that login brought, so its files
  // are not listed again while callers would still be shown the revoked
  // one. Unset: nothing to wait for.
  std::function<void()> await_serving;
  // The certificate request sent at each login (empty: none).
  std::string csr;
  // Takes the certificate, CA and revoked serials of each login and
  // heartbeat reply (certificate and CA empty when nothing new); an error
  // ends the agent (kFatal): central handed out something unusable.
  std::function<Status(const std::string& certificate, const std::string& ca,
                       const std::vector<std::string>& revoked)>
      on_credentials;
};

enum class AgentEvent {
  kLoggedOut,    // the peer was logged out: stop serving
  kPortChanged,  // a new login handed out another port: serve there
  kFatal,        // cannot go on (e.g. the password stopped working)
};

class SessionAgent {
 public:
  using EventFn = std::function<void(AgentEvent, int port, const std::string& why)>;

  // `load` reports free bytes and active transfers for heartbeats;
  // `on_token` learns each new token (the token verifier uses it).
  SessionAgent(DirectoryClient* client, Catalog* catalog, SessionAgentOptions options,
               std::function<HeartbeatRequest()> load,
               std::function<void(const std::string&)> on_token);
  ~SessionAgent();

  // Logs in, registering the account first if it is missing and central
  // allows it; retries while central is unreachable or out of ports.
  // Returns the port. Unauthenticated for a refused password, Cancelled
  // after Cancel().
  Result<int> Login(std::optional<int> preferred, const std::vector<int64_t>& exclude);
  // Starts the thread (full index, heartbeats, changes). `on_event` is
  // called from that thread.
  void Start(EventFn on_event);
  // Stops the thread (idempotent); Start may be called again.
  void Stop();
  // Makes Login and the thread give up their waits.
  void Cancel();
  // Stop, then POST /logout (best effort).
  Status Logout();
  // The folder changed: refresh the catalog and send the delta soon.
  void FolderChanged();
  // This peer serves (again) at the address of the last login: ask central
  // soon whether other peers can reach it (docs/protocol.md,
  // "Reachability"). The agent asks by itself after a login again at the
  // same port; the peer-server calls this once it listens.
  void CheckReachabilitySoon();
  // The router forwards this peer's port on request ("UPnP", "NAT-PMP";
  // empty: no longer): central is asked to check again, and told so.
  void SetPortMapping(std::string method);
  // Central has news for this peer (a message on its channel): heartbeat
  // now rather than when due.
  void HeartbeatSoon();
  // Central's last answer ("direct", "mapped", "reversed-only", "relayed-only"; empty: not asked yet).
  std::string reachability() const {
    MutexLock lock(mu_);
    return peer_reach_;
  }

  int port() const { return port_.load(); }
  // Whether the last login joined a peer of the account already online.
  bool joined() const { return joined_.load(); }
  // The host other peers reach this peer at, as central recorded it at the
  // last login (advertise_host, or the address central saw the login from).
  std::string host() const {
    MutexLock lock(mu_);
    return host_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct LoopState;
  // What a step of the loop tells it: go on to the next step, wait for the
  // next round, or end the thread (logged out, or cannot go on).
  enum class Step { kNext, kWait, kEnd };
  void Loop();
  // Waits until there is something to do; false when stopped. `dirty`: the
  // folder changed.
  bool WaitForWork(LoopState& st, bool* dirty);
  Step SendFolderChanges(LoopState& st, Clock::time_point now);
  Step Relogin(LoopState& st);
  Step SendFullIndex(LoopState& st);
  Step Beat(LoopState& st);
  Step CheckReach(LoopState& st);
  // A call to central failed: log in again (session lost), end (logged
  // out), or retry after the backoff.
  Step Failed(LoopState& st, const Status& s, const char* what);
  // One login attempt (with registration when the account is missing).
  Result<LoginReply> LoginOnce(std::optional<int> preferred, const std::vector<int64_t>& exclude);
  // Notes central's reachability; logs only the changes.
  void NoteReachable(bool reachable, const std::string& why);
  // Takes what every login reply brings: the advertised host, the
  // heartbeat interval, the token (the port is the caller's business).
  void AdoptLogin(const LoginReply& reply);
  // Waits up to `d` unless cancelled or woken; returns false when cancelled.
  bool WaitFor(std::chrono::milliseconds d);

  DirectoryClient* const client_;
  Catalog* const catalog_;
  const SessionAgentOptions options_;
  const std::function<HeartbeatRequest()> load_;
  const std::function<void(const std::string&)> on_token_;

  std::atomic<int> port_{0};
  std::atomic<bool> joined_{false};
  std::string host_ GUARDED_BY(mu_);
  std::atomic<int64_t> heartbeat_interval_s_{5};
  std::atomic<bool> cancelled_{false};
  // The revocations heard of (the last reply's cursor), and whether more
  // are waiting: the agent's thread only (Login runs before it starts).
  int64_t revoked_seq_ = 0;
  bool revoked_more_ = false;

  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool folder_dirty_ GUARDED_BY(mu_) = false;
  bool reach_due_ GUARDED_BY(mu_) = false;  // CheckReachabilitySoon
  bool beat_due_ GUARDED_BY(mu_) = false;   // HeartbeatSoon
  std::string mapped_ GUARDED_BY(mu_);      // SetPortMapping
  std::string peer_reach_ GUARDED_BY(mu_);   // central's last answer
  bool reachable_ GUARDED_BY(mu_) = true;
  EventFn on_event_;
  std::thread thread_;
};

}  // namespace p2pshare::pserver
