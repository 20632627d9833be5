// peer-server: the gRPC file service of one peer. Parses flags and config,
// runs a PeerServer until SIGINT/SIGTERM (which log out) or a logout.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "common/file_limit.h"
#include "common/heap.h"
#include "common/peer_channel.h"
#include "common/logging.h"
#include "common/peer_config.h"
#include "common/signal_waiter.h"
#include "pserver/peer_server.h"

int main(int argc, char** argv) {
  p2pshare::BoundHeapGrowth(p2pshare::HeapUse::kTransfers);
  p2pshare::NarrowPeerTlsSuites();
  // Every caller's connection is a descriptor: as many as the hard limit
  // allows, so a stranger's silent connections cannot use them all up.
  p2pshare::RaiseOpenFileLimit(p2pshare::kUnlimitedFiles);
  p2pshare::PeerConfig config;
  CLI::App app{"p2pshare peer-server: the gRPC file service of one peer", "peer-server"};
  app.set_version_flag("--version", std::string(P2PSHARE_VERSION));
  p2pshare::PeerConfigFlags flags(app, &config, p2pshare::PeerProgram::kServer);
  if (auto exit_code = p2pshare::ParseCommandLine(app, argc, argv)) return *exit_code;
  auto fail = [](const p2pshare::Status& s, int code = p2pshare::kExitFailed) {
    std::fprintf(stderr, "peer-server: %s\n", s.message().c_str());
    return code;
  };
  p2pshare::Status loaded = flags.Load();
  if (!loaded.ok()) return fail(loaded, p2pshare::kExitUsage);
  p2pshare::Status logging = p2pshare::SetupLogging("peer-server", config.log_level, config.log_format);
  if (!logging.ok()) return fail(logging, p2pshare::kExitUsage);

  p2pshare::pserver::PeerServer server(config);
  p2pshare::StopOnSignals([&server](const char* name) {
    spdlog::info("{} received: logging out", name);
    server.RequestStop();
  });
  p2pshare::Status s = server.Run();
  p2pshare::StopHandlingSignals();  // before `server` goes away
  if (!s.ok()) return fail(s);
  return 0;
}
