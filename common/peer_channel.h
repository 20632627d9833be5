// The transport between peers, configured in one place: every channel a
// peer opens to another (downloads, uploads, file lists, pings, Locate and
// its flood) comes from PeerChannel, and every peer-server listens through
// AddPeerListeningPort, so both ends agree on the window, frame and message
// sizes of common/transfer_tuning.h and on the credentials.
//
// DESIGN: peers talk mutual TLS with certificates from the network's CA
// (docs/protocol.md, "Trust"). Each process names its identity once
// (UsePeerIdentity: its key, its current certificate and the CA, as PEM
// files that gRPC re-reads every few seconds, so a renewed certificate is
// used without a restart). A client checks that the server's certificate
// chains to the CA, is not revoked, and names the account it meant to
// reach; a server asks every caller for a certificate and PeerCaller tells
// who it is (or why not), so a caller without one can still be told
// UNAUTHENTICATED. No bearer token ever goes to another peer.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/directory_types.h"
#include "common/status.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare {

inline constexpr auto kDirectProbe = std::chrono::seconds(4);
inline constexpr auto kRelayedRouteLife = std::chrono::minutes(10);

// A peer's TLS identity on disk (in <shared_dir>/.p2pshare/).
struct PeerIdentity {
  std::string key_file;   // its private key (mode 0600)
  std::string cert_file;  // its current certificate from central
  std::string ca_file;    // the network's CA
};
// The files of the peer whose internal folder is `internal_dir`.
PeerIdentity PeerIdentityIn(const std::string& internal_dir);

// Narrows the TLS 1.2 suites of every peer channel and listener of this
// process to one forward-secret AEAD suite (ECDHE-ECDSA-AES256-GCM-SHA384;
// peers' keys are EC): gRPC has no server preference to set, and with one
// suite the server's choice is the only one (TLS 1.3's suites are all
// AEAD). Call at the start of main, before anything uses gRPC.
void NarrowPeerTlsSuites();

// Sets the identity this process uses for every peer channel and
// listener. Call at start, before the first channel.
void UsePeerIdentity(const PeerIdentity& identity);

// The identity's certificate changed (a new login): channels and
// listeners made from now on present the new one at once (those already
// open pick it up within seconds).
void ReloadPeerIdentity();

// Certificate serials central says are revoked (accounts that logged out
// or were evicted): refused as callers and as servers. Central tells each
// revocation once (docs/protocol.md, "Trust"), so they are added to what
// is known; each is forgotten a day after it was told (no certificate
// lives longer). ForgetRevokedCertificates empties the list (tests).
void AddRevokedCertificates(const std::vector<std::string>& serials);
void ForgetRevokedCertificates();
bool CertificateRevoked(const std::string& serial);

// Reaching peers that cannot be reached at their address (docs/protocol.md,
// "Rendezvous"): where this process asks central for a rendezvous (its
// directory client's POST /rendezvous: with a port of ours, a reversal to
// it; with 0, a relay ticket). Unset (peer-server, friends-only): direct
// only. `self`: this process's own account, never gone around (its own
// peer-server is on this machine). `reverse_host`: our address toward
// central, where a holder may connect back to us (empty: never ask).
void UseRelay(std::function<Result<RelayTicket>(const std::string& account, int reverse_port)> tickets,
              const std::string& self = "", const std::string& reverse_host = "");
// How this process reaches `account` now: "direct", "reversed" (it
// connects out to us) or "relayed".
std::string RouteTo(const std::string& account);
// Why the last connection to `account` without its address could not be
// made, in plain words (empty when it was, or none was tried).
std::string RelayFailure(const std::string& account);

// A channel to the peer-server at host:port (an IPv6 host bare, without
// brackets) that only talks to a server presenting the certificate of
// `account`, or of any member when `account` is empty (a friend known by
// its address). Channels are reused per (address, account).
//
// The route is chosen here, so no caller knows it: with a relay set up
// (UseRelay), the first channel to an account tries its address for up
// to kDirectProbe; when no connection comes of it and nothing accepts a
// TCP connection there (refused, dropped, unroutable — not a server that
// answers with the wrong certificate: that is reported, not gone around),
// the account is reached without its address from then on — it connects
// back to us when it can, else through the relay (RelayForwarder) — for
// kRelayedRouteLife; then its address is tried again. The peers'
// TLS is the same either way. Without a relay it connects lazily, on the
// first call.
// `as` overrides the process's identity (tests that play two peers).
std::shared_ptr<grpc::Channel> PeerChannel(const std::string& host, int port,
                                           const std::string& account,
                                           const PeerIdentity* as = nullptr);
// A PeerService stub on PeerChannel(host, port, account).
std::unique_ptr<v1::PeerService::Stub> PeerStub(const std::string& host, int port,
                                                const std::string& account,
                                                const PeerIdentity* as = nullptr);

// Adds the listening address host:port to `builder` with the peer transport
// settings and credentials (SO_REUSEPORT off, so a taken port fails instead
// of being shared). `bound` is set to the port once BuildAndStart()
// succeeds, else 0.
void AddPeerListeningPort(grpc::ServerBuilder* builder, const std::string& host, int port,
                          int* bound, const PeerIdentity* as = nullptr);

// The account of a call's caller, from the certificate it presented:
// Unauthenticated, saying why, when it presented none, or one that is not
// from the network's CA, expired, revoked, or not a peer's.
Result<std::string> PeerCaller(const grpc::ServerContext& context);

}  // namespace p2pshare
