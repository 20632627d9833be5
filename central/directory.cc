#include "central/directory.h"

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "central/reachability.h"
#include "central/relay.h"
#include "common/central_trust.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "common/mutex.h"
#include "common/names.h"

namespace p2pshare::central {
namespace {

Status NotOnline() {
  return Unauthenticated("this session expired (no heartbeat in time); log in again",
                         "session_expired");
}

// The store's NotFound for an offline peer, as a client of the REST API
// must read it: its session is over.
template <class T>
Result<T> OnlineOnly(Result<T> r) {
  if (!r.ok() && r.status().code() == Code::kNotFound) return NotOnline();
  return r;
}

}  // namespace

Directory::Directory(std::unique_ptr<DirectoryStore> store, DirectoryOptions options)
    : store_(std::move(store)),
      replica_(store_->replica()),
      options_(options),
      accounts_(store_.get(),
                AccountsOptions{options.allow_registration, options.pbkdf2_iterations, options.now,
                                options.register_per_minute, options.password_checks,
                                replica_}),
      sessions_(store_.get(), SessionsOptions{options.session_ttl_s, replica_, options.now}),
      ports_(store_.get(), options.port_range),
      index_(store_.get(), options.max_files_per_peer, options.max_index_files,
             /*follow=*/replica_ != nullptr),
      wishes_(store_.get(), replica_ != nullptr,
              Wishes::Hooks{
                  .signal = [this](const std::string& user, const Json& message) { return Signal(user, message); },
                  .matching_now =
                      [this](const NameQuery& query) {
                        std::vector<std::string> found;
                        IndexPage page = index_.Search(query, SearchSort::kRelevance,
                                                       static_cast<int64_t>(kWishSeen), 0, kQuickSearchBudget);
                        for (const IndexHit& hit : page.hits) found.push_back(hit.sha256);
                        return found;
                      },
                  .holders =
                      [this](const std::string& sha256) {
                        auto hit = index_.FindByHash(sha256);
                        return hit ? hit->holders_total : int64_t{0};
                      },
              }) {
  if (options.ca != nullptr) {
    certificates_ = std::make_unique<Certificates>(store_.get(), options.ca,
                                                   options.cert_lifetime_s, options.unix_now);
  }
}

Directory::~Directory() { Stop(); }

Status Directory::Start(bool run_sweeper) {
  if (replica_) {
    {
      MutexLock lock(feed_mu_);
      RETURN_IF_ERROR(Reload());
      spdlog::info("a replica on a shared store: {} peer(s) online, following the change feed "
                   "from change {}",
                   online_.Count(), cursor_);
    }
    follower_ = std::thread([this] { FollowLoop(); });
    RETURN_IF_ERROR(wishes_.Start());
    if (run_sweeper) sessions_.StartSweeper([this](Clock::time_point now) { SweepOnce(now); });
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto peers, store_->ListPeerRecords());
  RETURN_IF_ERROR(index_.Load(peers));
  std::vector<std::string> users;
  for (const auto& p : peers) {
    online_.Add(p);
    users.push_back(p.username);
  }
  sessions_.Revive(users);
  RETURN_IF_ERROR(wishes_.Start());
  if (!peers.empty()) {
    spdlog::info("{} peer(s) were online before the restart; each has {} s to heartbeat",
                 peers.size(), options_.session_ttl_s);
  }
  if (run_sweeper) sessions_.StartSweeper([this](Clock::time_point now) { SweepOnce(now); });
  return Status::Ok();
}

void Directory::Stop() {
  sessions_.StopSweeper();
  {
    MutexLock lock(follow_mu_);
    stopping_ = true;
  }
  follow_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
  wishes_.Stop();
}

Status Directory::Reload() {
  // The feed's end first: changes after it are applied on top of what is
  // read below (each change may be applied again without harm).
  ASSIGN_OR_RETURN(int64_t latest, replica_->LatestChange());
  ASSIGN_OR_RETURN(auto peers, store_->ListPeerRecords());
  std::set<std::string> now_online;
  for (const auto& p : peers) now_online.insert(p.username);
  for (const std::string& user : online_.Usernames()) {
    if (now_online.count(user) == 0) {
      index_.ApplyRemove(user);
      online_.Remove(user);
      ReplacePartials(user, {});
    }
  }
  for (const auto& p : peers) {
    ASSIGN_OR_RETURN(auto files, store_->ListFiles(p.username));
    online_.Add(p);
    index_.ApplyReplace(p.username, files);
  }
  ASSIGN_OR_RETURN(auto events, replica_->RecentEvents(latest, static_cast<int64_t>(kEventsKept)));
  for (auto& e : events) events_.Append(std::move(e));
  if (certificates_) certificates_->Invalidate();
  cursor_ = latest;
  return Status::Ok();
}

Status Directory::CatchUp() {
  if (!replica_) return Status::Ok();
  constexpr int64_t kBatch = 1000;
  MutexLock lock(feed_mu_);
  for (;;) {
    ASSIGN_OR_RETURN(ChangeBatch batch, replica_->ChangesAfter(cursor_, kBatch));
    if (batch.reload) {
      spdlog::warn("the change feed was trimmed past change {}: reading the directory whole",
                   cursor_);
      RETURN_IF_ERROR(Reload());
      continue;
    }
    for (const Change& c : batch.changes) {
      if (c.kind == Change::Kind::kReplace) {
        // Followers read a replaced index back: it is the newest state,
        // and the changes after this one apply on top of it again.
        ASSIGN_OR_RETURN(auto files, store_->ListFiles(c.username));
        index_.ApplyReplace(c.username, files);
      } else {
        Apply(c);
      }
      cursor_ = c.id;
    }
    if (static_cast<int64_t>(batch.changes.size()) < kBatch) return Status::Ok();
  }
}

void Directory::Apply(const Change& c) {
  switch (c.kind) {
    case Change::Kind::kOnline:
      online_.Add(c.peer, c.source);
      break;
    case Change::Kind::kOffline:
      index_.ApplyRemove(c.username);
      online_.Remove(c.username);
      ReplacePartials(c.username, {});
      if (certificates_) certificates_->Invalidate();  // the store revoked its certificates
      break;
    case Change::Kind::kPatch:
      index_.ApplyPatch(c.username, c.added, c.removed);
      break;
    case Change::Kind::kReplace:
      break;  // CatchUp reads it back
    case Change::Kind::kEvent:
      events_.Append(c.event);
      break;
    case Change::Kind::kSignal:
      // A message is news only for a while: one the feed brings late (a
      // replica that was cut off) is not sent.
      if (wishes_.OnSignal(c.username, c.message)) break;  // between replicas only
      if (signal_sink_ && UnixNow() * 1000 - c.at_unix_ms < kSignalFreshMs) {
        (void)signal_sink_(c.username, c.message);
      }
      break;
  }
}

void Directory::FollowLoop() {
  bool was_degraded = false;
  for (;;) {
    {
      MutexLock lock(follow_mu_);
      if (stopping_) return;
    }
    Status s = replica_->WaitForChange(std::chrono::milliseconds(500));
    if (s.ok()) s = CatchUp();
    degraded_.store(!s.ok());
    if (!s.ok() && !was_degraded) {
      spdlog::error("degraded: {} (retrying every 500 ms)", s.message());
    } else if (s.ok() && was_degraded) {
      MutexLock feed(feed_mu_);
      spdlog::info("the shared store is reachable again; caught up to change {}", cursor_);
    }
    was_degraded = !s.ok();
    if (!s.ok()) {
      MutexLock lock(follow_mu_);
      follow_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { follow_mu_.AssertHeld(); return stopping_; });
    }
  }
}

void Directory::RecordEvent(const std::string& kind, const std::string& username,
                            const std::string& detail, const std::string& public_detail) {
  if (!replica_) {
    events_.Record(kind, username, detail, public_detail);
    return;
  }
  Status s = replica_->RecordEvent(kind, username, detail, public_detail);
  if (!s.ok()) spdlog::warn("recording a {} event failed: {}", kind, s.message());
}

int Directory::SweepOnce(Clock::time_point now) {
  if (replica_) {
    // A gap of more than 2 s between sweeps means no replica could reach
    // the store (or none ran): the store gives everyone a full TTL then.
    constexpr int64_t kSweepGraceS = 2;
    auto evicted = replica_->EvictSilent(options_.session_ttl_s, kSweepGraceS, UnixNow());
    if (!evicted.ok()) {
      spdlog::debug("sweep: {}", evicted.status().message());
      return 0;
    }
    int count = 0;
    for (const Evicted& e : *evicted) {
      if (!e.peer) continue;  // a client alone: ends unannounced
      ++count;
      ttl_evictions_.fetch_add(1);
      RecordEvent("eviction", e.username,
                  "no heartbeat for " + std::to_string(options_.session_ttl_s) + " s; port " +
                      std::to_string(e.peer->port) + " free again");
      spdlog::info("evicted {} (no heartbeat for {} s); port {} is free again", e.username,
                   options_.session_ttl_s, JoinHostPort(e.peer->host, e.peer->port));
    }
    if (!evicted->empty()) (void)CatchUp();
    const int64_t unix_now = UnixNow();
    if (unix_now - feed_trimmed_unix_ >= 60) {
      Status trimmed = replica_->TrimChanges(3600);  // an hour of changes is kept
      if (!trimmed.ok()) spdlog::warn("trimming the change feed failed: {}", trimmed.message());
      Status forgot = replica_->ForgetOldCounts(ThrottlePolicy{}.known_for_ms);
      if (!forgot.ok()) spdlog::warn("forgetting old login counts failed: {}", forgot.message());
      feed_trimmed_unix_ = unix_now;
    }
    return count;
  }
  int evicted = 0;
  for (const auto& user : sessions_.Silent(now)) {
    MutexLock membership(membership_mu_);
    if (!sessions_.IsSilent(user, now)) continue;  // a heartbeat or login came in meanwhile
    Status s = Evict(user, SessionState::kExpired);
    if (s.ok()) {
      ++evicted;
    } else {
      spdlog::error("evicting {} failed: {}", user, s.message());
    }
  }
  // Index updates leave freed memory in malloc's arenas (the JSON of 1 MiB
  // bodies, the index's outgrown arrays: 160 MiB after 1M files arrive);
  // glibc keeps it unless asked. Once updates pause for a sweep, it goes
  // back to the system.
  const uint64_t generation = index_.generation();
  if (generation == swept_generation_ && generation != trimmed_generation_) {
    malloc_trim(0);
    trimmed_generation_ = generation;
  }
  swept_generation_ = generation;
  return evicted;
}

Status Directory::Evict(const std::string& username, SessionState why) {
  ASSIGN_OR_RETURN(std::optional<PeerRecord> removed, index_.RemovePeer(username, why, UnixNow()));
  sessions_.Forget(username);
  if (replica_) {
    (void)CatchUp();  // the feed's "offline" does the rest
  } else {
    online_.Remove(username);
    ReplacePartials(username, {});
    if (certificates_) certificates_->Invalidate();  // the store revoked its certificates
  }
  if (!removed) return Status::Ok();
  const std::string address = JoinHostPort(removed->host, removed->port);
  if (why == SessionState::kExpired) {
    ttl_evictions_.fetch_add(1);
    RecordEvent("eviction", username,
                   "no heartbeat for " + std::to_string(options_.session_ttl_s) + " s; port " +
                       std::to_string(removed->port) + " free again");
    spdlog::info("evicted {} (no heartbeat for {} s); port {} is free again", username,
                 options_.session_ttl_s, address);
  } else {
    RecordEvent("logout", username, "port " + std::to_string(removed->port) + " free again");
    spdlog::info("logout of {}; port {} is free again", username, address);
  }
  return Status::Ok();
}

Result<std::string> Directory::Register(const std::string& username, const std::string& password,
                                        const std::string& remote_address, int64_t* retry_after_s) {
  return accounts_.Register(username, password, remote_address, retry_after_s);
}

Result<PeerRecord> Directory::JoinOrPlace(const LoginRequest& req,
                                          const std::string& remote_address, bool* joined) {
  ASSIGN_OR_RETURN(auto online, store_->FindPeer(req.username));
  *joined = online.has_value();
  if (online) return *online;  // the account is already online: join that peer
  if (req.client) return PeerRecord{req.username, req.host.value_or(remote_address), 0};  // no port
  if (!IsLoopbackHost(remote_address) &&
      online_.CountFrom(remote_address) >= options_.max_peers_per_address) {
    return ResourceExhausted(std::to_string(options_.max_peers_per_address) +
                                 " peers are online from " + remote_address + " already",
                             "too_many_peers");
  }
  PeerRecord peer{req.username, req.host.value_or(remote_address), 0};
  ASSIGN_OR_RETURN(peer.port, ports_.Assign(peer.host, req.preferred_port, req.exclude_ports));
  RETURN_IF_ERROR(store_->AddPeerFrom(peer, remote_address));
  return peer;
}

Result<LoginReply> Directory::Login(const LoginRequest& req, const std::string& remote_address,
                                    int64_t* retry_after_s) {
  RETURN_IF_ERROR(
      accounts_.CheckPassword(req.username, req.password, remote_address, retry_after_s));
  std::string public_key;
  if (req.csr && certificates_) {
    ASSIGN_OR_RETURN(public_key, certificates_->CheckRequest(*req.csr));
  }
  MutexLock membership(membership_mu_);
  bool joined = false;
  Result<PeerRecord> placed = JoinOrPlace(req, remote_address, &joined);
  // Replicas: another replica took the port (or brought the account
  // online) between our read and our write; read again and retry.
  for (int retry = 0; replica_ && retry < 8 && placed.status().code() == Code::kAlreadyExists;
       ++retry) {
    placed = JoinOrPlace(req, remote_address, &joined);
  }
  ASSIGN_OR_RETURN(PeerRecord peer, std::move(placed));
  ASSIGN_OR_RETURN(std::string token, sessions_.Open(req.username, public_key));
  if (replica_) (void)CatchUp();  // the online set now has this peer
  logins_.fetch_add(1);
  const std::string address = JoinHostPort(peer.host, peer.port);
  if (peer.port == 0) {
    // A client alone: not online (no port to reach it at), so no event; its
    // session ends unannounced when its heartbeats stop.
    spdlog::debug("client login of {} from {} (no peer online)", req.username, remote_address);
  } else {
    if (!replica_) online_.Add(peer, remote_address);
    // A new address is checked anew (the peer-server asks once it listens).
    if (!joined) {
      (void)sessions_.SetReachability(req.username, "", "");
      MutexLock lock(reach_mu_);
      last_reach_.erase(req.username);
    }
    // A session joining a peer already online (a REPL, each one-shot
    // command) changes nothing others see: no event, or five commands in
    // a row would fill the dashboard's recent events.
    if (!joined) RecordEvent("login", req.username, "serves at " + address);
    spdlog::info("login of {} {} {}", req.username, joined ? "joins its peer at" : "gets", address);
  }
  LoginReply reply;
  reply.token = token;
  reply.username = req.username;
  reply.host = peer.host;
  reply.port = peer.port;
  reply.joined = joined;
  reply.heartbeat_interval_s = options_.heartbeat_interval_s;
  reply.session_ttl_s = options_.session_ttl_s;
  reply.friends = online_.FriendsOf(req.username);
  RETURN_IF_ERROR(Certify(req.username, token, public_key, &reply));
  return reply;
}

Status Directory::Certify(const std::string& username, const std::string& token,
                          const std::string& public_key, LoginReply* reply) {
  if (!certificates_) return Status::Ok();
  reply->ca = certificates_->ca_pem();
  Certificates::News news = certificates_->RevokedAfter(0);
  reply->revoked = std::move(news.serials);
  reply->revoked_seq = news.seq;
  reply->revoked_more = news.more;
  if (public_key.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(IssuedCertificate cert,
                   certificates_->Issue(username, TokenHash(token), public_key));
  reply->certificate = std::move(cert.pem);
  return Status::Ok();
}

Result<ReachabilityReply> Directory::CheckReachability(const std::string& username,
                                                       const std::string& remote_address,
                                                       const std::string& mapped) {
  std::vector<Holder> at = online_.Addresses({username});
  if (at.empty()) {
    return FailedPrecondition("this account has no peer-server online: only a peer-server's address "
                              "is checked",
                              "not_serving");
  }
  if (!certificates_) return FailedPrecondition("this central has no certificate authority", "no_ca");
  ReachabilityReply reply{"", at[0].host, at[0].port, ""};
  {
    MutexLock lock(reach_mu_);
    auto last = last_reach_.find(username);
    if (last != last_reach_.end() && Clock::now() - last->second.at < kReachCooldown &&
        last->second.reply.host == reply.host && last->second.reply.port == reply.port &&
        last->second.mapped == mapped) {
      return last->second.reply;
    }
  }
  // The address is one the account named: a place per asking address, and
  // few in all, so strangers' accounts cannot make central a port scanner.
  auto place = reach_checks_.Enter({"address " + remote_address}, kReachWait);
  if (!place) return Unavailable("central is checking other peers; try again", "busy");
  ReachProbe probe = ProbePeer(reply.host, reply.port, username, certificates_->ca_pem(),
                               std::chrono::duration_cast<std::chrono::milliseconds>(kReachTimeout));
  // Not reached at its address: peers that can be reached themselves
  // have it connect out to them (reversal), others go through the relay
  // when this central runs one; both are asked for over the channel its
  // peer-server keeps.
  // Without a relay, reachable peers still reach it by reversal (it
  // connects out to them over the channel's word).
  reply.reachable = probe.reached ? (mapped.empty() ? "direct" : "mapped")
                  : relay_ != nullptr ? "relayed-only" : "reversed-only";
  reply.reason = probe.why;
  RETURN_IF_ERROR(sessions_.SetReachability(username, reply.reachable, reply.reason));
  {
    MutexLock lock(reach_mu_);
    if (last_reach_.size() >= 100000) last_reach_.clear();  // bounded; a cleared entry costs one check
    last_reach_[username] = LastReach{Clock::now(), reply, mapped};
  }
  spdlog::info("{}'s peer-server at {}: {}", username, JoinHostPort(reply.host, reply.port),
               probe.reached ? "reached" : "cannot be reached (" + probe.why + ")");
  return reply;
}

void Directory::SetSignalSink(SignalSink sink) { signal_sink_ = std::move(sink); }

bool Directory::Signal(const std::string& username, const Json& message) {
  const std::string line = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (replica_) {
    if (!replica_->AppendSignal(username, line).ok()) return false;
    (void)CatchUp();  // this replica sends it if it holds the channel
    return true;
  }
  return signal_sink_ && signal_sink_(username, line);
}

Status Directory::MayOpenChannel(const std::string& username) const {
  if (online_.Addresses({username}).empty()) {
    return FailedPrecondition("only a peer-server keeps a channel to central: this account has none online",
                              "not_serving");
  }
  return Status::Ok();
}

std::optional<RelayStats> Directory::RelayStatsNow() const {
  if (relay_ == nullptr) return std::nullopt;
  return relay_->stats();
}

void Directory::SetRelay(RelayServer* relay, std::string advertised_host) {
  relay_ = relay;
  relay_host_ = std::move(advertised_host);
}

Result<RelayTicket> Directory::Rendezvous(const std::string& caller, const std::string& peer,
                                          const std::string& remote_address,
                                          const std::string& central_host) {
  if (peer == caller) return InvalidArgument("a peer does not need the relay to reach itself");
  if (online_.Addresses({peer}).empty()) return NotFound(peer + " is not online", "not_online");
  if (relay_ == nullptr) {
    return FailedPrecondition("this central runs no relay (relay_listen is \"off\")", "no_relay");
  }
  ASSIGN_OR_RETURN(RelayTokens tokens, relay_->Open(caller, remote_address, peer));
  // Without relay_address each side dials the relay at the host it
  // reaches central at (the caller's Host header; the holder's own
  // central_url, told by an empty host): one family each may have.
  const std::string host = relay_host_.empty() ? central_host : relay_host_;
  Json message{{"type", "relay"}, {"host", relay_host_}, {"port", relay_->port()},
               {"token", tokens.holder}, {"peer", caller}};
  if (!Signal(peer, message)) {
    return FailedPrecondition(peer + " is not connected to central right now (it may have just gone offline)",
                              "no_channel");
  }
  return RelayTicket{host, relay_->port(), tokens.caller, peer};
}

Result<RelayTicket> Directory::Reverse(const std::string& caller, const std::string& peer,
                                       const std::string& remote_address, int port) {
  if (peer == caller) return InvalidArgument("a peer does not connect back to itself");
  std::vector<Holder> holder = online_.Addresses({peer});
  if (holder.empty()) return NotFound(peer + " is not online", "not_online");
  // An IPv4 caller on a dual-stack listener shows as ::ffff:a.b.c.d.
  std::string address = remote_address;
  if (address.rfind("::ffff:", 0) == 0 && address.find('.') != std::string::npos) address = address.substr(7);
  if (auto own = sessions_.Live(caller); own && !own->reachable.empty() && own->reachable != "direct") {
    return FailedPrecondition("your own peer-server cannot be reached at its address (" + own->reachable +
                                  "), so " + peer + " could not connect back to this machine either",
                              "not_reachable");
  }
  if ((address.find(':') == std::string::npos) != (holder[0].host.find(':') == std::string::npos)) {
    return FailedPrecondition(peer + " and you are on different address families (IPv4, IPv6)", "other_family");
  }
  if (reversals_by_caller_.Take("account " + caller) > 0 || reversals_by_address_.Take("address " + address) > 0 ||
      reversals_by_holder_.Take("holder " + peer) > 0) {
    return Unavailable("too many connections back asked for; try again in a few seconds", "busy");
  }
  const std::string token = RandomHex(16);
  Json message{{"type", "reverse"}, {"host", address}, {"port", port}, {"token", token}, {"peer", caller}};
  if (!Signal(peer, message)) {
    return FailedPrecondition(peer + " is not connected to central right now (it may have just gone offline)",
                              "no_channel");
  }
  return RelayTicket{address, port, token, peer};
}

Result<std::string> Directory::Authenticate(const std::string& token) {
  return sessions_.Authenticate(token);
}

Status Directory::Logout(const std::string& username) {
  {
    MutexLock membership(membership_mu_);
    RETURN_IF_ERROR(Evict(username, SessionState::kLoggedOut));
  }
  // Its peer-server hears it now rather than at its next heartbeat.
  (void)Signal(username, Json{{"type", "heartbeat"}});
  return Status::Ok();
}

Result<HeartbeatReply> Directory::Heartbeat(const std::string& username,
                                            const HeartbeatRequest& req, const std::string& token) {
  RETURN_IF_ERROR(sessions_.Heartbeat(username, req));
  if (req.partials) ReplacePartials(username, *req.partials);
  HeartbeatReply reply{options_.session_ttl_s, online_.FriendsOf(username), ""};
  if (!certificates_) return reply;
  Certificates::News news = certificates_->RevokedAfter(req.revoked_after);
  reply.revoked = std::move(news.serials);
  reply.revoked_seq = news.seq;
  reply.revoked_more = news.more;
  if (!token.empty()) {
    ASSIGN_OR_RETURN(auto renewed, certificates_->RenewIfDue(username, TokenHash(token)));
    if (renewed) reply.certificate = std::move(renewed->pem);
  }
  return reply;
}

Result<int64_t> Directory::ReplaceIndex(const std::string& username,
                                        const std::vector<FileEntry>& files) {
  auto r = OnlineOnly(index_.Replace(username, files));
  if (replica_ && r.ok()) (void)CatchUp();  // this replica reads its own writes
  if (r.ok()) wishes_.Indexed(username, files);
  return r;
}

Result<int64_t> Directory::PatchIndex(const std::string& username,
                                      const std::vector<FileEntry>& added,
                                      const std::vector<std::string>& removed) {
  auto r = OnlineOnly(index_.Patch(username, added, removed));
  if (replica_ && r.ok()) (void)CatchUp();
  if (r.ok()) wishes_.Indexed(username, added);
  return r;
}

FileResult Directory::WithAddresses(IndexHit hit) const {
  const auto listed = static_cast<int64_t>(hit.holders.size());
  FileResult r{std::move(hit.name), hit.size, std::move(hit.sha256),
               online_.Addresses(std::move(hit.holders)), 0};
  // A listed holder that left meanwhile is dropped, and not counted.
  r.holders_total = hit.holders_total - (listed - static_cast<int64_t>(r.holders.size()));
  return r;
}

Result<SearchPage> Directory::Search(const SearchQuery& query, const std::string& remote_address) {
  auto place = searches_.Enter({"address " + remote_address}, kSearchWait);
  if (!place) {
    return Unavailable("central is busy with other searches; try again in a moment", "busy");
  }
  // Most searches end well within a small budget (popular words fill the
  // page at once). One that does not (a short or rare fragment that no key
  // narrows) runs again with the full budget, one at a time; meanwhile
  // others like it get 503, so they never take every core from heartbeats
  // and cheap searches.
  ASSIGN_OR_RETURN(NameQuery asked, NameQuery::Parse(query.text));
  SearchSort sort = SearchSort::kRelevance;
  ParseSearchSort(query.options.sort, &sort);  // checked by the API
  IndexPage found = index_.Search(asked, sort, query.limit, query.offset, kQuickSearchBudget);
  std::string searched;
  if (query.options.fuzzy && found.total < kSuggestBelow && !found.suggestion.empty()) {
    // --fuzzy: the suggestion is searched instead (it parses: it is made of
    // the query's own filters and indexed words).
    auto instead = NameQuery::Parse(found.suggestion);
    if (instead.ok()) {
      searched = found.suggestion;
      asked = std::move(*instead);
      found = index_.Search(asked, sort, query.limit, query.offset, kQuickSearchBudget);
      found.suggestion = searched;
    }
  }
  if (found.budget_spent) {
    auto heavy = heavy_searches_.Enter("");
    if (!heavy) {
      return Unavailable("central is busy with another broad search; try again in a moment, or "
                         "search for something more specific",
                         "busy");
    }
    std::string suggestion = std::move(found.suggestion);
    found = index_.Search(asked, sort, query.limit, query.offset);
    found.suggestion = std::move(suggestion);
  }
  SearchPage page;
  page.total = found.total;
  page.total_exact = found.total_exact;
  page.suggestion = std::move(found.suggestion);
  page.searched = std::move(searched);
  page.results.reserve(found.hits.size());
  for (auto& hit : found.hits) page.results.push_back(WithAddresses(std::move(hit)));
  return page;
}

void Directory::ReplacePartials(const std::string& username, const std::vector<PartialFile>& files) {
  MutexLock lock(partials_mu_);
  auto& mine = partials_of_[username];
  for (const std::string& sha : mine) {
    auto it = partials_.find(sha);
    if (it == partials_.end()) continue;
    it->second.erase(username);
    if (it->second.empty()) partials_.erase(it);
  }
  mine.clear();
  for (const PartialFile& p : files) {
    partials_[p.file.sha256][username] = p;
    mine.push_back(p.file.sha256);
  }
  if (mine.empty()) partials_of_.erase(username);
}

Result<std::optional<FileResult>> Directory::FindFile(const std::string& sha256) {
  auto hit = index_.FindByHash(sha256);
  std::map<std::string, PartialFile> partial;
  {
    MutexLock lock(partials_mu_);
    if (auto it = partials_.find(sha256); it != partials_.end()) partial = it->second;
  }
  if (!hit && partial.empty()) return std::optional<FileResult>();
  FileResult r;
  if (hit) {
    // username -> the root and size it reports
    std::map<std::string, std::pair<std::string, int64_t>> claims;
    for (size_t i = 0; i < hit->holders.size(); ++i) claims[hit->holders[i]] = {hit->roots[i], hit->sizes[i]};
    r = WithAddresses(std::move(*hit));
    for (Holder& h : r.holders) {
      std::tie(h.root, h.size) = claims[h.username];
      partial.erase(h.username);  // it has the whole file
    }
  } else {
    const PartialFile& first = partial.begin()->second;
    r = FileResult{first.file.name, first.file.size, sha256, {}, 0};
  }
  // Then the peers downloading it (of the same size: another is a lie).
  std::vector<std::string> names;
  for (const auto& [user, p] : partial) {
    if (p.file.size == r.size) names.push_back(user);
  }
  for (Holder& h : online_.Addresses(names)) {
    const PartialFile& p = partial.at(h.username);
    h.root = p.file.root;
    h.size = p.file.size;
    h.partial = true;
    h.have = p.have;
    r.holders.push_back(std::move(h));
    r.holders_total++;
  }
  if (r.holders.empty()) return std::optional<FileResult>();
  return std::optional<FileResult>(std::move(r));
}

Result<std::vector<PeerInfo>> Directory::Peers() {
  ASSIGN_OR_RETURN(auto peers, store_->ListPeers());
  ASSIGN_OR_RETURN(auto all_live, sessions_.AllLive());
  std::vector<PeerInfo> out;
  for (const auto& p : peers) {
    auto found = all_live.find(p.peer.username);
    const Sessions::Liveness* live = found == all_live.end() ? nullptr : &found->second;
    int64_t seen = live ? live->last_seen_unix : UnixNow();
    PeerInfo info{p.peer.username, p.peer.host, p.peer.port, p.files, p.bytes, IsoTime(seen)};
    if (live) {
      info.active_transfers = live->active_transfers;
      info.sending_rate = live->sending_rate;
      info.receiving_rate = live->receiving_rate;
      info.reachable = live->reachable;
      info.serving = live->serving;
      // Each download served is a transfer, whatever the calls in flight.
      info.active_transfers = std::max<int64_t>(info.active_transfers, static_cast<int64_t>(info.serving.size()));
    }
    out.push_back(std::move(info));
  }
  return out;
}

double Directory::DecayedUploads(const HandedUploads& h, std::chrono::steady_clock::time_point now) {
  const double minutes = std::chrono::duration<double>(now - h.at).count() / 60.0;
  return h.count * std::exp2(-std::max(0.0, minutes) / kUploadHalfLifeMinutes);
}

Result<Holder> Directory::UploadTarget(const std::string& caller, const std::string& name,
                                       int64_t size) {
  RETURN_IF_ERROR(CheckFileName(name));
  if (size < 0) return InvalidArgument("field 'size' must be 0 or more");
  ASSIGN_OR_RETURN(auto peers, store_->ListPeerRecords());
  ASSIGN_OR_RETURN(auto all_live, sessions_.AllLive());
  struct Candidate {
    PeerRecord peer;
    Sessions::Liveness live;
  };
  std::vector<Candidate> candidates;
  for (const auto& p : peers) {
    if (p.username == caller) continue;
    auto live = all_live.find(p.username);
    if (live == all_live.end() ||
        (live->second.free_bytes && *live->second.free_bytes < size)) {
      continue;
    }
    candidates.push_back(Candidate{p, live->second});
  }
  if (candidates.empty()) {
    return Unavailable("no other online peer has room for " + std::to_string(size) + " bytes",
                       "no_peer_available");
  }
  // A random one of those central handed the fewest uploads lately. What a
  // peer says of itself only qualifies it (room) and never ranks it: by the
  // free space it claims, whoever claims the most would get every upload;
  // by the transfers it reports, one that always says 0 would get every
  // upload while honest peers are busy. What central handed out itself it
  // knows, so a liar gets a fair share at most.
  const auto now = options_.now();
  MutexLock handed(handed_mu_);
  auto load = [&](const Candidate& c) {
    handed_mu_.AssertHeld();  // called below, under `handed` (a lambda: the analysis cannot follow)
    auto it = handed_.find(c.peer.username);
    return it == handed_.end() ? 0.0 : DecayedUploads(it->second, now);
  };
  double least = load(candidates.front());
  for (const auto& c : candidates) least = std::min(least, load(c));
  std::erase_if(candidates, [&](const Candidate& c) { return load(c) > least + 0.5; });
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const Candidate* best =
      &candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng)];
  HandedUploads& mine = handed_[best->peer.username];
  mine.count = DecayedUploads(mine, now) + 1;
  mine.at = now;
  if (handed_.size() > 100000) {  // peers long gone: their counts have decayed away
    std::erase_if(handed_, [&](const auto& e) { return DecayedUploads(e.second, now) < 0.01; });
  }
  RecordEvent("upload", caller,
                 "'" + name + "' (" + std::to_string(size) + " bytes) to " + best->peer.username,
                 "a file to " + best->peer.username);
  spdlog::info("upload of {} bytes by {} goes to {}", size, caller, best->peer.username);
  return Holder{best->peer.username, best->peer.host, best->peer.port};
}

Result<StatsReply> Directory::Stats() {
  // File counts from the in-memory index: the SQL form (a GROUP BY over
  // every file) took the store's lock for a full scan on each call.
  ASSIGN_OR_RETURN(int64_t accounts, accounts_.Count());
  SearchIndex::Totals t = index_.totals();
  StatsReply s;
  s.peers_online = online_.Count();
  s.accounts = accounts;
  s.files = t.held_files;
  s.unique_files = t.unique_files;
  s.contents = t.contents;
  s.bytes = t.held_bytes;
  return s;
}

}  // namespace p2pshare::central
