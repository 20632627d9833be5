// Directory: what central does, independent of HTTP. Accounts and logins,
// port hand-out (SPEC §4), sessions and their liveness, TTL eviction, the
// index, search, upload targets and token verification.
//
// DESIGN: durable records live in the DirectoryStore. Liveness (the time of
// each online peer's last heartbeat, its free space and load) lives only in
// memory: a restarted central gives every stored peer a full TTL (SPEC §3.6)
// and a heartbeat then costs no disk write. Membership changes (login,
// logout, eviction) are serialized by membership_mu_ so two logins cannot
// take one port; reads go straight to the store.
//
// Thread-safe: called from cpp-httplib's worker pool and the sweeper thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "central/auth.h"
#include "central/port_allocator.h"
#include "central/search_index.h"
#include "central/store/directory_store.h"
#include "common/directory_types.h"
#include "common/periodic.h"
#include "common/status.h"

namespace p2pshare::central {

struct DirectoryOptions {
  std::pair<int64_t, int64_t> port_range{50051, 50150};
  int64_t heartbeat_interval_s = 5;
  int64_t session_ttl_s = 15;
  bool allow_registration = true;
  int pbkdf2_iterations = kPbkdf2Iterations;
  // The steady clock liveness is measured with; tests substitute their own.
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
};

class Directory {
 public:
  using Clock = std::chrono::steady_clock;

  Directory(std::unique_ptr<DirectoryStore> store, DirectoryOptions options);
  ~Directory();  // stops the sweeper

  // Gives every stored online peer a full TTL from now and, when
  // `run_sweeper`, starts the thread that evicts silent peers.
  Status Start(bool run_sweeper = true);
  // Stops the sweeper (idempotent).
  void Stop();

  // 201-style: the new account's name. InvalidArgument (bad username or
  // password), AlreadyExists "username_taken", PermissionDenied
  // "registration_closed".
  Result<std::string> Register(const std::string& username, const std::string& password);
  // Unauthenticated "bad_credentials", ResourceExhausted "too_many_attempts"
  // (retry_after_s set), Unavailable "no_free_port", InvalidArgument.
  // `remote_address` is the host used when the request names none.
  Result<LoginReply> Login(const LoginRequest& request, const std::string& remote_address,
                           int64_t* retry_after_s);
  // The username of a live session's token. Unauthenticated with reason
  // "unauthenticated" (no token), "bad_token", "session_expired" or
  // "logged_out".
  Result<std::string> Authenticate(const std::string& token);
  // Takes the peer off the network (all its tokens end).
  Status Logout(const std::string& username);
  // Returns session_ttl_s. Unauthenticated "session_expired" if the peer was
  // evicted meanwhile.
  Result<HeartbeatReply> Heartbeat(const std::string& username, const HeartbeatRequest& request);
  // The peer's file count after. InvalidArgument on a name given twice.
  Result<int64_t> ReplaceIndex(const std::string& username, const std::vector<FileEntry>& files);
  Result<int64_t> PatchIndex(const std::string& username, const std::vector<FileEntry>& added,
                             const std::vector<std::string>& removed);
  Result<SearchPage> Search(const SearchQuery& query);
  Result<std::optional<FileResult>> FindFile(const std::string& sha256);
  Result<std::vector<PeerInfo>> Peers();
  // An online peer other than `caller` with room for `size` bytes (peers
  // that reported no free space count as having room), least loaded first:
  // fewest active transfers, then most free bytes. Unavailable
  // "no_peer_available".
  Result<Holder> UploadTarget(const std::string& caller, const std::string& name, int64_t size);
  // The username of `caller_token`'s live session; NotFound "unknown_token".
  Result<std::string> Verify(const std::string& caller_token);
  Result<StatsReply> Stats();

  // The latest events with an id above `after` (at most kEventsKept are
  // kept), oldest first.
  std::vector<NetworkEvent> EventsAfter(int64_t after) const;
  static constexpr size_t kEventsKept = 200;
  struct Counters {
    int64_t failed_logins = 0;
    int64_t evictions = 0;  // silent peers evicted after the TTL
    int64_t logins = 0;
  };
  Counters counters() const {
    return Counters{failed_logins_.load(), ttl_evictions_.load(), logins_.load()};
  }

  // Evicts every peer silent for more than session_ttl_s at `now`; returns
  // how many. The sweeper calls this; tests may too.
  int SweepOnce(Clock::time_point now);

  const DirectoryOptions& options() const { return options_; }

 private:
  struct Liveness {
    Clock::time_point last_seen;
    int64_t last_seen_unix = 0;
    std::optional<int64_t> free_bytes;
    int64_t active_transfers = 0;
  };
  Status Evict(const std::string& username, SessionState why);  // REQUIRES: membership_mu_ held
  // An index hit with each holder's address (holders gone meanwhile left out).
  FileResult WithAddresses(IndexHit hit) const;
  Liveness Fresh() const;
  void SweepAndPurge();  // the sweeper's work, once

  const std::unique_ptr<DirectoryStore> store_;
  const DirectoryOptions options_;
  LoginThrottle throttle_;

  std::mutex membership_mu_;  // serializes login / logout / eviction

  mutable std::mutex live_mu_;
  std::unordered_map<std::string, Liveness> live_;  // GUARDED_BY(live_mu_)
  // Active sessions seen by Authenticate: token hash -> username, so a
  // heartbeat never waits for the store. Cleared for a user when it is
  // evicted; `evictions_` tells a lookup that raced an eviction not to
  // cache what it read.
  std::unordered_map<std::string, std::string> active_tokens_;  // GUARDED_BY(live_mu_)
  uint64_t evictions_ = 0;                                      // GUARDED_BY(live_mu_)

  // Online peers' addresses, for the holders of search results.
  std::unordered_map<std::string, PeerRecord> online_;  // GUARDED_BY(live_mu_)
  // The order online peers joined in (a re-login of an online account
  // keeps its place), for friend suggestions: each peer's friends are the
  // two that joined just before it, wrapping around, so they form a ring.
  std::unordered_map<std::string, uint64_t> join_seq_;  // GUARDED_BY(live_mu_)
  std::map<uint64_t, std::string> joined_;              // GUARDED_BY(live_mu_): seq -> user
  uint64_t next_join_seq_ = 0;                          // GUARDED_BY(live_mu_)
  void NoteOnline(const PeerRecord& peer);              // REQUIRES: live_mu_ held
  void NoteOffline(const std::string& username);        // REQUIRES: live_mu_ held
  std::vector<std::string> FriendsOf(const std::string& username) const;  // REQUIRES: live_mu_

  // Search and look-ups by hash; the store keeps the durable copy. Index
  // writes go to the store, then here, under index_mu_, so both see the
  // same order.
  std::mutex index_mu_;
  SearchIndex index_;

  void Record(std::string kind, std::string username, std::string detail);
  mutable std::mutex events_mu_;
  std::deque<NetworkEvent> events_;  // GUARDED_BY(events_mu_)
  int64_t next_event_id_ = 1;        // GUARDED_BY(events_mu_)
  std::atomic<int64_t> failed_logins_{0}, ttl_evictions_{0}, logins_{0};

  std::atomic<int64_t> last_purge_{0};
  std::unique_ptr<Periodic> sweeper_;
};

// Seconds since the Unix epoch, and its ISO 8601 UTC form.
int64_t UnixNow();
std::string IsoTime(int64_t unix_seconds);

}  // namespace p2pshare::central
