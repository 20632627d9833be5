#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

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

Status SetupLogging(const std::string& name, const std::string& level) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return InvalidArgument("unknown log level '" + level + "'");
  }
  auto logger = spdlog::get(name);
  if (!logger) logger = spdlog::stderr_color_mt(name);
  logger->set_level(lvl);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace p2pshare
