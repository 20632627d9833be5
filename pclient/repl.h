// The interactive loop of peer-client on libedit: prompt "<account>> ",
// line editing, history kept across runs in ~/.p2pshare/history-<account>,
// tab completion of commands and of names from the last search.
#pragma once

#include "pclient/peer_client.h"

namespace p2pshare::pclient {

// Runs until quit/exit/Ctrl-D. Returns 0. Ctrl-C at the prompt clears the
// line; during a command it sets the flag Interrupted() reads (a transfer
// stops, keeping what a resume needs). Each line reaches the history file
// as it is entered.
int RunRepl(PeerClient& client, const std::string& username);

// Whether Ctrl-C was pressed since the current line was entered (for
// PeerClientOptions::stop_requested).
bool Interrupted();

}  // namespace p2pshare::pclient
