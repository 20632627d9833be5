#include "central/directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <unordered_set>

#include "common/names.h"

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

Directory::Directory(std::unique_ptr<DirectoryStore> store, DirectoryOptions options)
    : store_(std::move(store)), options_(options) {}

Directory::~Directory() { Stop(); }

Directory::Liveness Directory::Fresh() const {
  return Liveness{options_.now(), UnixNow(), std::nullopt, 0};
}

Status Directory::Start(bool run_sweeper) {
  ASSIGN_OR_RETURN(auto peers, store_->ListPeerRecords());
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    for (const auto& p : peers) {
      ASSIGN_OR_RETURN(auto files, store_->ListFiles(p.username));
      index_.Replace(p.username, files);
    }
  }
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    for (const auto& p : peers) {
      live_[p.username] = Fresh();
      NoteOnline(p);
    }
  }
  if (!peers.empty()) {
    spdlog::info("{} peer(s) were online before the restart; each has {} s to heartbeat",
                 peers.size(), options_.session_ttl_s);
  }
  if (run_sweeper && !sweeper_) {
    // Often enough that eviction lags the TTL by at most ~1/4 of it.
    auto period = std::chrono::milliseconds(
        std::clamp<int64_t>(options_.session_ttl_s * 250, 100, 1000));
    sweeper_ = std::make_unique<Periodic>(period, [this] { SweepAndPurge(); });
  }
  return Status::Ok();
}

void Directory::Stop() {
  if (sweeper_) sweeper_->Stop();
}

void Directory::SweepAndPurge() {
  SweepOnce(options_.now());
  int64_t now = UnixNow();
  if (now - last_purge_.load() > 3600) {  // ended sessions are kept a day, then forgotten
    Status s = store_->PurgeEndedSessions(now - 86400);
    if (!s.ok()) spdlog::warn("purging ended sessions failed: {}", s.message());
    last_purge_ = now;
  }
}

int Directory::SweepOnce(Clock::time_point now) {
  const auto ttl = std::chrono::seconds(options_.session_ttl_s);
  std::vector<std::string> silent;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    for (const auto& [user, l] : live_) {
      if (now - l.last_seen > ttl) silent.push_back(user);
    }
  }
  int evicted = 0;
  for (const auto& user : silent) {
    std::lock_guard<std::mutex> membership(membership_mu_);
    {
      std::lock_guard<std::mutex> lock(live_mu_);
      auto it = live_.find(user);  // a heartbeat may have come in meanwhile
      if (it == live_.end() || now - it->second.last_seen <= ttl) continue;
    }
    Status s = Evict(user, SessionState::kExpired);
    if (s.ok()) {
      ++evicted;
    } else {
      spdlog::error("evicting {} failed: {}", user, s.message());
    }
  }
  return evicted;
}

Status Directory::Evict(const std::string& username, SessionState why) {
  std::optional<PeerRecord> removed;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    ASSIGN_OR_RETURN(removed, store_->RemovePeer(username, why, UnixNow()));
    index_.RemoveUser(username);
  }
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_.erase(username);
    NoteOffline(username);
    ++evictions_;
    std::erase_if(active_tokens_, [&](const auto& e) { return e.second == username; });
  }
  if (removed) {
    if (why == SessionState::kExpired) {
      ttl_evictions_.fetch_add(1);
      Record("eviction", username,
             "no heartbeat for " + std::to_string(options_.session_ttl_s) + " s; port " +
                 std::to_string(removed->port) + " free again");
      spdlog::info("evicted {} (no heartbeat for {} s); port {}:{} is free again", username,
                   options_.session_ttl_s, removed->host, removed->port);
    } else {
      Record("logout", username, "port " + std::to_string(removed->port) + " free again");
      spdlog::info("logout of {}; port {}:{} is free again", username, removed->host,
                   removed->port);
    }
  }
  return Status::Ok();
}

Result<std::string> Directory::Register(const std::string& username,
                                        const std::string& password) {
  if (!options_.allow_registration) {
    return PermissionDenied("registration is closed on this directory", "registration_closed");
  }
  RETURN_IF_ERROR(CheckUsername(username));
  if (password.size() < 8 || password.size() > 1024) {
    return InvalidArgument("password must be 8 to 1024 bytes long", "bad_password");
  }
  // A taken name is refused before the (deliberately slow) hash, so asking
  // for taken names costs central no CPU. CreateAccount still decides races.
  ASSIGN_OR_RETURN(auto existing, store_->FindAccount(username));
  if (existing) return AlreadyExists("username '" + username + "' is taken", "username_taken");
  RETURN_IF_ERROR(store_->CreateAccount(
      AccountRecord{username, HashPassword(password, options_.pbkdf2_iterations)}));
  spdlog::info("registered account {}", username);
  return username;
}

Result<LoginReply> Directory::Login(const LoginRequest& req, const std::string& remote_address,
                                    int64_t* retry_after_s) {
  auto now = options_.now();
  *retry_after_s = throttle_.RetryAfter(req.username, remote_address, now);
  if (*retry_after_s > 0) {
    return ResourceExhausted("too many failed logins; try again in " +
                                 std::to_string(*retry_after_s) + " s",
                             "too_many_attempts");
  }
  ASSIGN_OR_RETURN(auto account, store_->FindAccount(req.username));
  // Hash even for unknown names, so timing does not tell which names exist.
  static const std::string kDummy = HashPassword("not a password", kPbkdf2Iterations);
  bool good = VerifyPassword(req.password, account ? account->password_hash : kDummy) &&
              account.has_value();
  if (!good) {
    throttle_.RecordFailure(req.username, remote_address, now);
    failed_logins_.fetch_add(1);
    spdlog::info("failed login for '{}' from {}", CheckUsername(req.username).ok() ? req.username : "?",
                 remote_address);
    return Unauthenticated("wrong username or password", "bad_credentials");
  }
  throttle_.RecordSuccess(req.username);

  std::lock_guard<std::mutex> membership(membership_mu_);
  ASSIGN_OR_RETURN(auto online, store_->FindPeer(req.username));
  PeerRecord peer;
  bool joined = online.has_value();
  if (joined) {
    peer = *online;  // the account is already online: join that peer (SPEC §4)
  } else {
    peer.username = req.username;
    peer.host = req.host.value_or(remote_address);
    if (req.preferred_port && (*req.preferred_port < options_.port_range.first ||
                               *req.preferred_port > options_.port_range.second)) {
      return InvalidArgument("field 'preferred_port' must lie in the port range " +
                             std::to_string(options_.port_range.first) + "-" +
                             std::to_string(options_.port_range.second));
    }
    ASSIGN_OR_RETURN(auto used, store_->PortsInUse(peer.host));
    for (int64_t p : req.exclude_ports) used.insert(static_cast<int>(p));
    std::optional<int> preferred;
    if (req.preferred_port) preferred = static_cast<int>(*req.preferred_port);
    auto port = PickPort(options_.port_range, used, preferred);
    if (!port) {
      return Unavailable("every port of the range is held on host " + peer.host, "no_free_port");
    }
    peer.port = *port;
    RETURN_IF_ERROR(store_->AddPeer(peer));
  }
  std::string token = NewToken();
  std::vector<std::string> friends;
  RETURN_IF_ERROR(store_->AddSession(SessionRecord{TokenHash(token), req.username,
                                                   SessionState::kActive},
                                     UnixNow()));
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    NoteOnline(peer);
    friends = FriendsOf(req.username);
    auto it = live_.find(req.username);
    if (it == live_.end()) {
      live_[req.username] = Fresh();
    } else {
      it->second.last_seen = options_.now();
      it->second.last_seen_unix = UnixNow();
    }
  }
  logins_.fetch_add(1);
  Record("login", req.username,
         (joined ? "joins its peer at " : "serves at ") + peer.host + ":" + std::to_string(peer.port));
  spdlog::info("login of {} {} {}:{}", req.username, joined ? "joins its peer at" : "gets",
               peer.host, peer.port);
  return LoginReply{token, req.username, peer.host, peer.port, options_.heartbeat_interval_s,
                    options_.session_ttl_s, std::move(friends)};
}

void Directory::NoteOnline(const PeerRecord& peer) {
  online_[peer.username] = peer;
  if (join_seq_.count(peer.username)) return;
  uint64_t seq = next_join_seq_++;
  join_seq_[peer.username] = seq;
  joined_[seq] = peer.username;
}

void Directory::NoteOffline(const std::string& username) {
  online_.erase(username);
  auto it = join_seq_.find(username);
  if (it == join_seq_.end()) return;
  joined_.erase(it->second);
  join_seq_.erase(it);
}

std::vector<std::string> Directory::FriendsOf(const std::string& username) const {
  std::vector<std::string> out;
  auto seq = join_seq_.find(username);
  if (seq == join_seq_.end()) return out;
  auto self = joined_.find(seq->second);
  auto it = self;
  for (size_t step = 0; step + 1 < joined_.size() && out.size() < 2; ++step) {
    it = it == joined_.begin() ? std::prev(joined_.end()) : std::prev(it);  // the one before, in a ring
    auto peer = online_.find(it->second);
    if (peer != online_.end()) {
      out.push_back(peer->second.host + ":" + std::to_string(peer->second.port));
    }
  }
  return out;
}

Result<std::string> Directory::Authenticate(const std::string& token) {
  if (token.empty()) {
    return Unauthenticated("this route needs 'Authorization: Bearer <token>'", "unauthenticated");
  }
  if (token.size() > 256) return Unauthenticated("unknown token", "bad_token");
  const std::string hash = TokenHash(token);
  uint64_t evictions_before = 0;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    auto it = active_tokens_.find(hash);
    if (it != active_tokens_.end()) return it->second;
    evictions_before = evictions_;
  }
  ASSIGN_OR_RETURN(auto session, store_->FindSession(hash));
  if (!session) return Unauthenticated("unknown token", "bad_token");
  switch (session->state) {
    case SessionState::kActive: {
      std::lock_guard<std::mutex> lock(live_mu_);
      if (evictions_ == evictions_before && live_.count(session->username) > 0) {
        active_tokens_[hash] = session->username;
      }
      return session->username;
    }
    case SessionState::kLoggedOut:
      return Unauthenticated("this session was logged out", "logged_out");
    case SessionState::kExpired:
      return Unauthenticated("this session expired (no heartbeat in time); log in again",
                             "session_expired");
  }
  return Unauthenticated("unknown token", "bad_token");
}

Status Directory::Logout(const std::string& username) {
  std::lock_guard<std::mutex> membership(membership_mu_);
  return Evict(username, SessionState::kLoggedOut);
}

Result<HeartbeatReply> Directory::Heartbeat(const std::string& username,
                                            const HeartbeatRequest& req) {
  std::lock_guard<std::mutex> lock(live_mu_);
  auto it = live_.find(username);
  if (it == live_.end()) {
    return Unauthenticated("this session expired (no heartbeat in time); log in again",
                           "session_expired");
  }
  it->second.last_seen = options_.now();
  it->second.last_seen_unix = UnixNow();
  if (req.free_bytes) it->second.free_bytes = req.free_bytes;
  if (req.active_transfers) it->second.active_transfers = *req.active_transfers;
  return HeartbeatReply{options_.session_ttl_s, FriendsOf(username)};
}

namespace {

Status CheckUniqueNames(const std::vector<FileEntry>& files, const char* field) {
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!seen.insert(files[i].name).second) {
      return InvalidArgument("field '" + std::string(field) + "[" + std::to_string(i) +
                             "].name': '" + files[i].name + "' is listed twice");
    }
  }
  return Status::Ok();
}

Status NotOnline() {
  return Unauthenticated("this session expired (no heartbeat in time); log in again",
                         "session_expired");
}

}  // namespace

Result<int64_t> Directory::ReplaceIndex(const std::string& username,
                                        const std::vector<FileEntry>& files) {
  RETURN_IF_ERROR(CheckUniqueNames(files, "files"));
  std::lock_guard<std::mutex> lock(index_mu_);
  auto count = store_->ReplaceIndex(username, files);
  if (!count.ok() && count.status().code() == Code::kNotFound) return NotOnline();
  if (count.ok()) index_.Replace(username, files);
  return count;
}

Result<int64_t> Directory::PatchIndex(const std::string& username,
                                      const std::vector<FileEntry>& added,
                                      const std::vector<std::string>& removed) {
  RETURN_IF_ERROR(CheckUniqueNames(added, "added"));
  std::lock_guard<std::mutex> lock(index_mu_);
  auto count = store_->PatchIndex(username, added, removed);
  if (!count.ok() && count.status().code() == Code::kNotFound) return NotOnline();
  if (count.ok()) index_.Patch(username, added, removed);
  return count;
}

FileResult Directory::WithAddresses(IndexHit hit) const {
  FileResult r{std::move(hit.name), hit.size, std::move(hit.sha256), {}};
  std::lock_guard<std::mutex> lock(live_mu_);
  for (auto& user : hit.holders) {
    auto it = online_.find(user);
    if (it == online_.end()) continue;  // left after the index was read
    r.holders.push_back(Holder{std::move(user), it->second.host, it->second.port});
  }
  return r;
}

Result<SearchPage> Directory::Search(const SearchQuery& query) {
  IndexPage found = index_.Search(query.text, query.limit, query.offset);
  SearchPage page;
  page.total = found.total;
  page.results.reserve(found.hits.size());
  for (auto& hit : found.hits) page.results.push_back(WithAddresses(std::move(hit)));
  return page;
}

Result<std::optional<FileResult>> Directory::FindFile(const std::string& sha256) {
  auto hit = index_.FindByHash(sha256);
  if (!hit) return std::optional<FileResult>();
  return std::optional<FileResult>(WithAddresses(std::move(*hit)));
}

Result<std::vector<PeerInfo>> Directory::Peers() {
  ASSIGN_OR_RETURN(auto peers, store_->ListPeers());
  std::vector<PeerInfo> out;
  std::lock_guard<std::mutex> lock(live_mu_);
  for (const auto& p : peers) {
    auto it = live_.find(p.peer.username);
    int64_t seen = it == live_.end() ? UnixNow() : it->second.last_seen_unix;
    out.push_back(PeerInfo{p.peer.username, p.peer.host, p.peer.port, p.files, p.bytes,
                           IsoTime(seen)});
  }
  return out;
}

Result<Holder> Directory::UploadTarget(const std::string& caller, const std::string& name,
                                       int64_t size) {
  RETURN_IF_ERROR(CheckFileName(name));
  if (size < 0) return InvalidArgument("field 'size' must be 0 or more");
  ASSIGN_OR_RETURN(auto peers, store_->ListPeerRecords());
  struct Candidate {
    PeerRecord peer;
    Liveness live;
  };
  std::vector<Candidate> candidates;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    for (const auto& p : peers) {
      if (p.username == caller) continue;
      auto it = live_.find(p.username);
      if (it == live_.end()) continue;
      if (it->second.free_bytes && *it->second.free_bytes < size) continue;
      candidates.push_back(Candidate{p, it->second});
    }
  }
  if (candidates.empty()) {
    return Unavailable("no other online peer has room for " + std::to_string(size) + " bytes",
                       "no_peer_available");
  }
  auto best = std::min_element(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.live.active_transfers != b.live.active_transfers) {
      return a.live.active_transfers < b.live.active_transfers;
    }
    int64_t fa = a.live.free_bytes.value_or(-1), fb = b.live.free_bytes.value_or(-1);
    if (fa != fb) return fa > fb;
    return a.peer.username < b.peer.username;
  });
  Record("upload", caller, "'" + name + "' (" + std::to_string(size) + " bytes) to " +
                               best->peer.username);
  return Holder{best->peer.username, best->peer.host, best->peer.port};
}

Result<std::string> Directory::Verify(const std::string& caller_token) {
  auto user = Authenticate(caller_token);
  if (!user.ok()) {
    if (user.status().code() == Code::kUnauthenticated) {
      return NotFound("that token belongs to no live session", "unknown_token");
    }
    return user.status();
  }
  return user;
}

void Directory::Record(std::string kind, std::string username, std::string detail) {
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::lock_guard<std::mutex> lock(events_mu_);
  events_.push_back(
      NetworkEvent{next_event_id_++, ms, std::move(kind), std::move(username), std::move(detail)});
  while (events_.size() > kEventsKept) events_.pop_front();
}

std::vector<NetworkEvent> Directory::EventsAfter(int64_t after) const {
  std::lock_guard<std::mutex> lock(events_mu_);
  std::vector<NetworkEvent> out;
  for (const auto& e : events_) {
    if (e.id > after) out.push_back(e);
  }
  return out;
}

Result<StatsReply> Directory::Stats() {
  // File counts from the in-memory index: the SQL form (a GROUP BY over
  // every file) took the store's lock for a full scan on each call.
  ASSIGN_OR_RETURN(int64_t accounts, store_->CountAccounts());
  SearchIndex::Totals t = index_.totals();
  StatsReply s;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    s.peers_online = static_cast<int64_t>(online_.size());
  }
  s.accounts = accounts;
  s.files = t.held_files;
  s.unique_files = t.unique_files;
  s.bytes = t.held_bytes;
  return s;
}

}  // namespace p2pshare::central
