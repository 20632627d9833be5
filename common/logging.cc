#include "common/logging.h"

#include <grpc/support/log.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/terminal_text.h"

namespace p2pshare {

std::string Counted(int64_t n, std::string_view noun, std::string_view plural) {
  std::string out = std::to_string(n) + " ";
  if (n == 1) return out.append(noun);
  if (!plural.empty()) return out.append(plural);
  return out.append(noun).append("s");
}


const std::vector<std::string>& LogLevelNames() {
  static const std::vector<std::string> kNames = {"trace", "debug", "info",
                                                  "warn",  "error", "off"};
  return kNames;
}

const std::vector<std::string>& LogFormatNames() {
  static const std::vector<std::string> kNames = {"text", "json"};
  return kNames;
}

namespace {

// One event, one line: the message with its line breaks and other control
// characters escaped (a peer's name or a library's multi-line dump never
// forges or splits a line).
class OneLineFormatter : public spdlog::formatter {
 public:
  explicit OneLineFormatter(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char stamp[40];
    const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03lld", static_cast<long long>(ms % 1000));
    const auto level_name = spdlog::level::to_string_view(msg.level);
    const std::string_view level(level_name.data(), level_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (json_) {
      nlohmann::json j{{"time", stamp},
                       {"level", std::string(level.data(), level.size())},
                       {"program", std::string(msg.logger_name.data(), msg.logger_name.size())},
                       {"message", TerminalSafe(text, Newlines::kKeep)}};
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line.reserve(text.size() + 64);
      line.append(stamp).append(" ").append(level.data(), level.size()).append(" [");
      line.append(msg.logger_name.data(), msg.logger_name.size()).append("] ");
      line += TerminalSafe(text, Newlines::kBackslashN);
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<OneLineFormatter>(json_); }

 private:
  bool json_;
};

// gRPC's log lines, at debug, through the program's logger.
void FromGrpc(gpr_log_func_args* args) {
  if (args == nullptr || args->message == nullptr) return;
  const char* file = args->file != nullptr ? std::strrchr(args->file, '/') : nullptr;
  spdlog::debug("grpc {}:{}: {}", file != nullptr ? file + 1 : (args->file ? args->file : "?"), args->line,
                args->message);
}

}  // namespace

std::unique_ptr<spdlog::formatter> MakeLogFormatter(const std::string& format) {
  return std::make_unique<OneLineFormatter>(format == "json");
}

Status SetupLogging(const std::string& name, const std::string& level, const std::string& format) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return InvalidArgument("unknown log level '" + level + "'");
  }
  if (format != "text" && format != "json") return InvalidArgument("unknown log format '" + format + "'");
  auto logger = spdlog::get(name);
  if (!logger) logger = spdlog::stderr_color_mt(name);
  logger->set_level(lvl);
  logger->set_formatter(MakeLogFormatter(format));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  gpr_set_log_function(FromGrpc);
  gpr_set_log_verbosity(lvl <= spdlog::level::debug ? GPR_LOG_SEVERITY_DEBUG : GPR_LOG_SEVERITY_ERROR);
  return Status::Ok();
}

}  // namespace p2pshare
