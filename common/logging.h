// Logging set-up: one named spdlog logger per binary, writing to stderr,
// installed as the default logger so modules call spdlog::info(...).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include "common/status.h"

namespace p2pshare {

// The names accepted by --log-level: trace, debug, info, warn, error, off.
const std::vector<std::string>& LogLevelNames();

// "1 file", "2 files", "0 files": a count and its noun (an English plural
// with "s", or `plural` when given) for messages and logs.
std::string Counted(int64_t n, std::string_view noun, std::string_view plural = "");

// The names accepted by log_format: text, json.
const std::vector<std::string>& LogFormatNames();

// Creates the logger `name` at `level` (one of LogLevelNames()) and makes it
// the default. Each event is one line on stderr, whatever its message holds
// (a newline in it is written as "\n", other control characters as \xNN):
// `format` "text" is "2026-11-28T16:00:00.000 info [central] message";
// "json" one object a line, {"time", "level", "program", "message"}.
// gRPC's own log lines come through it too, at debug (what they report
// reaches the program as call results). InvalidArgument for an unknown
// level or format.
Status SetupLogging(const std::string& name, const std::string& level, const std::string& format = "text");

// The line formatter SetupLogging installs, for "text" or "json".
std::unique_ptr<spdlog::formatter> MakeLogFormatter(const std::string& format);

}  // namespace p2pshare
