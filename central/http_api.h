// HttpApi: the REST/JSON face of a Directory on cpp-httplib
// (docs/protocol.md, "REST API of central", is the contract).
//
// The routes are one table (Routes()): method, path, handler. The path
// also labels the route's metrics, and a test checks that every route of
// the table is in docs/protocol.md. Every reply is JSON but the dashboard's
// and /metrics'; every error is {"error", "message"} with the status of
// HttpStatusFor(). cpp-httplib is set up for a server facing strangers:
// TCP_NODELAY and long keep-alive (without them it manages ~280 req/s),
// SO_REUSEPORT off, a 1 MiB body limit checked before the body is read,
// chunked request bodies refused (they would bypass that limit), and an
// exception handler so no request can crash the server. One log line per
// request. Connections reach the routes through the gate (http_gate.h).
//
// Thread-safe: handlers run on the gate's worker pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "central/directory.h"
#include "central/page_cache.h"
#include "central/http_gate.h"
#include "common/json_fields.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/periodic.h"
#include "common/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace p2pshare::central {

struct HttpApiOptions {
  bool public_read = true;              // search/files/peers/stats without a token
  size_t max_body_bytes = 1024 * 1024;  // 413 above this
  size_t threads = 64;                  // workers (busy only while a request is served)
  int64_t request_timeout_s = 10;       // a request must arrive whole within this
  size_t max_connections = 10000;       // connections waiting for a request
  size_t max_connections_per_address = 256;
  std::set<std::string> trusted_proxies;  // IPs that send a PROXY v2 header (proxy_protocol.h)
  int64_t min_body_rate = 16 * 1024;    // bytes/s a body must arrive at
  // Channels (GET /channel): a ping this often, each ended after its lifetime.
  std::chrono::milliseconds channel_ping{15000};
  std::chrono::milliseconds channel_lifetime{300000};
};

// Search replies central keeps (popular queries are the frequent ones),
// and their bytes in all.
inline constexpr size_t kSearchReplies = 65536;
// /api/v1/history: a sample of the totals every 10 s, the last hour kept.
inline constexpr std::chrono::milliseconds kHistoryStep{10000};
inline constexpr size_t kHistorySamples = 360;
inline constexpr size_t kSearchReplyBytes = 128u << 20;

class HttpApi {
 public:
  // What a handler answers: JSON `body`, or `text` of `content_type` when
  // that is set (the dashboard, /metrics). Errors are a Status instead.
  struct Reply {
    Reply(int status, Json body) : status(status), body(std::move(body)) {}
    // The handler wrote the reply itself (a stream: GatedServer::AdoptAsStream).
    static Reply Streamed() { return Reply(0, Json()); }
    Reply(int status, std::string content_type, std::string text)
        : status(status), content_type(std::move(content_type)), text(std::move(text)) {}
    int status;
    Json body;
    std::string content_type;
    std::string text;
  };
  using Handler = Result<Reply> (HttpApi::*)(const httplib::Request&, httplib::Response&);
  struct Route {
    const char* method;  // "GET", "POST", "PUT", "PATCH"
    const char* path;    // "/api/v1/files/{sha256}": a {name} is one path segment
    Handler handler;
  };
  // Every route central serves, in the order docs/protocol.md lists them.
  static const std::vector<Route>& Routes();

  HttpApi(Directory* directory, HttpApiOptions options);
  ~HttpApi();

  // Serves HTTPS with this key and chain (central's certificate, then the
  // CA's); call before Bind.
  Status EnableTls(const std::string& key_pem, const std::string& chain_pem) {
    return server_->EnableTls(key_pem, chain_pem);
  }
  // Binds host:port (port 0: any free port). Returns the bound port.
  // Unavailable when the address cannot be bound.
  Result<int> Bind(const std::string& host, int port);
  // Serves until Stop(); returns false if the server failed.
  bool Run();
  void Stop();

  // The bytes `raw` (HTTP requests) would get back, without a socket:
  // the whole request path of a real connection, for fuzzing.
  std::string ServeBuffer(const std::string& raw) { return server_->ServeBuffer(raw); }
  GateStats gate_stats() const { return server_->stats(); }

  int64_t requests() const { return requests_.load(); }

 private:
  void ConfigureServer();
  void SetUpMetrics();
  void RegisterRoutes();
  // Resolves the bearer token of `req` (errors as Directory::Authenticate).
  Result<std::string> Caller(const httplib::Request& req);
  // Caller(), or "" when public_read lets anyone read.
  Result<std::string> Reader(const httplib::Request& req);

  // /metrics: what the registry counts live, plus the directory's and the
  // gate's own numbers read at scrape time.
  std::string Metrics();
  // Counts a served request by route and status, and its latency.
  void Observe(const httplib::Request& req, const httplib::Response& res, double seconds);

  // The handlers of Routes().
  Result<Reply> GetHealthz(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetDashboard(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetMetrics(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostRegister(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostLogin(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostLogout(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostHeartbeat(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PutIndex(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PatchIndex(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetSearch(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetFile(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetPeers(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostUploadTarget(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostReachability(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetChannel(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostWish(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetWishes(const httplib::Request& req, httplib::Response& res);
  Result<Reply> DeleteWish(const httplib::Request& req, httplib::Response& res);
  Result<Reply> PostRendezvous(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetEvents(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetStats(const httplib::Request& req, httplib::Response& res);
  Result<Reply> GetHistory(const httplib::Request& req, httplib::Response& res);
  // Takes one sample of the totals for /api/v1/history (every kHistoryStep).
  void SampleHistory();

  Directory* const directory_;
  const HttpApiOptions options_;
  std::unique_ptr<GatedServer> server_;
  std::atomic<int64_t> requests_{0};
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>* requests_by_route_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  std::string dashboard_csp_;  // pins the page's one inline script by its hash
  // Search replies as sent, while Directory::search_generation() is unchanged.
  PageCache search_replies_{kSearchReplies, kSearchReplyBytes};
  // The last hour of totals, a sample every kHistoryStep, oldest first.
  Mutex history_mu_;
  std::deque<Json> history_ GUARDED_BY(history_mu_);
  int64_t history_requests_ GUARDED_BY(history_mu_) = 0;  // at the last sample
  std::chrono::steady_clock::time_point history_at_ GUARDED_BY(history_mu_);
  std::unique_ptr<Periodic> sampler_;     // last: stops first
};

}  // namespace p2pshare::central
