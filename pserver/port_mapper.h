// PortMapper: asks the router in front of this peer to forward its gRPC
// port here, so other peers reach it directly (docs/protocol.md,
// "Reachability": `mapped`). UPnP IGD first (libminiupnpc: SSDP discovery,
// then AddPortMapping on the IGD's WAN connection), then NAT-PMP
// (libnatpmp: the default gateway, UDP 5351) — the two protocols home
// routers speak. The same external port as the local one is asked for:
// central hands out ports unique per listed address, so two peers behind
// one router never ask for the same. The lease (kLeaseSeconds) is renewed
// at half its life and removed when the peer stops or moves to another
// port. A router that speaks neither, or refuses, costs a wait of about
// 1 s for each protocol, in a thread of its own (a peer-server that stops
// meanwhile waits for it), and is not asked again until the port changes.
//
// Thread-safe: Map/Unmap from the peer-server's main thread; the renewal
// runs on a thread of its own.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::pserver {

inline constexpr int kLeaseSeconds = 3600;
// How long each protocol waits for the router to answer.
inline constexpr std::chrono::milliseconds kDiscovery{1000};

struct PortMapping {
  std::string method;         // "UPnP" or "NAT-PMP"
  std::string external_host;  // the router's public address, as it says
  int external_port = 0;
  int internal_port = 0;
  std::string internal_host;  // this host's address on the router's LAN (UPnP)
  std::string control_url, service_type;  // UPnP: where to renew and remove it
};

class PortMapper {
 public:
  PortMapper() = default;
  ~PortMapper();  // Unmap()

  // Forwards `port` (TCP) on the router to this host; the mapping, or why
  // not in plain words (Unavailable). Replaces an earlier mapping.
  Result<PortMapping> Map(int port);
  // Removes the mapping, if any (best effort).
  void Unmap();
  std::optional<PortMapping> current() const;

 private:
  void RenewLoop();

  mutable Mutex mu_;
  CondVar cv_;
  std::optional<PortMapping> mapping_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

// One attempt of each protocol (exposed for tests).
Result<PortMapping> MapWithUpnp(int port, std::chrono::milliseconds discovery);
Result<PortMapping> MapWithNatPmp(int port, std::chrono::milliseconds wait);
void RemoveMapping(const PortMapping& m);

}  // namespace p2pshare::pserver
