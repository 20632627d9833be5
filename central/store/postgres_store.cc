#include "central/store/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "common/limits.h"
#include "common/mutex.h"

namespace p2pshare::central {
namespace {

// Advisory lock keys (one namespace: the first number).
constexpr int kLockSpace = 0x70327073;  // "p2ps"
constexpr int kMigrateLock = 1;
constexpr int kFeedLock = 2;
constexpr int kSweepLock = 3;
constexpr int kThrottleLock = 4;
constexpr int kRevokeLock = 5;
constexpr int kWishLock = 6;  // a wish's bounds are counted and kept in one step  // revocations commit in the order of their seq
constexpr const char* kChannel = "p2pshare_changes";

// A statement's text parameters; nullopt is SQL NULL.
class Args {
 public:
  Args& Add(const std::string& v) {
    values_.emplace_back(v);
    return *this;
  }
  Args& Add(int64_t v) {
    values_.emplace_back(std::to_string(v));
    return *this;
  }
  Args& Add(std::optional<int64_t> v) {
    if (v) return Add(*v);
    values_.emplace_back(std::nullopt);
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> out;
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A PostgreSQL array literal of text values: {"a","b\"c"}.
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string IntArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out + "}";
}

std::string IntArray(const std::vector<std::optional<int64_t>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i ? "," : "") + (values[i] ? std::to_string(*values[i]) : std::string("NULL"));
  }
  return out + "}";
}

Status DatabaseUnavailable(const std::string& detail) {
  return Unavailable("the database cannot be reached: " + detail, "database_unavailable");
}

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

}  // namespace

// The rows of one statement's result.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool Null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  int64_t Int(int row, int col) const {
    return Null(row, col) ? 0 : std::stoll(PQgetvalue(r_.get(), row, col));
  }
  std::optional<int64_t> MaybeInt(int row, int col) const {
    if (Null(row, col)) return std::nullopt;
    return Int(row, col);
  }
  // The count of rows a command touched (UPDATE/DELETE/INSERT).
  int64_t Affected() const {
    const char* n = PQcmdTuples(r_.get());
    return (n && *n) ? std::stoll(n) : 0;
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class PostgresStore::Conn {
 public:
  explicit Conn(const std::string& url) : url_(url) {}
  ~Conn() {
    if (pg_) PQfinish(pg_);
  }

  // Connects, or reconnects when the connection broke.
  Status Ready() {
    if (pg_ && PQstatus(pg_) == CONNECTION_OK) return Status::Ok();
    prepared_.clear();  // a new session has none
    if (pg_) {
      PQreset(pg_);
    } else {
      pg_ = PQconnectdb(url_.c_str());
    }
    if (PQstatus(pg_) != CONNECTION_OK) return DatabaseUnavailable(Trimmed(PQerrorMessage(pg_)));
    PQsetNoticeProcessor(pg_, [](void*, const char*) {}, nullptr);
    return Status::Ok();
  }
  bool broken() const { return pg_ == nullptr || PQstatus(pg_) != CONNECTION_OK; }
  PGconn* raw() { return pg_; }

  // Runs `sql` as a statement prepared once per connection (parsed and
  // planned once, not at every call); statements other than queries and
  // data changes (BEGIN, DDL) run unprepared.
  PGresult* Exec(const char* sql, int n, const char* const* params) {
    const std::string_view text(sql);
    const bool preparable = n > 0 || text.starts_with("SELECT") || text.starts_with("INSERT") ||
                            text.starts_with("UPDATE") || text.starts_with("DELETE") ||
                            text.starts_with("WITH");
    if (!preparable) return PQexecParams(pg_, sql, n, nullptr, params, nullptr, nullptr, 0);
    auto it = prepared_.find(std::string(text));
    if (it == prepared_.end()) {
      std::string name = "p" + std::to_string(prepared_.size());
      PGresult* made = PQprepare(pg_, name.c_str(), sql, n, nullptr);
      const bool ok = made != nullptr && PQresultStatus(made) == PGRES_COMMAND_OK;
      if (!ok) return made;  // its error is the statement's
      PQclear(made);
      it = prepared_.emplace(std::string(text), std::move(name)).first;
    }
    return PQexecPrepared(pg_, it->second.c_str(), n, params, nullptr, nullptr, 0);
  }

 private:
  const std::string url_;
  PGconn* pg_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // statement text -> its name
};

namespace {

// The status of a result: Ok, or the error it carries.
Status ResultStatus(PGconn* pg, PGresult* r) {
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::Ok();
  if (PQstatus(pg) != CONNECTION_OK) return DatabaseUnavailable(Trimmed(PQerrorMessage(pg)));
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = Trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
  if (state && std::string(state) == "23505") return AlreadyExists(message);
  if (state && std::string(state).rfind("57P", 0) == 0) return DatabaseUnavailable(message);
  return Internal("database error: " + message);
}

}  // namespace

// A leased connection; its statements, and the transaction helper.
class PostgresStore::Lease {
 public:
  Lease(PostgresStore* store, Conn* c) : store_(store), c_(c) {}
  Lease(Lease&& o) noexcept : store_(o.store_), c_(o.c_) { o.c_ = nullptr; }
  Lease(const Lease&) = delete;
  ~Lease() {
    if (c_) store_->Release(c_);
  }

  Result<Rows> Run(const char* sql, const Args& args = Args()) {
    RETURN_IF_ERROR(c_->Ready());
    auto params = args.Pointers();
    PGresult* r = c_->Exec(sql, args.size(), params.data());
    Status s = ResultStatus(c_->raw(), r);
    Rows rows(r);
    if (!s.ok()) return s;
    return rows;
  }
  // As Run, but tried once more on a fresh connection when the first try
  // found the connection gone (the server restarted since its last use).
  // Only for a statement on its own, outside a transaction.
  Result<Rows> RunOnce(const char* sql, const Args& args = Args()) {
    auto r = Run(sql, args);
    if (!r.ok() && r.status().code() == Code::kUnavailable && c_->broken()) return Run(sql, args);
    return r;
  }
  // Runs `body` between BEGIN and COMMIT (ROLLBACK on an error). A BEGIN
  // that finds the connection gone is tried once on a fresh one.
  template <class F>
  auto Transaction(F&& body) -> decltype(body()) {
    RETURN_IF_ERROR(RunOnce("BEGIN").status());
    auto result = body();
    if (result.ok()) {
      auto commit = Run("COMMIT");
      if (!commit.ok()) {
        (void)Run("ROLLBACK");
        return commit.status();
      }
    } else {
      (void)Run("ROLLBACK");
    }
    return result;
  }

 private:
  PostgresStore* store_;
  Conn* c_;
};

namespace {

// Version 1. TEXT columns COLLATE "C": bytewise order and ASCII-only lower().
constexpr const char* kSchemaV1[] = {
    R"(CREATE TABLE accounts(
         username TEXT COLLATE "C" PRIMARY KEY,
         password_hash TEXT NOT NULL,
         created_at BIGINT NOT NULL DEFAULT extract(epoch from now())::bigint))",
    R"(CREATE TABLE peers(
         username TEXT COLLATE "C" PRIMARY KEY REFERENCES accounts(username),
         host TEXT COLLATE "C" NOT NULL,
         port INTEGER NOT NULL,
         joined BIGSERIAL,
         UNIQUE(host, port)))",
    R"(CREATE TABLE sessions(
         token_hash TEXT COLLATE "C" PRIMARY KEY,
         username TEXT COLLATE "C" NOT NULL REFERENCES accounts(username),
         state INTEGER NOT NULL,
         created_at BIGINT NOT NULL,
         ended_at BIGINT,
         public_key TEXT NOT NULL DEFAULT ''))",
    "CREATE INDEX sessions_by_user ON sessions(username, state)",
    R"(CREATE TABLE certificates(
         serial TEXT COLLATE "C" PRIMARY KEY,
         username TEXT COLLATE "C" NOT NULL,
         token_hash TEXT COLLATE "C" NOT NULL,
         not_after BIGINT NOT NULL,
         revoked BOOLEAN NOT NULL DEFAULT false))",
    "CREATE INDEX certificates_by_session ON certificates(token_hash, not_after)",
    "CREATE INDEX certificates_by_user ON certificates(username, not_after)",
    R"(CREATE TABLE files(
         username TEXT COLLATE "C" NOT NULL REFERENCES peers(username) ON DELETE CASCADE,
         name TEXT COLLATE "C" NOT NULL,
         size BIGINT NOT NULL,
         sha256 TEXT COLLATE "C" NOT NULL,
         root TEXT COLLATE "C" NOT NULL DEFAULT '',
         PRIMARY KEY(username, name)))",
    // Liveness: one row per logged-in account; a heartbeat updates no
    // indexed column (a HOT update: no index is written).
    R"(CREATE TABLE live(
         username TEXT COLLATE "C" PRIMARY KEY,
         last_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
         free_bytes BIGINT,
         active_transfers BIGINT NOT NULL DEFAULT 0,
         sending_rate BIGINT NOT NULL DEFAULT 0,
         receiving_rate BIGINT NOT NULL DEFAULT 0) WITH (fillfactor = 70))",
    R"(CREATE TABLE changes(
         id BIGSERIAL PRIMARY KEY,
         at TIMESTAMPTZ NOT NULL DEFAULT now(),
         kind TEXT NOT NULL,
         username TEXT COLLATE "C" NOT NULL,
         body TEXT NOT NULL DEFAULT ''))",
    // One row: when a replica last swept, and where the feed was trimmed.
    R"(CREATE TABLE cluster(
         id INTEGER PRIMARY KEY CHECK (id = 1),
         last_sweep TIMESTAMPTZ NOT NULL DEFAULT now(),
         trimmed_upto BIGINT NOT NULL DEFAULT 0))",
    "INSERT INTO cluster(id) VALUES(1)",
    R"(CREATE TABLE network_ca(
         id INTEGER PRIMARY KEY CHECK (id = 1),
         key_pem TEXT NOT NULL,
         cert_pem TEXT NOT NULL))",
    // Failed logins and registrations of every replica (auth.h, limits.h);
    // times in ms of the database's clock.
    R"(CREATE TABLE login_failures(
         key TEXT COLLATE "C" PRIMARY KEY,
         failures BIGINT NOT NULL,
         blocked_until BIGINT NOT NULL,
         last_failure BIGINT NOT NULL))",
    R"(CREATE TABLE login_known(
         pair TEXT COLLATE "C" PRIMARY KEY,
         at BIGINT NOT NULL))",
    R"(CREATE TABLE registrations(
         address TEXT COLLATE "C" PRIMARY KEY,
         tokens DOUBLE PRECISION NOT NULL,
         at BIGINT NOT NULL))",
};

// Version 2: revocations in order (docs/protocol.md, "Trust"): each logout
// or eviction numbers the certificates it revokes, so replies list only
// what was revoked since the caller last asked.
// v3: central's check of each live peer's address.
constexpr const char* kSchemaV3[] = {
    "ALTER TABLE live ADD COLUMN reachable TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE live ADD COLUMN reach_why TEXT NOT NULL DEFAULT ''",
};

// v4: the downloads each live peer serves ("to=rate to=rate", names
// checked when the heartbeat was read: no '=' or ' ' in them).
constexpr const char* kSchemaV4[] = {
    "ALTER TABLE live ADD COLUMN serving TEXT NOT NULL DEFAULT ''",
};

// v5: wishes (central/wish_book.h); `seen` as SeenToText writes it.
constexpr const char* kSchemaV5[] = {
    R"(CREATE TABLE wishes(
         id BIGSERIAL PRIMARY KEY,
         username TEXT NOT NULL REFERENCES accounts(username),
         query TEXT NOT NULL,
         source TEXT NOT NULL,
         created_at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::BIGINT,
         seen TEXT NOT NULL DEFAULT ''))",
    "CREATE INDEX wishes_by_user ON wishes(username)",
    "CREATE INDEX wishes_by_source ON wishes(source)",
};

constexpr const char* kSchemaV2[] = {
    "ALTER TABLE certificates ADD COLUMN revoked_seq BIGINT NOT NULL DEFAULT 0",
    R"(UPDATE certificates SET revoked_seq = numbered.n FROM
         (SELECT serial, row_number() OVER (ORDER BY not_after, serial) AS n
            FROM certificates WHERE revoked) AS numbered
       WHERE certificates.serial = numbered.serial)",
    "CREATE INDEX certificates_by_revocation ON certificates(revoked_seq) WHERE revoked_seq > 0",
};

// The database's clock in ms, for the counts above.
constexpr const char* kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

int64_t State(SessionState s) { return static_cast<int64_t>(s); }

}  // namespace

PostgresStore::PostgresStore(std::string url) : url_(std::move(url)) {
  for (int i = 0; i < kConnections; ++i) {
    pool_.push_back(std::make_unique<Conn>(url_));
    idle_.push_back(pool_.back().get());
  }
  listener_ = std::make_unique<Conn>(url_);
}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(url));
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

Result<PostgresStore::Lease> PostgresStore::Acquire() {
  MutexLock lock(mu_);
  freed_.wait(lock, [&] { mu_.AssertHeld(); return !idle_.empty(); });
  Conn* c = idle_.back();
  idle_.pop_back();
  return Lease(this, c);
}

void PostgresStore::Release(Conn* c) {
  {
    MutexLock lock(mu_);
    idle_.push_back(c);
  }
  freed_.notify_one();
}

Status PostgresStore::Migrate() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto done = db.Transaction([&]() -> Result<bool> {
    RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                           Args().Add(int64_t{kLockSpace}).Add(int64_t{kMigrateLock}))
                        .status());
    RETURN_IF_ERROR(db.Run("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")
                        .status());
    ASSIGN_OR_RETURN(Rows v, db.Run("SELECT max(version) FROM schema_version"));
    const int64_t version = v.Int(0, 0);
    if (version > kSchemaVersion) {
      return Status(Code::kFailedPrecondition,
                    "database schema version " + std::to_string(version) +
                        " is newer than this central (" + std::to_string(kSchemaVersion) + ")");
    }
    if (version == kSchemaVersion) return true;
    if (version < 1) {
      for (const char* sql : kSchemaV1) RETURN_IF_ERROR(db.Run(sql).status());
      RETURN_IF_ERROR(db.Run("INSERT INTO schema_version VALUES(1)").status());
    }
    if (version < 2) {
      for (const char* sql : kSchemaV2) RETURN_IF_ERROR(db.Run(sql).status());
      RETURN_IF_ERROR(db.Run("INSERT INTO schema_version VALUES(2)").status());
    }
    if (version < 3) {
      for (const char* sql : kSchemaV3) RETURN_IF_ERROR(db.Run(sql).status());
      RETURN_IF_ERROR(db.Run("INSERT INTO schema_version VALUES(3)").status());
    }
    if (version < 4) {
      for (const char* sql : kSchemaV4) RETURN_IF_ERROR(db.Run(sql).status());
      RETURN_IF_ERROR(db.Run("INSERT INTO schema_version VALUES(4)").status());
    }
    if (version < 5) {
      for (const char* sql : kSchemaV5) RETURN_IF_ERROR(db.Run(sql).status());
      RETURN_IF_ERROR(db.Run("INSERT INTO schema_version VALUES(5)").status());
    }
    return true;
  });
  return done.status();
}

// ---- accounts

Status PostgresStore::CreateAccount(const AccountRecord& a) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto r = db.RunOnce("INSERT INTO accounts(username, password_hash) VALUES($1, $2)",
                      Args().Add(a.username).Add(a.password_hash));
  if (!r.ok() && r.status().code() == Code::kAlreadyExists) {
    return AlreadyExists("username '" + a.username + "' is taken", "username_taken");
  }
  return r.status();
}

Result<std::optional<AccountRecord>> PostgresStore::FindAccount(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT password_hash FROM accounts WHERE username = $1",
                                      Args().Add(username)));
  if (r.size() == 0) return std::optional<AccountRecord>();
  return std::optional<AccountRecord>(AccountRecord{username, r.Text(0, 0)});
}

Result<int64_t> PostgresStore::CountAccounts() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT count(*) FROM accounts"));
  return r.Int(0, 0);
}

// ---- peers and the feed

namespace {

// Appends a change under the feed lock (held to the commit) and wakes the
// followers at the commit. REQUIRES: inside a transaction.
template <class Db>
Result<int64_t> AppendChange(Db& db, const char* kind, const std::string& username,
                             const std::string& body) {
  RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                         Args().Add(int64_t{kLockSpace}).Add(int64_t{kFeedLock}))
                      .status());
  ASSIGN_OR_RETURN(Rows r, db.Run("INSERT INTO changes(kind, username, body) VALUES($1, $2, $3) "
                                  "RETURNING id",
                                  Args().Add(std::string(kind)).Add(username).Add(body)));
  RETURN_IF_ERROR(db.Run("SELECT pg_notify($1, '')", Args().Add(std::string(kChannel))).status());
  return r.Int(0, 0);
}

std::string EventBody(const std::string& detail, const std::string& public_detail) {
  return nlohmann::json{{"detail", detail},
                        {"public_detail", public_detail.empty() ? detail : public_detail}}
      .dump();
}

}  // namespace

Status PostgresStore::AddPeer(const PeerRecord& p) { return AddPeerFrom(p, ""); }

Status PostgresStore::AddPeerFrom(const PeerRecord& p, const std::string& source) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto done = db.Transaction([&]() -> Result<bool> {
    auto r = db.Run("INSERT INTO peers(username, host, port) VALUES($1, $2, $3)",
                    Args().Add(p.username).Add(p.host).Add(int64_t{p.port}));
    if (!r.ok()) return r.status();
    nlohmann::json body{{"host", p.host}, {"port", p.port}, {"source", source}};
    RETURN_IF_ERROR(AppendChange(db, "online", p.username, body.dump()).status());
    return true;
  });
  if (!done.ok() && done.status().code() == Code::kAlreadyExists) {
    return AlreadyExists("peer or port already online");
  }
  return done.status();
}

Result<std::optional<PeerRecord>> PostgresStore::FindPeer(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT host, port FROM peers WHERE username = $1",
                                      Args().Add(username)));
  if (r.size() == 0) return std::optional<PeerRecord>();
  return std::optional<PeerRecord>(
      PeerRecord{username, r.Text(0, 0), static_cast<int>(r.Int(0, 1))});
}

Result<std::vector<PeerRecord>> PostgresStore::ListPeerRecords() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  // In the order they came online: the friend ring follows it.
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT username, host, port FROM peers ORDER BY joined"));
  std::vector<PeerRecord> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(PeerRecord{r.Text(i, 0), r.Text(i, 1), static_cast<int>(r.Int(i, 2))});
  }
  return out;
}

Result<std::set<int>> PostgresStore::PortsInUse(const std::string& host) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT port FROM peers WHERE host = $1", Args().Add(host)));
  std::set<int> out;
  for (int i = 0; i < r.size(); ++i) out.insert(static_cast<int>(r.Int(i, 0)));
  return out;
}

namespace {

// RemovePeer's work inside a transaction: the record removed, if any.
template <class Db>
Result<std::optional<PeerRecord>> TakeOffline(Db& db, const std::string& username,
                                              SessionState end_state, int64_t now_unix) {
  std::optional<PeerRecord> removed;
  ASSIGN_OR_RETURN(Rows p, db.Run("DELETE FROM peers WHERE username = $1 RETURNING host, port",
                                  Args().Add(username)));
  if (p.size() > 0) removed = PeerRecord{username, p.Text(0, 0), static_cast<int>(p.Int(0, 1))};
  // files go with the peer (ON DELETE CASCADE)
  RETURN_IF_ERROR(db.Run("DELETE FROM live WHERE username = $1", Args().Add(username)).status());
  RETURN_IF_ERROR(db.Run("UPDATE sessions SET state = $2, ended_at = $3 "
                         "WHERE username = $1 AND state = 0",
                         Args().Add(username).Add(State(end_state)).Add(now_unix))
                      .status());
  RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                         Args().Add(int64_t{kLockSpace}).Add(int64_t{kRevokeLock}))
                      .status());
  RETURN_IF_ERROR(db.Run("UPDATE certificates SET revoked = true, revoked_seq = "
                         "(SELECT coalesce(max(revoked_seq), 0) + 1 FROM certificates) "
                         "WHERE username = $1 AND not_after >= $2 AND NOT revoked",
                         Args().Add(username).Add(now_unix))
                      .status());
  if (removed) RETURN_IF_ERROR(AppendChange(db, "offline", username, "").status());
  return removed;
}

}  // namespace

Result<std::optional<PeerRecord>> PostgresStore::RemovePeer(const std::string& username,
                                                            SessionState end_state,
                                                            int64_t now_unix) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<std::optional<PeerRecord>> {
    return TakeOffline(db, username, end_state, now_unix);
  });
}

// ---- sessions and certificates

Status PostgresStore::AddSession(const SessionRecord& s, int64_t now_unix) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db
      .RunOnce("INSERT INTO sessions(token_hash, username, state, created_at, public_key) "
               "VALUES($1, $2, $3, $4, $5)",
               Args().Add(s.token_hash).Add(s.username).Add(State(s.state)).Add(now_unix).Add(
                   s.public_key))
      .status();
}

Result<std::optional<SessionRecord>> PostgresStore::FindSession(const std::string& token_hash) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT username, state, public_key FROM sessions "
                                      "WHERE token_hash = $1",
                                      Args().Add(token_hash)));
  if (r.size() == 0) return std::optional<SessionRecord>();
  const int64_t state = r.Int(0, 1);
  if (state < 0 || state > 2) return Internal("session with unknown state");
  return std::optional<SessionRecord>(
      SessionRecord{token_hash, r.Text(0, 0), static_cast<SessionState>(state), r.Text(0, 2)});
}

Status PostgresStore::PurgeEndedSessions(int64_t before_unix) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  RETURN_IF_ERROR(db.RunOnce("DELETE FROM sessions WHERE state != 0 AND ended_at < $1",
                             Args().Add(before_unix))
                      .status());
  return db.RunOnce("DELETE FROM certificates WHERE not_after < $1", Args().Add(before_unix))
      .status();
}

Status PostgresStore::AddCertificate(const CertificateRecord& c) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db
      .RunOnce("INSERT INTO certificates(serial, username, token_hash, not_after) "
               "VALUES($1, $2, $3, $4)",
               Args().Add(c.serial).Add(c.username).Add(c.token_hash).Add(c.not_after))
      .status();
}

Result<std::optional<CertificateRecord>> PostgresStore::NewestCertificate(
    const std::string& token_hash) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT serial, username, not_after FROM certificates "
                                      "WHERE token_hash = $1 ORDER BY not_after DESC LIMIT 1",
                                      Args().Add(token_hash)));
  if (r.size() == 0) return std::optional<CertificateRecord>();
  return std::optional<CertificateRecord>(
      CertificateRecord{r.Text(0, 0), r.Text(0, 1), token_hash, r.Int(0, 2)});
}

Result<std::vector<RevokedCertificate>> PostgresStore::RevokedAfter(int64_t after_seq, int64_t now_unix) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT revoked_seq, serial, not_after FROM certificates "
                                      "WHERE revoked_seq > $1 AND not_after >= $2 "
                                      "ORDER BY revoked_seq, serial",
                                      Args().Add(after_seq).Add(now_unix)));
  std::vector<RevokedCertificate> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(RevokedCertificate{r.Int(i, 0), r.Text(i, 1), r.Int(i, 2)});
  return out;
}

// ---- the index

namespace {

// Inserts or replaces `files` (the last of a name wins), a few thousand
// rows per statement.
template <class Db>
Status UpsertFiles(Db& db, const std::string& username, const std::vector<FileEntry>& files) {
  constexpr size_t kBatch = 5000;
  std::map<std::string_view, const FileEntry*> last;
  for (const FileEntry& f : files) last[f.name] = &f;
  std::vector<const FileEntry*> unique;
  for (auto& [name, f] : last) unique.push_back(f);
  for (size_t at = 0; at < unique.size(); at += kBatch) {
    std::vector<std::string> names, hashes, roots;
    std::vector<int64_t> sizes;
    for (size_t i = at; i < std::min(unique.size(), at + kBatch); ++i) {
      names.push_back(unique[i]->name);
      sizes.push_back(unique[i]->size);
      hashes.push_back(unique[i]->sha256);
      roots.push_back(unique[i]->root);
    }
    RETURN_IF_ERROR(
        db.Run("INSERT INTO files(username, name, size, sha256, root) "
               "SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) "
               "ON CONFLICT (username, name) DO UPDATE SET size = excluded.size, "
               "sha256 = excluded.sha256, root = excluded.root",
               Args()
                   .Add(username)
                   .Add(TextArray(names))
                   .Add(IntArray(sizes))
                   .Add(TextArray(hashes))
                   .Add(TextArray(roots)))
            .status());
  }
  return Status::Ok();
}

// Locks the peer's row: NotFound when it is not online.
template <class Db>
Status LockOnlinePeer(Db& db, const std::string& username) {
  ASSIGN_OR_RETURN(Rows r, db.Run("SELECT 1 FROM peers WHERE username = $1 FOR UPDATE",
                                  Args().Add(username)));
  if (r.size() == 0) return NotFound("peer '" + username + "' is not online");
  return Status::Ok();
}

template <class Db>
Result<int64_t> FileCount(Db& db, const std::string& username) {
  ASSIGN_OR_RETURN(Rows r, db.Run("SELECT count(*) FROM files WHERE username = $1",
                                  Args().Add(username)));
  return r.Int(0, 0);
}

nlohmann::json EntryJson(const FileEntry& f) {
  return nlohmann::json{{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}, {"root", f.root}};
}

}  // namespace

Result<int64_t> PostgresStore::ReplaceIndex(const std::string& username,
                                            const std::vector<FileEntry>& files) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<int64_t> {
    RETURN_IF_ERROR(LockOnlinePeer(db, username));
    RETURN_IF_ERROR(db.Run("DELETE FROM files WHERE username = $1", Args().Add(username)).status());
    RETURN_IF_ERROR(UpsertFiles(db, username, files));
    // Followers read the peer's files back: a replace may be large.
    RETURN_IF_ERROR(AppendChange(db, "replace", username, "").status());
    return FileCount(db, username);
  });
}

Result<int64_t> PostgresStore::PatchIndex(const std::string& username,
                                          const std::vector<FileEntry>& added,
                                          const std::vector<std::string>& removed) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<int64_t> {
    RETURN_IF_ERROR(LockOnlinePeer(db, username));
    if (!removed.empty()) {
      RETURN_IF_ERROR(db.Run("DELETE FROM files WHERE username = $1 AND name = ANY($2::text[])",
                             Args().Add(username).Add(TextArray(removed)))
                          .status());
    }
    RETURN_IF_ERROR(UpsertFiles(db, username, added));
    nlohmann::json body{{"added", nlohmann::json::array()}, {"removed", removed}};
    for (const FileEntry& f : added) body["added"].push_back(EntryJson(f));
    RETURN_IF_ERROR(AppendChange(db, "patch", username, body.dump()).status());
    return FileCount(db, username);
  });
}

Result<std::vector<FileEntry>> PostgresStore::ListFiles(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT name, size, sha256, root FROM files "
                                      "WHERE username = $1 ORDER BY name",
                                      Args().Add(username)));
  std::vector<FileEntry> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(FileEntry{r.Text(i, 0), r.Int(i, 1), r.Text(i, 2), r.Text(i, 3)});
  }
  return out;
}

Result<WishRecord> PostgresStore::AddWish(const WishRecord& wish, const WishBounds& bounds) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<WishRecord> {
    RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                           Args().Add(int64_t{kLockSpace}).Add(int64_t{kWishLock}))
                        .status());
    ASSIGN_OR_RETURN(Rows n, db.Run("SELECT count(*) FILTER (WHERE username = $1), "
                                    "count(*) FILTER (WHERE source = $2), count(*) FROM wishes",
                                    Args().Add(wish.username).Add(wish.source)));
    if (n.Int(0, 0) >= bounds.per_account) return TooManyWishes("for this account (" + std::to_string(bounds.per_account) + ")");
    if (n.Int(0, 1) >= bounds.per_address) return TooManyWishes("made from this address (" + std::to_string(bounds.per_address) + ")");
    if (n.Int(0, 2) >= bounds.total) return TooManyWishes("on this network (" + std::to_string(bounds.total) + ")");
    ASSIGN_OR_RETURN(Rows r, db.Run("INSERT INTO wishes(username, query, source, seen) VALUES($1, $2, $3, $4) "
                                    "RETURNING id, created_at",
                                    Args().Add(wish.username).Add(wish.query).Add(wish.source).Add(SeenToText(wish.seen))));
    WishRecord made = wish;
    made.id = r.Int(0, 0);
    made.created_unix = r.Int(0, 1);
    return made;
  });
}

Status PostgresStore::RemoveWish(const std::string& username, int64_t id) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("DELETE FROM wishes WHERE id = $1 AND username = $2",
                                      Args().Add(id).Add(username)));
  if (r.Affected() == 0) return NotFound("you have no wish " + std::to_string(id) + "; 'wishes' lists them", "not_found");
  return Status::Ok();
}

Result<std::vector<WishRecord>> PostgresStore::ListWishes(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT id, username, query, source, created_at, seen FROM wishes "
                                      "WHERE $1 = '' OR username = $1 ORDER BY id",
                                      Args().Add(username)));
  std::vector<WishRecord> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(WishRecord{r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4),
                             SeenFromText(r.Text(i, 5))});
  }
  return out;
}

Status PostgresStore::SetWishSeen(int64_t id, const std::vector<uint64_t>& seen) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.RunOnce("UPDATE wishes SET seen = $2 WHERE id = $1", Args().Add(id).Add(SeenToText(seen))).status();
}

Result<SearchPage> PostgresStore::Search(const SearchQuery& q) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  const std::string like = QueryToLike(q.text);
  SearchPage page;
  {
    ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT count(*) FROM (SELECT 1 FROM files "
                                        "WHERE lower(name) LIKE $1 GROUP BY name, sha256) m",
                                        Args().Add(like)));
    page.total = r.Int(0, 0);
  }
  ASSIGN_OR_RETURN(Rows r, db.Run("SELECT name, max(size), sha256 FROM files "
                                  "WHERE lower(name) LIKE $1 GROUP BY name, sha256 "
                                  "ORDER BY name, sha256 LIMIT $2 OFFSET $3",
                                  Args().Add(like).Add(q.limit).Add(q.offset)));
  for (int i = 0; i < r.size(); ++i) {
    page.results.push_back(FileResult{r.Text(i, 0), r.Int(i, 1), r.Text(i, 2), {}});
  }
  for (FileResult& f : page.results) {
    ASSIGN_OR_RETURN(Rows h, db.Run("SELECT p.username, p.host, p.port FROM files f JOIN peers p "
                                    "ON p.username = f.username WHERE f.name = $1 AND "
                                    "f.sha256 = $2 ORDER BY p.username",
                                    Args().Add(f.name).Add(f.sha256)));
    for (int i = 0; i < h.size(); ++i) {
      f.holders.push_back(Holder{h.Text(i, 0), h.Text(i, 1), static_cast<int>(h.Int(i, 2)), ""});
    }
  }
  return page;
}

Result<std::optional<FileResult>> PostgresStore::FindByHash(const std::string& sha256) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT name, size FROM files WHERE sha256 = $1 "
                                      "ORDER BY name LIMIT 1",
                                      Args().Add(sha256)));
  if (r.size() == 0) return std::optional<FileResult>();
  FileResult f{r.Text(0, 0), r.Int(0, 1), sha256, {}};
  ASSIGN_OR_RETURN(Rows h, db.Run("SELECT DISTINCT p.username, p.host, p.port, f.root "
                                  "FROM files f JOIN peers p ON p.username = f.username "
                                  "WHERE f.sha256 = $1 ORDER BY p.username, f.root",
                                  Args().Add(sha256)));
  for (int i = 0; i < h.size(); ++i) {
    f.holders.push_back(
        Holder{h.Text(i, 0), h.Text(i, 1), static_cast<int>(h.Int(i, 2)), h.Text(i, 3)});
  }
  return std::optional<FileResult>(std::move(f));
}

Result<std::vector<PeerTotals>> PostgresStore::ListPeers() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT p.username, p.host, p.port, count(f.name), "
                                      "coalesce(sum(f.size), 0) FROM peers p LEFT JOIN files f "
                                      "ON f.username = p.username GROUP BY p.username "
                                      "ORDER BY p.username"));
  std::vector<PeerTotals> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(PeerTotals{PeerRecord{r.Text(i, 0), r.Text(i, 1), static_cast<int>(r.Int(i, 2))},
                             r.Int(i, 3), r.Int(i, 4)});
  }
  return out;
}

Result<StoreCounts> PostgresStore::Counts() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce(
                               "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM peers), "
                               "(SELECT count(*) FROM files), "
                               "(SELECT count(*) FROM (SELECT 1 FROM files GROUP BY name, sha256) u), "
                               "(SELECT coalesce(sum(size), 0) FROM files)"));
  return StoreCounts{r.Int(0, 0), r.Int(0, 1), r.Int(0, 2), r.Int(0, 3), r.Int(0, 4)};
}

// ---- what replicas share

Status PostgresStore::TouchLogin(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db
      .RunOnce("INSERT INTO live(username) VALUES($1) "
               "ON CONFLICT (username) DO UPDATE SET last_seen = now()",
               Args().Add(username))
      .status();
}

// Heartbeats commit in groups (docs/architecture.md, "Replicas"): a caller
// that finds no write under way writes every heartbeat waiting, its own
// included, in one UPDATE; callers arriving meanwhile wait for the next
// group. Alone, a heartbeat is written at once; under load, one statement
// and one commit serve many.
struct PostgresStore::HeartbeatGroup {
  std::map<std::string, PeerLoad> loads;  // by account: the newest of each
  bool done = false;
  Status status;
  std::set<std::string> live;  // accounts whose row was there to update
};

Status PostgresStore::Heartbeat(const std::string& username, const PeerLoad& l) {
  MutexLock lock(beats_mu_);
  if (!next_beats_) next_beats_ = std::make_shared<HeartbeatGroup>();
  std::shared_ptr<HeartbeatGroup> mine = next_beats_;
  mine->loads[username] = l;
  while (!mine->done) {
    if (writing_beats_) {
      beats_written_.wait(lock);
      continue;
    }
    // Nobody writes: this caller writes the waiting group (its own).
    writing_beats_ = true;
    std::shared_ptr<HeartbeatGroup> group = std::move(next_beats_);
    next_beats_.reset();
    lock.Unlock();
    WriteHeartbeats(*group);
    lock.Lock();
    group->done = true;
    writing_beats_ = false;
    beats_written_.notify_all();
  }
  RETURN_IF_ERROR(mine->status);
  if (mine->live.count(username) == 0) return NotFound("not live");
  return Status::Ok();
}

namespace {

// HeartbeatRequest::serving in the live table's text column.
std::string EncodeServing(const std::vector<ServingTo>& serving) {
  std::string out;
  for (const ServingTo& s : serving) out += (out.empty() ? "" : " ") + s.to + "=" + std::to_string(s.rate);
  return out;
}

std::vector<ServingTo> DecodeServing(const std::string& text) {
  std::vector<ServingTo> out;
  size_t start = 0;
  while (start < text.size() && out.size() < kMaxServingReported) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    out.push_back(ServingTo{item.substr(0, eq), std::strtoll(item.c_str() + eq + 1, nullptr, 10)});
  }
  return out;
}

}  // namespace

void PostgresStore::WriteHeartbeats(HeartbeatGroup& group) {
  std::vector<std::string> names;
  std::vector<std::optional<int64_t>> free_bytes;
  std::vector<int64_t> transfers, sending, receiving;
  std::vector<std::string> serving;
  for (const auto& [name, load] : group.loads) {
    names.push_back(name);
    serving.push_back(EncodeServing(load.serving));
    free_bytes.push_back(load.free_bytes);
    transfers.push_back(load.active_transfers);
    sending.push_back(load.sending_rate);
    receiving.push_back(load.receiving_rate);
  }
  auto lease = Acquire();
  if (!lease.ok()) {
    group.status = lease.status();
    return;
  }
  auto r = lease->RunOnce(
      "UPDATE live l SET last_seen = now(), free_bytes = coalesce(b.free_bytes, l.free_bytes), "
      "active_transfers = b.active_transfers, sending_rate = b.sending_rate, "
      "receiving_rate = b.receiving_rate, serving = b.serving "
      "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[]) "
      "AS b(username, free_bytes, active_transfers, sending_rate, receiving_rate, serving) "
      "WHERE l.username = b.username RETURNING l.username",
      Args()
          .Add(TextArray(names))
          .Add(IntArray(free_bytes))
          .Add(IntArray(transfers))
          .Add(IntArray(sending))
          .Add(IntArray(receiving))
          .Add(TextArray(serving)));
  if (!r.ok()) {
    group.status = r.status();
    return;
  }
  for (int i = 0; i < r->size(); ++i) group.live.insert(r->Text(i, 0));
}

namespace {

constexpr const char* kLiveColumns =
    "username, extract(epoch from last_seen)::bigint, free_bytes, active_transfers, "
    "sending_rate, receiving_rate, reachable, reach_why, serving";

PeerLoad LoadAt(const Rows& r, int i) {
  return PeerLoad{r.Int(i, 1), r.MaybeInt(i, 2), r.Int(i, 3), r.Int(i, 4), r.Int(i, 5),
                  r.Text(i, 6), r.Text(i, 7), DecodeServing(r.Text(i, 8))};
}

}  // namespace

Status PostgresStore::SetReachability(const std::string& username, const std::string& state,
                                      const std::string& why) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("UPDATE live SET reachable = $2, reach_why = $3 "
                                      "WHERE username = $1 RETURNING username",
                                      Args().Add(username).Add(state).Add(why)));
  if (r.size() == 0) return NotFound("not live");
  return Status::Ok();
}

Result<std::map<std::string, PeerLoad>> PostgresStore::AllLive() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce((std::string("SELECT ") + kLiveColumns + " FROM live").c_str()));
  std::map<std::string, PeerLoad> out;
  for (int i = 0; i < r.size(); ++i) out[r.Text(i, 0)] = LoadAt(r, i);
  return out;
}

Result<std::optional<PeerLoad>> PostgresStore::Live(const std::string& username) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce(
                               (std::string("SELECT ") + kLiveColumns + " FROM live WHERE username = $1").c_str(),
                               Args().Add(username)));
  if (r.size() == 0) return std::optional<PeerLoad>();
  return std::optional<PeerLoad>(LoadAt(r, 0));
}

Result<std::optional<TokenSession>> PostgresStore::FindTokenSession(const std::string& token_hash) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce("SELECT s.username, s.state, l.username IS NOT NULL "
                                      "FROM sessions s LEFT JOIN live l ON l.username = s.username "
                                      "WHERE s.token_hash = $1",
                                      Args().Add(token_hash)));
  if (r.size() == 0) return std::optional<TokenSession>();
  const int64_t state = r.Int(0, 1);
  if (state < 0 || state > 2) return Internal("session with unknown state");
  return std::optional<TokenSession>(
      TokenSession{r.Text(0, 0), static_cast<SessionState>(state), r.Text(0, 2) == "t"});
}

Result<std::vector<Evicted>> PostgresStore::EvictSilent(int64_t ttl_s, int64_t grace_s,
                                                        int64_t now_unix) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<std::vector<Evicted>> {
    std::vector<Evicted> out;
    ASSIGN_OR_RETURN(Rows lock, db.Run("SELECT pg_try_advisory_xact_lock($1, $2)",
                                       Args().Add(int64_t{kLockSpace}).Add(int64_t{kSweepLock})));
    if (lock.Text(0, 0) != "t") return out;  // another replica sweeps
    // Nobody swept for a while: the database or every replica was down,
    // so peers could not heartbeat. Each gets a full TTL from now.
    ASSIGN_OR_RETURN(Rows gap, db.Run("SELECT extract(epoch from now() - last_sweep)::bigint "
                                      "FROM cluster WHERE id = 1"));
    RETURN_IF_ERROR(db.Run("UPDATE cluster SET last_sweep = now() WHERE id = 1").status());
    if (gap.size() > 0 && gap.Int(0, 0) > grace_s) {
      RETURN_IF_ERROR(db.Run("UPDATE live SET last_seen = now()").status());
      return out;
    }
    ASSIGN_OR_RETURN(Rows silent, db.Run("SELECT username FROM live WHERE last_seen < "
                                         "now() - make_interval(secs => $1) "
                                         "ORDER BY username FOR UPDATE SKIP LOCKED",
                                         Args().Add(ttl_s)));
    for (int i = 0; i < silent.size(); ++i) {
      const std::string user = silent.Text(i, 0);
      ASSIGN_OR_RETURN(auto removed, TakeOffline(db, user, SessionState::kExpired, now_unix));
      out.push_back(Evicted{user, removed});
    }
    return out;
  });
}

Result<int64_t> PostgresStore::LatestChange() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  // Under the feed lock: no append is between its id and its commit.
  return db.Transaction([&]() -> Result<int64_t> {
    RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                           Args().Add(int64_t{kLockSpace}).Add(int64_t{kFeedLock}))
                        .status());
    ASSIGN_OR_RETURN(Rows r, db.Run("SELECT coalesce(max(id), 0) FROM changes"));
    return r.Int(0, 0);
  });
}

namespace {

Result<Change> ParseChange(const Rows& r, int i) {
  Change c;
  c.id = r.Int(i, 0);
  const std::string kind = r.Text(i, 1);
  c.username = r.Text(i, 2);
  const std::string body = r.Text(i, 3);
  try {
    if (kind == "online") {
      auto j = nlohmann::json::parse(body);
      c.kind = Change::Kind::kOnline;
      c.peer = PeerRecord{c.username, j.at("host").get<std::string>(), j.at("port").get<int>()};
      c.source = j.at("source").get<std::string>();
    } else if (kind == "offline") {
      c.kind = Change::Kind::kOffline;
    } else if (kind == "replace") {
      c.kind = Change::Kind::kReplace;
    } else if (kind == "signal") {
      c.kind = Change::Kind::kSignal;
      c.message = body;
      c.at_unix_ms = r.Int(i, 4);
    } else if (kind == "patch") {
      auto j = nlohmann::json::parse(body);
      c.kind = Change::Kind::kPatch;
      for (const auto& f : j.at("added")) {
        c.added.push_back(FileEntry{f.at("name").get<std::string>(), f.at("size").get<int64_t>(),
                                    f.at("sha256").get<std::string>(),
                                    f.at("root").get<std::string>()});
      }
      c.removed = j.at("removed").get<std::vector<std::string>>();
    } else {
      auto j = nlohmann::json::parse(body);
      c.kind = Change::Kind::kEvent;
      c.event = NetworkEvent{c.id, r.Int(i, 4), kind.substr(6), c.username,
                             j.at("detail").get<std::string>(),
                             j.at("public_detail").get<std::string>()};
    }
  } catch (const nlohmann::json::exception& e) {
    return Internal("change " + std::to_string(c.id) + " is malformed: " + e.what());
  }
  return c;
}

constexpr const char* kChangeColumns =
    "id, kind, username, body, (extract(epoch from at) * 1000)::bigint";

}  // namespace

Result<ChangeBatch> PostgresStore::ChangesAfter(int64_t cursor, int64_t limit) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ChangeBatch batch;
  ASSIGN_OR_RETURN(Rows t, db.RunOnce("SELECT trimmed_upto FROM cluster WHERE id = 1"));
  if (t.size() > 0 && cursor < t.Int(0, 0)) {
    batch.reload = true;
    return batch;
  }
  ASSIGN_OR_RETURN(Rows r, db.Run((std::string("SELECT ") + kChangeColumns +
                                   " FROM changes WHERE id > $1 ORDER BY id LIMIT $2")
                                      .c_str(),
                                  Args().Add(cursor).Add(limit)));
  for (int i = 0; i < r.size(); ++i) {
    ASSIGN_OR_RETURN(Change c, ParseChange(r, i));
    batch.changes.push_back(std::move(c));
  }
  return batch;
}

Status PostgresStore::WaitForChange(std::chrono::milliseconds timeout) {
  MutexLock lock(listen_mu_);
  Conn& c = *listener_;
  if (c.broken() || PQstatus(c.raw()) != CONNECTION_OK) {
    RETURN_IF_ERROR(c.Ready());
    PGresult* r = PQexec(c.raw(), (std::string("LISTEN ") + kChannel).c_str());
    Status s = ResultStatus(c.raw(), r);
    PQclear(r);
    RETURN_IF_ERROR(s);
  }
  auto drain = [&] {
    bool any = false;
    while (PGnotify* n = PQnotifies(c.raw())) {
      PQfreemem(n);
      any = true;
    }
    return any;
  };
  if (drain()) return Status::Ok();
  pollfd p{PQsocket(c.raw()), POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready > 0) {
    if (PQconsumeInput(c.raw()) == 0) {
      return DatabaseUnavailable(Trimmed(PQerrorMessage(c.raw())));
    }
    drain();
  }
  if (PQstatus(c.raw()) != CONNECTION_OK) return DatabaseUnavailable("the listening connection broke");
  return Status::Ok();
}

Status PostgresStore::TrimChanges(int64_t keep_s) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto done = db.Transaction([&]() -> Result<bool> {
    ASSIGN_OR_RETURN(Rows r, db.Run("DELETE FROM changes WHERE at < now() - make_interval(secs => $1) "
                                    "RETURNING id",
                                    Args().Add(keep_s)));
    int64_t upto = 0;
    for (int i = 0; i < r.size(); ++i) upto = std::max(upto, r.Int(i, 0));
    if (upto > 0) {
      RETURN_IF_ERROR(db.Run("UPDATE cluster SET trimmed_upto = greatest(trimmed_upto, $1)",
                             Args().Add(upto))
                          .status());
    }
    return true;
  });
  return done.status();
}

Result<std::vector<NetworkEvent>> PostgresStore::RecentEvents(int64_t upto, int64_t count) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(Rows r, db.RunOnce((std::string("SELECT * FROM (SELECT ") + kChangeColumns +
                                       " FROM changes WHERE id <= $1 AND kind LIKE 'event:%' "
                                       "ORDER BY id DESC LIMIT $2) e ORDER BY id")
                                          .c_str(),
                                      Args().Add(upto).Add(count)));
  std::vector<NetworkEvent> out;
  for (int i = 0; i < r.size(); ++i) {
    ASSIGN_OR_RETURN(Change c, ParseChange(r, i));
    out.push_back(std::move(c.event));
  }
  return out;
}

Status PostgresStore::AppendSignal(const std::string& username, const std::string& message) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto done = db.Transaction([&]() -> Result<int64_t> {
    return AppendChange(db, "signal", username, message);
  });
  return done.status();
}

Status PostgresStore::RecordEvent(const std::string& kind, const std::string& username,
                                  const std::string& detail, const std::string& public_detail) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  auto done = db.Transaction([&]() -> Result<int64_t> {
    return AppendChange(db, ("event:" + kind).c_str(), username,
                        EventBody(detail, public_detail));
  });
  return done.status();
}

namespace {

// What the throttle knows of one attempt, read in one round trip.
struct ThrottleView {
  std::optional<FailureCount> pair, address;
  bool known = false;
  int64_t now_ms = 0;
};

template <class Db>
Result<ThrottleView> ReadThrottle(Db& db, const std::string& pair, const std::string& address,
                                  const ThrottlePolicy& policy) {
  ASSIGN_OR_RETURN(
      Rows r, db.Run((std::string("SELECT key, failures, blocked_until, last_failure "
                                  "FROM login_failures WHERE key IN ($1, $2) "
                                  "UNION ALL SELECT 'known', at, 0, 0 FROM login_known WHERE pair = $1 "
                                  "UNION ALL SELECT 'now', ") +
                      kNowMs + ", 0, 0")
                         .c_str(),
                     Args().Add(pair).Add(address)));
  ThrottleView v;
  std::optional<int64_t> known_at;
  for (int i = 0; i < r.size(); ++i) {
    const std::string key = r.Text(i, 0);
    FailureCount c{r.Int(i, 1), r.Int(i, 2), r.Int(i, 3)};
    if (key == "now") {
      v.now_ms = c.failures;
    } else if (key == "known") {
      known_at = c.failures;
    } else {
      (key == pair ? v.pair : v.address) = c;
    }
  }
  v.known = known_at && v.now_ms - *known_at <= policy.known_for_ms;
  return v;
}

}  // namespace

Result<int64_t> PostgresStore::LoginRetryAfter(const std::string& username,
                                               const std::string& address,
                                               const ThrottlePolicy& policy) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  ASSIGN_OR_RETURN(ThrottleView v, ReadThrottle(db, ThrottlePairKey(username, address),
                                                ThrottleAddressKey(address), policy));
  return RetryAfterSeconds(v.pair, v.address, v.known, v.now_ms);
}

Status PostgresStore::RecordLoginFailure(const std::string& username, const std::string& address,
                                         const ThrottlePolicy& policy) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  const std::string pair = ThrottlePairKey(username, address);
  const std::string addr = ThrottleAddressKey(address);
  auto done = db.Transaction([&]() -> Result<bool> {
    // Failures are rare (each costs a PBKDF2): one lock for all keeps each
    // count's read-and-write whole.
    RETURN_IF_ERROR(db.Run("SELECT pg_advisory_xact_lock($1, $2)",
                           Args().Add(int64_t{kLockSpace}).Add(int64_t{kThrottleLock}))
                        .status());
    ASSIGN_OR_RETURN(ThrottleView v, ReadThrottle(db, pair, addr, policy));
    auto [p, a] = AfterLoginFailure(v.pair, v.address, policy, v.now_ms);
    RETURN_IF_ERROR(
        db.Run("INSERT INTO login_failures(key, failures, blocked_until, last_failure) "
               "VALUES($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET "
               "failures = excluded.failures, blocked_until = excluded.blocked_until, "
               "last_failure = excluded.last_failure",
               Args().Add(pair).Add(p.failures).Add(p.blocked_until_ms).Add(p.last_failure_ms)
                   .Add(addr).Add(a.failures).Add(a.blocked_until_ms).Add(a.last_failure_ms))
            .status());
    return true;
  });
  return done.status();
}

Status PostgresStore::RecordLoginSuccess(const std::string& username, const std::string& address) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db
      .RunOnce((std::string("WITH forgiven AS (DELETE FROM login_failures WHERE key = $1) "
                            "INSERT INTO login_known(pair, at) VALUES($1, ") +
                kNowMs + ") ON CONFLICT (pair) DO UPDATE SET at = excluded.at")
                   .c_str(),
               Args().Add(ThrottlePairKey(username, address)))
      .status();
}

Result<int64_t> PostgresStore::TakeRegistration(const std::string& address, int64_t per_minute) {
  if (per_minute <= 0) return int64_t{0};
  const double rate = static_cast<double>(per_minute) / 60.0;
  const double burst = static_cast<double>(per_minute);
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.Transaction([&]() -> Result<int64_t> {
    RETURN_IF_ERROR(db.Run((std::string("INSERT INTO registrations(address, tokens, at) "
                                        "VALUES($1, $2::double precision, ") +
                            kNowMs + ") ON CONFLICT (address) DO NOTHING")
                               .c_str(),
                           Args().Add(address).Add(std::to_string(burst)))
                        .status());
    ASSIGN_OR_RETURN(Rows r, db.Run((std::string("SELECT tokens, at, ") + kNowMs +
                                     " FROM registrations WHERE address = $1 FOR UPDATE")
                                        .c_str(),
                                    Args().Add(address)));
    if (r.size() == 0) return Internal("a registration count vanished");
    double tokens = std::stod(r.Text(0, 0));
    const int64_t now_ms = r.Int(0, 2);
    const int64_t wait_ms =
        TakeFromBucket(&tokens, rate, burst, static_cast<double>(now_ms - r.Int(0, 1)) / 1000.0);
    RETURN_IF_ERROR(db.Run("UPDATE registrations SET tokens = $2::double precision, at = $3 "
                           "WHERE address = $1",
                           Args().Add(address).Add(std::to_string(tokens)).Add(now_ms))
                        .status());
    return wait_ms;
  });
}

Status PostgresStore::ForgetOldCounts(int64_t known_for_ms) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  const std::string now = kNowMs;
  RETURN_IF_ERROR(db.RunOnce(("DELETE FROM login_failures WHERE last_failure < " + now + " - $1")
                                 .c_str(),
                             Args().Add(int64_t{ThrottlePolicy::kForgetAfterMs}))
                      .status());
  RETURN_IF_ERROR(db.RunOnce(("DELETE FROM login_known WHERE at < " + now + " - $1").c_str(),
                             Args().Add(known_for_ms))
                      .status());
  // A bucket untouched for an hour is full again at any rate allowed.
  return db.RunOnce(("DELETE FROM registrations WHERE at < " + now + " - 3600000").c_str())
      .status();
}

Result<ReplicaStore::CaPems> PostgresStore::SharedCa(const CaPems& made) {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  RETURN_IF_ERROR(db.RunOnce("INSERT INTO network_ca(id, key_pem, cert_pem) VALUES(1, $1, $2) "
                             "ON CONFLICT (id) DO NOTHING",
                             Args().Add(made.key_pem).Add(made.cert_pem))
                      .status());
  ASSIGN_OR_RETURN(Rows r, db.Run("SELECT key_pem, cert_pem FROM network_ca WHERE id = 1"));
  if (r.size() == 0) return Internal("the network's CA vanished from the database");
  return CaPems{r.Text(0, 0), r.Text(0, 1)};
}

Status PostgresStore::Ping() {
  ASSIGN_OR_RETURN(Lease db, Acquire());
  return db.RunOnce("SELECT 1").status();
}

std::string QueryToLike(const std::string& query) {
  std::string like = "%";
  for (char c : AsciiLower(query)) {
    if (c == '*') {
      if (like.back() != '%') like += '%';
    } else if (c == '?') {
      like += '_';
    } else {
      if (c == '%' || c == '_' || c == '\\') like += '\\';
      like += c;
    }
  }
  if (like.back() != '%') like += '%';
  return like;
}

}  // namespace p2pshare::central
