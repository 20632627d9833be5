#include "central/central_config.h"

#include "common/host_port.h"
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

Status ValidateCentralConfig(const CentralConfig& c) {
  Status listen = ParseHostPort(c.listen, /*allow_any_port=*/true).status();
  if (!listen.ok()) return InvalidArgument("key 'listen': " + listen.message());
  if (c.session_ttl_s <= c.heartbeat_interval_s) {
    return InvalidArgument("key 'session_ttl_s' (" + std::to_string(c.session_ttl_s) +
                           ") must be greater than heartbeat_interval_s (" +
                           std::to_string(c.heartbeat_interval_s) + ")");
  }
  if (c.db.empty() || c.db == "sqlite:") return InvalidArgument("key 'db' must name a file");
  return Status::Ok();
}

}  // namespace p2pshare::central
