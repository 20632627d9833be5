// Log lines: one event is one line whatever its message holds, in text and
// in JSON.
#include "common/logging.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace p2pshare {
namespace {

std::string Format(const std::string& format, const std::string& message,
                   spdlog::level::level_enum level = spdlog::level::info) {
  auto formatter = MakeLogFormatter(format);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "central", level, message);
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LoggingTest, AMessageWithLineBreaksAndEscapesStaysOneTextLine) {
  // What a multi-line library dump, or a name someone slipped a newline and
  // a terminal escape into, would otherwise make of a log.
  const std::string line =
      Format("text", "bind failed: {\n  created_time: x,\n  children: []}\n2026-11-28T00:00:00.000 info [central] "
                     "login of alice\x1b[2J");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_NE(line.find(" info [central] bind failed: {\\n  created_time"), std::string::npos) << line;
  EXPECT_NE(line.find("\\x1b[2J"), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
}

TEST(LoggingTest, JsonFormatIsOneObjectALineWithTheMessageIntact) {
  const std::string message = "evicted bob (no heartbeat for 15 s)\nsecond \"line\"";
  const std::string line = Format("json", message, spdlog::level::warn);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["message"], message);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["program"], "central");
  EXPECT_EQ(j["time"].get<std::string>().size(), 23u) << j["time"];
}

TEST(LoggingTest, COneControlsInANameReachNoLogViewerRaw) {
  // U+009B, the 8-bit CSI, in a name a peer chose; a stray 0x9b byte too.
  for (const char* format : {"text", "json"}) {
    const std::string line = Format(format, "upload of evil\xc2\x9b" "2J.txt from raw\x9b" "31m");
    EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << format << ": " << line;
    EXPECT_EQ(line.find('\x9b'), std::string::npos) << format << ": " << line;
    const std::string message =
        std::string(format) == "json" ? nlohmann::json::parse(line)["message"].get<std::string>() : line;
    EXPECT_NE(message.find("evil\\u009b2J.txt"), std::string::npos) << format << ": " << line;
  }
}

TEST(LoggingTest, UnknownLevelsAndFormatsAreRefused) {
  EXPECT_FALSE(SetupLogging("logging-test", "loud").ok());
  EXPECT_FALSE(SetupLogging("logging-test", "info", "xml").ok());
  EXPECT_TRUE(SetupLogging("logging-test", "info", "json").ok());
}

}  // namespace
}  // namespace p2pshare
