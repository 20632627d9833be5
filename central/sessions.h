// Sessions: the tokens of logged-in peers and the liveness of online peers
// (their last heartbeat and the load they report), with the sweeper thread
// that finds peers silent for longer than the TTL.
//
// DESIGN: tokens are stored hashed in the DirectoryStore; the store says
// whether a session is active, logged out or expired. Active sessions seen
// once are cached here (token hash -> username), so a heartbeat never waits
// for the store. Liveness lives only in memory: a restarted central gives
// every stored online peer a full TTL (Revive), and a heartbeat costs no
// disk write. Evicting a peer is the Directory's job (it also drops the
// index and the port); the sweeper only finds who is silent and calls back.
// Both the cache and liveness live in this process only
// (docs/architecture.md, "State that lives in one process").
//
// With a shared store (replicas), liveness and sessions live in it instead:
// a heartbeat is one UPDATE of the account's liveness row, a token check
// one query, nothing is cached (a logout at another replica holds at once),
// and eviction is the store's (ReplicaStore::EvictSilent).
//
// Thread-safe: httplib's workers and the sweeper thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "central/store/directory_store.h"
#include "central/store/replica_store.h"
#include "common/directory_types.h"
#include "common/mutex.h"
#include "common/periodic.h"
#include "common/status.h"

namespace p2pshare::central {

struct SessionsOptions {
  int64_t session_ttl_s = 15;
  // Replicas: liveness and token checks live in this shared store instead
  // of this process (docs/architecture.md, "Replicas"); null: in memory.
  ReplicaStore* shared = nullptr;
  // The steady clock liveness is measured with; tests substitute their own.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

class Sessions {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int64_t kMaxFreeBytes = int64_t{1} << 50;  // 1 PiB
  static constexpr int64_t kMaxTransfers = 10000;
  static constexpr int64_t kMaxRate = int64_t{1} << 37;  // 128 GiB/s: more than any link
  struct Liveness {
    Clock::time_point last_seen;
    int64_t last_seen_unix = 0;
    std::optional<int64_t> free_bytes;  // as last reported; none: never said
    int64_t active_transfers = 0;
    int64_t sending_rate = 0;    // bytes a second, as last reported
    int64_t receiving_rate = 0;
    std::string reachable = {};  // as PeerLoad::reachable
    std::string reach_why = {};
    std::vector<ServingTo> serving = {};  // as last reported (rates clamped)
  };

  Sessions(DirectoryStore* store, SessionsOptions options);
  ~Sessions();  // stops the sweeper

  // Each of `users` counts as seen now (a restart gives a full TTL).
  void Revive(const std::vector<std::string>& users);
  // A new token for `username` (stored as its hash, with the public key its
  // certificates will bind, if any); the peer counts as seen now. Errors
  // are the store's.
  Result<std::string> Open(const std::string& username, const std::string& public_key = "");
  // The username of a live session's token. Unauthenticated with reason
  // "unauthenticated" (no token), "bad_token", "session_expired" or
  // "logged_out".
  Result<std::string> Authenticate(const std::string& token);
  // Records a heartbeat and the load it reports, clamped to what a peer
  // can have (free bytes up to kMaxFreeBytes, transfers up to
  // kMaxTransfers): a peer's word about itself is not believed beyond
  // that. Unauthenticated "session_expired" when the peer is no longer
  // online.
  Status Heartbeat(const std::string& username, const HeartbeatRequest& request);
  // Records central's check of the peer's address ("" clears it: the peer
  // came online at a new address). Unauthenticated "session_expired" when
  // the peer is no longer online.
  Status SetReachability(const std::string& username, const std::string& state,
                         const std::string& why);
  // The peer left (the store has ended its tokens): forgets its liveness
  // and its cached tokens.
  void Forget(const std::string& username);

  // The liveness of an online peer; nullopt when it is not online.
  std::optional<Liveness> Live(const std::string& username) const;
  // The liveness of every logged-in account.
  Result<std::unordered_map<std::string, Liveness>> AllLive() const;
  // Whether `username` is online and was silent for more than the TTL at `now`.
  bool IsSilent(const std::string& username, Clock::time_point now) const;
  // Every online peer silent for more than the TTL at `now`.
  std::vector<std::string> Silent(Clock::time_point now) const;

  // Starts the sweeper: every TTL/4 (0.1 to 1 s) it calls `sweep` with the
  // current time, and once an hour it forgets sessions that ended a day
  // before. `sweep` evicts whom it finds silent.
  void StartSweeper(std::function<void(Clock::time_point)> sweep);
  void StopSweeper();  // idempotent

 private:
  Liveness Fresh() const;
  void Touch(const std::string& username) REQUIRES(mu_);
  void PurgeEndedSessions();                // the sweeper's hourly work

  DirectoryStore* const store_;
  const SessionsOptions options_;

  mutable Mutex mu_;
  std::unordered_map<std::string, Liveness> live_ GUARDED_BY(mu_);
  // Active sessions seen by Authenticate: token hash -> username. Cleared
  // for a user by Forget; `forgets_` tells a lookup that raced a Forget not
  // to cache what it read.
  std::unordered_map<std::string, std::string> active_tokens_ GUARDED_BY(mu_);
  uint64_t forgets_ GUARDED_BY(mu_) = 0;

  int64_t last_purge_unix_ = 0;  // the sweeper thread's own
  std::unique_ptr<Periodic> sweeper_;
};

// Seconds since the Unix epoch, and its ISO 8601 UTC form.
int64_t UnixNow();
std::string IsoTime(int64_t unix_seconds);

}  // namespace p2pshare::central
