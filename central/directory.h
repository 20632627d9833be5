// Directory: what central does, independent of HTTP. It composes the
// pieces below and is the one place that changes several of them together
// (a login, a logout, an eviction):
//
//   Accounts      accounts.h       registration, password checks, login slow-down
//   Sessions      sessions.h       tokens, liveness (heartbeats), the sweeper thread
//   PortAllocator port_allocator.h which port a peer that comes online gets
//   OnlinePeers   online_peers.h   online peers' addresses, the friend ring
//   FileIndex     file_index.h     the index of shared files: store + in-memory search
//   EventLog      event_log.h      recent events for the dashboard
//   Certificates  certificates.h   peers' certificates: issued, renewed, revoked
//   ProbePeer     reachability.h   whether others can reach a peer at its address
//
// DESIGN: durable records (accounts, online peers, sessions, the index)
// live in the DirectoryStore; the rest lives in this process's memory (the
// list is in docs/architecture.md). Membership changes — login, logout,
// eviction — are serialized by membership_mu_, so two logins cannot take
// one port and an eviction cannot race the login that revives a peer.
// Reads (search, look-ups by hash, peers' addresses) come from memory and
// never wait for the store.
//
// REPLICAS: on a shared store (PostgreSQL, store->replica() not null) the
// membership, liveness and sessions live in the store and several
// central processes serve one network (docs/architecture.md, "Replicas").
// Then the in-memory pieces — the search index, the online set and friend
// ring, the event log — change only by following the store's change feed,
// on a follower thread woken by NOTIFY (and at least every 500 ms), and
// after each write of this replica so that it reads its own writes; two
// logins racing for a port are told apart by the store's unique (host,
// port) and the loser tries the next free port; eviction is the store's,
// one replica at a time.
//
// Thread-safe: called from cpp-httplib's worker pool, the sweeper thread
// and the follower thread.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "central/accounts.h"
#include "central/auth.h"
#include "central/certificates.h"
#include "central/certificate_authority.h"
#include "central/event_log.h"
#include "central/file_index.h"
#include "central/online_peers.h"
#include "central/port_allocator.h"
#include "central/relay.h"
#include "central/sessions.h"
#include "central/store/directory_store.h"
#include "central/store/replica_store.h"
#include "central/wishes.h"
#include "common/directory_types.h"
#include "common/limits.h"
#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::central {

struct DirectoryOptions {
  std::pair<int64_t, int64_t> port_range{50051, 50150};
  int64_t heartbeat_interval_s = 5;
  int64_t session_ttl_s = 15;
  bool allow_registration = true;
  int pbkdf2_iterations = kPbkdf2Iterations;
  // Issues the peers' certificates; null: none (tests of other parts).
  const CertificateAuthority* ca = nullptr;
  int64_t cert_lifetime_s = 3600;
  // The wall clock certificate renewals are timed by; tests move it.
  std::function<int64_t()> unix_now = UnixNow;
  // Peers one source address may bring online (loopback is not counted:
  // a machine's own peers); beyond, a login is 429 "too_many_peers".
  int64_t max_peers_per_address = 16;
  // Accounts one source address may create a minute (0: no limit).
  int64_t register_per_minute = 20;
  // PBKDF2 runs at once; a few more wait, the rest get 503 "busy".
  int64_t password_checks = 2;
  // Index entries per peer and in all (413 "too_many_files" beyond).
  int64_t max_files_per_peer = 100000;
  int64_t max_index_files = 4000000;
  // The steady clock liveness and login slow-down are measured with; tests
  // substitute their own.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

// Searches that check more entries than this are "heavy": they run again
// with the full budget, kHeavySearches at once, more get 503 "busy"
// (docs/protocol.md, "Limits").
inline constexpr int64_t kQuickSearchBudget = 20000;
inline constexpr int64_t kHeavySearches = 1;
// Searches running at once (any phase), and of one source address; more
// wait their turn (FairSlots: the address served longest ago first) up
// to kSearchWait, 64 at most, then 503 "busy". Each phase's work is
// bounded (search_index.h, kWorkPerEntry), so a place is held briefly.
inline constexpr int64_t kSearchesAtOnce = 4;
inline constexpr int64_t kSearchesPerAddress = 2;
inline constexpr auto kSearchWait = std::chrono::seconds(2);
// Upload targets: how fast the count of uploads central handed a peer
// fades (the load it ranks targets by).
inline constexpr double kUploadHalfLifeMinutes = 1.0;

// Reachability checks (central/reachability.h): at most this many at once,
// of one address at a time, a waiting line of kReachWaiting (then 503); a
// check's deadline; an account asking again within kReachCooldown gets
// the last answer for the same address (no new connection).
inline constexpr int64_t kReachChecksAtOnce = 4;
inline constexpr int64_t kReachChecksPerAddress = 1;
inline constexpr size_t kReachWaiting = 64;
inline constexpr auto kReachWait = std::chrono::seconds(5);
inline constexpr auto kReachTimeout = std::chrono::seconds(3);
inline constexpr auto kReachCooldown = std::chrono::seconds(10);
// A channel message the change feed brings later than this is dropped.
inline constexpr int64_t kSignalFreshMs = 10000;

class Directory {
 public:
  using Clock = std::chrono::steady_clock;

  Directory(std::unique_ptr<DirectoryStore> store, DirectoryOptions options);
  ~Directory();  // stops the sweeper

  // Loads the index and gives every stored online peer a full TTL from now;
  // when `run_sweeper`, starts the thread that evicts silent peers.
  Status Start(bool run_sweeper = true);
  // Stops the sweeper and the follower (idempotent).
  void Stop();
  // Replicas: true while the shared store cannot be reached (the follower's
  // last read failed); /healthz then answers "degraded".
  bool degraded() const { return degraded_.load(); }
  // Replicas: applies every change the feed has past this replica's
  // cursor now (the follower does it on its own; tests may call it).
  Status CatchUp();

  // As Accounts::Register.
  Result<std::string> Register(const std::string& username, const std::string& password,
                               const std::string& remote_address = "",
                               int64_t* retry_after_s = nullptr);
  // Unauthenticated "bad_credentials", ResourceExhausted "too_many_attempts"
  // (retry_after_s set) or "too_many_peers", Unavailable "no_free_port",
  // InvalidArgument (a bad csr, a port out of range). `remote_address` is
  // the host used when the request names none. With a csr the reply
  // carries a certificate for its key, the CA and the revoked serials.
  Result<LoginReply> Login(const LoginRequest& request, const std::string& remote_address,
                           int64_t* retry_after_s);
  // Checks from here whether other peers can reach `username`'s peer-server
  // at the address central lists for it, records the answer (Peers shows
  // it) and returns it. FailedPrecondition "not_serving" when the account
  // has no peer-server online; Unavailable "busy" when no check place is
  // free within kReachWait. `remote_address`: who asks.
  // `mapped`: how the peer says its router forwards the port ("UPnP",
  // "NAT-PMP"; empty: it does not say): reached, it is "mapped".
  Result<ReachabilityReply> CheckReachability(const std::string& username,
                                              const std::string& remote_address,
                                              const std::string& mapped = "");
  // As Sessions::Authenticate.
  Result<std::string> Authenticate(const std::string& token);

  // The channel to each peer-server (docs/protocol.md, "Channel"). Where
  // a line for an account goes: the HTTP server's stream of that account,
  // if this process holds it (false otherwise). Set before serving.
  using SignalSink = std::function<bool(const std::string& username, const std::string& line)>;
  void SetSignalSink(SignalSink sink);
  // Sends one message to `username`'s peer-server over its channel, now:
  // through this process's stream, or — replicas — through the change
  // feed to the replica that holds it. False when it surely did not go (no
  // replicas and no channel of that account here).
  bool Signal(const std::string& username, const Json& message);
  // Whether `username` may open a channel: it has a peer-server online.
  Status MayOpenChannel(const std::string& username) const;

  // The relay (central/relay.h) this central hands out sessions of, and the
  // host peers are to dial it at ("": the host they reached central at).
  // Set before serving; null: no relay.
  void SetRelay(RelayServer* relay, std::string advertised_host);
  // The relay's figures; nullopt without one.
  std::optional<RelayStats> RelayStatsNow() const;
  // A relayed connection from `caller` (asking from `remote_address`,
  // having reached central at `central_host`) to `peer`'s peer-server:
  // the caller's ticket; `peer` gets its own over its channel. NotFound
  // "not_online" when `peer` has no peer-server online; FailedPrecondition
  // "no_relay" without a relay, "no_channel" when `peer` has no channel;
  // Unavailable "busy" at the relay's bounds.
  Result<RelayTicket> Rendezvous(const std::string& caller, const std::string& peer,
                                 const std::string& remote_address, const std::string& central_host);
  // A reversal (docs/protocol.md, "Rendezvous"): `peer` is told over its
  // channel to connect out to `caller` at `remote_address` (as central
  // sees it; never an address the caller names) and `port`, presenting a
  // fresh token, which the caller gets in its ticket. FailedPrecondition
  // "not_reachable" when the caller's own peer-server is known not to be
  // reachable (its machine would not be either), "other_family" when the
  // two are of different address families; Unavailable "busy" past the
  // reversals a second per caller, per address and per holder; errors as
  // Rendezvous otherwise.
  Result<RelayTicket> Reverse(const std::string& caller, const std::string& peer,
                              const std::string& remote_address, int port);
  // Takes the peer off the network (all its tokens end).
  Status Logout(const std::string& username);
  // Returns session_ttl_s, the friends of the moment and the revoked
  // certificates; with the session's `token`, a renewed certificate when
  // its newest is past half its life. Unauthenticated "session_expired" if
  // the peer was evicted meanwhile.
  Result<HeartbeatReply> Heartbeat(const std::string& username, const HeartbeatRequest& request,
                                   const std::string& token = "");
  // The peer's file count after. InvalidArgument on a name given twice;
  // Unauthenticated "session_expired" when the peer is not online.
  Result<int64_t> ReplaceIndex(const std::string& username, const std::vector<FileEntry>& files);
  Result<int64_t> PatchIndex(const std::string& username, const std::vector<FileEntry>& added,
                             const std::vector<std::string>& removed);
  // `remote_address`: who asks (searches share places fairly by address:
  // kSearchesAtOnce in all, kSearchesPerAddress of one; Unavailable "busy"
  // when none is free within kSearchWait).
  Result<SearchPage> Search(const SearchQuery& query, const std::string& remote_address = "");
  // Changes whenever what Search answers may have changed (the index, or
  // who is online where): read it before a search to keep its answer for
  // as long as it stays the same.
  uint64_t search_generation() const { return index_.generation() + online_.generation(); }
  Result<std::optional<FileResult>> FindFile(const std::string& sha256);
  Result<std::vector<PeerInfo>> Peers();
  // An online peer other than `caller` with room for `size` bytes (peers
  // that reported no free space count as having room): one picked at
  // random among those with the fewest active transfers, so a peer that
  // lies about its room gets no more than a fair share. Unavailable
  // "no_peer_available".
  Result<Holder> UploadTarget(const std::string& caller, const std::string& name, int64_t size);
  Result<StatsReply> Stats();

  // Wishes (central/wishes.h): saved searches told of new matches.
  Result<WishRecord> AddWish(const std::string& username, const std::string& query,
                             const std::string& remote_address, int64_t* matching_now) {
    return wishes_.Add(username, query, remote_address, matching_now);
  }
  Status RemoveWish(const std::string& username, int64_t id) { return wishes_.Remove(username, id); }
  Result<std::vector<WishRecord>> ListWishes(const std::string& username) { return wishes_.List(username); }
  // Announcements that waited for `username`'s channel (lines), taken.
  std::string TakeWishNews(const std::string& username) { return wishes_.TakePending(username); }
  Wishes::Counters wish_counters() const { return wishes_.counters(); }
  void DrainWishes() { wishes_.Drain(); }

  // The latest events with an id above `after`, oldest first.
  std::vector<NetworkEvent> EventsAfter(int64_t after) const { return events_.After(after); }
  static constexpr size_t kEventsKept = EventLog::kKept;
  struct Counters {
    int64_t failed_logins = 0;
    int64_t evictions = 0;  // silent peers evicted after the TTL
    int64_t logins = 0;
  };
  Counters counters() const {
    return Counters{accounts_.failed_logins(), ttl_evictions_.load(), logins_.load()};
  }

  // Evicts every peer silent for more than session_ttl_s at `now`; returns
  // how many. The sweeper calls this; tests may too. With a shared store
  // the store evicts (by its own clock), when no other replica is at it.
  int SweepOnce(Clock::time_point now);

  const DirectoryOptions& options() const { return options_; }

 private:
  // The peer record of a login: the account's online peer, which a second
  // login joins (`*joined` set), or a new one on a port of its host.
  Result<PeerRecord> JoinOrPlace(const LoginRequest& request, const std::string& remote_address,
                                 bool* joined) REQUIRES(membership_mu_);
  // The certificate, CA and revoked list of a login's reply.
  Status Certify(const std::string& username, const std::string& token,
                 const std::string& public_key, LoginReply* reply);
  // Takes the peer off the network: index, store, liveness, online set,
  // events.
  Status Evict(const std::string& username, SessionState why) REQUIRES(membership_mu_);
  // An index hit with each holder's address (holders gone meanwhile left out).
  FileResult WithAddresses(IndexHit hit) const;
  // Replicas: one change of the feed, applied to the in-memory pieces.
  void Apply(const Change& change);
  // Replicas: rebuilds the in-memory pieces from the store (at start, and
  // when the feed was trimmed past this replica's cursor).
  Status Reload() REQUIRES(feed_mu_);
  void FollowLoop();
  // Records an event: in the shared feed (replicas) or this process's log.
  void RecordEvent(const std::string& kind, const std::string& username,
                   const std::string& detail, const std::string& public_detail = "");
  // What `username` downloads and serves in part now (replacing what it
  // said before; empty: nothing). In memory only: gone with the session.
  void ReplacePartials(const std::string& username, const std::vector<PartialFile>& files);

  const std::unique_ptr<DirectoryStore> store_;
  ReplicaStore* const replica_;  // store_'s shared part; null: one process
  const DirectoryOptions options_;
  Accounts accounts_;
  Sessions sessions_;
  PortAllocator ports_;
  OnlinePeers online_;
  // Partial holders: sha256 -> username -> what it has; username -> its sha256s.
  mutable Mutex partials_mu_;
  std::map<std::string, std::map<std::string, PartialFile>> partials_ GUARDED_BY(partials_mu_);
  std::map<std::string, std::vector<std::string>> partials_of_ GUARDED_BY(partials_mu_);
  FileIndex index_;
  Wishes wishes_;  // after index_ and store_, which its hooks use
  ConcurrencyLimits heavy_searches_{0, kHeavySearches};
  FairSlots searches_{kSearchesAtOnce, kSearchesPerAddress, 64};
  FairSlots reach_checks_{kReachChecksAtOnce, kReachChecksPerAddress, kReachWaiting};
  struct LastReach {
    Clock::time_point at;
    ReachabilityReply reply;
    std::string mapped;
  };
  Mutex reach_mu_;
  std::unordered_map<std::string, LastReach> last_reach_ GUARDED_BY(reach_mu_);
  SignalSink signal_sink_;               // set before serving
  RelayServer* relay_ = nullptr;   // set before serving
  std::string relay_host_;
  // Reversals asked (each makes a holder open a connection): token
  // buckets per asking account, asking address and holder.
  RateLimits reversals_by_caller_{0.5, 8};
  RateLimits reversals_by_address_{1, 16};
  RateLimits reversals_by_holder_{2, 32};
  // Uploads this central handed each peer as a target lately: a count
  // that halves every kUploadHalfLifeMinutes (per replica).
  struct HandedUploads {
    double count = 0;
    std::chrono::steady_clock::time_point at{};
  };
  static double DecayedUploads(const HandedUploads& h, std::chrono::steady_clock::time_point now);
  Mutex handed_mu_;
  std::map<std::string, HandedUploads> handed_ GUARDED_BY(handed_mu_);
  EventLog events_;
  std::unique_ptr<Certificates> certificates_;  // null without a CA

  Mutex membership_mu_;  // serializes login / logout / eviction
  std::atomic<int64_t> ttl_evictions_{0}, logins_{0};
  // The sweeper's: the index generation it saw last, and at its last trim.
  uint64_t swept_generation_ = 0, trimmed_generation_ = 0;
  int64_t feed_trimmed_unix_ = 0;  // the sweeper's: when it last trimmed the feed

  // Replicas: the feed's cursor and the follower thread.
  Mutex feed_mu_;  // one reader of the feed at a time
  int64_t cursor_ GUARDED_BY(feed_mu_) = 0;  // the last change applied
  std::atomic<bool> degraded_{false};
  Mutex follow_mu_;
  CondVar follow_cv_;
  bool stopping_ GUARDED_BY(follow_mu_) = false;
  std::thread follower_;
};

}  // namespace p2pshare::central
