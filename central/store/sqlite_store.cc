#include "central/store/sqlite_store.h"
#include "common/mutex.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>

namespace p2pshare::central {

// A cached prepared statement, reset and unbound when this handle dies.
class SqliteStore::Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt(const Stmt&) = delete;
  ~Stmt() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(s_); }
  // Steps to the end, calling `row()` at each row; false when a step failed.
  template <class F>
  bool EachRow(F&& row) {
    int rc;
    while ((rc = Step()) == SQLITE_ROW) row();
    return rc == SQLITE_DONE;
  }
  int64_t Int(int col) { return sqlite3_column_int64(s_, col); }
  int Columns() { return sqlite3_column_count(s_); }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

namespace {

constexpr const char* kSchemaV1[] = {
    "CREATE TABLE accounts("
    "  username TEXT PRIMARY KEY,"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()))",
    "CREATE TABLE peers("
    "  username TEXT PRIMARY KEY REFERENCES accounts(username),"
    "  host TEXT NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  UNIQUE(host, port))",
    "CREATE TABLE sessions("
    "  token_hash TEXT PRIMARY KEY,"
    "  username TEXT NOT NULL REFERENCES accounts(username),"
    "  state INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  ended_at INTEGER)",
    "CREATE INDEX sessions_by_user ON sessions(username, state)",
    "CREATE TABLE files("
    "  username TEXT NOT NULL REFERENCES peers(username) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  name_lower TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY(username, name)) WITHOUT ROWID",
    "CREATE INDEX files_by_name ON files(name, sha256)",
    "CREATE INDEX files_by_hash ON files(sha256)",
};

// Version 2: search moved to central's in-memory index (search_index.h), so
// the files table keeps only what restores it: no lowercased copy, no
// secondary indexes (they made a million-entry ingest a minute of random
// B-tree writes).
constexpr const char* kSchemaV2[] = {
    "CREATE TABLE files_v2("
    "  username TEXT NOT NULL REFERENCES peers(username) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  PRIMARY KEY(username, name)) WITHOUT ROWID",
    "INSERT INTO files_v2 SELECT username, name, size, sha256 FROM files",
    "DROP TABLE files",
    "ALTER TABLE files_v2 RENAME TO files",
};

// Version 3: certificates central issues to sessions (the key they bind is
// the session's), so they can be renewed and revoked across restarts.
constexpr const char* kSchemaV3[] = {
    "ALTER TABLE sessions ADD COLUMN public_key TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE certificates("
    "  serial TEXT PRIMARY KEY,"
    "  username TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX certificates_by_session ON certificates(token_hash, not_after)",
    "CREATE INDEX certificates_by_user ON certificates(username, not_after)",
};

// Version 4: each held file's hash-tree root (docs/protocol.md, "Pieces and
// the hash tree"), as its holder reported it; '' for rows from before.
constexpr const char* kSchemaV4[] = {
    "ALTER TABLE files ADD COLUMN root TEXT NOT NULL DEFAULT ''",
};

// The database holds password and token hashes: it is readable by its
// owner only. SQLite gives its -wal and -shm files the mode of the database
// itself, so the database is made (or, from an older version, tightened)
// 0600 before SQLite opens it; side files left by an older version are
// tightened too.
Status KeepPrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Internal("cannot open database " + path + ": " + std::strerror(errno));
  struct stat st {};
  const bool loose = ::fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0;
  const bool tightened = loose && ::fchmod(fd, 0600) == 0;
  ::close(fd);
  if (loose && !tightened) {
    return Internal("cannot make database " + path + " private (chmod 600): " + std::strerror(errno));
  }
  if (tightened) spdlog::warn("database {} was readable by others; it is now mode 0600", path);
  for (const char* side : {"-wal", "-shm", "-journal"}) {
    const std::string p = path + side;
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) ::chmod(p.c_str(), 0600);
  }
  return Status::Ok();
}

// Version 5: revocations in order (docs/protocol.md, "Trust"): each
// logout or eviction numbers the certificates it revokes, so replies list
// only what was revoked since the caller last asked. Earlier ones are
// numbered in the order they were issued.
constexpr const char* kSchemaV5[] = {
    "ALTER TABLE certificates ADD COLUMN revoked_seq INTEGER NOT NULL DEFAULT 0",
    "UPDATE certificates SET revoked_seq = rowid WHERE revoked = 1",
    "CREATE INDEX certificates_by_revocation ON certificates(revoked_seq) WHERE revoked_seq > 0",
};

// v6: wishes (central/wish_book.h).
constexpr const char* kSchemaV6[] = {
    "CREATE TABLE wishes("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  username TEXT NOT NULL REFERENCES accounts(username),"
    "  query TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()),"
    "  seen TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX wishes_by_user ON wishes(username)",
    "CREATE INDEX wishes_by_source ON wishes(source)",
};

}  // namespace

SqliteStore::SqliteStore(sqlite3* db) : db_(db) {}

SqliteStore::~SqliteStore() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Internal("cannot create folder " + parent.string() + ": " + ec.message());
  RETURN_IF_ERROR(KeepPrivate(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Internal("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  MutexLock lock(store->mu_);
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL").WithContext(path));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA foreign_keys=ON"));
  RETURN_IF_ERROR(store->Exec("PRAGMA cache_size=-16384"));  // 16 MiB of pages
  RETURN_IF_ERROR(store->Migrate().WithContext(path));
  return store;
}

Status SqliteStore::Error(const char* what) const {
  return Internal(std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal(std::string("database error: ") + msg);
  }
  return Status::Ok();
}

Result<SqliteStore::Stmt> SqliteStore::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return Error("prepare");
  }
  cache_.emplace(sql, s);
  return Stmt(s);
}

template <class F>
std::invoke_result_t<F&> SqliteStore::Transaction(F&& body) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto result = body();
  if (result.ok()) {
    Status commit = Exec("COMMIT");
    if (!commit.ok()) {
      (void)Exec("ROLLBACK");
      return commit;
    }
  } else {
    (void)Exec("ROLLBACK");
  }
  return result;
}

Status SqliteStore::Migrate() {
  int64_t version = 0;
  {
    // Finished before the migration: DROP TABLE refuses while a statement runs.
    ASSIGN_OR_RETURN(Stmt v, Prepare("PRAGMA user_version"));
    if (v.Step() != SQLITE_ROW) return Error("read schema version");
    version = v.Int(0);
  }
  if (version > kSchemaVersion) {
    return Status(Code::kFailedPrecondition,
                  "database schema version " + std::to_string(version) +
                      " is newer than this central (" + std::to_string(kSchemaVersion) + ")");
  }
  if (version == kSchemaVersion) return Status::Ok();
  // Each step in one transaction: a crash leaves the previous version.
  struct Step {
    int64_t version;
    std::span<const char* const> sql;
  };
  for (const Step& step : {Step{1, kSchemaV1}, Step{2, kSchemaV2}, Step{3, kSchemaV3}, Step{4, kSchemaV4},
                           Step{5, kSchemaV5}, Step{6, kSchemaV6}}) {
    if (version >= step.version) continue;
    auto done = Transaction([&]() -> Result<bool> {
      mu_.AssertHeld();  // Transaction runs the body under the caller's lock
      for (const char* sql : step.sql) RETURN_IF_ERROR(Exec(sql));
      RETURN_IF_ERROR(Exec(("PRAGMA user_version=" + std::to_string(step.version)).c_str()));
      return true;
    });
    RETURN_IF_ERROR(done.status());
  }
  return Status::Ok();
}

Status SqliteStore::CreateAccount(const AccountRecord& a) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT INTO accounts(username, password_hash) VALUES(?1, ?2)"));
  int rc = s.Bind(1, a.username).Bind(2, a.password_hash).Step();
  if (rc == SQLITE_CONSTRAINT) {
    return AlreadyExists("username '" + a.username + "' is taken", "username_taken");
  }
  if (rc != SQLITE_DONE) return Error("create account");
  return Status::Ok();
}

Result<std::optional<AccountRecord>> SqliteStore::FindAccount(const std::string& username) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT password_hash FROM accounts WHERE username = ?1"));
  int rc = s.Bind(1, username).Step();
  if (rc == SQLITE_DONE) return std::optional<AccountRecord>();
  if (rc != SQLITE_ROW) return Error("find account");
  return std::optional<AccountRecord>(AccountRecord{username, s.Text(0)});
}

Status SqliteStore::AddPeer(const PeerRecord& p) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT INTO peers(username, host, port) VALUES(?1, ?2, ?3)"));
  int rc = s.Bind(1, p.username).Bind(2, p.host).Bind(3, int64_t{p.port}).Step();
  if (rc == SQLITE_CONSTRAINT) return AlreadyExists("peer or port already online");
  if (rc != SQLITE_DONE) return Error("add peer");
  return Status::Ok();
}

Result<std::optional<PeerRecord>> SqliteStore::FindPeer(const std::string& username) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT host, port FROM peers WHERE username = ?1"));
  int rc = s.Bind(1, username).Step();
  if (rc == SQLITE_DONE) return std::optional<PeerRecord>();
  if (rc != SQLITE_ROW) return Error("find peer");
  return std::optional<PeerRecord>(PeerRecord{username, s.Text(0), static_cast<int>(s.Int(1))});
}

Result<std::vector<PeerRecord>> SqliteStore::ListPeerRecords() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT username, host, port FROM peers ORDER BY username"));
  std::vector<PeerRecord> out;
  bool done = s.EachRow([&] {
    out.push_back(PeerRecord{s.Text(0), s.Text(1), static_cast<int>(s.Int(2))});
  });
  if (!done) return Error("list peers");
  return out;
}

Result<std::set<int>> SqliteStore::PortsInUse(const std::string& host) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT port FROM peers WHERE host = ?1"));
  s.Bind(1, host);
  std::set<int> out;
  bool done = s.EachRow([&] {
    out.insert(static_cast<int>(s.Int(0)));
  });
  if (!done) return Error("ports in use");
  return out;
}

Result<std::optional<PeerRecord>> SqliteStore::RemovePeer(const std::string& username,
                                                          SessionState end_state,
                                                          int64_t now_unix) {
  MutexLock lock(mu_);
  return Transaction([&]() -> Result<std::optional<PeerRecord>> {
    mu_.AssertHeld();  // Transaction runs the body under the caller's lock
    std::optional<PeerRecord> removed;
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT host, port FROM peers WHERE username = ?1"));
      int rc = s.Bind(1, username).Step();
      if (rc == SQLITE_ROW) removed = PeerRecord{username, s.Text(0), static_cast<int>(s.Int(1))};
      else if (rc != SQLITE_DONE) return Error("remove peer");
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM files WHERE username = ?1"));
      if (s.Bind(1, username).Step() != SQLITE_DONE) return Error("drop index");
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM peers WHERE username = ?1"));
      if (s.Bind(1, username).Step() != SQLITE_DONE) return Error("remove peer");
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("UPDATE sessions SET state = ?2, ended_at = ?3 "
                                       "WHERE username = ?1 AND state = 0"));
      if (s.Bind(1, username).Bind(2, int64_t(end_state)).Bind(3, now_unix).Step() != SQLITE_DONE) {
        return Error("end sessions");
      }
    }
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("UPDATE certificates SET revoked = 1, revoked_seq = "
                                       "(SELECT coalesce(max(revoked_seq), 0) + 1 FROM certificates) "
                                       "WHERE username = ?1 AND not_after >= ?2 AND revoked = 0"));
      if (s.Bind(1, username).Bind(2, now_unix).Step() != SQLITE_DONE) {
        return Error("revoke certificates");
      }
    }
    return removed;
  });
}

Status SqliteStore::AddSession(const SessionRecord& session, int64_t now_unix) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT INTO sessions(token_hash, username, state, created_at, "
                                   "ended_at, public_key) VALUES(?1, ?2, ?3, ?4, NULL, ?5)"));
  int rc = s.Bind(1, session.token_hash)
               .Bind(2, session.username)
               .Bind(3, int64_t(session.state))
               .Bind(4, now_unix)
               .Bind(5, session.public_key)
               .Step();
  if (rc != SQLITE_DONE) return Error("add session");
  return Status::Ok();
}

Result<std::optional<SessionRecord>> SqliteStore::FindSession(const std::string& token_hash) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT username, state, public_key FROM sessions "
                                   "WHERE token_hash = ?1"));
  int rc = s.Bind(1, token_hash).Step();
  if (rc == SQLITE_DONE) return std::optional<SessionRecord>();
  if (rc != SQLITE_ROW) return Error("find session");
  int64_t state = s.Int(1);
  if (state < 0 || state > 2) return Internal("session with unknown state");
  return std::optional<SessionRecord>(
      SessionRecord{token_hash, s.Text(0), static_cast<SessionState>(state), s.Text(2)});
}

Status SqliteStore::PurgeEndedSessions(int64_t before_unix) {
  MutexLock lock(mu_);
  {
    ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM sessions WHERE state != 0 AND ended_at < ?1"));
    if (s.Bind(1, before_unix).Step() != SQLITE_DONE) return Error("purge sessions");
  }
  ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM certificates WHERE not_after < ?1"));
  if (s.Bind(1, before_unix).Step() != SQLITE_DONE) return Error("purge certificates");
  return Status::Ok();
}

Status SqliteStore::AddCertificate(const CertificateRecord& c) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT INTO certificates(serial, username, token_hash, "
                                   "not_after) VALUES(?1, ?2, ?3, ?4)"));
  int rc = s.Bind(1, c.serial).Bind(2, c.username).Bind(3, c.token_hash).Bind(4, c.not_after).Step();
  if (rc != SQLITE_DONE) return Error("add certificate");
  return Status::Ok();
}

Result<std::optional<CertificateRecord>> SqliteStore::NewestCertificate(
    const std::string& token_hash) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT serial, username, not_after FROM certificates "
                                   "WHERE token_hash = ?1 ORDER BY not_after DESC LIMIT 1"));
  int rc = s.Bind(1, token_hash).Step();
  if (rc == SQLITE_DONE) return std::optional<CertificateRecord>();
  if (rc != SQLITE_ROW) return Error("newest certificate");
  return std::optional<CertificateRecord>(
      CertificateRecord{s.Text(0), s.Text(1), token_hash, s.Int(2)});
}

Result<std::vector<RevokedCertificate>> SqliteStore::RevokedAfter(int64_t after_seq, int64_t now_unix) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT revoked_seq, serial, not_after FROM certificates "
                                   "WHERE revoked_seq > ?1 AND not_after >= ?2 "
                                   "ORDER BY revoked_seq, serial"));
  s.Bind(1, after_seq).Bind(2, now_unix);
  std::vector<RevokedCertificate> out;
  bool done = s.EachRow([&] { out.push_back(RevokedCertificate{s.Int(0), s.Text(1), s.Int(2)}); });
  if (!done) return Error("revoked certificates");
  return out;
}

Result<bool> SqliteStore::PeerOnline(const std::string& username) {
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT 1 FROM peers WHERE username = ?1"));
  int rc = s.Bind(1, username).Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error("peer online");
}

Result<int64_t> SqliteStore::FileCount(const std::string& username) {
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT COUNT(*) FROM files WHERE username = ?1"));
  if (s.Bind(1, username).Step() != SQLITE_ROW) return Error("count files");
  return s.Int(0);
}

Status SqliteStore::UpsertFiles(const std::string& username, const std::vector<FileEntry>& files) {
  for (const FileEntry& f : files) {
    ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT OR REPLACE INTO files(username, name, size, sha256, root) "
                                     "VALUES(?1, ?2, ?3, ?4, ?5)"));
    int rc = s.Bind(1, username).Bind(2, f.name).Bind(3, f.size).Bind(4, f.sha256).Bind(5, f.root).Step();
    if (rc != SQLITE_DONE) return Error("insert file");
  }
  return Status::Ok();
}

Result<int64_t> SqliteStore::ReplaceIndex(const std::string& username,
                                          const std::vector<FileEntry>& files) {
  MutexLock lock(mu_);
  return Transaction([&]() -> Result<int64_t> {
    mu_.AssertHeld();  // Transaction runs the body under the caller's lock
    ASSIGN_OR_RETURN(bool online, PeerOnline(username));
    if (!online) return NotFound("peer '" + username + "' is not online");
    {
      ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM files WHERE username = ?1"));
      if (s.Bind(1, username).Step() != SQLITE_DONE) return Error("clear index");
    }
    RETURN_IF_ERROR(UpsertFiles(username, files));
    return FileCount(username);
  });
}

Result<int64_t> SqliteStore::PatchIndex(const std::string& username,
                                        const std::vector<FileEntry>& added,
                                        const std::vector<std::string>& removed) {
  MutexLock lock(mu_);
  return Transaction([&]() -> Result<int64_t> {
    mu_.AssertHeld();  // Transaction runs the body under the caller's lock
    ASSIGN_OR_RETURN(bool online, PeerOnline(username));
    if (!online) return NotFound("peer '" + username + "' is not online");
    for (const std::string& name : removed) {
      ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM files WHERE username = ?1 AND name = ?2"));
      if (s.Bind(1, username).Bind(2, name).Step() != SQLITE_DONE) return Error("remove file");
    }
    RETURN_IF_ERROR(UpsertFiles(username, added));
    return FileCount(username);
  });
}

Result<std::vector<Holder>> SqliteStore::Holders(const char* sql, const std::string& a,
                                                 const std::string& b) {
  ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
  s.Bind(1, a);
  if (!b.empty()) s.Bind(2, b);
  std::vector<Holder> out;
  bool done = s.EachRow([&] {
    out.push_back(Holder{s.Text(0), s.Text(1), static_cast<int>(s.Int(2)), s.Columns() > 3 ? s.Text(3) : ""});
  });
  if (!done) return Error("holders");
  return out;
}

Result<std::vector<FileEntry>> SqliteStore::ListFiles(const std::string& username) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT name, size, sha256, root FROM files WHERE username = ?1"));
  s.Bind(1, username);
  std::vector<FileEntry> out;
  bool done = s.EachRow([&] {
    out.push_back(FileEntry{s.Text(0), s.Int(1), s.Text(2), s.Text(3)});
  });
  if (!done) return Error("list files");
  return out;
}

Result<WishRecord> SqliteStore::AddWish(const WishRecord& wish, const WishBounds& bounds) {
  MutexLock lock(mu_);
  return Transaction([&]() -> Result<WishRecord> {
    mu_.AssertHeld();
    auto count = [&](const char* sql, const std::string& arg) -> Result<int64_t> {
      mu_.AssertHeld();  // the transaction's, held throughout
      ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
      if (!arg.empty()) s.Bind(1, arg);
      if (s.Step() != SQLITE_ROW) return Error("count wishes");
      return s.Int(0);
    };
    ASSIGN_OR_RETURN(int64_t mine, count("SELECT COUNT(*) FROM wishes WHERE username = ?1", wish.username));
    if (mine >= bounds.per_account) return TooManyWishes("for this account (" + std::to_string(bounds.per_account) + ")");
    ASSIGN_OR_RETURN(int64_t here, count("SELECT COUNT(*) FROM wishes WHERE source = ?1", wish.source));
    if (here >= bounds.per_address) return TooManyWishes("made from this address (" + std::to_string(bounds.per_address) + ")");
    ASSIGN_OR_RETURN(int64_t all, count("SELECT COUNT(*) FROM wishes", ""));
    if (all >= bounds.total) return TooManyWishes("on this network (" + std::to_string(bounds.total) + ")");
    ASSIGN_OR_RETURN(Stmt s, Prepare("INSERT INTO wishes(username, query, source, seen) VALUES(?1, ?2, ?3, ?4) "
                                     "RETURNING id, created_at"));
    s.Bind(1, wish.username).Bind(2, wish.query).Bind(3, wish.source).Bind(4, SeenToText(wish.seen));
    if (s.Step() != SQLITE_ROW) return Error("add wish");
    WishRecord made = wish;
    made.id = s.Int(0);
    made.created_unix = s.Int(1);
    return made;
  });
}

Status SqliteStore::RemoveWish(const std::string& username, int64_t id) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("DELETE FROM wishes WHERE id = ?1 AND username = ?2"));
  if (s.Bind(1, id).Bind(2, username).Step() != SQLITE_DONE) return Error("remove wish");
  if (sqlite3_changes(db_) == 0) return NotFound("you have no wish " + std::to_string(id) + "; 'wishes' lists them", "not_found");
  return Status::Ok();
}

Result<std::vector<WishRecord>> SqliteStore::ListWishes(const std::string& username) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT id, username, query, source, created_at, seen FROM wishes "
                                   "WHERE ?1 = '' OR username = ?1 ORDER BY id"));
  s.Bind(1, username);
  std::vector<WishRecord> out;
  bool done = s.EachRow([&] {
    out.push_back(WishRecord{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), SeenFromText(s.Text(5))});
  });
  if (!done) return Error("list wishes");
  return out;
}

Status SqliteStore::SetWishSeen(int64_t id, const std::vector<uint64_t>& seen) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("UPDATE wishes SET seen = ?2 WHERE id = ?1"));
  if (s.Bind(1, id).Bind(2, SeenToText(seen)).Step() != SQLITE_DONE) return Error("wish seen");
  return Status::Ok();
}

Result<SearchPage> SqliteStore::Search(const SearchQuery& q) {
  MutexLock lock(mu_);
  const std::string glob = QueryToGlob(q.text);
  SearchPage page;
  {
    ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT COUNT(*) FROM (SELECT 1 FROM files "
                                     "WHERE lower(name) GLOB ?1 GROUP BY name, sha256)"));
    if (s.Bind(1, glob).Step() != SQLITE_ROW) return Error("search count");
    page.total = s.Int(0);
  }
  {
    ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT name, MAX(size), sha256 FROM files "
                                     "WHERE lower(name) GLOB ?1 GROUP BY name, sha256 "
                                     "ORDER BY name, sha256 LIMIT ?2 OFFSET ?3"));
    s.Bind(1, glob).Bind(2, q.limit).Bind(3, q.offset);
    bool done = s.EachRow([&] {
      page.results.push_back(FileResult{s.Text(0), s.Int(1), s.Text(2), {}});
    });
    if (!done) return Error("search");
  }
  for (FileResult& r : page.results) {
    ASSIGN_OR_RETURN(r.holders,
                     Holders("SELECT p.username, p.host, p.port FROM files f JOIN peers p "
                             "ON p.username = f.username WHERE f.name = ?1 AND f.sha256 = ?2 "
                             "ORDER BY p.username",
                             r.name, r.sha256));
  }
  return page;
}

Result<std::optional<FileResult>> SqliteStore::FindByHash(const std::string& sha256) {
  MutexLock lock(mu_);
  FileResult r;
  {
    ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT name, size FROM files WHERE sha256 = ?1 "
                                     "ORDER BY name LIMIT 1"));
    int rc = s.Bind(1, sha256).Step();
    if (rc == SQLITE_DONE) return std::optional<FileResult>();
    if (rc != SQLITE_ROW) return Error("find by hash");
    r = FileResult{s.Text(0), s.Int(1), sha256, {}};
  }
  ASSIGN_OR_RETURN(r.holders,
                   Holders("SELECT DISTINCT p.username, p.host, p.port, f.root FROM files f JOIN peers p "
                           "ON p.username = f.username WHERE f.sha256 = ?1 ORDER BY p.username, f.root",
                           sha256, ""));
  return std::optional<FileResult>(std::move(r));
}

Result<std::vector<PeerTotals>> SqliteStore::ListPeers() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT p.username, p.host, p.port, COUNT(f.name), "
                                   "COALESCE(SUM(f.size), 0) FROM peers p LEFT JOIN files f "
                                   "ON f.username = p.username GROUP BY p.username "
                                   "ORDER BY p.username"));
  std::vector<PeerTotals> out;
  bool done = s.EachRow([&] {
    out.push_back(PeerTotals{PeerRecord{s.Text(0), s.Text(1), static_cast<int>(s.Int(2))},
                             s.Int(3), s.Int(4)});
  });
  if (!done) return Error("list peers");
  return out;
}

Result<StoreCounts> SqliteStore::Counts() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare(
      "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM peers), "
      "(SELECT COUNT(*) FROM files), "
      "(SELECT COUNT(*) FROM (SELECT 1 FROM files GROUP BY name, sha256)), "
      "(SELECT COALESCE(SUM(size), 0) FROM files)"));
  if (s.Step() != SQLITE_ROW) return Error("counts");
  return StoreCounts{s.Int(0), s.Int(1), s.Int(2), s.Int(3), s.Int(4)};
}

Result<int64_t> SqliteStore::CountAccounts() {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Stmt s, Prepare("SELECT COUNT(*) FROM accounts"));
  if (s.Step() != SQLITE_ROW) return Error("count accounts");
  return s.Int(0);
}

}  // namespace p2pshare::central
