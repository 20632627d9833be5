// HttpApi: the REST/JSON face of a Directory (SPEC §5) on cpp-httplib.
//
// Every reply is JSON; every error is {"error", "message"} with the status
// of HttpStatusFor(). cpp-httplib is set up as NOTES-TOOLCHAIN.md says:
// TCP_NODELAY, long keep-alive, a 1 MiB body limit checked before the body
// is read, chunked request bodies refused, and an exception handler so no
// request can crash the server. One log line per request.
//
// Thread-safe: handlers run on cpp-httplib's worker pool.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "central/directory.h"
#include "central/http_gate.h"
#include "common/metrics.h"
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
};

class HttpApi {
 public:
  HttpApi(Directory* directory, HttpApiOptions options);
  ~HttpApi();

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
  void Routes();
  // Resolves the bearer token of `req` (errors as Directory::Authenticate).
  Result<std::string> Caller(const httplib::Request& req);
  // Caller(), or "" when public_read lets anyone read.
  Result<std::string> Reader(const httplib::Request& req);

  // /metrics: what the registry counts live, plus the directory's and the
  // gate's own numbers read at scrape time.
  std::string Metrics();
  // Counts a served request by route and status, and its latency.
  void Observe(const httplib::Request& req, const httplib::Response& res, double seconds);

  Directory* const directory_;
  const HttpApiOptions options_;
  std::unique_ptr<GatedServer> server_;
  std::atomic<int64_t> requests_{0};
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>* requests_by_route_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  std::string dashboard_csp_;  // pins the page's one inline script by its hash
};

}  // namespace p2pshare::central
