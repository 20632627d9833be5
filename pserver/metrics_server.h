// MetricsServer: the peer-server's GET /metrics (Prometheus text format)
// over plain HTTP on an address of its own (the peer config's
// metrics_listen), answered by `render`. cpp-httplib, a few threads.
//
// Thread-safe: Start/Stop from one thread; `render` runs on its workers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace p2pshare::pserver {

class MetricsServer {
 public:
  explicit MetricsServer(std::function<std::string()> render);
  ~MetricsServer();

  // Binds "host:port" (port 0: any) and serves on a thread; the bound
  // port. InvalidArgument for a bad address, Unavailable when it is taken.
  Result<int> Start(const std::string& address);
  void Stop();

 private:
  std::function<std::string()> render_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace p2pshare::pserver
