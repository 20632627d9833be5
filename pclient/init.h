// `peer-client init`: a first run that sets itself up (docs/protocol.md,
// "peer-client init"). Asks for (on a terminal) or takes flags for central's
// URL, the account and the folders; checks the account with central
// (creating it with --register); pins central's CA; writes the config with
// the password kept out of it, in a file of mode 0600 beside it; prints
// the two commands to run next. The password is never a flag: it is typed
// (without echo), or read from P2PSHARE_PASSWORD or standard input.
#pragma once

#include <string>
#include <vector>

namespace p2pshare::pclient {

// `args`: the words after "init"; `config_path`: where to write the config
// (--config; empty: peer.json here). Returns the exit code (0, 1, or 2 for
// bad flags), having said why on stderr.
int RunInit(const std::vector<std::string>& args, std::string config_path);

}  // namespace p2pshare::pclient
