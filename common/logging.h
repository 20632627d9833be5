// Logging set-up: one named spdlog logger per binary, writing to stderr,
// installed as the default logger so modules call spdlog::info(...).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace p2pshare {

// The names accepted by --log-level: trace, debug, info, warn, error, off.
const std::vector<std::string>& LogLevelNames();

// "1 file", "2 files", "0 files": a count and its noun (an English plural
// with "s", or `plural` when given) for messages and logs.
std::string Counted(int64_t n, std::string_view noun, std::string_view plural = "");

// Creates the logger `name` at `level` (one of LogLevelNames()) and makes it
// the default. InvalidArgument for an unknown level.
Status SetupLogging(const std::string& name, const std::string& level);

}  // namespace p2pshare
