// ReplicaStore: what several central replicas share beyond the
// DirectoryStore's records, so that none of them holds a truth of its own
// (docs/architecture.md, "Replicas"): peers' liveness, the eviction of
// silent peers by one replica at a time, the change feed every replica's
// in-memory index and online set follow, the event log and the network's CA.
//
// A backend that several processes share implements it (PostgresStore);
// DirectoryStore::replica() returns it, or null for a store only one
// process opens (SQLite). Times are the database's clock, so the replicas'
// clocks need not agree. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "central/auth.h"
#include "central/store/directory_store.h"
#include "common/directory_types.h"
#include "common/status.h"

namespace p2pshare::central {

// What a peer's heartbeats say of it, already clamped (central/sessions.h).
struct PeerLoad {
  int64_t last_seen_unix = 0;
  std::optional<int64_t> free_bytes;
  int64_t active_transfers = 0;
  int64_t sending_rate = 0;
  int64_t receiving_rate = 0;
  // Central's check of its address (central/reachability.h): "direct",
  // "unreachable" or "" (not checked since it came online there), and why not.
  std::string reachable = {};
  std::string reach_why = {};
  // The downloads its peer-server serves (HeartbeatRequest::serving).
  std::vector<ServingTo> serving = {};
};

// A token's session as the replicas share it.
struct TokenSession {
  std::string username;
  SessionState state = SessionState::kActive;
  bool live = false;  // its account has a liveness row (not evicted)
};

// One entry of the change feed, in commit order.
struct Change {
  enum class Kind { kOnline, kOffline, kReplace, kPatch, kEvent, kSignal };
  int64_t id = 0;
  Kind kind = Kind::kEvent;
  std::string username;
  PeerRecord peer;                  // kOnline
  std::string source;               // kOnline: the login's source address
  std::vector<FileEntry> added;     // kPatch
  std::vector<std::string> removed; // kPatch
  NetworkEvent event;               // kEvent (its id is the change's)
  std::string message;              // kSignal: one line for the account's channel
  int64_t at_unix_ms = 0;           // when it was appended (the database's clock)
};

struct ChangeBatch {
  std::vector<Change> changes;
  // The cursor fell behind the feed's trimmed start: read the state whole.
  bool reload = false;
};

struct Evicted {
  std::string username;
  std::optional<PeerRecord> peer;  // nullopt: a client without a peer
};

class ReplicaStore {
 public:
  virtual ~ReplicaStore() = default;

  // A login: the account counts as seen now (a row is made when missing).
  virtual Status TouchLogin(const std::string& username) = 0;
  // A heartbeat with its load. NotFound when the account has no liveness
  // (evicted or logged out meanwhile).
  virtual Status Heartbeat(const std::string& username, const PeerLoad& load) = 0;
  // Central's check of the account's address (PeerLoad::reachable). NotFound
  // when the account has no liveness.
  virtual Status SetReachability(const std::string& username, const std::string& state,
                                 const std::string& why) = 0;
  // Every account with liveness, with its last heartbeat's load.
  virtual Result<std::map<std::string, PeerLoad>> AllLive() = 0;
  virtual Result<std::optional<PeerLoad>> Live(const std::string& username) = 0;
  // The session of a token hash and whether its account is live; nullopt
  // when unknown. One query.
  virtual Result<std::optional<TokenSession>> FindTokenSession(const std::string& token_hash) = 0;

  // When no replica swept for longer than `grace_s` (the database or every
  // replica was down), first gives every live account a full TTL from
  // now, as one restarted central does; then takes offline every account
  // silent for more than `ttl_s` (RemovePeer's work, with kExpired). Runs
  // on one replica at a time (an advisory lock): the others get an empty
  // list at once.
  virtual Result<std::vector<Evicted>> EvictSilent(int64_t ttl_s, int64_t grace_s,
                                                   int64_t now_unix) = 0;

  // The id of the newest change (0: none), for a replica that reads the
  // state whole and then follows from there.
  virtual Result<int64_t> LatestChange() = 0;
  // Up to `limit` changes after `cursor`, oldest first. Writers append
  // under one lock held to their commit, so ids commit in order and a
  // cursor never steps over a change that commits late.
  virtual Result<ChangeBatch> ChangesAfter(int64_t cursor, int64_t limit) = 0;
  // Blocks until a change may have been appended (a NOTIFY) or `timeout`.
  // Unavailable when the database cannot be reached.
  virtual Status WaitForChange(std::chrono::milliseconds timeout) = 0;
  // Forgets changes older than `keep_s` (the sweeping replica calls it).
  virtual Status TrimChanges(int64_t keep_s) = 0;
  // The last `count` events with an id of at most `upto`, oldest first.
  virtual Result<std::vector<NetworkEvent>> RecentEvents(int64_t upto, int64_t count) = 0;

  // Appends an event to the feed; its id and time are the feed's.
  virtual Status RecordEvent(const std::string& kind, const std::string& username,
                             const std::string& detail, const std::string& public_detail) = 0;

  // Appends a message for `username`'s channel (central/directory.h,
  // Signal): the replica that holds the channel sends it.
  virtual Status AppendSignal(const std::string& username, const std::string& message) = 0;

  // Failed logins and registrations, counted for all replicas together (so
  // guesses spread over them count as one), by auth.h's rules on the
  // database's clock. The seconds an attempt of `username` from `address`
  // must wait (0: none).
  virtual Result<int64_t> LoginRetryAfter(const std::string& username, const std::string& address,
                                          const ThrottlePolicy& policy) = 0;
  virtual Status RecordLoginFailure(const std::string& username, const std::string& address,
                                    const ThrottlePolicy& policy) = 0;
  virtual Status RecordLoginSuccess(const std::string& username, const std::string& address) = 0;
  // One registration from `address` (common/limits.h's token bucket, up to
  // `per_minute` a minute): 0 when it may go now, else the milliseconds
  // until one may.
  virtual Result<int64_t> TakeRegistration(const std::string& address, int64_t per_minute) = 0;
  // Forgets counts that no longer matter: failures older than auth.h's
  // forget time, logins older than `known_for_ms`, full buckets.
  virtual Status ForgetOldCounts(int64_t known_for_ms) = 0;

  // The network's CA: the one stored, or `made` when none is (the first
  // replica to start stores its own; the others adopt it).
  struct CaPems {
    std::string key_pem;
    std::string cert_pem;
  };
  virtual Result<CaPems> SharedCa(const CaPems& made) = 0;

  // A round trip to the database (for /healthz).
  virtual Status Ping() = 0;
};

}  // namespace p2pshare::central
