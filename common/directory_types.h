// The records of the directory REST API (docs/protocol.md) and their JSON
// forms.
// Central parses requests and writes replies with these; DirectoryClient
// does the reverse, so both sides agree by construction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_fields.h"
#include "common/status.h"

namespace p2pshare {

// One shared file of one peer.
struct FileEntry {
  std::string name;    // relative path, CheckFileName rules
  int64_t size = 0;    // bytes, >= 0
  std::string sha256;  // 64 lowercase hex
  std::string root = {};  // of its hash tree (common/hash_tree.h), 64 lowercase hex; empty: not told
  bool operator==(const FileEntry&) const = default;
};

// Where a file can be fetched: an online peer's gRPC endpoint.
struct Holder {
  std::string username;
  std::string host;
  int port = 0;
  // The hash-tree root this holder reports for the file (GET /files/{sha256}
  // only; empty elsewhere).
  std::string root = {};
  // A partial holder: a peer still downloading the file, serving the
  // pieces it has verified (docs/protocol.md, "Partial holders"); `have`:
  // the bytes it has.
  bool partial = false;
  int64_t have = 0;
  // The size this holder reports for the file (GET /files/{sha256} only;
  // -1 elsewhere): a holder whose claim is not the file's `size` holds
  // another version, or lies.
  int64_t size = -1;
  bool operator==(const Holder&) const = default;
};

// One search result: a (name, sha256) pair and its online holders.
struct FileResult {
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::vector<Holder> holders;
  int64_t holders_total = 0;  // search results list a few holders; this counts all
};

struct SearchPage {
  int64_t total = 0;  // results matching, over all pages; an estimate when !total_exact
  bool total_exact = true;
  std::vector<FileResult> results;
  // "Did you mean": the query with its rare words replaced by the closest
  // indexed ones, when it found little (empty: no suggestion).
  std::string suggestion = {};
  // The query searched instead of the one asked (`fuzzy`), or empty.
  std::string searched = {};
};

// A saved search (docs/protocol.md, "Wishes").
struct WishInfo {
  int64_t id = 0;
  std::string query;         // as central keeps it (folded, filters last)
  int64_t created = 0;       // unix seconds
  int64_t matching_now = 0;  // POST only: files it found when made (not news)
};

// How GET /search orders and widens a search (docs/protocol.md).
struct SearchOptions {
  std::string sort = "relevance";  // relevance, holders, size, name
  bool fuzzy = false;              // search the suggestion when the query finds little
};

// One download a peer-server serves: to whom, and how fast now (heartbeats'
// `serving`, GET /peers: the dashboard's transfers in flight).
struct ServingTo {
  std::string to;
  int64_t rate = 0;  // bytes a second
};
inline constexpr size_t kMaxServingReported = 64;

// An online peer as GET /peers lists it.
struct PeerInfo {
  std::string username;
  std::string host;
  int port = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  std::string last_seen;  // ISO 8601 UTC, e.g. 2026-11-21T14:16:00Z
  // As its last heartbeat reported them (clamped to what a peer can do).
  int64_t active_transfers = 0;
  int64_t sending_rate = 0;    // bytes a second
  int64_t receiving_rate = 0;  // bytes a second
  // Whether central reached it at host:port (docs/protocol.md,
  // "Reachability"): "direct", "mapped" (through the port its router
  // forwards), "reversed-only" (not reached: it connects out to peers that
  // can be reached; central runs no relay), "relayed-only" (that, or
  // through central's relay), or "" (not checked yet).
  std::string reachable = {};
  // The downloads it serves now, as its last heartbeat said.
  std::vector<ServingTo> serving = {};
};

// One side's admission to one relay session (POST /api/v1/rendezvous, and
// the channel's "relay" message; common/relay_link.h).
struct RelayTicket {
  std::string host;   // the relay's address ("": the host central is reached at)
  int port = 0;
  std::string token;  // 32 hex digits, good once, for seconds
  std::string peer;   // the account at the other end
};

// Central's check of a peer-server's address (POST /api/v1/reachability).
struct ReachabilityReply {
  std::string reachable;  // as PeerInfo::reachable
  std::string host;       // the address checked: what central lists
  int port = 0;
  std::string reason;     // why not, in plain words; empty when reached
};

struct LoginRequest {
  std::string username;
  std::string password;
  std::optional<std::string> host;
  std::optional<int64_t> preferred_port;
  // Ports this peer could not bind (taken by another program): never
  // handed out to it again in this login.
  std::vector<int64_t> exclude_ports;
  // A certificate request (PEM) for this peer's key: the reply then
  // carries a certificate for it.
  std::optional<std::string> csr = std::nullopt;
  // A client only (peer-client): a session and a certificate, but no port,
  // no place among the online peers, no login or eviction event — unless a
  // peer of the account is online, which it then joins.
  bool client = false;
};

struct LoginReply {
  std::string token;
  std::string username;
  std::string host;
  int port = 0;
  // The account was online already: this login joined that peer (its host
  // and port); a peer-server checks whether another one serves there. A
  // client login that joined nothing has port 0.
  bool joined = false;
  int64_t heartbeat_interval_s = 0;
  int64_t session_ttl_s = 0;
  // Friend peers central suggests ("host:port"; the online peers that
  // joined just before, as a ring); empty when no other peer is online.
  std::vector<std::string> friends;
  std::string certificate;           // for the login's csr (PEM); empty without one
  std::string ca;                    // the network's CA (PEM)
  // Serials of revoked certificates still valid, the oldest first, at
  // most 256 (docs/protocol.md, "Trust"); the cursor to send in the next
  // heartbeat; whether more are waiting (heartbeat again at once).
  std::vector<std::string> revoked;
  int64_t revoked_seq = 0;
  bool revoked_more = false;
};

struct HeartbeatReply {
  int64_t session_ttl_s = 0;
  std::vector<std::string> friends;  // as LoginReply's, as of now
  std::string certificate;           // a renewed certificate, or empty
  // As LoginReply's: what was revoked after the request's revoked_after.
  std::vector<std::string> revoked = {};
  int64_t revoked_seq = 0;
  bool revoked_more = false;
};

// A file a peer is downloading and serves in part (docs/protocol.md,
// "Partial holders"): the file (root required) and the bytes verified.
struct PartialFile {
  FileEntry file;
  int64_t have = 0;
  bool operator==(const PartialFile&) const = default;
};
// Partial files one peer may announce at once.
inline constexpr size_t kMaxPartialFiles = 64;

struct HeartbeatRequest {
  std::optional<int64_t> free_bytes = std::nullopt;
  std::optional<int64_t> active_transfers = std::nullopt;
  // Bytes a second its peer-server sent (served) and received (uploads to
  // it) since its last heartbeat: the dashboard's transfers.
  std::optional<int64_t> sending_rate = std::nullopt;
  std::optional<int64_t> receiving_rate = std::nullopt;
  // The files it is downloading and serves in part; absent: as before.
  std::optional<std::vector<PartialFile>> partials = std::nullopt;
  // The revocations it has heard of: the last reply's revoked_seq (0: none).
  int64_t revoked_after = 0;
  // The downloads its peer-server serves now (at most
  // kMaxServingReported); absent: as before.
  std::optional<std::vector<ServingTo>> serving = std::nullopt;
};

// Something that happened on the network, for the dashboard (GET /events).
struct NetworkEvent {
  int64_t id = 0;       // increasing from 1
  int64_t unix_ms = 0;  // when
  std::string kind;     // login, logout, eviction, upload
  std::string username;
  std::string detail;
  // What a reader without a token sees instead of `detail` (upload events
  // name no file there); not part of the JSON form.
  std::string public_detail;
};

struct StatsReply {
  int64_t peers_online = 0;
  int64_t accounts = 0;
  int64_t files = 0;         // index entries of online peers
  int64_t unique_files = 0;  // distinct (name, sha256) among them
  int64_t contents = 0;      // distinct sha256 among them: the dashboard's "distinct files"
  int64_t bytes = 0;         // sum of their sizes
  int64_t requests = 0;      // HTTP requests served since start
};

// JSON forms. The *FromJson functions check every field (names, sizes and
// hashes by the naming rules) and return InvalidArgument naming the field.
Json ToJson(const FileEntry& f);
Result<FileEntry> FileEntryFromJson(const Json& j, const std::string& path);
Json ServingToJson(const std::vector<ServingTo>& serving);
// At most kMaxServingReported entries, each {to: an account name, rate >= 0}.
Result<std::vector<ServingTo>> ServingFromJson(const Json& list, const std::string& path);
// A JSON array of file entries (e.g. "files" of PUT /index).
Result<std::vector<FileEntry>> FileEntriesFromJson(const Json& array, const std::string& path);
// A JSON array of file names (e.g. "removed" of PATCH /index).
Result<std::vector<std::string>> FileNamesFromJson(const Json& array, const std::string& path);
Json ToJson(const Holder& h);
Result<Holder> HolderFromJson(const Json& j, const std::string& path);
Json ToJson(const FileResult& r);
Result<FileResult> FileResultFromJson(const Json& j, const std::string& path);
Json ToJson(const SearchPage& p);
// The bytes of ToJson(p).dump() (invalid UTF-8 replaced), written directly:
// search replies are central's most frequent output, and building the
// JSON tree first cost more than the search.
std::string DumpSearchPage(const SearchPage& p);
Json ToJson(const WishInfo& w);
Result<WishInfo> WishInfoFromJson(const Json& j);
Result<SearchPage> SearchPageFromJson(const Json& j);
Json ToJson(const PeerInfo& p);
Result<PeerInfo> PeerInfoFromJson(const Json& j, const std::string& path);
Json ToJson(const ReachabilityReply& r);
Json ToJson(const RelayTicket& t);
Result<RelayTicket> RelayTicketFromJson(const Json& j);
Result<ReachabilityReply> ReachabilityReplyFromJson(const Json& j);
Json ToJson(const LoginRequest& r);
Result<LoginRequest> LoginRequestFromJson(const Json& j);
Json ToJson(const LoginReply& r);
Result<LoginReply> LoginReplyFromJson(const Json& j);
Json ToJson(const HeartbeatReply& r);
Result<HeartbeatReply> HeartbeatReplyFromJson(const Json& j);
Json ToJson(const HeartbeatRequest& r);
Result<HeartbeatRequest> HeartbeatRequestFromJson(const Json& j);
Json ToJson(const StatsReply& s);
Json ToJson(const NetworkEvent& e);
Result<StatsReply> StatsReplyFromJson(const Json& j);

}  // namespace p2pshare
