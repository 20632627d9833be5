#include "central/sessions.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "central/auth.h"
#include "common/mutex.h"

namespace p2pshare::central {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

Status Expired() {
  return Unauthenticated("this session expired (no heartbeat in time); log in again",
                         "session_expired");
}

// OK for an active session; why a session that ended did.
Status EndedSession(SessionState state) {
  switch (state) {
    case SessionState::kActive:
      return Status::Ok();
    case SessionState::kLoggedOut:
      return Unauthenticated("this session was logged out", "logged_out");
    case SessionState::kExpired:
      return Expired();
  }
  return Unauthenticated("unknown token", "bad_token");
}

}  // namespace

Sessions::Sessions(DirectoryStore* store, SessionsOptions options)
    : store_(store), options_(std::move(options)) {}

Sessions::~Sessions() { StopSweeper(); }

Sessions::Liveness Sessions::Fresh() const {
  return Liveness{options_.now(), UnixNow(), std::nullopt, 0};
}

void Sessions::Touch(const std::string& username) {
  auto it = live_.find(username);
  if (it == live_.end()) {
    live_[username] = Fresh();
  } else {
    it->second.last_seen = options_.now();
    it->second.last_seen_unix = UnixNow();
  }
}

namespace {

// A peer's word about what it serves: at most kMaxServingReported
// downloads, each rate no more than a link can carry.
std::vector<ServingTo> Clamped(std::vector<ServingTo> serving) {
  if (serving.size() > kMaxServingReported) serving.resize(kMaxServingReported);
  for (ServingTo& s : serving) s.rate = std::clamp<int64_t>(s.rate, 0, Sessions::kMaxRate);
  return serving;
}

Sessions::Liveness FromLoad(const PeerLoad& l) {
  return Sessions::Liveness{{},
                            l.last_seen_unix,
                            l.free_bytes,
                            l.active_transfers,
                            l.sending_rate,
                            l.receiving_rate,
                            l.reachable,
                            l.reach_why,
                            l.serving};
}

}  // namespace

void Sessions::Revive(const std::vector<std::string>& users) {
  if (options_.shared) return;  // liveness is in the shared store
  MutexLock lock(mu_);
  for (const auto& u : users) live_[u] = Fresh();
}

Result<std::string> Sessions::Open(const std::string& username, const std::string& public_key) {
  std::string token = NewToken();
  RETURN_IF_ERROR(store_->AddSession(
      SessionRecord{TokenHash(token), username, SessionState::kActive, public_key}, UnixNow()));
  if (options_.shared) {
    RETURN_IF_ERROR(options_.shared->TouchLogin(username));
    return token;
  }
  MutexLock lock(mu_);
  Touch(username);
  return token;
}

Result<std::string> Sessions::Authenticate(const std::string& token) {
  if (token.empty()) {
    return Unauthenticated("this route needs 'Authorization: Bearer <token>'", "unauthenticated");
  }
  if (token.size() > 256) return Unauthenticated("unknown token", "bad_token");
  const std::string hash = TokenHash(token);
  if (options_.shared) {
    ASSIGN_OR_RETURN(auto session, options_.shared->FindTokenSession(hash));
    if (!session) return Unauthenticated("unknown token", "bad_token");
    RETURN_IF_ERROR(EndedSession(session->state));
    if (!session->live) return Expired();
    return session->username;
  }
  uint64_t forgets_before = 0;
  {
    MutexLock lock(mu_);
    auto it = active_tokens_.find(hash);
    if (it != active_tokens_.end()) return it->second;
    forgets_before = forgets_;
  }
  ASSIGN_OR_RETURN(auto session, store_->FindSession(hash));
  if (!session) return Unauthenticated("unknown token", "bad_token");
  RETURN_IF_ERROR(EndedSession(session->state));
  MutexLock lock(mu_);
  // Active in the store but not alive here: a client's session from
  // before a restart (only online peers are revived). It ended with
  // its heartbeats; it must not live on as a token nobody checks.
  if (live_.count(session->username) == 0) return Expired();
  if (forgets_ == forgets_before) active_tokens_[hash] = session->username;
  return session->username;
}

Status Sessions::Heartbeat(const std::string& username, const HeartbeatRequest& req) {
  if (options_.shared) {
    PeerLoad load;
    if (req.free_bytes) load.free_bytes = std::clamp<int64_t>(*req.free_bytes, 0, kMaxFreeBytes);
    load.active_transfers = std::clamp<int64_t>(req.active_transfers.value_or(0), 0, kMaxTransfers);
    load.sending_rate = std::clamp<int64_t>(req.sending_rate.value_or(0), 0, kMaxRate);
    load.receiving_rate = std::clamp<int64_t>(req.receiving_rate.value_or(0), 0, kMaxRate);
    if (req.serving) load.serving = Clamped(*req.serving);
    Status s = options_.shared->Heartbeat(username, load);
    if (s.code() == Code::kNotFound) return Expired();
    return s;
  }
  MutexLock lock(mu_);
  auto it = live_.find(username);
  if (it == live_.end()) return Expired();
  it->second.last_seen = options_.now();
  it->second.last_seen_unix = UnixNow();
  if (req.free_bytes) it->second.free_bytes = std::clamp<int64_t>(*req.free_bytes, 0, kMaxFreeBytes);
  if (req.active_transfers) {
    it->second.active_transfers = std::clamp<int64_t>(*req.active_transfers, 0, kMaxTransfers);
  }
  if (req.sending_rate) it->second.sending_rate = std::clamp<int64_t>(*req.sending_rate, 0, kMaxRate);
  if (req.receiving_rate) it->second.receiving_rate = std::clamp<int64_t>(*req.receiving_rate, 0, kMaxRate);
  if (req.serving) it->second.serving = Clamped(*req.serving);
  return Status::Ok();
}

Status Sessions::SetReachability(const std::string& username, const std::string& state,
                                 const std::string& why) {
  if (options_.shared) {
    Status s = options_.shared->SetReachability(username, state, why);
    if (s.code() == Code::kNotFound) return Expired();
    return s;
  }
  MutexLock lock(mu_);
  auto it = live_.find(username);
  if (it == live_.end()) return Expired();
  it->second.reachable = state;
  it->second.reach_why = why;
  return Status::Ok();
}

void Sessions::Forget(const std::string& username) {
  MutexLock lock(mu_);
  live_.erase(username);
  ++forgets_;
  std::erase_if(active_tokens_, [&](const auto& e) { return e.second == username; });
}

std::optional<Sessions::Liveness> Sessions::Live(const std::string& username) const {
  if (options_.shared) {
    auto l = options_.shared->Live(username);
    if (!l.ok() || !l->has_value()) return std::nullopt;
    return FromLoad(**l);
  }
  MutexLock lock(mu_);
  auto it = live_.find(username);
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

Result<std::unordered_map<std::string, Sessions::Liveness>> Sessions::AllLive() const {
  std::unordered_map<std::string, Liveness> out;
  if (options_.shared) {
    ASSIGN_OR_RETURN(auto all, options_.shared->AllLive());
    for (const auto& [user, load] : all) out[user] = FromLoad(load);
    return out;
  }
  MutexLock lock(mu_);
  return live_;
}

bool Sessions::IsSilent(const std::string& username, Clock::time_point now) const {
  MutexLock lock(mu_);
  auto it = live_.find(username);
  return it != live_.end() && now - it->second.last_seen > std::chrono::seconds(options_.session_ttl_s);
}

std::vector<std::string> Sessions::Silent(Clock::time_point now) const {
  const auto ttl = std::chrono::seconds(options_.session_ttl_s);
  std::vector<std::string> out;
  MutexLock lock(mu_);
  for (const auto& [user, l] : live_) {
    if (now - l.last_seen > ttl) out.push_back(user);
  }
  return out;
}

void Sessions::StartSweeper(std::function<void(Clock::time_point)> sweep) {
  if (sweeper_) return;
  // Often enough that eviction lags the TTL by at most ~1/4 of it.
  auto period = std::chrono::milliseconds(
      std::clamp<int64_t>(options_.session_ttl_s * 250, 100, 1000));
  sweeper_ = std::make_unique<Periodic>(period, [this, sweep = std::move(sweep)] {
    sweep(options_.now());
    PurgeEndedSessions();
  });
}

void Sessions::StopSweeper() {
  if (sweeper_) sweeper_->Stop();
}

void Sessions::PurgeEndedSessions() {
  int64_t now = UnixNow();
  if (now - last_purge_unix_ <= 3600) return;
  // Ended sessions are kept a day (a late heartbeat still learns why it
  // ended), then forgotten.
  Status s = store_->PurgeEndedSessions(now - 86400);
  if (!s.ok()) spdlog::warn("purging ended sessions failed: {}", s.message());
  last_purge_unix_ = now;
}

}  // namespace p2pshare::central
