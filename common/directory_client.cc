#include "common/directory_client.h"

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <mutex>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/central_trust.h"
#include "common/mutex.h"
#include "common/x509.h"

namespace p2pshare {
namespace {

constexpr char kApi[] = "/api/v1";
// A kept-alive connection idle this long is not reused: central closes
// connections idle for 30 s (a request sent on one it has just closed
// would fail as if central were down).
constexpr int64_t kIdleReconnectMs = 20000;

// Why the last TLS handshake on this thread refused central's certificate.
thread_local std::string tls_refusal;

// OpenSSL's check of each certificate of central's chain: the chain must
// end at the trusted CA (OpenSSL's verdict), and the leaf must be central's
// own certificate — a peer's certificate, from the same CA, is refused.
int VerifyCentral(int preverify_ok, X509_STORE_CTX* ctx) {
  if (!preverify_ok) {
    tls_refusal = std::string("its certificate is not from the trusted CA (") +
                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)) + ")";
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(ctx) != 0) return 1;
  X509* leaf = X509_STORE_CTX_get_current_cert(ctx);
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
  if (std::string(cn) != kCentralCommonName) {
    tls_refusal = "it presents the certificate of '" + std::string(cn) + "', not central's";
    return 0;
  }
  return 1;
}

// Trusts exactly the CA of `ca_pem` for connections made with `ctx`.
void TrustOnly(SSL_CTX* ctx, const std::string& ca_pem) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  X509_STORE* store = X509_STORE_new();
  AddPemCertificates(store, ca_pem);
  SSL_CTX_set_cert_store(ctx, store);  // takes it
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyCentral);
}

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
    : base_url_(std::move(base_url)), options_(options) {
  // OpenSSL writes to the socket without MSG_NOSIGNAL: a TLS write to a
  // connection central already closed must be an error to retry, not a
  // SIGPIPE that ends the process.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  auto url = ParseCentralUrl(base_url_);
  if (url.ok()) {
    https_ = url->https;
    host_ = url->host;
    // Built from host and port, not from the URL: cpp-httplib 0.11's URL
    // parser takes only digits in a bracketed IPv6 host ("[fd00::1]" fails).
    if (https_) {
      auto tls = std::make_unique<httplib::SSLClient>(url->host, url->port);
      // Verified by VerifyCentral, not by host name (httplib's own check).
      tls->enable_server_certificate_verification(false);
      TrustOnly(tls->ssl_context(), options_.ca_pem);
      http_ = std::move(tls);
    } else {
      http_ = std::make_unique<httplib::ClientImpl>(url->host, url->port);
    }
  }
  if (!http_) return;
  http_->set_connection_timeout(options_.connect_timeout);
  http_->set_read_timeout(options_.timeout);
  http_->set_write_timeout(options_.timeout);
  http_->set_keep_alive(true);
  http_->set_tcp_nodelay(true);
}

DirectoryClient::~DirectoryClient() = default;

void DirectoryClient::set_token(std::string token) {
  MutexLock lock(mu_);
  token_ = std::move(token);
}

std::string DirectoryClient::token() const {
  MutexLock lock(mu_);
  return token_;
}

Result<Json> DirectoryClient::Call(const std::string& method, const std::string& path,
                                   const Json* body, bool with_token) {
  if (!options_.setup_error.ok()) return options_.setup_error;
  if (!http_ || !http_->is_valid()) {
    return InvalidArgument("central_url '" + base_url_ + "' is not a valid http(s) URL");
  }
  if (https_ && options_.ca_pem.empty()) {
    return Unavailable("central's CA is not known yet (central at " + base_url_ +
                           " could not be reached to pin it); try again when it answers",
                       "unreachable");
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
  tls_refusal.clear();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  const int64_t last = last_use_ms_.exchange(now_ms);
  if (last != 0 && now_ms - last > kIdleReconnectMs) http_->stop();  // reconnects on send
  ERR_clear_error();  // cpp-httplib's TLS reads judge by this thread's error queue
  httplib::Result res = http_->send(req);
  // A busy central (503 with Retry-After) is asked again, twice at most,
  // when it says to wait no more than 2 s.
  for (int retry = 0; retry < 2 && res && res->status == 503 && res->has_header("Retry-After"); ++retry) {
    int wait_s = std::atoi(res->get_header_value("Retry-After").c_str());
    if (wait_s < 0 || wait_s > 2) break;
    std::this_thread::sleep_for(std::chrono::seconds(wait_s));
    ERR_clear_error();
    res = http_->send(req);
  }
  if (!res && !tls_refusal.empty()) {
    return FailedPrecondition("refusing central at " + base_url_ + ": " + tls_refusal +
                                  (options_.ca_source.empty()
                                       ? ""
                                       : "; the trusted CA is " + options_.ca_source +
                                             " — if central's CA was replaced on purpose, "
                                             "remove that pin and start again"),
                              "untrusted_central");
  }
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

Status DirectoryClient::Listen(const std::function<bool(const Json&)>& on_message) {
  if (!options_.setup_error.ok()) return options_.setup_error;
  if (!http_ || !http_->is_valid()) return InvalidArgument("central_url '" + base_url_ + "' is not valid");
  httplib::Request req;
  req.method = "GET";
  req.path = kApi + std::string("/channel");
  req.headers.emplace("Authorization", "Bearer " + token());
  int status = 0;
  std::string pending;  // a line not yet whole (or an error's body)
  bool stopped = false;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    if (status != 200) return pending.size() < 64 * 1024;
    size_t start = 0;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      Json j = Json::parse(pending.begin() + static_cast<std::ptrdiff_t>(start),
                           pending.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
      if (j.is_object() && !on_message(j)) {
        stopped = true;
        return false;
      }
    }
    pending.erase(0, start);
    return pending.size() < 64 * 1024;  // no line is that long
  };
  ERR_clear_error();
  http_->stop();  // a fresh connection: the stream keeps it to the end
  httplib::Result res = http_->send(req);
  if (stopped) return Status::Ok();
  if (status != 0 && status != 200) {
    httplib::Response r;
    r.status = status;
    r.body = pending;
    return ErrorFromResponse(r);
  }
  if (!res && res.error() != httplib::Error::Canceled) {
    return Unavailable("the channel to central at " + base_url_ + " broke (" +
                           httplib::to_string(res.error()) + ")",
                       "unreachable");
  }
  return Status::Ok();
}

void DirectoryClient::Cancel() {
  if (http_) http_->stop();
}

Result<RelayTicket> DirectoryClient::Rendezvous(const std::string& peer, int reverse_port) {
  Json body{{"peer", peer}};
  if (reverse_port > 0) body["reverse_port"] = reverse_port;
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/rendezvous", &body, true));
  return RelayTicketFromJson(reply);
}

Status DirectoryClient::PasswordMaySend() const {
  if (https_ || options_.allow_plain_password || IsLoopbackHost(host_)) return Status::Ok();
  return PermissionDenied("not sending the password over plain HTTP to " + host_ +
                              ": use an https:// central_url (or set allow_plain_password "
                              "for an experiment on a network you trust)",
                          "plain_password");
}

Result<std::string> DirectoryClient::Register(const std::string& username,
                                              const std::string& password) {
  RETURN_IF_ERROR(PasswordMaySend());
  Json body{{"username", username}, {"password", password}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/register", &body, false));
  return FieldReader(reply).String("username");
}

Result<LoginReply> DirectoryClient::Login(const LoginRequest& request) {
  RETURN_IF_ERROR(PasswordMaySend());
  Json body = ToJson(request);
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/login", &body, false));
  ASSIGN_OR_RETURN(LoginReply login, LoginReplyFromJson(reply));
  set_token(login.token);
  return login;
}

Status DirectoryClient::Logout() { return Call("POST", "/logout", nullptr, true).status(); }


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

Result<WishInfo> DirectoryClient::AddWish(const std::string& query) {
  Json body{{"query", query}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/wishes", &body, true));
  return WishInfoFromJson(reply);
}

Result<std::vector<WishInfo>> DirectoryClient::Wishes() {
  ASSIGN_OR_RETURN(Json reply, Call("GET", "/wishes", nullptr, true));
  ASSIGN_OR_RETURN(const Json* list, FieldReader(reply).Array("wishes"));
  std::vector<WishInfo> out;
  for (const Json& w : *list) {
    ASSIGN_OR_RETURN(WishInfo info, WishInfoFromJson(w));
    out.push_back(std::move(info));
  }
  return out;
}

Status DirectoryClient::RemoveWish(int64_t id) {
  return Call("DELETE", "/wishes/" + std::to_string(id), nullptr, true).status();
}

Result<SearchPage> DirectoryClient::Search(const std::string& query, int64_t limit,
                                           int64_t offset, const SearchOptions& options) {
  httplib::Params params{{"q", query},
                         {"limit", std::to_string(limit)},
                         {"offset", std::to_string(offset)}};
  if (options.sort != "relevance") params.emplace("sort", options.sort);
  if (options.fuzzy) params.emplace("fuzzy", "1");
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

Result<ReachabilityReply> DirectoryClient::CheckReachability(const std::string& mapped) {
  Json body{{"mapped", mapped}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/reachability", mapped.empty() ? nullptr : &body, true));
  return ReachabilityReplyFromJson(reply);
}

Result<Holder> DirectoryClient::UploadTarget(const std::string& name, int64_t size) {
  Json body{{"name", name}, {"size", size}};
  ASSIGN_OR_RETURN(Json reply, Call("POST", "/upload-target", &body, true));
  return HolderFromJson(reply, "");
}

Result<StatsReply> DirectoryClient::Stats() {
  ASSIGN_OR_RETURN(Json reply, Call("GET", "/stats", nullptr, true));
  return StatsReplyFromJson(reply);
}

Status DirectoryClient::Health() { return Call("GET", "/healthz", nullptr, false).status(); }

}  // namespace p2pshare
