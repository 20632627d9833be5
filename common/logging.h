// Logging set-up: one named spdlog logger per binary, writing to stderr,
// installed as the default logger so modules call spdlog::info(...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace p2pshare {

// The names accepted by --log-level: trace, debug, info, warn, error, off.
const std::vector<std::string>& LogLevelNames();

// Creates the logger `name` at `level` (one of LogLevelNames()) and makes it
// the default. InvalidArgument for an unknown level.
Status SetupLogging(const std::string& name, const std::string& level);

}  // namespace p2pshare
