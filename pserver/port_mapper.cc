#include "pserver/port_mapper.h"

#include <arpa/inet.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR 1  // declares strnatpmperr (built into Debian's library)
#include <natpmp.h>
#include <sys/select.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>

namespace p2pshare::pserver {
namespace {

constexpr const char* kDescription = "p2pshare peer";

}  // namespace

Result<PortMapping> MapWithUpnp(int port, std::chrono::milliseconds discovery) {
  int error = 0;
  // Internet gateways only, both versions asked at once: one wait of
  // `discovery` in all (upnpDiscover would wait once per device type).
  static const char* const kGateways[] = {"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
                                          "urn:schemas-upnp-org:device:InternetGatewayDevice:2", nullptr};
  UPNPDev* devices = upnpDiscoverDevices(kGateways, static_cast<int>(discovery.count()), nullptr, nullptr, 0, 0, 2,
                                         &error, /*searchalltypes=*/1);
  if (devices == nullptr) return Unavailable("no UPnP router answered");
  std::unique_ptr<UPNPDev, void (*)(UPNPDev*)> owned(devices, freeUPNPDevlist);
  UPNPUrls urls{};
  IGDdatas data{};
  char lan[64] = {};
  const int igd = UPNP_GetValidIGD(devices, &urls, &data, lan, sizeof lan);
  struct FreeUrls {
    UPNPUrls* u;
    int igd;
    ~FreeUrls() {
      if (igd != 0) FreeUPNPUrls(u);
    }
  } free_urls{&urls, igd};
  if (igd != 1) {
    return Unavailable(igd == 0 ? "no UPnP Internet gateway answered" : "the UPnP router is not connected to the Internet");
  }
  char external[40] = {};
  if (UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, external) != 0 || external[0] == '\0') {
    return Unavailable("the UPnP router does not say its public address");
  }
  const std::string p = std::to_string(port);
  const std::string lease = std::to_string(kLeaseSeconds);
  int r = UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, p.c_str(), p.c_str(), lan, kDescription,
                              "TCP", nullptr, lease.c_str());
  if (r != 0) return Unavailable(std::string("the UPnP router refused to forward the port: ") + strupnperror(r));
  return PortMapping{"UPnP", external, port, port, lan, urls.controlURL, data.first.servicetype};
}

namespace {

// Waits for the answer to the request just sent on `n`.
int NatPmpAnswer(natpmp_t* n, natpmpresp_t* resp, std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  int r;
  do {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(n->s, &fds);
    timeval timeout{};
    getnatpmprequesttimeout(n, &timeout);
    select(n->s + 1, &fds, nullptr, nullptr, &timeout);
    r = readnatpmpresponseorretry(n, resp);
  } while (r == NATPMP_TRYAGAIN && std::chrono::steady_clock::now() < until);
  return r;
}

}  // namespace

Result<PortMapping> MapWithNatPmp(int port, std::chrono::milliseconds wait) {
  natpmp_t n;
  if (initnatpmp(&n, 0, 0) != 0) return Unavailable("no default gateway to ask for NAT-PMP");
  struct Close {
    natpmp_t* n;
    ~Close() { closenatpmp(n); }
  } close{&n};
  natpmpresp_t resp{};
  if (sendpublicaddressrequest(&n) < 0 || NatPmpAnswer(&n, &resp, wait) < 0) {
    return Unavailable("the router does not speak NAT-PMP");
  }
  char external[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, external, sizeof external);
  if (sendnewportmappingrequest(&n, NATPMP_PROTOCOL_TCP, static_cast<uint16_t>(port), static_cast<uint16_t>(port),
                                kLeaseSeconds) < 0) {
    return Unavailable("cannot ask the router for a NAT-PMP mapping");
  }
  int r = NatPmpAnswer(&n, &resp, wait);
  if (r < 0) return Unavailable(std::string("the router refused a NAT-PMP mapping: ") + strnatpmperr(r));
  return PortMapping{"NAT-PMP", external, resp.pnu.newportmapping.mappedpublicport, port, "", "", ""};
}

void RemoveMapping(const PortMapping& m) {
  const std::string p = std::to_string(m.external_port);
  if (m.method == "UPnP") {
    (void)UPNP_DeletePortMapping(m.control_url.c_str(), m.service_type.c_str(), p.c_str(), "TCP", nullptr);
    return;
  }
  natpmp_t n;
  if (initnatpmp(&n, 0, 0) != 0) return;
  natpmpresp_t resp{};
  // A lifetime of 0 removes it (RFC 6886 section 3.4).
  if (sendnewportmappingrequest(&n, NATPMP_PROTOCOL_TCP, static_cast<uint16_t>(m.internal_port), 0, 0) >= 0) {
    (void)NatPmpAnswer(&n, &resp, std::chrono::milliseconds(1000));
  }
  closenatpmp(&n);
}

PortMapper::~PortMapper() { Unmap(); }

std::optional<PortMapping> PortMapper::current() const {
  MutexLock lock(mu_);
  return mapping_;
}

Result<PortMapping> PortMapper::Map(int port) {
  Unmap();
  auto upnp = MapWithUpnp(port, kDiscovery);
  Result<PortMapping> mapped = upnp.ok() ? upnp : MapWithNatPmp(port, kDiscovery);
  if (!mapped.ok()) {
    return Unavailable(upnp.status().message() + "; " + mapped.status().message());
  }
  {
    MutexLock lock(mu_);
    mapping_ = *mapped;
    stop_ = false;
  }
  renewer_ = std::thread([this] { RenewLoop(); });
  return mapped;
}

void PortMapper::Unmap() {
  std::optional<PortMapping> had;
  {
    MutexLock lock(mu_);
    stop_ = true;
    had = std::move(mapping_);
    mapping_.reset();
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (had) {
    RemoveMapping(*had);
    spdlog::info("removed the {} mapping of port {} on the router", had->method, had->external_port);
  }
}

void PortMapper::RenewLoop() {
  for (;;) {
    std::optional<PortMapping> m;
    {
      MutexLock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(kLeaseSeconds / 2), [&]() REQUIRES(mu_) { return stop_; });
      if (stop_) return;
      m = mapping_;
    }
    if (!m) return;
    auto again = m->method == "UPnP" ? MapWithUpnp(m->internal_port, kDiscovery)
                                     : MapWithNatPmp(m->internal_port, kDiscovery);
    if (!again.ok()) spdlog::warn("cannot renew the {} mapping of port {}: {}", m->method, m->external_port,
                                  again.status().message());
  }
}

}  // namespace p2pshare::pserver
