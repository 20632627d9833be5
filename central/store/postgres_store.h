// PostgresStore: DirectoryStore and ReplicaStore on a PostgreSQL server
// (libpq), shared by every central replica of a network.
//
// DESIGN: a pool of kConnections connections, each used by one call at a
// time; a connection found broken (the server restarted) is reset on its
// next use, and a statement that failed because the connection had gone
// is tried once more on the new one when nothing of it had been done.
// Text columns are COLLATE "C", so names order and lowercase bytewise as in
// SQLite. The schema version lives in table schema_version and is created
// under an advisory lock, so replicas starting together do it once.
// Membership changes and index writes append to the change feed (table
// changes) under one transaction-level advisory lock held to commit, so feed
// ids commit in order; a NOTIFY wakes the followers. A separate connection
// LISTENs for them. Only this file and its .cc include libpq-fe.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "central/store/directory_store.h"
#include "central/store/replica_store.h"
#include "common/mutex.h"

namespace p2pshare::central {

class PostgresStore final : public DirectoryStore, public ReplicaStore {
 public:
  static constexpr int kSchemaVersion = 5;
  static constexpr int kConnections = 8;

  // Connects to `url` (postgresql://user@host:port/db...) and creates or
  // checks the schema. Unavailable when the server cannot be reached;
  // FailedPrecondition on a schema newer than this build.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url);
  ~PostgresStore() override;

  ReplicaStore* replica() override { return this; }

  Status CreateAccount(const AccountRecord& account) override;
  Result<std::optional<AccountRecord>> FindAccount(const std::string& username) override;
  Status AddPeer(const PeerRecord& peer) override;
  Status AddPeerFrom(const PeerRecord& peer, const std::string& source) override;
  Result<std::optional<PeerRecord>> FindPeer(const std::string& username) override;
  Result<std::vector<PeerRecord>> ListPeerRecords() override;
  Result<std::set<int>> PortsInUse(const std::string& host) override;
  Result<std::optional<PeerRecord>> RemovePeer(const std::string& username,
                                               SessionState end_state,
                                               int64_t now_unix) override;
  Status AddSession(const SessionRecord& session, int64_t now_unix) override;
  Result<std::optional<SessionRecord>> FindSession(const std::string& token_hash) override;
  Status PurgeEndedSessions(int64_t before_unix) override;
  Status AddCertificate(const CertificateRecord& certificate) override;
  Result<std::optional<CertificateRecord>> NewestCertificate(
      const std::string& token_hash) override;
  Result<std::vector<RevokedCertificate>> RevokedAfter(int64_t after_seq, int64_t now_unix) override;
  Result<int64_t> ReplaceIndex(const std::string& username,
                               const std::vector<FileEntry>& files) override;
  Result<int64_t> PatchIndex(const std::string& username, const std::vector<FileEntry>& added,
                             const std::vector<std::string>& removed) override;
  Result<std::vector<FileEntry>> ListFiles(const std::string& username) override;
  Result<WishRecord> AddWish(const WishRecord& wish, const WishBounds& bounds) override;
  Status RemoveWish(const std::string& username, int64_t id) override;
  Result<std::vector<WishRecord>> ListWishes(const std::string& username) override;
  Status SetWishSeen(int64_t id, const std::vector<uint64_t>& seen) override;
  Result<SearchPage> Search(const SearchQuery& query) override;
  Result<std::optional<FileResult>> FindByHash(const std::string& sha256) override;
  Result<std::vector<PeerTotals>> ListPeers() override;
  Result<StoreCounts> Counts() override;
  Result<int64_t> CountAccounts() override;

  Status TouchLogin(const std::string& username) override;
  Status Heartbeat(const std::string& username, const PeerLoad& load) override;
  Status SetReachability(const std::string& username, const std::string& state,
                         const std::string& why) override;
  Result<std::map<std::string, PeerLoad>> AllLive() override;
  Result<std::optional<PeerLoad>> Live(const std::string& username) override;
  Result<std::optional<TokenSession>> FindTokenSession(const std::string& token_hash) override;
  Result<std::vector<Evicted>> EvictSilent(int64_t ttl_s, int64_t grace_s,
                                           int64_t now_unix) override;
  Result<int64_t> LatestChange() override;
  Result<ChangeBatch> ChangesAfter(int64_t cursor, int64_t limit) override;
  Status WaitForChange(std::chrono::milliseconds timeout) override;
  Status TrimChanges(int64_t keep_s) override;
  Result<std::vector<NetworkEvent>> RecentEvents(int64_t upto, int64_t count) override;
  Status AppendSignal(const std::string& username, const std::string& message) override;
  Status RecordEvent(const std::string& kind, const std::string& username,
                     const std::string& detail, const std::string& public_detail) override;
  Result<CaPems> SharedCa(const CaPems& made) override;
  Result<int64_t> LoginRetryAfter(const std::string& username, const std::string& address,
                                  const ThrottlePolicy& policy) override;
  Status RecordLoginFailure(const std::string& username, const std::string& address,
                            const ThrottlePolicy& policy) override;
  Status RecordLoginSuccess(const std::string& username, const std::string& address) override;
  Result<int64_t> TakeRegistration(const std::string& address, int64_t per_minute) override;
  Status ForgetOldCounts(int64_t known_for_ms) override;
  Status Ping() override;

  class Conn;  // one pooled connection (postgres_store.cc)

 private:
  explicit PostgresStore(std::string url);
  // A connection of the pool, returned when the lease ends.
  class Lease;
  Result<Lease> Acquire();
  void Release(Conn* c);
  Status Migrate();

  const std::string url_;
  Mutex mu_;
  CondVar freed_;
  std::vector<std::unique_ptr<Conn>> pool_;  // all connections
  std::vector<Conn*> idle_ GUARDED_BY(mu_);
  Mutex listen_mu_;                     // the LISTEN connection's
  std::unique_ptr<Conn> listener_ GUARDED_BY(listen_mu_);

  // Heartbeats written in groups (Heartbeat in postgres_store.cc).
  struct HeartbeatGroup;
  void WriteHeartbeats(HeartbeatGroup& group);
  Mutex beats_mu_;
  CondVar beats_written_;
  std::shared_ptr<HeartbeatGroup> next_beats_ GUARDED_BY(beats_mu_);  // waiting to be written
  bool writing_beats_ GUARDED_BY(beats_mu_) = false;
};

// The LIKE pattern (escape '\') for a search query: '*' any run, '?' one
// character, everything else literal, ASCII-lowercased, matched anywhere;
// the PostgreSQL form of QueryToGlob.
std::string QueryToLike(const std::string& query);

}  // namespace p2pshare::central
