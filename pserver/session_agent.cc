#include "pserver/session_agent.h"

#include <spdlog/spdlog.h>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/mutex.h"

namespace p2pshare::pserver {
SessionAgent::SessionAgent(DirectoryClient* client, Catalog* catalog, SessionAgentOptions options,
                           std::function<HeartbeatRequest()> load,
                           std::function<void(const std::string&)> on_token)
    : client_(client),
      catalog_(catalog),
      options_(std::move(options)),
      load_(std::move(load)),
      on_token_(std::move(on_token)) {}

SessionAgent::~SessionAgent() { Stop(); }

void SessionAgent::NoteReachable(bool reachable, const std::string& why) {
  bool changed;
  {
    MutexLock lock(mu_);
    changed = reachable_ != reachable;
    reachable_ = reachable;
  }
  if (!changed) return;
  if (reachable) {
    spdlog::info("central at {} answers again", client_->base_url());
  } else {
    spdlog::warn("{}; retrying with backoff", why);
  }
}

bool SessionAgent::WaitFor(std::chrono::milliseconds d) {
  MutexLock lock(mu_);
  cv_.wait_for(lock, d, [this] { mu_.AssertHeld(); return stop_ || cancelled_.load(); });
  return !stop_ && !cancelled_.load();
}

void SessionAgent::Cancel() {
  cancelled_ = true;
  cv_.notify_all();
}

Result<LoginReply> SessionAgent::LoginOnce(std::optional<int> preferred,
                                           const std::vector<int64_t>& exclude) {
  LoginRequest req{options_.username, options_.password,
                   options_.advertise_host.empty() ? std::nullopt
                                                   : std::optional<std::string>(options_.advertise_host),
                   preferred ? std::optional<int64_t>(*preferred) : std::nullopt, exclude,
                   options_.csr.empty() ? std::nullopt : std::optional<std::string>(options_.csr)};
  auto reply = client_->Login(req);
  if (!reply.ok() && reply.status().reason() == "bad_credentials") {
    // Maybe the account does not exist yet: create it when central allows.
    auto reg = client_->Register(options_.username, options_.password);
    if (reg.ok()) {
      spdlog::info("registered account {} with central", options_.username);
      reply = client_->Login(req);
    } else if (reg.status().reason() == "username_taken") {
      return Unauthenticated("central refused the password of account '" + options_.username + "'",
                             "bad_credentials");
    } else if (reg.status().reason() == "registration_closed") {
      return Unauthenticated("account '" + options_.username +
                                 "' does not exist (or the password is wrong) and central does "
                                 "not allow registration",
                             "bad_credentials");
    } else {
      return reg.status();
    }
  }
  if (reply.ok() && options_.on_credentials) {
    Status taken = options_.on_credentials(reply->certificate, reply->ca, reply->revoked);
    if (!taken.ok()) return taken;
  }
  if (reply.ok()) {
    revoked_seq_ = reply->revoked_seq;
    revoked_more_ = reply->revoked_more;
  }
  return reply;
}

void SessionAgent::AdoptLogin(const LoginReply& reply) {
  {
    MutexLock lock(mu_);
    host_ = reply.host;
  }
  heartbeat_interval_s_ = reply.heartbeat_interval_s;
  if (on_token_) on_token_(reply.token);
}

Result<int> SessionAgent::Login(std::optional<int> preferred, const std::vector<int64_t>& exclude) {
  Backoff backoff(options_.backoff_min, options_.backoff_max);
  std::string last_reason;
  for (;;) {
    if (cancelled_) return Status(Code::kCancelled, "stopping");
    auto reply = LoginOnce(preferred, exclude);
    if (reply.ok()) {
      NoteReachable(true, "");
      port_ = reply->port;
      joined_ = reply->joined;
      AdoptLogin(*reply);
      if (options_.on_friends) options_.on_friends(reply->friends);
      return reply->port;
    }
    const Status& s = reply.status();
    if (s.code() == Code::kUnauthenticated || s.code() == Code::kInvalidArgument ||
        s.code() == Code::kPermissionDenied || s.code() == Code::kFailedPrecondition) {
      return s;
    }
    if (s.reason() == "unreachable") {
      NoteReachable(false, s.message());
    } else if (s.reason() != last_reason) {
      spdlog::warn("login not possible yet: {}; retrying", s.message());
    }
    last_reason = s.reason();
    if (!WaitFor(backoff.Next())) return Status(Code::kCancelled, "stopping");
  }
}

void SessionAgent::Start(EventFn on_event) {
  Stop();
  {
    MutexLock lock(mu_);
    stop_ = false;
  }
  on_event_ = std::move(on_event);
  thread_ = std::thread([this] { Loop(); });
}

void SessionAgent::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status SessionAgent::Logout() {
  Stop();
  Status s = client_->Logout();
  if (s.ok()) spdlog::info("logged out of central");
  return s;
}

void SessionAgent::FolderChanged() {
  {
    MutexLock lock(mu_);
    folder_dirty_ = true;
  }
  cv_.notify_all();
}

void SessionAgent::CheckReachabilitySoon() {
  {
    MutexLock lock(mu_);
    reach_due_ = true;
  }
  cv_.notify_all();
}

void SessionAgent::SetPortMapping(std::string method) {
  {
    MutexLock lock(mu_);
    mapped_ = std::move(method);
    reach_due_ = true;
  }
  cv_.notify_all();
}

void SessionAgent::HeartbeatSoon() {
  {
    MutexLock lock(mu_);
    beat_due_ = true;
  }
  cv_.notify_all();
}

// What the agent's thread must still do, and when it may next call central.
struct SessionAgent::LoopState {
  explicit LoopState(const SessionAgentOptions& o) : backoff(o.backoff_min, o.backoff_max) {}
  bool need_full_index = true;  // at start, and after anything central may have missed
  bool need_login = false;      // the session was lost
  Backoff backoff;
  Clock::time_point next_heartbeat = Clock::now();
  Clock::time_point next_retry = Clock::now();  // no call to central before this
};

void SessionAgent::Loop() {
  LoopState st(options_);
  for (;;) {
    bool dirty = false;
    if (!WaitForWork(st, &dirty)) return;
    const auto now = Clock::now();
    if (dirty && SendFolderChanges(st, now) == Step::kEnd) return;
    if (now < st.next_retry) continue;
    Step step = Relogin(st);
    if (step == Step::kNext) step = SendFullIndex(st);
    if (step == Step::kNext) step = Beat(st);
    if (step == Step::kNext) step = CheckReach(st);
    if (step == Step::kEnd) return;
  }
}

bool SessionAgent::WaitForWork(LoopState& st, bool* dirty) {
  MutexLock lock(mu_);
  // Pending work runs at once, a heartbeat when due; neither before a retry is due.
  auto until = (st.need_login || st.need_full_index) ? Clock::now() : st.next_heartbeat;
  until = std::max(until, st.next_retry);
  if (reach_due_ && !st.need_login) until = std::max(Clock::now(), st.next_retry);
  // A check asked for meanwhile wakes the loop, but not before a retry is
  // due (the loop would spin until then).
  cv_.wait_until(lock, until, [&] {
    mu_.AssertHeld();
    const bool may_call = Clock::now() >= st.next_retry;
    return stop_ || folder_dirty_ || ((reach_due_ || beat_due_) && !st.need_login && may_call);
  });
  if (stop_) return false;
  if (beat_due_ && Clock::now() >= st.next_retry) {
    beat_due_ = false;
    st.next_heartbeat = Clock::now();
  }
  *dirty = folder_dirty_;
  folder_dirty_ = false;
  return true;
}

SessionAgent::Step SessionAgent::Failed(LoopState& st, const Status& s, const char* what) {
  if (s.reason() == "logged_out") {
    on_event_(AgentEvent::kLoggedOut, port_, "this peer was logged out of the network");
    return Step::kEnd;
  }
  if (s.code() == Code::kUnauthenticated) {
    spdlog::warn("session lost ({}); logging in again, asking for port {}", s.message(), port_.load());
    st.need_login = true;
    st.need_full_index = true;
    return Step::kWait;
  }
  if (s.reason() == "unreachable") {
    NoteReachable(false, s.message());
  } else {
    spdlog::warn("{} failed: {}", what, s.message());
  }
  st.need_full_index |= std::string(what) != "heartbeat";
  st.next_retry = Clock::now() + st.backoff.Next();
  return Step::kWait;
}

SessionAgent::Step SessionAgent::SendFolderChanges(LoopState& st, Clock::time_point now) {
  auto delta = catalog_->Refresh();
  if (!delta.ok()) {
    spdlog::error("cannot read the shared folder: {}", delta.status().message());
    return Step::kNext;
  }
  if (delta->empty() || st.need_full_index || st.need_login) return Step::kNext;
  if (now < st.next_retry) {
    st.need_full_index = true;  // central is away: send it all when it is back
    return Step::kNext;
  }
  auto count = client_->PatchIndex(delta->added, delta->removed);
  if (!count.ok()) return Failed(st, count.status(), "index update");
  spdlog::info("index updated: {} added or changed, {} removed ({} files shared)",
               delta->added.size(), delta->removed.size(), *count);
  return Step::kNext;
}

SessionAgent::Step SessionAgent::Relogin(LoopState& st) {
  if (!st.need_login) return Step::kNext;
  auto reply = LoginOnce(port_.load(), {});
  if (!reply.ok()) {
    if (reply.status().code() == Code::kUnauthenticated ||
        reply.status().code() == Code::kFailedPrecondition) {
      on_event_(AgentEvent::kFatal, 0, reply.status().message());
      return Step::kEnd;
    }
    return Failed(st, reply.status(), "login");
  }
  NoteReachable(true, "");
  st.need_login = false;
  AdoptLogin(*reply);
  if (options_.await_serving) options_.await_serving();
  if (reply->port != port_.exchange(reply->port)) {
    on_event_(AgentEvent::kPortChanged, reply->port, "the old port was taken meanwhile");
  }
  spdlog::info("logged in again on port {}", reply->port);
  // Central checks a new address anew; at a new port the peer-server asks
  // once it listens there.
  if (reply->port == port_.load()) CheckReachabilitySoon();
  return Step::kNext;
}

SessionAgent::Step SessionAgent::CheckReach(LoopState& st) {
  {
    MutexLock lock(mu_);
    if (!reach_due_) return Step::kNext;
    reach_due_ = false;
  }
  std::string mapped;
  {
    MutexLock lock(mu_);
    mapped = mapped_;
  }
  auto reply = client_->CheckReachability(mapped);
  if (!reply.ok()) {
    if (reply.status().reason() == "busy") {
      CheckReachabilitySoon();
      return Failed(st, reply.status(), "reachability check");
    }
    // A central without the check (older), or the session just ended:
    // nothing to tell; the session's own steps handle the rest.
    spdlog::debug("central did not check whether other peers reach this one: {}",
                  reply.status().message());
    return Step::kNext;
  }
  {
    MutexLock lock(mu_);
    peer_reach_ = reply->reachable;
  }
  const std::string at = JoinHostPort(reply->host, reply->port);
  if (reply->reachable == "direct") {
    spdlog::info("central reached this peer at {}: other peers can download from it", at);
  } else if (reply->reachable == "mapped") {
    spdlog::info("central reached this peer at {} through the port its router forwards ({}): other "
                 "peers can download from it", at, mapped);
  } else if (reply->reachable == "relayed-only") {
    spdlog::warn("other peers cannot reach this peer at {} (central tried: {}); it connects out "
                 "to those that can be reached, and the others reach it through central's relay "
                 "instead, which is slower (every byte passes central's machine); for direct "
                 "connections, port {} on the router in front of it must lead here (README, "
                 "\"Behind a home router\")",
                 at, reply->reason, reply->port);
  } else {
    spdlog::warn("other peers cannot reach this peer at {} (central tried: {}); it connects out "
                 "to those that can be reached, but peers behind routers of their own cannot "
                 "download from it (central runs no relay) until port {} on the router in front "
                 "of it leads here (README, \"Behind a home router\")",
                 at, reply->reason, reply->port);
  }
  return Step::kNext;
}

SessionAgent::Step SessionAgent::SendFullIndex(LoopState& st) {
  if (!st.need_full_index) return Step::kNext;
  auto count = client_->ReplaceIndex(catalog_->Files());
  if (!count.ok()) return Failed(st, count.status(), "index upload");
  NoteReachable(true, "");
  st.need_full_index = false;
  spdlog::info("index sent: {}", Counted(*count, "file"));
  return Step::kNext;
}

SessionAgent::Step SessionAgent::Beat(LoopState& st) {
  // More revocations waiting (a login's or the last reply's news was cut
  // at its bound): ask again at once.
  if (Clock::now() < st.next_heartbeat && !revoked_more_) return Step::kNext;
  HeartbeatRequest req = load_ ? load_() : HeartbeatRequest{};
  req.revoked_after = revoked_seq_;
  auto beat = client_->Heartbeat(req);
  if (!beat.ok()) return Failed(st, beat.status(), "heartbeat");
  NoteReachable(true, "");
  if (options_.on_friends) options_.on_friends(beat->friends);
  if (options_.on_credentials) {
    Status taken = options_.on_credentials(beat->certificate, "", beat->revoked);
    if (!taken.ok()) {
      on_event_(AgentEvent::kFatal, 0, taken.message());
      return Step::kEnd;
    }
  }
  revoked_seq_ = beat->revoked_seq;
  revoked_more_ = beat->revoked_more;
  st.backoff.Reset();
  st.next_heartbeat = Clock::now() + std::chrono::seconds(heartbeat_interval_s_.load());
  return Step::kNext;
}

}  // namespace p2pshare::pserver
