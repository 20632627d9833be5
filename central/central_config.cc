#include "central/central_config.h"

#include <arpa/inet.h>

#include <cstring>
#include <filesystem>

#include "common/host_port.h"
#include "common/logging.h"

namespace p2pshare::central {

void DescribeCentralConfig(ConfigSchema& s, CentralConfig* c) {
  s.String("listen", &c->listen, "address to listen on, host:port (port 0: any free port)");
  s.Path("db", &c->db,
         "SQLite database file (or sqlite:<path>); postgresql://... for replicas sharing one "
         "PostgreSQL database");
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
  s.String("log_format", &c->log_format, "text (one line an event) or json (one object a line)", LogFormatNames());
  s.Bool("tls", &c->tls, "serve HTTPS (false: plain HTTP, for local experiments only)");
  s.Path("ca_dir", &c->ca_dir,
           "folder of the network's certificate authority (empty: ca beside the database); "
           "with postgresql://, the CA lives in the database and only its certificate is "
           "written here");
  s.StringList("tls_names", &c->tls_names,
               "more host names or IP addresses for central's certificate", 64);
  s.StringList("trusted_proxies", &c->trusted_proxies,
               "IP addresses of load balancers whose connections start with a PROXY protocol "
               "v2 header naming the client (HAProxy's send-proxy-v2); they must send it", 64);
  s.Int("cert_lifetime_s", &c->cert_lifetime_s, "seconds a peer's certificate stays valid", 300,
        86400);
  s.Int("max_peers_per_address", &c->max_peers_per_address,
        "peers one source address may bring online (loopback is not counted)", 1, 100000);
  s.Int("max_connections_per_address", &c->max_connections_per_address,
        "open connections one source address may hold", 1, 1000000);
  s.Int("min_body_rate", &c->min_body_rate,
        "bytes a second a request body must arrive at (beyond request_timeout_s)", 1, 1 << 30);
  s.Int("register_per_minute", &c->register_per_minute,
        "accounts one source address may create a minute (0: no limit)", 0, 1000000);
  s.Int("pbkdf2_iterations", &c->pbkdf2_iterations,
        "PBKDF2-SHA256 iterations of new password hashes (existing ones keep theirs)", 10000,
        10000000);
  s.Int("password_checks", &c->password_checks,
        "password hashes computed at once (register, login); more wait, then 503", 1, 1024);
  s.Int("max_files_per_peer", &c->max_files_per_peer, "files one peer may have in the index", 1,
        100000000);
  s.Int("max_index_files", &c->max_index_files, "files all peers together may have in the index",
        1, 1000000000);
  s.String("relay_listen", &c->relay_listen,
           "where the relay for unreachable peers listens, host:port (default: listen's host at "
           "its port + 1, or any free port when that is taken); off: no relay");
  s.String("relay_address", &c->relay_address,
           "host name or address peers dial the relay at (default: the one they reach central at)");
  s.Int("relay_sessions", &c->relay_sessions, "relayed connections at once, in all", 1, 100000);
  s.Int("relay_sessions_per_account", &c->relay_sessions_per_account,
        "relayed connections at once one account may ask for", 1, 10000);
  s.Int("relay_session_rate", &c->relay_session_rate,
        "bytes a second one relayed connection may carry (0: no cap)", 0, int64_t{1} << 40);
  s.Int("relay_total_rate", &c->relay_total_rate,
        "bytes a second all relayed connections together may carry (0: no cap)", 0, int64_t{1} << 40);
}

std::optional<HostPort> RelayListen(const CentralConfig& c, bool* derived) {
  *derived = false;
  if (c.relay_listen == "off") return std::nullopt;
  if (!c.relay_listen.empty()) return ParseHostPort(c.relay_listen, /*allow_any_port=*/true).value();
  *derived = true;
  HostPort at = ParseHostPort(c.listen, /*allow_any_port=*/true).value();
  at.port = at.port == 0 || at.port == 65535 ? 0 : at.port + 1;
  return at;
}

std::string CaDir(const CentralConfig& c) {
  if (!c.ca_dir.empty()) return c.ca_dir;
  std::string db = c.db.rfind("sqlite:", 0) == 0 ? c.db.substr(7) : c.db;
  std::filesystem::path parent = std::filesystem::path(db).parent_path();
  return (parent.empty() ? std::filesystem::path("ca") : parent / "ca").string();
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
  for (const std::string& name : c.tls_names) {
    if (name.empty() || name.size() > 253 ||
        name.find_first_of(" \t\r\n,/") != std::string::npos) {
      return InvalidArgument("key 'tls_names': '" + name + "' is not a host name or address");
    }
  }
  if (!c.relay_listen.empty() && c.relay_listen != "off") {
    Status relay = ParseHostPort(c.relay_listen, /*allow_any_port=*/true).status();
    if (!relay.ok()) return InvalidArgument("key 'relay_listen': " + relay.message() + " (or \"off\")");
  }
  if (!c.relay_address.empty() && !IsHostName(c.relay_address)) {
    return InvalidArgument("key 'relay_address': '" + c.relay_address + "' is not a host name or address");
  }
  for (const std::string& proxy : c.trusted_proxies) {
    if (!NormalizedIp(proxy)) {
      return InvalidArgument("key 'trusted_proxies': '" + proxy + "' is not an IP address");
    }
  }
  return Status::Ok();
}

std::optional<std::string> NormalizedIp(const std::string& text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN] = {0};
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    inet_ntop(AF_INET, bytes, out, sizeof out);
  } else if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
      inet_ntop(AF_INET, bytes + 12, out, sizeof out);  // as central names such clients
    } else {
      inet_ntop(AF_INET6, bytes, out, sizeof out);
    }
  } else {
    return std::nullopt;
  }
  return std::string(out);
}

}  // namespace p2pshare::central
