#include "pserver/session_agent.h"

#include <spdlog/spdlog.h>

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
    std::lock_guard<std::mutex> lock(mu_);
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
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_ || cancelled_.load(); });
  return !stop_ && !cancelled_.load();
}

void SessionAgent::Cancel() {
  cancelled_ = true;
  cv_.notify_all();
}

Result<LoginReply> SessionAgent::LoginOnce(std::optional<int> preferred,
                                           const std::vector<int64_t>& exclude) {
  LoginRequest req{options_.username, options_.password, options_.advertise_host,
                   preferred ? std::optional<int64_t>(*preferred) : std::nullopt, exclude};
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
  return reply;
}

Result<int> SessionAgent::Login(std::optional<int> preferred, const std::vector<int64_t>& exclude) {
  auto backoff = options_.backoff_min;
  std::string last_reason;
  for (;;) {
    if (cancelled_) return Status(Code::kCancelled, "stopping");
    auto reply = LoginOnce(preferred, exclude);
    if (reply.ok()) {
      NoteReachable(true, "");
      port_ = reply->port;
      heartbeat_interval_s_ = reply->heartbeat_interval_s;
      if (on_token_) on_token_(reply->token);
      if (options_.on_friends) options_.on_friends(reply->friends);
      return reply->port;
    }
    const Status& s = reply.status();
    if (s.code() == Code::kUnauthenticated || s.code() == Code::kInvalidArgument ||
        s.code() == Code::kPermissionDenied) {
      return s;
    }
    if (s.reason() == "unreachable") {
      NoteReachable(false, s.message());
    } else if (s.reason() != last_reason) {
      spdlog::warn("login not possible yet: {}; retrying", s.message());
    }
    last_reason = s.reason();
    if (!WaitFor(backoff)) return Status(Code::kCancelled, "stopping");
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

void SessionAgent::Start(EventFn on_event) {
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  on_event_ = std::move(on_event);
  thread_ = std::thread([this] { Loop(); });
}

void SessionAgent::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    folder_dirty_ = true;
  }
  cv_.notify_all();
}

void SessionAgent::Loop() {
  using Clock = std::chrono::steady_clock;
  bool need_full_index = true;
  bool need_login = false;
  auto backoff = options_.backoff_min;
  auto next_heartbeat = Clock::now();
  auto next_retry = Clock::now();

  // Handles a failed call to central; returns false when the loop must end.
  auto failed = [&](const Status& s, const char* what) -> bool {
    if (s.reason() == "logged_out") {
      on_event_(AgentEvent::kLoggedOut, port_, "this peer was logged out of the network");
      return false;
    }
    if (s.code() == Code::kUnauthenticated) {
      spdlog::warn("session lost ({}); logging in again, asking for port {}", s.message(), port_.load());
      need_login = true;
      need_full_index = true;
      return true;
    }
    if (s.reason() == "unreachable") {
      NoteReachable(false, s.message());
    } else {
      spdlog::warn("{} failed: {}", what, s.message());
    }
    need_full_index |= std::string(what) != "heartbeat";
    next_retry = Clock::now() + backoff;
    backoff = std::min(backoff * 2, options_.backoff_max);
    return true;
  };

  for (;;) {
    bool dirty;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Pending work runs at once, a heartbeat when due; neither before a retry is due.
      auto until = (need_login || need_full_index) ? Clock::now() : next_heartbeat;
      until = std::max(until, next_retry);
      cv_.wait_until(lock, until, [&] { return stop_ || folder_dirty_; });
      if (stop_) return;
      dirty = folder_dirty_;
      folder_dirty_ = false;
    }
    auto now = Clock::now();
    if (dirty) {
      auto delta = catalog_->Refresh();
      if (!delta.ok()) {
        spdlog::error("cannot read the shared folder: {}", delta.status().message());
      } else if (!delta->empty() && !need_full_index && !need_login) {
        if (now >= next_retry) {
          auto count = client_->PatchIndex(delta->added, delta->removed);
          if (count.ok()) {
            spdlog::info("index updated: {} added or changed, {} removed ({} files shared)",
                         delta->added.size(), delta->removed.size(), *count);
          } else if (!failed(count.status(), "index update")) {
            return;
          }
        } else {
          need_full_index = true;  // central is away: send it all when it is back
        }
      }
    }
    if (now < next_retry) continue;
    if (need_login) {
      auto reply = LoginOnce(port_.load(), {});
      if (!reply.ok()) {
        if (reply.status().code() == Code::kUnauthenticated) {
          on_event_(AgentEvent::kFatal, 0, reply.status().message());
          return;
        }
        if (!failed(reply.status(), "login")) return;
        continue;
      }
      NoteReachable(true, "");
      need_login = false;
      heartbeat_interval_s_ = reply->heartbeat_interval_s;
      if (on_token_) on_token_(reply->token);
      if (reply->port != port_.exchange(reply->port)) {
        on_event_(AgentEvent::kPortChanged, reply->port, "the old port was taken meanwhile");
      }
      spdlog::info("logged in again on port {}", reply->port);
    }
    if (need_full_index) {
      auto count = client_->ReplaceIndex(catalog_->Files());
      if (!count.ok()) {
        if (!failed(count.status(), "index upload")) return;
        continue;
      }
      NoteReachable(true, "");
      need_full_index = false;
      spdlog::info("index sent: {} files", *count);
    }
    if (Clock::now() >= next_heartbeat) {
      auto beat = client_->Heartbeat(load_ ? load_() : HeartbeatRequest{});
      if (!beat.ok()) {
        if (!failed(beat.status(), "heartbeat")) return;
        continue;
      }
      NoteReachable(true, "");
      if (options_.on_friends) options_.on_friends(beat->friends);
      backoff = options_.backoff_min;
      next_heartbeat = Clock::now() + std::chrono::seconds(heartbeat_interval_s_.load());
    }
  }
}

}  // namespace p2pshare::pserver
