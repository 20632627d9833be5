// Whether other peers can reach a peer at the address central lists for it
// (docs/protocol.md, "Reachability"): central connects to that address as
// any peer would and completes a TLS handshake, which must present a
// certificate of the network's CA naming that very account. Another
// program on the port, another account's peer, or nothing at all there
// all count as "not reachable", each with its reason in plain words.
//
// Central asks this of addresses peers name themselves, so the probe is
// kept small: one TCP connection, one handshake, no request, closed at
// once, within a deadline. Directory bounds how many run at once and how
// often one account may ask (central/directory.h).
//
// Thread-safe (no state).
#pragma once

#include <chrono>
#include <string>

namespace p2pshare::central {

struct ReachProbe {
  bool reached = false;
  // Why not, in plain words: "connection refused", "no answer within 3 s",
  // "it presented bob's certificate", … Empty when reached.
  std::string why;
};

// Connects to host:port (an IPv6 host bare, without brackets) and checks
// the TLS handshake against `ca_pem` and `account`, all within `timeout`.
ReachProbe ProbePeer(const std::string& host, int port, const std::string& account,
                     const std::string& ca_pem, std::chrono::milliseconds timeout);

}  // namespace p2pshare::central
