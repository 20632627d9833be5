#include "common/directory_client.h"

#include <httplib.h>

namespace p2pshare {
namespace {

constexpr char kApi[] = "/api/v1";

Status ErrorFromResponse(const httplib::Response& res) {
  Code code = CodeForHttpStatus(res.status);
  std::string reason, message;
  Json j = Json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) reason = j["error"].get<std::string>();
    if (j.contains("message") && j["message"].is_string()) message = j["message"].get<std::string>();
  }
  if (message.empty()) message = "HTTP " + std::to_string(res.status);
  if (code == Code::kOk) code = Code::kUnknown;
  return Status(code, message, reason);
}

}  // namespace

DirectoryClient::DirectoryClient(std::string base_url, DirectoryClientOptions options)
    : base_url_(std::move(base_url)),
      options_(options),
      http_(std::make_unique<httplib::Client>(base_url_)) {
  http_->set_connection_timeout(options_.connect_timeout);
  http_->set_read_timeout(options_.timeout);
  http_->set_write_timeout(options_.timeout);
  http_->set_keep_alive(true);
  http_->set_tcp_nodelay(true);
}

DirectoryClient::~DirectoryClient() = default;

void DirectoryClient::set_token(std::string token) {
  std::lock_guard<std::mutex> lock(mu_);
  token_ = std::move(token);
}

std::string DirectoryClient::token() const {
  std::lock_guard<std::mutex> lock(mu_);
  return token_;
}

Result<Json> DirectoryClient::Call(const std::string& method, const std::string& path,
                                   const Json* body, bool with_token) {
  if (!http_->is_valid()) {
    return InvalidArgument("central_url '" + base_url_ + "' is not a valid http URL");
  }
  httplib::Request req;
  req.method = method;
  req.path = path.rfind("/healthz", 0) == 0 ? path : kApi + path;
  if (with_token) {
    std::string token = this->token();
    if (!token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
  }
  if (body != nullptr) {
    req.body = body->dump();
    req.headers.emplace("Content-Type", "application/json");
  }
  httplib::Result res = http_->send(req);
  if (!res) {
    return Unavailable("central at " + base_url_ + " is unreachable (" +
                           httplib::to_string(res.error()) + ")",
                       "unreachable");
  }
  if (res->status < 200 || res->status >= 300) return ErrorFromResponse(*res);
  if (res->status == 204 || res->body.empty()) return Json::object();
  Json j = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Internal("central sent a reply that is not JSON");
  return j;
}

Result<std::string> DirectoryClient::Register(const std::string& username,
                                              const std::string& password) {
  Json body{{"username", username}, {"password", password}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/register", &body, false));
  return FieldReader(reply).String("username");
}

Result<LoginReply> DirectoryClient::Login(const LoginRequest& request) {
  Json body = ToJson(request);
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/login", &body, false));
  ASSIGN_OR_RETURN(LoginReply login, LoginReplyFromJson(reply));
  set_token(login.token);
  return login;
}

Status DirectoryClient::Logout() { return Call("POST", "/logout", nullptr, true).status(); }

Status DirectoryClient::Healthz() { return Call("GET", "/healthz", nullptr, false).status(); }

bool CentralUnavailable(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kInternal:
    case Code::kDeadlineExceeded:
    case Code::kUnknown:
      return s.reason() != "no_free_port" && s.reason() != "no_peer_available";
    default:
      return false;
  }
}

Result<HeartbeatReply> DirectoryClient::Heartbeat(const HeartbeatRequest& request) {
  Json body = ToJson(request);
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/heartbeat", &body, true));
  return HeartbeatReplyFromJson(reply);
}

Result<int64_t> DirectoryClient::ReplaceIndex(const std::vector<FileEntry>& files) {
  // Split into bodies of at most max_body_bytes: PUT the first, PATCH the rest.
  size_t i = 0;
  bool first = true;
  int64_t count = 0;
  do {
    Json batch = Json::array();
    size_t bytes = 64;
    for (; i < files.size(); ++i) {
      Json entry = ToJson(files[i]);
      size_t entry_bytes = entry.dump().size() + 1;
      if (!batch.empty() && bytes + entry_bytes > options_.max_body_bytes) break;
      bytes += entry_bytes;
      batch.push_back(std::move(entry));
    }
    Json body = first ? Json{{"files", std::move(batch)}}
                      : Json{{"added", std::move(batch)}, {"removed", Json::array()}};
    ASSIGN_OR_RETURN(Json reply, Call(first ? "PUT" : "PATCH", "/index", &body, true));
    ASSIGN_OR_RETURN(count, FieldReader(reply).Int("count"));
    first = false;
  } while (i < files.size());
  return count;
}

Result<int64_t> DirectoryClient::PatchIndex(const std::vector<FileEntry>& added,
                                            const std::vector<std::string>& removed) {
  Json add = Json::array();
  for (const auto& f : added) add.push_back(ToJson(f));
  Json body{{"added", std::move(add)}, {"removed", removed}};
  ASSIGN_OR_RETURN(Json reply, Call("PATCH", "/index", &body, true));
  return FieldReader(reply).Int("count");
}

Result<SearchPage> DirectoryClient::Search(const std::string& query, int64_t limit,
                                           int64_t offset) {
  httplib::Params params{{"q", query},
                         {"limit", std::to_string(limit)},
                         {"offset", std::to_string(offset)}};
  std::string path = httplib::append_query_params("/search", params);
  ASSIGN_OR_RETURN(Json reply, Call("GET", path, nullptr, true));
  return SearchPageFromJson(reply);
}

Result<std::optional<FileResult>> DirectoryClient::FindFile(const std::string& sha256) {
  auto reply = Call("GET", "/files/" + httplib::detail::encode_query_param(sha256), nullptr, true);
  if (!reply.ok()) {
    if (reply.status().code() == Code::kNotFound) return std::optional<FileResult>();
    return reply.status();
  }
  ASSIGN_OR_RETURN(FileResult r, FileResultFromJson(*reply, "file"));
  return std::optional<FileResult>(std::move(r));
}

Result<std::vector<PeerInfo>> DirectoryClient::Peers() {
  ASSIGN_OR_RETURN(Json reply, Call("GET", "/peers", nullptr, true));
  ASSIGN_OR_RETURN(const Json* peers, FieldReader(reply).Array("peers"));
  std::vector<PeerInfo> out;
  for (size_t i = 0; i < peers->size(); ++i) {
    ASSIGN_OR_RETURN(PeerInfo p, PeerInfoFromJson((*peers)[i], "peers[" + std::to_string(i) + "]"));
    out.push_back(std::move(p));
  }
  return out;
}

Result<Holder> DirectoryClient::UploadTarget(const std::string& name, int64_t size) {
  Json body{{"name", name}, {"size", size}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/upload-target", &body, true));
  return HolderFromJson(reply, "");
}

Result<std::string> DirectoryClient::Verify(const std::string& caller_token) {
  Json body{{"token", caller_token}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/verify", &body, true));
  return FieldReader(reply).String("username");
}

Result<StatsReply> DirectoryClient::Stats() {
  ASSIGN_OR_RETURN(Json reply, Call("GET", "/stats", nullptr, true));
  return StatsReplyFromJson(reply);
}

Status DirectoryClient::Health() { return Call("GET", "/healthz", nullptr, false).status(); }

}  // namespace p2pshare
