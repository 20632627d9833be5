// The configuration of `central` (docs/protocol.md, "Configuration"):
// keys, defaults, checks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/config.h"
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
};

// Registers every key of `config` (which holds the defaults) on `schema`.
void DescribeCentralConfig(ConfigSchema& schema, CentralConfig* config);

// Checks that need several keys: session_ttl_s > heartbeat_interval_s, and a
// listen address that parses. InvalidArgument naming the key.
Status ValidateCentralConfig(const CentralConfig& config);


}  // namespace p2pshare::central
