#include "central/http_api.h"

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <chrono>
#include <exception>
#include <set>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "central/dashboard.h"
#include "common/host_port.h"
#include "common/json_fields.h"
#include "common/names.h"

namespace p2pshare::central {
namespace {

// The route a request matched, as a metrics label (never the raw path: a
// label per file hash or per junk URL would grow without bound).
std::string RouteLabel(const httplib::Request& req) {
  static const std::set<std::string, std::less<>> kRoutes = {
      "/", "/healthz", "/metrics", "/api/v1/register", "/api/v1/login", "/api/v1/logout",
      "/api/v1/heartbeat", "/api/v1/index", "/api/v1/search", "/api/v1/peers",
      "/api/v1/upload-target", "/api/v1/verify", "/api/v1/stats", "/api/v1/events"};
  if (kRoutes.count(req.path)) return req.path;
  if (req.path.rfind("/api/v1/files/", 0) == 0) return "/api/v1/files/{sha256}";
  return "other";
}

// Content-Security-Policy of the dashboard: nothing from elsewhere, reads
// from this origin only, and only its own inline script runs (by hash).
std::string DashboardCsp() {
  std::string_view page(kDashboardHtml);
  size_t open = page.find("<script>"), close = page.find("</script>");
  std::string script_src = "'none'";
  if (open != std::string_view::npos && close != std::string_view::npos) {
    std::string_view script = page.substr(open + 8, close - open - 8);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(script.data()), script.size(), digest);
    unsigned char b64[64];
    int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
    script_src = "'sha256-" + std::string(reinterpret_cast<char*>(b64), n) + "'";
  }
  return "default-src 'none'; script-src " + script_src +
         "; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; "
         "form-action 'none'; frame-ancestors 'none'";
}

using httplib::Request;
using httplib::Response;

void SendJson(Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

void SendError(Response& res, int status, const std::string& error, const std::string& message) {
  SendJson(res, status, Json{{"error", error}, {"message", message}});
}

// Replies with "Connection: close" and closes after it: used when the
// request's framing (length, encoding) cannot be trusted.
void CloseConnection(Response& res) {
  res.set_header("Connection", "close");
  GatedServer::CloseAfterReply();
}

void SendStatus(Response& res, const Status& s) {
  SendError(res, HttpStatusFor(s), s.reason(), s.message());
}

// A handler's outcome: a status and JSON body, or an error Status.
struct Reply {
  int status = 200;
  Json body;
};

std::string BearerToken(const Request& req) {
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.size() > prefix.size() && h.compare(0, prefix.size(), prefix) == 0) {
    return h.substr(prefix.size());
  }
  return "";
}

Result<Json> Body(const Request& req) { return ParseJsonObject(req.body); }

// Query parameter `key` as an integer in [min, max], or `def` when absent.
Result<int64_t> QueryInt(const Request& req, const char* key, int64_t def, int64_t min,
                         int64_t max) {
  if (!req.has_param(key)) return def;
  std::string v = req.get_param_value(key);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size() || out < min || out > max) {
    return InvalidArgument("query parameter '" + std::string(key) + "' must be an integer from " +
                           std::to_string(min) + " to " + std::to_string(max));
  }
  return out;
}

GateOptions GateOptionsFor(const HttpApiOptions& options) {
  GateOptions gate;
  gate.threads = options.threads;
  gate.request_timeout = std::chrono::seconds(options.request_timeout_s);
  gate.max_connections = options.max_connections;
  return gate;
}

}  // namespace

HttpApi::HttpApi(Directory* directory, HttpApiOptions options)
    : directory_(directory),
      options_(options),
      server_(std::make_unique<GatedServer>(GateOptionsFor(options))) {
  server_->set_tcp_nodelay(true);
  // cpp-httplib's default options add SO_REUSEPORT, which lets a second
  // server bind the same port silently; keep only SO_REUSEADDR.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Keep-alive and slow clients are the gate's (http_gate.h): connections
  // between requests wait there, not on a worker.
  server_->set_keep_alive_max_count(1000000);
  server_->set_keep_alive_timeout(30);
  server_->set_read_timeout(5);
  server_->set_write_timeout(5);
  server_->set_payload_max_length(options_.max_body_bytes);

  server_->set_pre_routing_handler([this](const Request& req, Response& res) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (req.has_header("Transfer-Encoding")) {
      CloseConnection(res);
      SendError(res, 411, "length_required",
                "chunked request bodies are not accepted; send Content-Length");
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (has_body_method && !req.has_header("Content-Length")) {
      // Without it cpp-httplib would wait for the client to close the socket.
      CloseConnection(res);
      SendError(res, 411, "length_required",
                "send a Content-Length header (0 for an empty body)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.get_header_value_count("Content-Length") > 1) {
      // Two lengths: which one ends the body is ambiguous (request smuggling).
      CloseConnection(res);
      SendError(res, 400, "bad_request", "more than one Content-Length header");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Content-Length")) {
      const std::string v = req.get_header_value("Content-Length");
      uint64_t len = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
      if (ec != std::errc() || ptr != v.data() + v.size()) {
        CloseConnection(res);
        SendError(res, 400, "bad_request", "Content-Length is not a number");
        return httplib::Server::HandlerResponse::Handled;
      }
      // Up to 8x the limit, cpp-httplib's own payload limit reads and drops
      // the body, then answers 413, so the client sees the answer. Beyond
      // that, answer at once and close rather than read it all (a client
      // still sending may then see a reset instead of the 413).
      if (len > 8 * options_.max_body_bytes) {
        CloseConnection(res);
        SendError(res, 413, "payload_too_large",
                  "request body of " + v + " bytes is over the limit of " +
                      std::to_string(options_.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // cpp-httplib parses form bodies itself and refuses those over 8 KiB
    // with a bare 413; `curl -d` sends that type by default, so say why.
    if (req.get_header_value("Content-Type") == "application/x-www-form-urlencoded" &&
        req.has_header("Content-Length") &&
        std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > 8192) {
      CloseConnection(res);
      SendError(res, 415, "unsupported_media_type",
                "bodies over 8 KiB must be sent with Content-Type: application/json "
                "(curl: -H 'Content-Type: application/json')");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors that no handler described (unknown route, 413 from the body
  // reader, 414 ...) still get the JSON error shape.
  server_->set_error_handler([](const Request& req, Response& res) {
    if (!res.body.empty()) return;
    // cpp-httplib's own parse errors: what follows on the connection is
    // not a request boundary one can trust.
    if (res.status == 400 || res.status == 413 || res.status == 414) CloseConnection(res);
    switch (res.status) {
      case 404: SendError(res, 404, "not_found", "no route " + req.method + " " + req.path); break;
      case 413: SendError(res, 413, "payload_too_large", "request body over the limit"); break;
      case 414: SendError(res, 414, "uri_too_long", "request URI too long"); break;
      case 400: SendError(res, 400, "bad_request", "malformed HTTP request"); break;
      default:
        SendError(res, res.status, "http_" + std::to_string(res.status),
                  "HTTP error " + std::to_string(res.status));
    }
  });

  server_->set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} {} failed: {}", req.method, req.path, what);
    SendError(res, 500, "internal", "internal error");
  });

  requests_by_route_ = &prometheus::BuildCounter()
                            .Name("p2pshare_http_requests_total")
                            .Help("HTTP requests answered, by route, method and status")
                            .Register(registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("p2pshare_http_request_duration_seconds")
                  .Help("time from a request's first byte to its answer, by route")
                  .Register(registry_);
  dashboard_csp_ = DashboardCsp();

  server_->set_logger([this](const Request& req, const Response& res) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                          GatedServer::RequestStart())
                    .count();
    Observe(req, res, ms / 1000);
    if (req.method.empty()) {
      spdlog::info("- (malformed request) {} {:.1f}ms", res.status, ms);
    } else {
      spdlog::info("{} {} {} {:.1f}ms", req.method, req.path, res.status, ms);
    }
  });

  Routes();
}

HttpApi::~HttpApi() {
  Stop();
  server_->Shutdown();
}

Result<int> HttpApi::Bind(const std::string& host, int port) {
  int bound = -1;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (server_->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) return Unavailable("cannot listen on " + JoinHostPort(host, port));
  server_->RaiseBacklog();
  return bound;
}

bool HttpApi::Run() {
  bool ok = server_->listen_after_bind();
  server_->Shutdown();
  return ok;
}

void HttpApi::Stop() {
  if (server_) server_->stop();
}

Result<std::string> HttpApi::Caller(const Request& req) {
  return directory_->Authenticate(BearerToken(req));
}

Result<std::string> HttpApi::Reader(const Request& req) {
  if (options_.public_read) return std::string();
  return Caller(req);
}

void HttpApi::Observe(const Request& req, const Response& res, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  std::string route = RouteLabel(req);
  requests_by_route_
      ->Add({{"route", route},
             {"method", req.method.empty() ? "-" : req.method},
             {"status", std::to_string(res.status)}})
      .Increment();
  latency_->Add({{"route", route}}, kBuckets).Observe(seconds);
}

std::string HttpApi::Metrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> extra;
  Directory::Counters c = directory_->counters();
  extra.push_back(ScrapedValue("p2pshare_failed_logins_total", "logins refused for a wrong password",
                               MetricType::Counter, static_cast<double>(c.failed_logins)));
  extra.push_back(ScrapedValue("p2pshare_logins_total", "successful logins", MetricType::Counter,
                               static_cast<double>(c.logins)));
  extra.push_back(ScrapedValue("p2pshare_evictions_total",
                               "peers evicted for missing heartbeats past the TTL",
                               MetricType::Counter, static_cast<double>(c.evictions)));
  auto stats = directory_->Stats();
  if (stats.ok()) {
    extra.push_back(ScrapedValue("p2pshare_peers_online", "peers online", MetricType::Gauge,
                                 static_cast<double>(stats->peers_online)));
    extra.push_back(ScrapedValue("p2pshare_files", "files in the index (one per peer and name)",
                                 MetricType::Gauge, static_cast<double>(stats->files)));
    extra.push_back(ScrapedValue("p2pshare_accounts", "accounts", MetricType::Gauge,
                                 static_cast<double>(stats->accounts)));
  }
  GateStats g = server_->stats();
  extra.push_back(ScrapedValue("p2pshare_http_connections_waiting",
                               "connections waiting for a whole request", MetricType::Gauge,
                               static_cast<double>(g.waiting)));
  extra.push_back(ScrapedValue("p2pshare_http_timed_out_total",
                               "requests cut off at request_timeout_s (408)", MetricType::Counter,
                               static_cast<double>(g.timed_out)));
  extra.push_back(ScrapedValue("p2pshare_http_too_large_total",
                               "requests with headers over the limit (431/414)",
                               MetricType::Counter, static_cast<double>(g.too_large)));
  extra.push_back(ScrapedValue("p2pshare_http_connections_dropped_total",
                               "waiting connections closed at max_connections",
                               MetricType::Counter, static_cast<double>(g.evicted)));
  return RenderMetrics(registry_, std::move(extra));
}

void HttpApi::Routes() {
  using Handler = std::function<Result<Reply>(const Request&)>;
  // Wraps a handler: its Reply becomes JSON, its error Status the error shape.
  auto route = [](Handler h) {
    return [h = std::move(h)](const Request& req, Response& res) {
      Result<Reply> r = h(req);
      if (!r.ok()) {
        SendStatus(res, r.status());
      } else if (r->status == 204) {
        res.status = 204;
      } else {
        SendJson(res, r->status, r->body);
      }
    };
  };
  Directory* dir = directory_;
  auto& s = *server_;

  s.Get("/healthz", route([](const Request&) -> Result<Reply> {
    return Reply{200, Json{{"status", "ok"}}};
  }));

  // The dashboard: a static page that reads the public routes below.
  s.Get("/", [this](const Request&, Response& res) {
    res.status = 200;
    res.set_header("Content-Security-Policy", dashboard_csp_);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(kDashboardHtml, "text/html; charset=utf-8");
  });

  s.Get("/metrics", [this](const Request& req, Response& res) {
    Status readable = Reader(req).status();
    if (!readable.ok()) return SendStatus(res, readable);
    res.status = 200;
    res.set_content(Metrics(), kMetricsContentType);
  });

  s.Get("/api/v1/events", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Reader(req).status());
    ASSIGN_OR_RETURN(int64_t after, QueryInt(req, "after", 0, 0, INT64_MAX));
    Json events = Json::array();
    for (const NetworkEvent& e : dir->EventsAfter(after)) events.push_back(ToJson(e));
    return Reply{200, Json{{"events", std::move(events)}}};
  }));

  s.Post("/api/v1/register", route([dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(Json body, Body(req));
    FieldReader f(body);
    ASSIGN_OR_RETURN(std::string user, f.String("username"));
    ASSIGN_OR_RETURN(std::string pass, f.String("password"));
    ASSIGN_OR_RETURN(std::string created, dir->Register(user, pass));
    return Reply{201, Json{{"username", created}}};
  }));

  s.Post("/api/v1/login", [dir](const Request& req, Response& res) {
    auto body = Body(req);
    if (!body.ok()) return SendStatus(res, body.status());
    auto login = LoginRequestFromJson(*body);
    if (!login.ok()) return SendStatus(res, login.status());
    int64_t retry_after = 0;
    auto reply = dir->Login(*login, req.remote_addr, &retry_after);
    if (!reply.ok()) {
      if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
      return SendStatus(res, reply.status());
    }
    SendJson(res, 200, ToJson(*reply));
  });

  s.Post("/api/v1/logout", route([this, dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(std::string user, Caller(req));
    RETURN_IF_ERROR(dir->Logout(user));
    return Reply{204, {}};
  }));

  s.Post("/api/v1/heartbeat", route([this, dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(std::string user, Caller(req));
    HeartbeatRequest hb;
    if (!req.body.empty()) {
      ASSIGN_OR_RETURN(Json body, Body(req));
      ASSIGN_OR_RETURN(hb, HeartbeatRequestFromJson(body));
    }
    ASSIGN_OR_RETURN(HeartbeatReply reply, dir->Heartbeat(user, hb));
    return Reply{200, ToJson(reply)};
  }));

  s.Put("/api/v1/index", route([this, dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(std::string user, Caller(req));
    ASSIGN_OR_RETURN(Json body, Body(req));
    ASSIGN_OR_RETURN(const Json* files, FieldReader(body).Array("files"));
    ASSIGN_OR_RETURN(auto entries, FileEntriesFromJson(*files, "files"));
    ASSIGN_OR_RETURN(int64_t count, dir->ReplaceIndex(user, entries));
    return Reply{200, Json{{"count", count}}};
  }));

  s.Patch("/api/v1/index", route([this, dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(std::string user, Caller(req));
    ASSIGN_OR_RETURN(Json body, Body(req));
    FieldReader f(body);
    std::vector<FileEntry> added;
    std::vector<std::string> removed;
    ASSIGN_OR_RETURN(const Json* add, f.OptionalArray("added"));
    if (add != nullptr) {
      ASSIGN_OR_RETURN(added, FileEntriesFromJson(*add, "added"));
    }
    ASSIGN_OR_RETURN(const Json* rem, f.OptionalArray("removed"));
    if (rem != nullptr) {
      for (size_t i = 0; i < rem->size(); ++i) {
        std::string field = "removed[" + std::to_string(i) + "]";
        if (!(*rem)[i].is_string()) return BadField(field, "a file name");
        std::string name = (*rem)[i].get<std::string>();
        Status ok = CheckFileName(name);
        if (!ok.ok()) return InvalidArgument("field '" + field + "': " + ok.message());
        removed.push_back(std::move(name));
      }
    }
    ASSIGN_OR_RETURN(int64_t count, dir->PatchIndex(user, added, removed));
    return Reply{200, Json{{"count", count}}};
  }));

  s.Get("/api/v1/search", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Reader(req).status());
    SearchQuery q;
    q.text = req.has_param("q") ? req.get_param_value("q") : "";
    if (q.text.size() > 1024) return InvalidArgument("query parameter 'q' is over 1024 bytes");
    ASSIGN_OR_RETURN(q.limit, QueryInt(req, "limit", 50, 0, 1000));
    ASSIGN_OR_RETURN(q.offset, QueryInt(req, "offset", 0, 0, INT64_MAX));
    ASSIGN_OR_RETURN(SearchPage page, dir->Search(q));
    return Reply{200, ToJson(page)};
  }));

  s.Get("/api/v1/files/([^/]+)", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Reader(req).status());
    std::string sha = AsciiLower(req.matches[1].str());
    if (!IsSha256Hex(sha)) return InvalidArgument("the file's sha256 must be 64 hex digits");
    ASSIGN_OR_RETURN(auto found, dir->FindFile(sha));
    if (!found) return NotFound("no online peer holds a file with sha256 " + sha);
    return Reply{200, ToJson(*found)};
  }));

  s.Get("/api/v1/peers", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Reader(req).status());
    ASSIGN_OR_RETURN(auto peers, dir->Peers());
    Json list = Json::array();
    for (const auto& p : peers) list.push_back(ToJson(p));
    return Reply{200, Json{{"peers", std::move(list)}}};
  }));

  s.Post("/api/v1/upload-target", route([this, dir](const Request& req) -> Result<Reply> {
    ASSIGN_OR_RETURN(std::string user, Caller(req));
    ASSIGN_OR_RETURN(Json body, Body(req));
    FieldReader f(body);
    ASSIGN_OR_RETURN(std::string name, f.String("name"));
    ASSIGN_OR_RETURN(int64_t size, f.Int("size"));
    ASSIGN_OR_RETURN(Holder target, dir->UploadTarget(user, name, size));
    return Reply{200, ToJson(target)};
  }));

  s.Post("/api/v1/verify", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Caller(req).status());
    ASSIGN_OR_RETURN(Json body, Body(req));
    ASSIGN_OR_RETURN(std::string token, FieldReader(body).String("token"));
    ASSIGN_OR_RETURN(std::string user, dir->Verify(token));
    return Reply{200, Json{{"username", user}}};
  }));

  s.Get("/api/v1/stats", route([this, dir](const Request& req) -> Result<Reply> {
    RETURN_IF_ERROR(Reader(req).status());
    ASSIGN_OR_RETURN(StatsReply stats, dir->Stats());
    stats.requests = requests();
    return Reply{200, ToJson(stats)};
  }));
}

}  // namespace p2pshare::central
