#include "central/http_api.h"

#include <cmath>

#include "central/sessions.h"

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <chrono>
#include <exception>
#include <optional>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "central/dashboard.h"
#include "central/search_index.h"
#include "common/host_port.h"
#include "common/http_server.h"
#include "common/json_fields.h"
#include "common/mutex.h"
#include "common/name_query.h"
#include "common/names.h"

namespace p2pshare::central {
namespace {

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
  // A busy central is worth asking again a second later.
  if (s.reason() == "busy" && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
  SendError(res, HttpStatusFor(s), s.reason(), s.message());
}

std::string BearerToken(const Request& req) {
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.size() > prefix.size() && h.compare(0, prefix.size(), prefix) == 0) {
    return h.substr(prefix.size());
  }
  return "";
}

// The shape of the body being served on this thread, when the route's
// wrapper measured it already (a large body), so it is scanned once.
thread_local const JsonShape* measured_body = nullptr;

Result<Json> Body(const Request& req) { return ParseJsonObject(req.body, "body", measured_body); }

// Bodies smaller than this parse to little: they never wait for the budget.
constexpr size_t kSmallBody = 64 * 1024;
// What the parsed trees of large bodies may take at once, all workers
// together (each at most kMaxJsonCost): 64 workers parsing 1 MiB bodies
// of `[{},{},…]` took ~1.9 GiB; now a large body waits up to 2 s for room,
// then gets 503 busy. Heartbeats, logins and searches never wait.
constexpr int64_t kLargeBodyBudget = int64_t{64} << 20;
constexpr auto kLargeBodyWait = std::chrono::seconds(2);

// A weighted semaphore: bytes of parsed trees in use.
class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t total) : total_(total) {}
  // Takes `n` (at most the total) within `wait`; false when there was no room.
  bool Take(int64_t n, std::chrono::steady_clock::duration wait) {
    MutexLock lock(mu_);
    if (!room_.wait_for(lock, wait, [&] { mu_.AssertHeld(); return used_ + n <= total_; })) return false;
    used_ += n;
    return true;
  }
  void Give(int64_t n) {
    {
      MutexLock lock(mu_);
      used_ -= n;
    }
    room_.notify_all();
  }

 private:
  const int64_t total_;
  Mutex mu_;
  CondVar room_;
  int64_t used_ GUARDED_BY(mu_) = 0;
};

MemoryBudget& LargeBodies() {
  static MemoryBudget budget(kLargeBodyBudget);
  return budget;
}

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

// Query parameter `key` as a flag: absent, "0" or "false" is false; "", "1"
// or "true" is true.
Result<bool> QueryFlag(const Request& req, const char* key) {
  if (!req.has_param(key)) return false;
  const std::string v = req.get_param_value(key);
  if (v.empty() || v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return InvalidArgument("query parameter '" + std::string(key) + "' must be 1 or 0");
}

GateOptions GateOptionsFor(const HttpApiOptions& options) {
  GateOptions gate;
  gate.threads = options.threads;
  gate.request_timeout = std::chrono::seconds(options.request_timeout_s);
  gate.max_connections = options.max_connections;
  gate.max_connections_per_address = options.max_connections_per_address;
  gate.trusted_proxies = options.trusted_proxies;
  gate.max_body_bytes = options.max_body_bytes;
  gate.min_body_rate = options.min_body_rate;
  gate.stream_ping = options.channel_ping;
  gate.stream_lifetime = options.channel_lifetime;
  return gate;
}


// Why a request's framing is refused before it is routed: a status, an
// error code and a message; nullopt when it may go on. After any of these
// the connection is closed, since what follows cannot be trusted to start
// a request.
struct Rejection {
  int status;
  const char* error;
  std::string message;
};

std::optional<Rejection> FramingProblem(const Request& req, size_t max_body) {
  if (req.has_header("Transfer-Encoding")) {
    return Rejection{411, "length_required",
                     "chunked request bodies are not accepted; send Content-Length"};
  }
  const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  const bool has_length = req.has_header("Content-Length");
  if (has_body_method && !has_length) {
    // Without it cpp-httplib would wait for the client to close the socket.
    return Rejection{411, "length_required", "send a Content-Length header (0 for an empty body)"};
  }
  if (req.get_header_value_count("Content-Length") > 1) {
    // Two lengths: which one ends the body is ambiguous (request smuggling).
    return Rejection{400, "bad_request", "more than one Content-Length header"};
  }
  if (!has_length) return std::nullopt;
  const std::string v = req.get_header_value("Content-Length");
  uint64_t len = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return Rejection{400, "bad_request", "Content-Length is not a number"};
  }
  // Up to 8x the limit, cpp-httplib's own payload limit reads and drops the
  // body, then answers 413, so the client sees the answer. Beyond that,
  // answer at once and close rather than read it all (a client still
  // sending may then see a reset instead of the 413).
  if (len > 8 * max_body) {
    return Rejection{413, "payload_too_large",
                     "request body of " + v + " bytes is over the limit of " +
                         std::to_string(max_body)};
  }
  // cpp-httplib parses form bodies itself and refuses those over 8 KiB with
  // a bare 413; `curl -d` sends that type by default, so say why.
  if (req.get_header_value("Content-Type") == "application/x-www-form-urlencoded" && len > 8192) {
    return Rejection{415, "unsupported_media_type",
                     "bodies over 8 KiB must be sent with Content-Type: application/json "
                     "(curl: -H 'Content-Type: application/json')"};
  }
  return std::nullopt;
}

// Errors that no handler described (unknown route, 413 from the body
// reader, 414 ...) still get the JSON error shape.
void DescribeError(const Request& req, Response& res) {
  if (!res.body.empty()) return;
  // cpp-httplib's own parse errors: what follows on the connection is not
  // a request boundary one can trust.
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
}

void AnswerException(const Request& req, Response& res, std::exception_ptr ep) {
  std::string what = "unknown exception";
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  spdlog::error("{} {} failed: {}", req.method, req.path, what);
  SendError(res, 500, "internal", "internal error");
}

// Whether `path` is an instance of the route path `pattern`, whose
// "{name}" segments match any one segment.
bool PathMatches(std::string_view pattern, std::string_view path) {
  for (;;) {
    size_t brace = pattern.find('{');
    if (brace == std::string_view::npos) return pattern == path;
    if (path.substr(0, brace) != pattern.substr(0, brace)) return false;
    size_t close = pattern.find('}', brace);
    size_t segment_end = path.find('/', brace);
    if (segment_end == std::string_view::npos) segment_end = path.size();
    if (segment_end == brace) return false;  // an empty segment
    pattern = pattern.substr(close + 1);
    path = path.substr(segment_end);
  }
}

// The httplib regex of a route path: each "{name}" becomes one captured segment.
std::string PathRegex(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      out += "([^/]+)";
      i = pattern.find('}', i);
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// The route a request's path names, as a metrics label (never the raw
// path: a label per file hash or per junk URL would grow without bound).
std::string RouteLabel(const Request& req) {
  for (const auto& route : HttpApi::Routes()) {
    if (PathMatches(route.path, req.path)) return route.path;
  }
  return "other";
}

}  // namespace

const std::vector<HttpApi::Route>& HttpApi::Routes() {
  using H = HttpApi;
  static const std::vector<Route> kRoutes = {
      {"POST", "/api/v1/register", &H::PostRegister},
      {"POST", "/api/v1/login", &H::PostLogin},
      {"POST", "/api/v1/logout", &H::PostLogout},
      {"POST", "/api/v1/heartbeat", &H::PostHeartbeat},
      {"PUT", "/api/v1/index", &H::PutIndex},
      {"PATCH", "/api/v1/index", &H::PatchIndex},
      {"GET", "/api/v1/search", &H::GetSearch},
      {"GET", "/api/v1/files/{sha256}", &H::GetFile},
      {"GET", "/api/v1/peers", &H::GetPeers},
      {"POST", "/api/v1/upload-target", &H::PostUploadTarget},
      {"POST", "/api/v1/reachability", &H::PostReachability},
      {"GET", "/api/v1/channel", &H::GetChannel},
      {"POST", "/api/v1/wishes", &H::PostWish},
      {"GET", "/api/v1/wishes", &H::GetWishes},
      {"DELETE", "/api/v1/wishes/{id}", &H::DeleteWish},
      {"POST", "/api/v1/rendezvous", &H::PostRendezvous},
      {"GET", "/api/v1/events", &H::GetEvents},
      {"GET", "/api/v1/stats", &H::GetStats},
      {"GET", "/api/v1/history", &H::GetHistory},
      {"GET", "/healthz", &H::GetHealthz},
      {"GET", "/", &H::GetDashboard},
      {"GET", "/metrics", &H::GetMetrics},
  };
  return kRoutes;
}

HttpApi::HttpApi(Directory* directory, HttpApiOptions options)
    : directory_(directory),
      options_(options),
      server_(std::make_unique<GatedServer>(GateOptionsFor(options))) {
  ConfigureServer();
  SetUpMetrics();
  RegisterRoutes();
  directory_->SetSignalSink(
      [this](const std::string& user, const std::string& line) { return server_->Publish(user, line); });
  SampleHistory();  // the plots start with a point
  sampler_ = std::make_unique<Periodic>(kHistoryStep, [this] { SampleHistory(); });
}

void HttpApi::SampleHistory() {
  auto stats = directory_->Stats();
  if (!stats.ok()) return;
  const auto now = std::chrono::steady_clock::now();
  const int64_t served = requests();
  MutexLock lock(history_mu_);
  const double seconds = history_.empty() ? 0 : std::chrono::duration<double>(now - history_at_).count();
  const double rate = seconds > 0 ? static_cast<double>(served - history_requests_) / seconds : 0;
  history_.push_back(Json{{"unix_ms", UnixNow() * 1000},
                          {"peers_online", stats->peers_online},
                          {"files", stats->files},
                          {"contents", stats->contents},
                          {"requests_per_s", std::round(rate * 10) / 10}});
  history_requests_ = served;
  history_at_ = now;
  while (history_.size() > kHistorySamples) history_.pop_front();
}

HttpApi::~HttpApi() {
  Stop();
  server_->Shutdown();
}

void HttpApi::ConfigureServer() {
  server_->set_tcp_nodelay(true);
  RefuseSharedPort(*server_);
  // Keep-alive and slow clients are the gate's (http_gate.h): connections
  // between requests wait there, not on a worker.
  server_->set_keep_alive_max_count(1000000);
  server_->set_keep_alive_timeout(30);
  server_->set_read_timeout(5);
  server_->set_write_timeout(5);
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_pre_routing_handler([this](const Request& req, Response& res) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    std::optional<Rejection> problem = FramingProblem(req, options_.max_body_bytes);
    if (!problem) return httplib::Server::HandlerResponse::Unhandled;
    CloseConnection(res);
    SendError(res, problem->status, problem->error, problem->message);
    return httplib::Server::HandlerResponse::Handled;
  });
  server_->set_error_handler(DescribeError);
  server_->set_exception_handler(AnswerException);
  server_->set_logger([this](const Request& req, const Response& res) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                          GatedServer::RequestStart())
                    .count();
    Observe(req, res, ms / 1000);
    // One line per request at debug (heartbeats alone are a line per peer
    // every few seconds); a request central failed (500) at warn.
    const auto level = res.status == 500 ? spdlog::level::warn : spdlog::level::debug;
    if (req.method.empty()) {
      spdlog::log(level, "- (malformed request) {} {:.1f}ms", res.status, ms);
    } else {
      spdlog::log(level, "{} {} {} {:.1f}ms", req.method, req.path, res.status, ms);
    }
  });
}

void HttpApi::SetUpMetrics() {
  requests_by_route_ = &prometheus::BuildCounter()
                            .Name("p2pshare_http_requests_total")
                            .Help("HTTP requests answered, by route, method and status")
                            .Register(registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("p2pshare_http_request_duration_seconds")
                  .Help("time from a request's first byte to its answer, by route")
                  .Register(registry_);
  dashboard_csp_ = DashboardCsp();
}

void HttpApi::RegisterRoutes() {
  for (const Route& route : Routes()) {
    auto serve = [this, handler = route.handler](const Request& req, Response& res) {
      // A large body is measured first; its parsed tree must fit the
      // budget of all large bodies being handled (one that is refused
      // anyway, too deep or too big, takes nothing).
      JsonShape shape;
      struct Held {  // given back however the handler ends (it may throw)
        int64_t bytes = 0;
        ~Held() {
          measured_body = nullptr;
          if (bytes > 0) LargeBodies().Give(bytes);
        }
      } held;
      if (req.body.size() > kSmallBody) {
        shape = MeasureJson(req.body);
        if (shape.depth <= kMaxJsonDepth && shape.cost <= kMaxJsonCost) {
          if (!LargeBodies().Take(shape.cost, kLargeBodyWait)) {
            SendStatus(res, Unavailable("too many large requests at once; try again", "busy"));
            return;
          }
          held.bytes = shape.cost;
        }
        measured_body = &shape;
      }
      Result<Reply> r = (this->*handler)(req, res);
      if (!r.ok()) {
        SendStatus(res, r.status());
      } else if (r->status == 0) {
        // Streamed: the handler set the reply up itself.
      } else if (!r->content_type.empty()) {
        res.status = r->status;
        res.set_content(r->text, r->content_type.c_str());
      } else if (r->status == 204) {
        res.status = 204;
      } else {
        SendJson(res, r->status, r->body);
      }
    };
    const std::string method = route.method;
    const std::string pattern = PathRegex(route.path);
    if (method == "GET") server_->Get(pattern, serve);
    if (method == "POST") server_->Post(pattern, serve);
    if (method == "PUT") server_->Put(pattern, serve);
    if (method == "PATCH") server_->Patch(pattern, serve);
    if (method == "DELETE") server_->Delete(pattern, serve);
  }
}

Result<int> HttpApi::Bind(const std::string& host, int port) {
  int bound = -1;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (server_->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    Status why = ProbeListen(host, port, "listen must name an address of this machine");
    if (why.code() == Code::kAlreadyExists) {
      return Unavailable("cannot listen on " + JoinHostPort(host, port) +
                         ": the port is in use (another central, or another program?); stop it or "
                         "choose another 'listen'");
    }
    return why.ok() ? Unavailable("cannot listen on " + JoinHostPort(host, port)) : why;
  }
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
  auto value = [](const char* name, const char* help, MetricType type, int64_t v) {
    return ScrapedValue(name, help, type, static_cast<double>(v));
  };
  std::vector<prometheus::MetricFamily> extra;
  Directory::Counters c = directory_->counters();
  extra.push_back(value("p2pshare_failed_logins_total", "logins refused for a wrong password",
                        MetricType::Counter, c.failed_logins));
  extra.push_back(value("p2pshare_logins_total", "successful logins", MetricType::Counter, c.logins));
  extra.push_back(value("p2pshare_evictions_total",
                        "peers evicted for missing heartbeats past the TTL", MetricType::Counter,
                        c.evictions));
  auto stats = directory_->Stats();
  if (stats.ok()) {
    extra.push_back(value("p2pshare_peers_online", "peers online", MetricType::Gauge,
                          stats->peers_online));
    extra.push_back(value("p2pshare_files", "files in the index (one per peer and name)",
                          MetricType::Gauge, stats->files));
    extra.push_back(value("p2pshare_accounts", "accounts", MetricType::Gauge, stats->accounts));
  }
  if (auto peers = directory_->Peers(); peers.ok()) {
    std::map<std::string, double> by_state{{"direct", 0}, {"mapped", 0}, {"reversed-only", 0}, {"relayed-only", 0}, {"unchecked", 0}};
    for (const PeerInfo& p : *peers) by_state[p.reachable.empty() ? "unchecked" : p.reachable] += 1;
    std::vector<std::pair<MetricLabels, double>> samples;
    for (const auto& [state, n] : by_state) samples.push_back({{{"reachable", state}}, n});
    extra.push_back(ScrapedFamily("p2pshare_peers_reachable",
                                  "online peers by central's check of their address: direct "
                                  "(reached), mapped (reached through the port its router "
                                  "forwards), reversed-only (it connects out to peers that "
                                  "can be reached; no relay), relayed-only (that, or through "
                                  "the relay), unchecked",
                                  MetricType::Gauge, samples));
  }
  GateStats g = server_->stats();
  extra.push_back(value("p2pshare_http_connections_waiting",
                        "connections waiting for a whole request", MetricType::Gauge, g.waiting));
  extra.push_back(value("p2pshare_http_timed_out_total",
                        "requests cut off at request_timeout_s (408)", MetricType::Counter,
                        g.timed_out));
  extra.push_back(value("p2pshare_http_too_large_total",
                        "requests with headers over the limit (431/414)", MetricType::Counter,
                        g.too_large));
  extra.push_back(value("p2pshare_http_connections_dropped_total",
                        "waiting connections closed at max_connections", MetricType::Counter,
                        g.evicted));
  extra.push_back(value("p2pshare_http_refused_total",
                        "connections refused: over max_connections_per_address, or request "
                        "bytes waiting over their bound (503)",
                        MetricType::Counter, g.refused));
  extra.push_back(value("p2pshare_http_buffered_bytes",
                        "request bytes read ahead for waiting connections", MetricType::Gauge,
                        g.buffered_bytes));
  extra.push_back(value("p2pshare_channels_open", "peer-servers' channels open to this central",
                        MetricType::Gauge, g.streams));
  if (auto relay = directory_->RelayStatsNow()) {
    extra.push_back(value("p2pshare_relay_sessions", "relayed connections running now",
                          MetricType::Gauge, relay->sessions));
    extra.push_back(value("p2pshare_relay_waiting", "relayed connections waiting for their other side",
                          MetricType::Gauge, relay->waiting));
    extra.push_back(value("p2pshare_relay_bytes_total", "bytes relayed, both ways",
                          MetricType::Counter, relay->bytes));
    extra.push_back(value("p2pshare_relay_sessions_total", "relayed connections that ended",
                          MetricType::Counter, relay->sessions_done));
    extra.push_back(value("p2pshare_relay_refused_total",
                          "relay sessions refused at a bound, and tickets refused",
                          MetricType::Counter, relay->refused));
  }
  return RenderMetrics(registry_, std::move(extra));
}

using Reply = HttpApi::Reply;

Result<Reply> HttpApi::GetHealthz(const Request&, Response&) {
  // A replica that cannot reach its shared store answers 503, so a load
  // balancer's health check sends its clients to the others.
  if (directory_->degraded()) {
    return Reply{503, Json{{"status", "degraded"}, {"reason", "database_unavailable"}}};
  }
  return Reply{200, Json{{"status", "ok"}}};
}

// The dashboard: a static page that reads the public routes.
Result<Reply> HttpApi::GetDashboard(const Request&, Response& res) {
  res.set_header("Content-Security-Policy", dashboard_csp_);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
  return Reply(200, "text/html; charset=utf-8", kDashboardHtml);
}

Result<Reply> HttpApi::GetMetrics(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  return Reply(200, kMetricsContentType, Metrics());
}

Result<Reply> HttpApi::GetEvents(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  ASSIGN_OR_RETURN(int64_t after, QueryInt(req, "after", 0, 0, INT64_MAX));
  // Members see what was uploaded; anonymous readers only that it was.
  const bool member = !BearerToken(req).empty() && Caller(req).ok();
  Json events = Json::array();
  for (NetworkEvent& e : directory_->EventsAfter(after)) {
    if (!member) e.detail = e.public_detail;
    events.push_back(ToJson(e));
  }
  return Reply{200, Json{{"events", std::move(events)}}};
}

Result<Reply> HttpApi::PostRegister(const Request& req, Response& res) {
  ASSIGN_OR_RETURN(Json body, Body(req));
  FieldReader f(body);
  ASSIGN_OR_RETURN(std::string user, f.String("username"));
  ASSIGN_OR_RETURN(std::string pass, f.String("password"));
  int64_t retry_after = 0;
  auto created = directory_->Register(user, pass, req.remote_addr, &retry_after);
  if (!created.ok() && retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
  if (!created.ok()) return created.status();
  return Reply{201, Json{{"username", *created}}};
}

Result<Reply> HttpApi::PostLogin(const Request& req, Response& res) {
  ASSIGN_OR_RETURN(Json body, Body(req));
  ASSIGN_OR_RETURN(LoginRequest login, LoginRequestFromJson(body));
  int64_t retry_after = 0;
  auto reply = directory_->Login(login, req.remote_addr, &retry_after);
  if (!reply.ok() && retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
  if (!reply.ok()) return reply.status();
  return Reply{200, ToJson(*reply)};
}

Result<Reply> HttpApi::PostLogout(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  RETURN_IF_ERROR(directory_->Logout(user));
  return Reply(204, Json());
}

Result<Reply> HttpApi::PostHeartbeat(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  HeartbeatRequest hb;
  if (!req.body.empty()) {
    ASSIGN_OR_RETURN(Json body, Body(req));
    ASSIGN_OR_RETURN(hb, HeartbeatRequestFromJson(body));
  }
  ASSIGN_OR_RETURN(HeartbeatReply reply, directory_->Heartbeat(user, hb, BearerToken(req)));
  return Reply{200, ToJson(reply)};
}

Result<Reply> HttpApi::PutIndex(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  ASSIGN_OR_RETURN(Json body, Body(req));
  ASSIGN_OR_RETURN(const Json* files, FieldReader(body).Array("files"));
  ASSIGN_OR_RETURN(auto entries, FileEntriesFromJson(*files, "files"));
  ASSIGN_OR_RETURN(int64_t count, directory_->ReplaceIndex(user, entries));
  return Reply{200, Json{{"count", count}}};
}

Result<Reply> HttpApi::PatchIndex(const Request& req, Response&) {
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
    ASSIGN_OR_RETURN(removed, FileNamesFromJson(*rem, "removed"));
  }
  ASSIGN_OR_RETURN(int64_t count, directory_->PatchIndex(user, added, removed));
  return Reply{200, Json{{"count", count}}};
}

Result<Reply> HttpApi::GetSearch(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  SearchQuery q;
  q.text = req.has_param("q") ? req.get_param_value("q") : "";
  if (q.text.size() > 1024) return InvalidArgument("query parameter 'q' is over 1024 bytes");
  ASSIGN_OR_RETURN(q.limit, QueryInt(req, "limit", 50, 0, 1000));
  ASSIGN_OR_RETURN(q.offset, QueryInt(req, "offset", 0, 0, INT64_MAX));
  if (req.has_param("sort")) q.options.sort = req.get_param_value("sort");
  SearchSort sort;
  if (!ParseSearchSort(q.options.sort, &sort)) {
    return InvalidArgument("query parameter 'sort' must be relevance, holders, size or name");
  }
  ASSIGN_OR_RETURN(q.options.fuzzy, QueryFlag(req, "fuzzy"));
  if (q.offset > kSearchWindow - q.limit) {
    return InvalidArgument("offset + limit must be at most " + std::to_string(kSearchWindow) +
                           "; search for something more specific to see the files past that");
  }
  // A reply already made since the index and the online set last changed
  // is sent again as it was (the query's case and accents do not change it).
  std::string key = FoldName(q.text) + '\0' + std::to_string(q.limit) + ',' + std::to_string(q.offset) + ',' +
                    q.options.sort + (q.options.fuzzy ? ",fuzzy" : "");
  const uint64_t generation = directory_->search_generation();
  if (auto body = search_replies_.Get(key, generation)) return Reply(200, "application/json", std::move(*body));
  ASSIGN_OR_RETURN(SearchPage page, directory_->Search(q, req.remote_addr));
  std::string body = DumpSearchPage(page);
  search_replies_.Put(std::move(key), generation, body);
  return Reply(200, "application/json", std::move(body));
}

Result<Reply> HttpApi::GetFile(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  std::string sha = AsciiLower(req.matches[1].str());
  if (!IsSha256Hex(sha)) return InvalidArgument("the file's sha256 must be 64 hex digits");
  ASSIGN_OR_RETURN(auto found, directory_->FindFile(sha));
  if (!found) return NotFound("no online peer holds a file with sha256 " + sha);
  return Reply{200, ToJson(*found)};
}

Result<Reply> HttpApi::GetPeers(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  ASSIGN_OR_RETURN(auto peers, directory_->Peers());
  Json list = Json::array();
  for (const auto& p : peers) list.push_back(ToJson(p));
  return Reply{200, Json{{"peers", std::move(list)}}};
}

Result<Reply> HttpApi::PostUploadTarget(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  ASSIGN_OR_RETURN(Json body, Body(req));
  FieldReader f(body);
  ASSIGN_OR_RETURN(std::string name, f.String("name"));
  ASSIGN_OR_RETURN(int64_t size, f.Int("size"));
  ASSIGN_OR_RETURN(Holder target, directory_->UploadTarget(user, name, size));
  return Reply{200, ToJson(target)};
}

Result<Reply> HttpApi::PostReachability(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  std::string mapped;
  if (!req.body.empty()) {
    ASSIGN_OR_RETURN(Json body, Body(req));
    ASSIGN_OR_RETURN(auto said, FieldReader(body).OptionalString("mapped"));
    mapped = said.value_or("");
    if (!mapped.empty() && mapped != "UPnP" && mapped != "NAT-PMP") {
      return InvalidArgument("'mapped' must be \"UPnP\" or \"NAT-PMP\"");
    }
  }
  ASSIGN_OR_RETURN(ReachabilityReply reply, directory_->CheckReachability(user, req.remote_addr, mapped));
  return Reply{200, ToJson(reply)};
}

Result<Reply> HttpApi::GetChannel(const Request& req, Response& res) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  RETURN_IF_ERROR(directory_->MayOpenChannel(user));
  if (!server_->StreamsAvailable()) {
    return Unavailable("central keeps as many channels open as it may; try again", "busy");
  }
  // Wishes that came true while no channel of the account was open here
  // follow the hello.
  const std::string hello = Json{{"type", "hello"}}.dump() + "\n" + directory_->TakeWishNews(user);
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider("application/x-ndjson", [user, hello](size_t, httplib::DataSink& sink) {
    // The first line goes out now; the gate keeps the connection from
    // here, and Publish sends the rest.
    if (sink.write(hello.data(), hello.size())) GatedServer::AdoptAsStream(user);
    return false;
  });
  return Reply::Streamed();
}

namespace {

Json WishJson(const WishRecord& w) {
  return ToJson(WishInfo{w.id, w.query, w.created_unix, 0});
}

}  // namespace

Result<Reply> HttpApi::PostWish(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  ASSIGN_OR_RETURN(Json body, Body(req));
  ASSIGN_OR_RETURN(std::string query, FieldReader(body).String("query"));
  if (query.size() > 1024) return InvalidArgument("a wish's query is at most 1024 bytes");
  int64_t matching_now = 0;
  ASSIGN_OR_RETURN(WishRecord made, directory_->AddWish(user, query, req.remote_addr, &matching_now));
  Json reply = WishJson(made);
  reply["matching_now"] = matching_now;  // 0 included: the reply says it
  return Reply{201, std::move(reply)};
}

Result<Reply> HttpApi::GetWishes(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  ASSIGN_OR_RETURN(auto wishes, directory_->ListWishes(user));
  Json list = Json::array();
  for (const WishRecord& w : wishes) list.push_back(WishJson(w));
  return Reply{200, Json{{"wishes", std::move(list)}}};
}

Result<Reply> HttpApi::DeleteWish(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  const std::string text = req.matches[1].str();
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
    return InvalidArgument("a wish is named by its number ('wishes' lists them)");
  }
  RETURN_IF_ERROR(directory_->RemoveWish(user, id));
  return Reply{200, Json{{"removed", id}}};
}

Result<Reply> HttpApi::PostRendezvous(const Request& req, Response&) {
  ASSIGN_OR_RETURN(std::string user, Caller(req));
  ASSIGN_OR_RETURN(Json body, Body(req));
  FieldReader fields(body);
  ASSIGN_OR_RETURN(std::string peer, fields.String("peer"));
  RETURN_IF_ERROR(CheckUsername(peer));
  if (body.contains("reverse_port")) {
    ASSIGN_OR_RETURN(int64_t port, fields.Int("reverse_port"));
    if (port < 1 || port > 65535) return InvalidArgument("reverse_port must be 1-65535");
    ASSIGN_OR_RETURN(RelayTicket ticket, directory_->Reverse(user, peer, req.remote_addr, static_cast<int>(port)));
    return Reply{200, ToJson(ticket)};
  }
  const std::string host_header = req.get_header_value("Host");
  auto parsed = ParseHostPort(host_header);
  std::string central_host = parsed.ok() ? parsed->host : (IsHostName(host_header) ? host_header : "");
  ASSIGN_OR_RETURN(RelayTicket ticket, directory_->Rendezvous(user, peer, req.remote_addr, central_host));
  if (ticket.host.empty()) {
    return FailedPrecondition("central does not know the relay's address: set relay_address", "no_relay");
  }
  return Reply{200, ToJson(ticket)};
}

Result<Reply> HttpApi::GetHistory(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  Json samples = Json::array();
  {
    MutexLock lock(history_mu_);
    for (const Json& s : history_) samples.push_back(s);
  }
  return Reply{200, Json{{"step_s", kHistoryStep.count() / 1000}, {"samples", std::move(samples)}}};
}

Result<Reply> HttpApi::GetStats(const Request& req, Response&) {
  RETURN_IF_ERROR(Reader(req).status());
  ASSIGN_OR_RETURN(StatsReply stats, directory_->Stats());
  stats.requests = requests();
  return Reply{200, ToJson(stats)};
}

}  // namespace p2pshare::central
