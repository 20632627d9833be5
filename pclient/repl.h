// The interactive loop of peer-client on libedit: prompt "<account>> ",
// line editing, history kept across runs in ~/.p2pshare/history-<account>,
// tab completion of commands and of names from the last search.
#pragma once

#include "pclient/peer_client.h"

namespace p2pshare::pclient {

// Runs until quit/exit/Ctrl-D. Returns 0.
int RunRepl(PeerClient& client, const std::string& username);

}  // namespace p2pshare::pclient
