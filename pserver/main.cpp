// peer-server: the gRPC file service of one peer. Parses flags and config,
// runs a PeerServer until SIGINT/SIGTERM (which log out) or a logout.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/peer_config.h"
#include "pserver/peer_server.h"

int main(int argc, char** argv) {
  p2pshare::PeerConfig config;
  CLI::App app{"p2pshare peer-server: the gRPC file service of one peer"};
  app.set_version_flag("--version", std::string(P2PSHARE_VERSION));
  p2pshare::PeerConfigFlags flags(app, &config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto fail = [](const p2pshare::Status& s) {
    std::fprintf(stderr, "peer-server: %s\n", s.message().c_str());
    return 1;
  };
  p2pshare::Status loaded = flags.Load();
  if (!loaded.ok()) return fail(loaded);
  p2pshare::Status logging = p2pshare::SetupLogging("peer-server", config.log_level);
  if (!logging.ok()) return fail(logging);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  p2pshare::pserver::PeerServer server(config);
  std::thread signal_waiter([&server, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("{} received: logging out", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.RequestStop();
  });
  signal_waiter.detach();
  p2pshare::Status s = server.Run();
  if (!s.ok()) return fail(s);
  return 0;
}
