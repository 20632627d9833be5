#include "common/directory_types.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "common/hex.h"
#include "common/host_port.h"
#include "common/names.h"

namespace p2pshare {
namespace {

std::string Item(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Result<int> PortField(const FieldReader& r, const char* key) {
  ASSIGN_OR_RETURN(int64_t port, r.Int(key));
  if (port < 0 || port > 65535) return BadField(r.Name(key), "a port number 0-65535");
  return static_cast<int>(port);
}

// An optional hash-tree root: 64 lowercase hex digits when present.
Result<std::string> RootField(const FieldReader& r) {
  ASSIGN_OR_RETURN(std::optional<std::string> root, r.OptionalString("root"));
  if (root && !IsSha256Hex(*root)) return BadField(r.Name("root"), "64 lowercase hex digits");
  return root.value_or("");
}

}  // namespace

Json ToJson(const FileEntry& f) {
  Json j{{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}};
  if (!f.root.empty()) j["root"] = f.root;
  return j;
}

Result<FileEntry> FileEntryFromJson(const Json& j, const std::string& path) {
  if (!j.is_object()) return BadField(path, "an object {name, size, sha256}");
  FieldReader r(j, path);
  FileEntry f;
  ASSIGN_OR_RETURN(f.name, r.String("name"));
  // Only what a peer may share: a name inside .p2pshare/ or a .part can
  // be no honest peer's, and would be a client's to write (names.h).
  Status name_ok = CheckSharedName(f.name);
  if (!name_ok.ok()) return InvalidArgument("field '" + r.Name("name") + "': " + name_ok.message(), "bad_name");
  ASSIGN_OR_RETURN(f.size, r.Int("size"));
  if (f.size < 0) return BadField(r.Name("size"), "0 or more");
  ASSIGN_OR_RETURN(f.sha256, r.String("sha256"));
  if (!IsSha256Hex(f.sha256)) return BadField(r.Name("sha256"), "64 lowercase hex digits");
  ASSIGN_OR_RETURN(f.root, RootField(r));
  return f;
}

Result<std::vector<FileEntry>> FileEntriesFromJson(const Json& array, const std::string& path) {
  std::vector<FileEntry> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    ASSIGN_OR_RETURN(FileEntry f, FileEntryFromJson(array[i], Item(path, i)));
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<std::string>> FileNamesFromJson(const Json& array, const std::string& path) {
  std::vector<std::string> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string field = Item(path, i);
    if (!array[i].is_string()) return BadField(field, "a file name");
    std::string name = array[i].get<std::string>();
    Status ok = CheckFileName(name);
    if (!ok.ok()) return InvalidArgument("field '" + field + "': " + ok.message());
    out.push_back(std::move(name));
  }
  return out;
}

Json ToJson(const Holder& h) {
  Json j{{"username", h.username}, {"host", h.host}, {"port", h.port}};
  if (!h.root.empty()) j["root"] = h.root;
  if (h.size >= 0) j["size"] = h.size;
  if (h.partial) {
    j["partial"] = true;
    j["have"] = h.have;
  }
  return j;
}

Result<Holder> HolderFromJson(const Json& j, const std::string& path) {
  FieldReader r(j, path);
  Holder h;
  ASSIGN_OR_RETURN(h.username, r.String("username"));
  ASSIGN_OR_RETURN(h.host, r.String("host"));
  ASSIGN_OR_RETURN(h.port, PortField(r, "port"));
  ASSIGN_OR_RETURN(h.root, RootField(r));
  ASSIGN_OR_RETURN(auto size, r.OptionalInt("size"));
  if (size && *size < 0) return BadField(r.Name("size"), "0 or more");
  h.size = size.value_or(-1);
  if (j.contains("partial")) {
    ASSIGN_OR_RETURN(h.partial, r.Bool("partial"));
  }
  if (h.partial) {
    ASSIGN_OR_RETURN(h.have, r.Int("have"));
    if (h.have < 0) return BadField(r.Name("have"), "0 or more");
  }
  return h;
}

Json ToJson(const FileResult& res) {
  Json holders = Json::array();
  for (const auto& h : res.holders) holders.push_back(ToJson(h));
  return Json{{"name", res.name}, {"size", res.size}, {"sha256", res.sha256},
              {"holders", std::move(holders)},
              {"holders_total", std::max<int64_t>(res.holders_total, static_cast<int64_t>(res.holders.size()))}};
}

Result<FileResult> FileResultFromJson(const Json& j, const std::string& path) {
  ASSIGN_OR_RETURN(FileEntry f, FileEntryFromJson(j, path));
  FieldReader r(j, path);
  FileResult res{f.name, f.size, f.sha256, {}};
  ASSIGN_OR_RETURN(const Json* holders, r.Array("holders"));
  for (size_t i = 0; i < holders->size(); ++i) {
    ASSIGN_OR_RETURN(Holder h, HolderFromJson((*holders)[i], Item(r.Name("holders"), i)));
    res.holders.push_back(std::move(h));
  }
  res.holders_total = static_cast<int64_t>(res.holders.size());
  ASSIGN_OR_RETURN(std::optional<int64_t> total, r.OptionalInt("holders_total"));
  if (total) res.holders_total = std::max(*total, res.holders_total);
  return res;
}

Json ToJson(const SearchPage& p) {
  Json results = Json::array();
  for (const auto& r : p.results) results.push_back(ToJson(r));
  Json j{{"total", p.total}, {"total_exact", p.total_exact}, {"results", std::move(results)}};
  if (!p.suggestion.empty()) j["suggestion"] = p.suggestion;
  if (!p.searched.empty()) j["searched"] = p.searched;
  return j;
}

namespace {

// `s` as a JSON string: printable ASCII but '"' and '\\' as it is, anything
// else as nlohmann-json escapes it (control bytes, invalid UTF-8).
void AppendJsonString(std::string& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
  });
  if (!plain) {
    out += Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

// Writes one JSON object's fields in the order given (nlohmann-json writes
// an object's keys sorted: callers give them so).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~ObjectWriter() { out_ += '}'; }
  void Field(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(out_, value);
  }
  void Field(std::string_view key, int64_t value) {
    Key(key);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, end);
  }
  void Field(std::string_view key, bool value) {
    Key(key);
    out_ += value ? "true" : "false";
  }
  // The key of an array's field; the caller writes the array.
  void Key(std::string_view key) {
    out_ += first_ ? "\"" : ",\"";
    first_ = false;
    out_ += key;
    out_ += "\":";
  }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace

std::string DumpSearchPage(const SearchPage& p) {
  std::string out;
  size_t guess = 64;
  for (const auto& r : p.results) guess += 160 + r.name.size() + 64 * r.holders.size();
  out.reserve(guess);
  {
    ObjectWriter page(out);
    page.Key("results");
    out += '[';
    for (size_t i = 0; i < p.results.size(); ++i) {
      const FileResult& r = p.results[i];
      if (i > 0) out += ',';
      ObjectWriter result(out);
      result.Key("holders");
      out += '[';
      for (size_t k = 0; k < r.holders.size(); ++k) {
        if (k > 0) out += ',';
        ObjectWriter holder(out);
        holder.Field("host", r.holders[k].host);
        holder.Field("port", int64_t{r.holders[k].port});
        holder.Field("username", r.holders[k].username);
      }
      out += ']';
      result.Field("holders_total", std::max<int64_t>(r.holders_total, static_cast<int64_t>(r.holders.size())));
      result.Field("name", r.name);
      result.Field("sha256", r.sha256);
      result.Field("size", r.size);
    }
    out += ']';
    if (!p.searched.empty()) page.Field("searched", p.searched);
    if (!p.suggestion.empty()) page.Field("suggestion", p.suggestion);
    page.Field("total", p.total);
    page.Field("total_exact", p.total_exact);
  }  // the page's closing brace
  return out;
}

Json ToJson(const WishInfo& w) {
  Json j{{"id", w.id}, {"query", w.query}, {"created", w.created}};
  if (w.matching_now > 0) j["matching_now"] = w.matching_now;
  return j;
}

Result<WishInfo> WishInfoFromJson(const Json& j) {
  FieldReader r(j);
  WishInfo w;
  ASSIGN_OR_RETURN(w.id, r.Int("id"));
  ASSIGN_OR_RETURN(w.query, r.String("query"));
  ASSIGN_OR_RETURN(w.created, r.Int("created"));
  ASSIGN_OR_RETURN(auto now, r.OptionalInt("matching_now"));
  w.matching_now = now.value_or(0);
  return w;
}

Result<SearchPage> SearchPageFromJson(const Json& j) {
  FieldReader r(j);
  SearchPage page;
  ASSIGN_OR_RETURN(page.total, r.Int("total"));
  if (j.contains("total_exact")) {
    ASSIGN_OR_RETURN(page.total_exact, r.Bool("total_exact"));
  }
  ASSIGN_OR_RETURN(auto suggestion, r.OptionalString("suggestion"));
  ASSIGN_OR_RETURN(auto searched, r.OptionalString("searched"));
  page.suggestion = suggestion.value_or("");
  page.searched = searched.value_or("");
  ASSIGN_OR_RETURN(const Json* results, r.Array("results"));
  for (size_t i = 0; i < results->size(); ++i) {
    ASSIGN_OR_RETURN(FileResult res, FileResultFromJson((*results)[i], Item("results", i)));
    page.results.push_back(std::move(res));
  }
  return page;
}

Json ServingToJson(const std::vector<ServingTo>& serving) {
  Json list = Json::array();
  for (const ServingTo& s : serving) list.push_back(Json{{"to", s.to}, {"rate", s.rate}});
  return list;
}

Result<std::vector<ServingTo>> ServingFromJson(const Json& list, const std::string& path) {
  if (list.size() > kMaxServingReported) {
    return BadField(path, "at most " + std::to_string(kMaxServingReported) + " downloads");
  }
  std::vector<ServingTo> out;
  for (size_t i = 0; i < list.size(); ++i) {
    FieldReader e(list[i], Item(path, i));
    ServingTo s;
    ASSIGN_OR_RETURN(s.to, e.String("to"));
    if (!CheckUsername(s.to).ok()) return BadField(e.Name("to"), "an account name");
    ASSIGN_OR_RETURN(s.rate, e.Int("rate"));
    if (s.rate < 0) return BadField(e.Name("rate"), "0 or more");
    out.push_back(std::move(s));
  }
  return out;
}

Json ToJson(const PeerInfo& p) {
  return Json{{"username", p.username}, {"host", p.host},   {"port", p.port},
              {"files", p.files},       {"bytes", p.bytes}, {"last_seen", p.last_seen},
              {"active_transfers", p.active_transfers}, {"sending_rate", p.sending_rate},
              {"receiving_rate", p.receiving_rate}, {"reachable", p.reachable},
              {"serving", ServingToJson(p.serving)}};
}

Result<PeerInfo> PeerInfoFromJson(const Json& j, const std::string& path) {
  FieldReader r(j, path);
  PeerInfo p;
  ASSIGN_OR_RETURN(p.username, r.String("username"));
  ASSIGN_OR_RETURN(p.host, r.String("host"));
  ASSIGN_OR_RETURN(p.port, PortField(r, "port"));
  ASSIGN_OR_RETURN(p.files, r.Int("files"));
  ASSIGN_OR_RETURN(p.bytes, r.Int("bytes"));
  ASSIGN_OR_RETURN(p.last_seen, r.String("last_seen"));
  ASSIGN_OR_RETURN(auto transfers, r.OptionalInt("active_transfers"));
  ASSIGN_OR_RETURN(auto sending, r.OptionalInt("sending_rate"));
  ASSIGN_OR_RETURN(auto receiving, r.OptionalInt("receiving_rate"));
  p.active_transfers = transfers.value_or(0);
  p.sending_rate = sending.value_or(0);
  p.receiving_rate = receiving.value_or(0);
  ASSIGN_OR_RETURN(auto reachable, r.OptionalString("reachable"));
  p.reachable = reachable.value_or("");
  ASSIGN_OR_RETURN(const Json* serving, r.OptionalArray("serving"));
  if (serving != nullptr) {
    ASSIGN_OR_RETURN(p.serving, ServingFromJson(*serving, r.Name("serving")));
  }
  return p;
}

Json ToJson(const ReachabilityReply& r) {
  return Json{{"reachable", r.reachable}, {"host", r.host}, {"port", r.port}, {"reason", r.reason}};
}

Result<ReachabilityReply> ReachabilityReplyFromJson(const Json& j) {
  FieldReader r(j, "reachability");
  ReachabilityReply out;
  ASSIGN_OR_RETURN(out.reachable, r.String("reachable"));
  ASSIGN_OR_RETURN(out.host, r.String("host"));
  ASSIGN_OR_RETURN(out.port, PortField(r, "port"));
  ASSIGN_OR_RETURN(out.reason, r.String("reason"));
  return out;
}

Json ToJson(const RelayTicket& t) {
  return Json{{"host", t.host}, {"port", t.port}, {"token", t.token}, {"peer", t.peer}};
}

Result<RelayTicket> RelayTicketFromJson(const Json& j) {
  FieldReader r(j, "relay ticket");
  RelayTicket out;
  ASSIGN_OR_RETURN(out.host, r.String("host"));
  ASSIGN_OR_RETURN(out.port, PortField(r, "port"));
  ASSIGN_OR_RETURN(out.token, r.String("token"));
  ASSIGN_OR_RETURN(out.peer, r.String("peer"));
  if (!out.host.empty() && !IsHostName(out.host)) {
    return InvalidArgument("the relay ticket's host is not a host name");
  }
  if (out.token.size() != 32 || out.token.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument("the relay ticket's token is not 32 hex digits");
  }
  return out;
}

Json ToJson(const LoginRequest& req) {
  Json j{{"username", req.username}, {"password", req.password}};
  if (req.host) j["host"] = *req.host;
  if (req.preferred_port) j["preferred_port"] = *req.preferred_port;
  if (!req.exclude_ports.empty()) j["exclude_ports"] = req.exclude_ports;
  if (req.csr) j["csr"] = *req.csr;
  if (req.client) j["client"] = true;
  return j;
}

Result<LoginRequest> LoginRequestFromJson(const Json& j) {
  FieldReader r(j);
  LoginRequest req;
  ASSIGN_OR_RETURN(req.username, r.String("username"));
  ASSIGN_OR_RETURN(req.password, r.String("password"));
  ASSIGN_OR_RETURN(req.host, r.OptionalString("host"));
  ASSIGN_OR_RETURN(req.preferred_port, r.OptionalInt("preferred_port"));
  if (req.preferred_port && (*req.preferred_port < 1 || *req.preferred_port > 65535)) {
    return BadField("preferred_port", "a port number 1-65535");
  }
  ASSIGN_OR_RETURN(const Json* exclude, r.OptionalArray("exclude_ports"));
  if (exclude != nullptr) {
    if (exclude->size() > 1000) return BadField("exclude_ports", "at most 1000 ports");
    for (const Json& p : *exclude) {
      if (!p.is_number_integer() || p.get<int64_t>() < 1 || p.get<int64_t>() > 65535) {
        return BadField("exclude_ports", "a list of port numbers 1-65535");
      }
      req.exclude_ports.push_back(p.get<int64_t>());
    }
  }
  if (req.host && !IsHostName(*req.host)) {
    return BadField("host", "an IP address or a DNS name (letters, digits, '-' and '.')");
  }
  ASSIGN_OR_RETURN(req.csr, r.OptionalString("csr"));
  ASSIGN_OR_RETURN(auto client, r.OptionalBool("client"));
  req.client = client.value_or(false);
  return req;
}

Json ToJson(const LoginReply& r) {
  return Json{{"token", r.token},
              {"username", r.username},
              {"host", r.host},
              {"port", r.port},
              {"joined", r.joined},
              {"heartbeat_interval_s", r.heartbeat_interval_s},
              {"session_ttl_s", r.session_ttl_s},
              {"friends", r.friends},
              {"certificate", r.certificate},
              {"ca", r.ca},
              {"revoked", r.revoked},
              {"revoked_seq", r.revoked_seq},
              {"revoked_more", r.revoked_more}};
}

namespace {

// An optional array of strings (absent: none), each passing `ok`, which
// `what` describes.
Result<std::vector<std::string>> StringsField(const FieldReader& r, const char* key,
                                              bool (*ok)(const std::string&), const char* what) {
  std::vector<std::string> out;
  ASSIGN_OR_RETURN(const Json* list, r.OptionalArray(key));
  if (list == nullptr) return out;
  if (list->size() > 100000) return BadField(key, "a list of at most 100000 items");
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_string() || !ok((*list)[i].get_ref<const std::string&>())) {
      return BadField(Item(key, i), what);
    }
    out.push_back((*list)[i].get<std::string>());
  }
  return out;
}

// Friend addresses: "host:port".
Result<std::vector<std::string>> FriendsField(const FieldReader& r) {
  return StringsField(
      r, "friends", [](const std::string& s) { return ParseHostPort(s).ok(); }, "host:port");
}

// Certificate serials: up to 40 hex digits (160 bits).
Result<std::vector<std::string>> RevokedField(const FieldReader& r) {
  return StringsField(
      r, "revoked",
      [](const std::string& s) {
        return !s.empty() && s.size() <= 40 && HexDecode(s.size() % 2 ? "0" + s : s).has_value();
      },
      "a certificate serial in hex");
}

}  // namespace

Json ToJson(const NetworkEvent& e) {
  return Json{{"id", e.id}, {"unix_ms", e.unix_ms}, {"kind", e.kind}, {"username", e.username},
              {"detail", e.detail}};
}

Json ToJson(const HeartbeatReply& r) {
  Json j{{"session_ttl_s", r.session_ttl_s},
         {"friends", r.friends},
         {"revoked", r.revoked},
         {"revoked_seq", r.revoked_seq},
         {"revoked_more", r.revoked_more}};
  if (!r.certificate.empty()) j["certificate"] = r.certificate;
  return j;
}

Result<HeartbeatReply> HeartbeatReplyFromJson(const Json& j) {
  FieldReader r(j);
  HeartbeatReply out;
  ASSIGN_OR_RETURN(out.session_ttl_s, r.Int("session_ttl_s"));
  ASSIGN_OR_RETURN(out.friends, FriendsField(r));
  ASSIGN_OR_RETURN(auto cert, r.OptionalString("certificate"));
  out.certificate = cert.value_or("");
  ASSIGN_OR_RETURN(out.revoked, RevokedField(r));
  ASSIGN_OR_RETURN(auto seq, r.OptionalInt("revoked_seq"));
  out.revoked_seq = seq.value_or(0);
  ASSIGN_OR_RETURN(auto more, r.OptionalBool("revoked_more"));
  out.revoked_more = more.value_or(false);
  return out;
}

Result<LoginReply> LoginReplyFromJson(const Json& j) {
  FieldReader r(j);
  LoginReply out;
  ASSIGN_OR_RETURN(out.token, r.String("token"));
  ASSIGN_OR_RETURN(out.username, r.String("username"));
  ASSIGN_OR_RETURN(out.host, r.String("host"));
  ASSIGN_OR_RETURN(out.port, PortField(r, "port"));
  ASSIGN_OR_RETURN(auto joined, r.OptionalBool("joined"));
  out.joined = joined.value_or(false);
  ASSIGN_OR_RETURN(out.heartbeat_interval_s, r.Int("heartbeat_interval_s"));
  ASSIGN_OR_RETURN(out.session_ttl_s, r.Int("session_ttl_s"));
  ASSIGN_OR_RETURN(out.friends, FriendsField(r));
  ASSIGN_OR_RETURN(auto cert, r.OptionalString("certificate"));
  out.certificate = cert.value_or("");
  ASSIGN_OR_RETURN(auto ca, r.OptionalString("ca"));
  out.ca = ca.value_or("");
  ASSIGN_OR_RETURN(out.revoked, RevokedField(r));
  ASSIGN_OR_RETURN(auto seq, r.OptionalInt("revoked_seq"));
  out.revoked_seq = seq.value_or(0);
  ASSIGN_OR_RETURN(auto more, r.OptionalBool("revoked_more"));
  out.revoked_more = more.value_or(false);
  return out;
}

Json ToJson(const HeartbeatRequest& r) {
  Json j = Json::object();
  if (r.free_bytes) j["free_bytes"] = *r.free_bytes;
  if (r.active_transfers) j["active_transfers"] = *r.active_transfers;
  if (r.sending_rate) j["sending_rate"] = *r.sending_rate;
  if (r.receiving_rate) j["receiving_rate"] = *r.receiving_rate;
  if (r.partials) {
    Json list = Json::array();
    for (const PartialFile& p : *r.partials) {
      Json e = ToJson(p.file);
      e["have"] = p.have;
      list.push_back(std::move(e));
    }
    j["partials"] = std::move(list);
  }
  if (r.revoked_after > 0) j["revoked_after"] = r.revoked_after;
  if (r.serving) j["serving"] = ServingToJson(*r.serving);
  return j;
}

Result<HeartbeatRequest> HeartbeatRequestFromJson(const Json& j) {
  FieldReader r(j);
  HeartbeatRequest req;
  ASSIGN_OR_RETURN(req.free_bytes, r.OptionalInt("free_bytes"));
  ASSIGN_OR_RETURN(req.active_transfers, r.OptionalInt("active_transfers"));
  if (req.free_bytes && *req.free_bytes < 0) return BadField("free_bytes", "0 or more");
  if (req.active_transfers && *req.active_transfers < 0) {
    return BadField("active_transfers", "0 or more");
  }
  ASSIGN_OR_RETURN(req.sending_rate, r.OptionalInt("sending_rate"));
  ASSIGN_OR_RETURN(req.receiving_rate, r.OptionalInt("receiving_rate"));
  if (req.sending_rate && *req.sending_rate < 0) return BadField("sending_rate", "0 or more");
  if (req.receiving_rate && *req.receiving_rate < 0) return BadField("receiving_rate", "0 or more");
  ASSIGN_OR_RETURN(auto revoked_after, r.OptionalInt("revoked_after"));
  if (revoked_after && *revoked_after < 0) return BadField("revoked_after", "0 or more");
  req.revoked_after = revoked_after.value_or(0);
  ASSIGN_OR_RETURN(const Json* partials, r.OptionalArray("partials"));
  if (partials != nullptr) {
    if (partials->size() > kMaxPartialFiles) {
      return BadField("partials", "at most " + std::to_string(kMaxPartialFiles) + " files");
    }
    std::vector<PartialFile> list;
    for (size_t i = 0; i < partials->size(); ++i) {
      const std::string path = Item("partials", i);
      ASSIGN_OR_RETURN(FileEntry f, FileEntryFromJson((*partials)[i], path));
      FieldReader e((*partials)[i], path);
      ASSIGN_OR_RETURN(int64_t have, e.Int("have"));
      if (f.root.empty()) return BadField(e.Name("root"), "the file's hash-tree root (a partial file needs one)");
      if (have < 0 || have > f.size) return BadField(e.Name("have"), "between 0 and the file's size");
      for (const PartialFile& p : list) {
        if (p.file.sha256 == f.sha256) return BadField(e.Name("sha256"), "each file once");
      }
      list.push_back(PartialFile{std::move(f), have});
    }
    req.partials = std::move(list);
  }
  ASSIGN_OR_RETURN(const Json* serving, r.OptionalArray("serving"));
  if (serving != nullptr) {
    ASSIGN_OR_RETURN(req.serving, ServingFromJson(*serving, "serving"));
  }
  return req;
}

Json ToJson(const StatsReply& s) {
  return Json{{"peers_online", s.peers_online}, {"accounts", s.accounts},
              {"files", s.files},               {"unique_files", s.unique_files},
              {"contents", s.contents},         {"bytes", s.bytes},
              {"requests", s.requests}};
}

Result<StatsReply> StatsReplyFromJson(const Json& j) {
  FieldReader r(j);
  StatsReply s;
  ASSIGN_OR_RETURN(s.peers_online, r.Int("peers_online"));
  ASSIGN_OR_RETURN(s.accounts, r.Int("accounts"));
  ASSIGN_OR_RETURN(s.files, r.Int("files"));
  ASSIGN_OR_RETURN(s.unique_files, r.Int("unique_files"));
  ASSIGN_OR_RETURN(s.contents, r.Int("contents"));
  ASSIGN_OR_RETURN(s.bytes, r.Int("bytes"));
  ASSIGN_OR_RETURN(s.requests, r.Int("requests"));
  return s;
}

}  // namespace p2pshare
