// The one translation of what happens between peers into a person's words.
//
// A failed call to another peer reaches a person as who did what ("carol
// went offline", "bob did not answer in time"), never in the transport's
// words ("failed to connect to all addresses; last error: UNKNOWN:
// ipv4:127.0.0.1:31053: ..."): those go to the debug log only. What a
// download keeps and what happens next is said by the caller, which knows
// (pclient/transfer_io.h, IncompleteStatus).
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace p2pshare::pclient {

// What `peer` did, as a phrase that follows its name: "went offline",
// "cannot be reached", "did not answer in time", "does not share it any
// more", "is busy (...)", "refused us: ...", "is not who it claims to be (...)",
// "failed on its side". The peer's own words (a message its server
// sent) are kept short. `s` is not OK.
std::string PeerTrouble(const std::string& peer, const grpc::Status& s);

// A Status with `s`'s code saying "<doing>: <peer> <PeerTrouble>" ("ping
// carol: carol went offline").
Status PeerCallStatus(const std::string& peer, const grpc::Status& s, const std::string& doing);

// Whether `s` says the peer is away (offline, unreachable, silent): such a
// failure may pass by itself, unlike a refusal.
bool PeerAway(const grpc::Status& s);

}  // namespace p2pshare::pclient
