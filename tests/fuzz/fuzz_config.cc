// Fuzz target: the config loader of every program — the JSON file and the
// command-line flags — for central's keys and the peers' keys.
//
// Input: a config file's text, optionally followed by a NUL byte and
// newline-separated command-line words. Oracle: loading never crashes or
// throws past the loader (CLI11's ParseError is the one exception the
// programs expect, as main() catches it); a config that loads and
// validates holds values inside each key's range.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "central/central_config.h"
#include "common/config.h"
#include "common/host_port.h"
#include "common/peer_config.h"

namespace {

using namespace p2pshare;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "BUG: %s\n", what);
  std::abort();
}

// Writes `text` to the run's one temp file (removed at exit); returns its path.
const std::string& ConfigFile(const std::string& text) {
  struct TempFile {
    TempFile() {
      char tmpl[] = "/tmp/p2pshare-fuzz-config-XXXXXX";
      int fd = mkstemp(tmpl);
      if (fd < 0) std::abort();
      close(fd);
      path = tmpl;
    }
    ~TempFile() { unlink(path.c_str()); }
    std::string path;
  };
  static TempFile file;
  std::ofstream(file.path, std::ios::trunc | std::ios::binary) << text;
  return file.path;
}

// Parses `words` as argv; false when CLI11 refuses them (as main would exit).
bool ParseFlags(CLI::App& app, const std::vector<std::string>& words) {
  std::vector<std::string> args = words;
  std::reverse(args.begin(), args.end());  // CLI11 takes them in reverse
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return false;
  }
  return true;
}

void LoadCentral(const std::string& path, const std::vector<std::string>& words) {
  central::CentralConfig config;
  ConfigSchema schema;
  central::DescribeCentralConfig(schema, &config);
  CLI::App app;
  schema.AddFlags(app);
  if (!ParseFlags(app, words)) return;
  if (!schema.Load(path).ok() || !central::ValidateCentralConfig(config).ok()) return;
  if (config.port_range.first < 1 || config.port_range.first > config.port_range.second ||
      config.port_range.second > 65535) {
    Bug("central: port_range out of range");
  }
  if (config.session_ttl_s <= config.heartbeat_interval_s) Bug("central: ttl <= interval");
  if (!ParseHostPort(config.listen, /*allow_any_port=*/true).ok()) Bug("central: bad listen accepted");
}

void LoadPeer(const std::string& path, std::vector<std::string> words) {
  PeerConfig config;
  CLI::App app;
  PeerConfigFlags flags(app, &config, PeerProgram::kServer);
  words.push_back("--config");
  words.push_back(path);
  if (!ParseFlags(app, words)) return;
  if (!flags.Load().ok()) return;
  if (config.max_storage_bytes < 0) Bug("peer: negative max_storage_bytes");
  if (config.friends.size() > 2) Bug("peer: more than two friends");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string text = input.substr(0, nul);
  std::vector<std::string> words;
  if (nul != std::string::npos) {
    std::string rest = input.substr(nul + 1);
    size_t start = 0;
    while (start <= rest.size() && words.size() < 32) {
      size_t end = rest.find('\n', start);
      if (end == std::string::npos) end = rest.size();
      words.push_back(rest.substr(start, end - start));
      start = end + 1;
    }
  }
  const std::string& path = ConfigFile(text);
  LoadCentral(path, words);
  LoadPeer(path, words);
  return 0;
}
