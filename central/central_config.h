// The configuration of `central` (docs/protocol.md, "Configuration"):
// keys, defaults, checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/host_port.h"
#include "common/status.h"

namespace p2pshare::central {

struct CentralConfig {
  std::string listen = "127.0.0.1:8080";
  std::string db = "data/central.db";  // a path, or "sqlite:<path>"
  std::pair<int64_t, int64_t> port_range{50051, 50150};
  int64_t heartbeat_interval_s = 5;
  int64_t session_ttl_s = 15;
  bool allow_registration = true;
  bool public_read = true;
  int64_t request_timeout_s = 10;
  int64_t max_connections = 10000;
  std::string log_level = "info";
  std::string log_format = "text";  // or "json"
  bool tls = true;                     // HTTPS; false: plain HTTP, for local experiments
  std::string ca_dir;                  // the CA's files; empty: <folder of db>/ca
  std::vector<std::string> tls_names;  // more names for central's certificate
  std::vector<std::string> trusted_proxies;  // balancers that send a PROXY v2 header
  int64_t cert_lifetime_s = 3600;      // how long a peer's certificate is valid
  int64_t max_peers_per_address = 16;  // peers one (non-loopback) address may bring online
  // Limits on what one caller can make central spend (docs/protocol.md, "Limits").
  int64_t max_connections_per_address = 256;  // open connections from one address
  int64_t min_body_rate = 16 * 1024;          // bytes/s a request body must arrive at
  int64_t register_per_minute = 20;           // accounts one address may create (0: no limit)
  int64_t password_checks = 2;                // PBKDF2 runs at once (register, login)
  int64_t pbkdf2_iterations = 100000;         // for new password hashes
  int64_t max_files_per_peer = 100000;        // index entries of one peer
  int64_t max_index_files = 4000000;          // index entries of all peers
  // The relay (central/relay.h; docs/protocol.md, "Relay").
  std::string relay_listen;   // host:port; "": listen's host at its port + 1; "off": none
  std::string relay_address;  // the host peers dial it at; "": the host they reach central at
  int64_t relay_sessions = 256;
  int64_t relay_sessions_per_account = 8;
  int64_t relay_session_rate = 16 << 20;  // bytes a second
  int64_t relay_total_rate = 64 << 20;
};

// Where the relay listens: nullopt for "off"; `derived` is set when
// relay_listen was left empty (listen's host, its port + 1).
std::optional<HostPort> RelayListen(const CentralConfig& config, bool* derived);

// The CA folder `config` names: ca_dir, or "ca" beside the database.
std::string CaDir(const CentralConfig& config);

// Registers every key of `config` (which holds the defaults) on `schema`.
void DescribeCentralConfig(ConfigSchema& schema, CentralConfig* config);

// Checks that need several keys: session_ttl_s > heartbeat_interval_s, and a
// listen address that parses. InvalidArgument naming the key.
Status ValidateCentralConfig(const CentralConfig& config);

// An IP address literal in the form central names clients by (inet_ntop's,
// an IPv4-mapped IPv6 address as IPv4); nullopt when `text` is none.
std::optional<std::string> NormalizedIp(const std::string& text);


}  // namespace p2pshare::central
