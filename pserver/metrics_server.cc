#include "pserver/metrics_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include "common/metrics.h"
#include "common/host_port.h"
#include "common/http_server.h"

namespace p2pshare::pserver {

MetricsServer::MetricsServer(std::function<std::string()> render) : render_(std::move(render)) {}

MetricsServer::~MetricsServer() { Stop(); }

Result<int> MetricsServer::Start(const std::string& address) {
  ASSIGN_OR_RETURN(auto host_port, ParseHostPort(address, /*allow_any_port=*/true));
  const auto& [host, port] = host_port;
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  RefuseSharedPort(*server_);
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_(), kMetricsContentType);
  });
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    server_.reset();
    return Unavailable("cannot listen on " + address + " for /metrics");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void MetricsServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace p2pshare::pserver
