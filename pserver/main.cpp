// peer-server: the gRPC file service of one peer.
//
// This build reads and checks the peer config (SPEC §8) and stops: the
// program itself is the subject of its own issue and is not built yet.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/peer_config.h"

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
  p2pshare::Status loaded = flags.Load();
  if (!loaded.ok()) {
    std::fprintf(stderr, "peer-server: %s\n", loaded.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "peer-server: config for '%s' is valid; this program is not built yet\n",
               config.username.c_str());
  return 2;
}
