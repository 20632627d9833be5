// DirectoryStore: the directory's durable records — accounts, online peers,
// sessions, and the index of the files each online peer shares.
//
// Invariant kept by every backend: index entries exist only for online
// peers (RemovePeer drops a peer's index), so search needs no liveness join.
// Liveness itself (last heartbeat) is not stored: after a restart every peer
// gets a full TTL, so it lives in memory (central/sessions.h).
//
// Methods take and return the project's structs, never SQL. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/directory_types.h"
#include "common/status.h"

namespace p2pshare::central {

struct AccountRecord {
  std::string username;
  std::string password_hash;  // HashPassword() form
};

struct PeerRecord {
  std::string username;
  std::string host;
  int port = 0;
};

enum class SessionState { kActive = 0, kLoggedOut = 1, kExpired = 2 };

struct SessionRecord {
  std::string token_hash;  // TokenHash(token)
  std::string username;
  SessionState state = SessionState::kActive;
  std::string public_key;  // PEM of the key its certificates bind; empty: none asked
};

// A certificate central issued to a session (docs/protocol.md, "Trust").
struct CertificateRecord {
  std::string serial;  // lowercase hex
  std::string username;
  std::string token_hash;  // the session it was issued to
  int64_t not_after = 0;   // Unix seconds
};

// A revoked certificate, with its place in the order of revocations.
struct RevokedCertificate {
  int64_t seq = 0;
  std::string serial;
  int64_t not_after = 0;
  bool operator==(const RevokedCertificate&) const = default;
};

// An online peer with the totals of its index.
struct PeerTotals {
  PeerRecord peer;
  int64_t files = 0;
  int64_t bytes = 0;
};

struct StoreCounts {
  int64_t accounts = 0;
  int64_t peers = 0;
  int64_t files = 0;
  int64_t unique_files = 0;
  int64_t bytes = 0;
};

struct SearchQuery {
  std::string text;  // GET /search's `q`: substring, with * and ? as globs; "" = all
  int64_t limit = 50;
  int64_t offset = 0;
  SearchOptions options = {};
};

// A saved search of an account (docs/protocol.md, "Wishes";
// central/wish_book.h).
struct WishRecord {
  int64_t id = 0;
  std::string username;
  std::string query;
  std::string source;        // the address it was made from
  int64_t created_unix = 0;
  std::vector<uint64_t> seen = {};  // sha256 prefixes announced (or matching when made), oldest first
};

// How many wishes may be kept: per account, per source address, in all.
struct WishBounds {
  int64_t per_account = 0;
  int64_t per_address = 0;
  int64_t total = 0;
};

class ReplicaStore;

class DirectoryStore {
 public:
  // Opens (creating and migrating as needed) the store at `url`:
  // "postgresql://..." or "postgres://..." (PostgreSQL, shared by replicas),
  // else "sqlite:<path>" or a plain path (SQLite; the parent folder is
  // created).
  static Result<std::unique_ptr<DirectoryStore>> Open(const std::string& url);
  virtual ~DirectoryStore() = default;
  // What replicas share, when other central processes may open this store
  // too (central/store/replica_store.h); null when only this one does.
  virtual ReplicaStore* replica() { return nullptr; }

  // AlreadyExists "username_taken" when the name is taken.
  virtual Status CreateAccount(const AccountRecord& account) = 0;
  virtual Result<std::optional<AccountRecord>> FindAccount(const std::string& username) = 0;

  // Marks the peer online at host:port. AlreadyExists when the peer is
  // already online or the port is held on that host.
  virtual Status AddPeer(const PeerRecord& peer) = 0;
  // As AddPeer, for a login from `source` (a shared store tells the other
  // replicas, whose per-address limits count it).
  virtual Status AddPeerFrom(const PeerRecord& peer, const std::string& source) {
    (void)source;
    return AddPeer(peer);
  }
  virtual Result<std::optional<PeerRecord>> FindPeer(const std::string& username) = 0;
  virtual Result<std::vector<PeerRecord>> ListPeerRecords() = 0;
  virtual Result<std::set<int>> PortsInUse(const std::string& host) = 0;
  // Takes the peer offline: drops its index, ends its active sessions with
  // `end_state` and revokes its certificates that are still valid at
  // `now_unix`. Returns the record removed, nullopt if it was offline.
  virtual Result<std::optional<PeerRecord>> RemovePeer(const std::string& username,
                                                       SessionState end_state,
                                                       int64_t now_unix) = 0;

  virtual Status AddSession(const SessionRecord& session, int64_t now_unix) = 0;
  virtual Result<std::optional<SessionRecord>> FindSession(const std::string& token_hash) = 0;
  // Forgets ended sessions that ended before `before_unix`, and
  // certificates that expired before it.
  virtual Status PurgeEndedSessions(int64_t before_unix) = 0;

  virtual Status AddCertificate(const CertificateRecord& certificate) = 0;
  // The newest certificate issued to the session `token_hash`; nullopt when none.
  virtual Result<std::optional<CertificateRecord>> NewestCertificate(
      const std::string& token_hash) = 0;
  // Revoked certificates still valid at `now_unix` whose revocation came
  // after `after_seq`, in the order of revocation (RevokedCertificate::seq
  // grows with each logout or eviction that revokes; one revocation's
  // certificates share it). Revocations commit in the order of their seq.
  virtual Result<std::vector<RevokedCertificate>> RevokedAfter(int64_t after_seq, int64_t now_unix) = 0;

  // Replace / patch an online peer's index; return its file count after.
  // NotFound when the peer is not online. `added` entries replace entries of
  // the same name; `removed` names that are absent are ignored.
  virtual Result<int64_t> ReplaceIndex(const std::string& username,
                                       const std::vector<FileEntry>& files) = 0;
  virtual Result<int64_t> PatchIndex(const std::string& username,
                                     const std::vector<FileEntry>& added,
                                     const std::vector<std::string>& removed) = 0;

  // One result per (name, sha256), ordered by name then hash, with all
  // holders; `total` counts every match.
  // The files `username` holds (any order).
  virtual Result<std::vector<FileEntry>> ListFiles(const std::string& username) = 0;
  virtual Result<SearchPage> Search(const SearchQuery& query) = 0;
  // The file with this content (lowest name if it has several) and every
  // peer holding that content; nullopt when nobody does.
  virtual Result<std::optional<FileResult>> FindByHash(const std::string& sha256) = 0;
  virtual Result<std::vector<PeerTotals>> ListPeers() = 0;
  virtual Result<StoreCounts> Counts() = 0;
  virtual Result<int64_t> CountAccounts() = 0;

  // Wishes. AddWish fills in the id and time, unless a bound would be
  // passed: ResourceExhausted "too_many_wishes", saying which.
  virtual Result<WishRecord> AddWish(const WishRecord& wish, const WishBounds& bounds) = 0;
  // NotFound when `username` has no wish `id`.
  virtual Status RemoveWish(const std::string& username, int64_t id) = 0;
  // `username`'s wishes, or everyone's for "", by id.
  virtual Result<std::vector<WishRecord>> ListWishes(const std::string& username) = 0;
  virtual Status SetWishSeen(int64_t id, const std::vector<uint64_t>& seen) = 0;
};

// A wish's seen list as stored: 16 hex digits each, no separator.
std::string SeenToText(const std::vector<uint64_t>& seen);
std::vector<uint64_t> SeenFromText(const std::string& text);
// The message of a passed wish bound.
Status TooManyWishes(const std::string& which);

// The SQLite GLOB pattern for a search query (docs/protocol.md): ASCII-lowercased, '*' and '?'
// kept as wildcards, everything else literal, matched anywhere in the name
// (so "beat*mp3" finds "The Beatles - Help.mp3"). Compared against the
// lowercased name.
std::string QueryToGlob(const std::string& query);
// Whether a store URL names a PostgreSQL database.
bool IsPostgresUrl(const std::string& url);
// A store URL fit for a log line: a password in it is replaced by ***.
std::string RedactedStoreUrl(const std::string& url);
// ASCII lowercase.
std::string AsciiLower(std::string s);

}  // namespace p2pshare::central
