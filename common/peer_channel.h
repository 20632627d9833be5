// The gRPC transport between peers, configured in one place: every channel
// a peer opens to another peer (downloads, uploads, file lists, pings,
// Locate and its flood) comes from PeerChannel, and every peer-server
// listens through AddPeerListeningPort, so both ends agree on the window,
// frame and message sizes of common/transfer_tuning.h (and, with transport
// security, on the credentials).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "p2pshare.grpc.pb.h"

namespace p2pshare {

// A channel to the peer-server at host:port (an IPv6 host bare, without
// brackets). Connects lazily, on the first call.
std::shared_ptr<grpc::Channel> PeerChannel(const std::string& host, int port);
// A PeerService stub on PeerChannel(host, port).
std::unique_ptr<v1::PeerService::Stub> PeerStub(const std::string& host, int port);

// Adds the listening address host:port to `builder` with the peer transport
// settings (and SO_REUSEPORT off, so a taken port fails instead of being
// shared). `bound` is set to the port once BuildAndStart() succeeds, else 0.
void AddPeerListeningPort(grpc::ServerBuilder* builder, const std::string& host, int port,
                          int* bound);

}  // namespace p2pshare
