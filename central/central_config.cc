#include "central/central_config.h"

#include <charconv>

#include "common/logging.h"

namespace p2pshare::central {

void DescribeCentralConfig(ConfigSchema& s, CentralConfig* c) {
  s.String("listen", &c->listen, "address to listen on, host:port (port 0: any free port)");
  s.String("db", &c->db, "SQLite database file (or sqlite:<path>)");
  s.IntRange("port_range", &c->port_range, "gRPC ports handed to peers: LOW HIGH", 1, 65535);
  s.Int("heartbeat_interval_s", &c->heartbeat_interval_s,
        "seconds between a peer's heartbeats", 1, 3600);
  s.Int("session_ttl_s", &c->session_ttl_s,
        "seconds without a heartbeat before a peer is evicted", 2, 86400);
  s.Bool("allow_registration", &c->allow_registration, "whether POST /register creates accounts");
  s.Bool("public_read", &c->public_read, "whether search, files, peers and stats need no token");
  s.Int("request_timeout_s", &c->request_timeout_s,
        "seconds a client has to send a whole request (else 408)", 1, 3600);
  s.Int("max_connections", &c->max_connections,
        "client connections kept waiting for a request; beyond, the oldest go", 16, 1000000);
  s.String("log_level", &c->log_level, "trace, debug, info, warn, error or off", LogLevelNames());
}

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  auto bad = [&]() {
    return InvalidArgument("key 'listen' must be host:port, not '" + text + "'");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return bad();
  ListenAddress addr;
  addr.host = text.substr(0, colon);
  if (addr.host.front() == '[') {
    if (addr.host.back() != ']' || addr.host.size() < 3) return bad();
    addr.host = addr.host.substr(1, addr.host.size() - 2);
  }
  std::string port = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), addr.port);
  if (ec != std::errc() || ptr != port.data() + port.size() || addr.port < 0 ||
      addr.port > 65535) {
    return bad();
  }
  return addr;
}

Status ValidateCentralConfig(const CentralConfig& c) {
  RETURN_IF_ERROR(ParseListenAddress(c.listen).status());
  if (c.session_ttl_s <= c.heartbeat_interval_s) {
    return InvalidArgument("key 'session_ttl_s' (" + std::to_string(c.session_ttl_s) +
                           ") must be greater than heartbeat_interval_s (" +
                           std::to_string(c.heartbeat_interval_s) + ")");
  }
  if (c.db.empty() || c.db == "sqlite:") return InvalidArgument("key 'db' must name a file");
  return Status::Ok();
}

}  // namespace p2pshare::central
