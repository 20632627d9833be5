// SqliteStore: DirectoryStore on one SQLite file (WAL, synchronous=NORMAL:
// a committed write survives a crash of the process, kill -9 included).
//
// DESIGN: one connection guarded by a mutex; prepared statements are cached
// by their SQL text. The schema version lives in PRAGMA user_version and is
// created or migrated at Open. Only this file and its .cc include sqlite3.h.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <type_traits>

#include "central/store/directory_store.h"
#include "common/mutex.h"

struct sqlite3;
struct sqlite3_stmt;

namespace p2pshare::central {

class SqliteStore final : public DirectoryStore {
 public:
  static constexpr int kSchemaVersion = 6;

  // Opens or creates `path` (and its parent folder). Internal on an
  // unusable file; FailedPrecondition on a schema newer than this build.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  Status CreateAccount(const AccountRecord& account) override;
  Result<std::optional<AccountRecord>> FindAccount(const std::string& username) override;
  Status AddPeer(const PeerRecord& peer) override;
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

 private:
  class Stmt;
  explicit SqliteStore(sqlite3* db);
  Status Migrate() REQUIRES(mu_);
  Status Exec(const char* sql) REQUIRES(mu_);
  Result<Stmt> Prepare(const char* sql) REQUIRES(mu_);
  Status Error(const char* what) const REQUIRES(mu_);
  Result<bool> PeerOnline(const std::string& u) REQUIRES(mu_);
  Result<int64_t> FileCount(const std::string& u) REQUIRES(mu_);
  // Inserts or replaces `files` in `username`'s index.
  Status UpsertFiles(const std::string& username,
                     const std::vector<FileEntry>& files) REQUIRES(mu_);
  Result<std::vector<Holder>> Holders(const char* sql, const std::string& a,
                                      const std::string& b) REQUIRES(mu_);

  Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_);
  std::map<const char*, sqlite3_stmt*> cache_ GUARDED_BY(mu_);

  // Runs `body` in a transaction (BEGIN IMMEDIATE ... COMMIT / ROLLBACK).
  template <class F>
  std::invoke_result_t<F&> Transaction(F&& body) REQUIRES(mu_);
};

}  // namespace p2pshare::central
