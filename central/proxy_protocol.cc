#include "central/proxy_protocol.h"

#include <arpa/inet.h>

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <utility>

namespace p2pshare::central {
namespace {

constexpr char kSignature[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr size_t kFixed = 16;

uint8_t Byte(std::string_view d, size_t i) { return static_cast<uint8_t>(d[i]); }

size_t DeclaredLength(std::string_view d) {
  return kFixed + (static_cast<size_t>(Byte(d, 14)) << 8 | Byte(d, 15));
}

}  // namespace

size_t ProxyBytesWanted(std::string_view data) {
  if (data.size() < kFixed) return kFixed - data.size();
  size_t total = DeclaredLength(data);
  if (total > kMaxProxyHeaderBytes) return 0;  // ParseProxyV2 says kBad
  return total > data.size() ? total - data.size() : 0;
}

ProxyParse ParseProxyV2(std::string_view data, ProxyHeader* out) {
  // The signature is checked as far as it has arrived, so junk is refused
  // from its first bytes.
  size_t sig = std::min(data.size(), sizeof kSignature);
  if (std::memcmp(data.data(), kSignature, sig) != 0) return ProxyParse::kBad;
  if (data.size() < kFixed) return ProxyParse::kIncomplete;
  const uint8_t version = Byte(data, 12) >> 4, command = Byte(data, 12) & 0x0f;
  if (version != 2 || command > 1) return ProxyParse::kBad;
  const size_t total = DeclaredLength(data);
  if (total > kMaxProxyHeaderBytes) return ProxyParse::kBad;
  if (data.size() < total) return ProxyParse::kIncomplete;
  ProxyHeader h;
  h.length = total;
  const uint8_t family = Byte(data, 13) >> 4, transport = Byte(data, 13) & 0x0f;
  std::string_view addresses = data.substr(kFixed, total - kFixed);
  if (command == 1 && transport == 1 && (family == 1 || family == 2)) {  // PROXY, TCP
    const size_t ip_bytes = family == 1 ? 4 : 16;
    if (addresses.size() < 2 * ip_bytes + 4) return ProxyParse::kBad;
    char text[INET6_ADDRSTRLEN] = {0};
    const uint8_t* src = reinterpret_cast<const uint8_t*>(addresses.data());
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == 1) {
      inet_ntop(AF_INET, src, text, sizeof text);
    } else if (std::memcmp(src, kMapped, sizeof kMapped) == 0) {
      inet_ntop(AF_INET, src + 12, text, sizeof text);  // as central names such clients
    } else {
      inet_ntop(AF_INET6, src, text, sizeof text);
    }
    h.source_ip = text;
    const uint8_t* port = src + 2 * ip_bytes;
    h.source_port = port[0] << 8 | port[1];
  } else if (command == 1 && family != 0) {
    return ProxyParse::kBad;  // UDP, unix sockets: never a client of central
  }
  *out = std::move(h);
  return ProxyParse::kDone;
}

}  // namespace p2pshare::central
