// The PROXY protocol, version 2 (HAProxy's `send-proxy-v2`), as central
// reads it from a load balancer it trusts (config key `trusted_proxies`;
// docs/protocol.md, "Behind a load balancer").
//
// A TCP load balancer hides the client's address: central would see every
// peer come from the balancer, so per-address limits would hold all
// clients together and a login's default host would be the balancer's.
// With `send-proxy-v2` the balancer opens each connection with a binary
// header naming the client's address. Central reads that header only from
// the addresses in `trusted_proxies`, and requires it there; anyone else
// who sends one just sends bytes that are not TLS (or HTTP).
//
// Header: 12-byte signature, version 2 and command (LOCAL: the balancer's
// own connection, e.g. a health check; PROXY: a client's), address family
// and transport, 2-byte length, the addresses, then TLVs (ignored).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace p2pshare::central {

// At most this many bytes of header (16 fixed + addresses + TLVs).
inline constexpr size_t kMaxProxyHeaderBytes = 16 + 1024;

struct ProxyHeader {
  size_t length = 0;  // bytes of the header, to be skipped
  // The client's address (text, as inet_ntop writes it; an IPv4-mapped
  // IPv6 address as IPv4) and port; nullopt for LOCAL or an unspecified
  // family, where the connection's own address stands.
  std::optional<std::string> source_ip;
  int source_port = 0;
};

enum class ProxyParse { kIncomplete, kBad, kDone };

// Reads a header at the start of `data`. kIncomplete: more bytes are
// needed (at most 16 first, then the declared length); kBad: not a PROXY
// v2 header, or one over kMaxProxyHeaderBytes, or a TCP family with
// addresses too short; kDone: *out filled in.
ProxyParse ParseProxyV2(std::string_view data, ProxyHeader* out);

// Bytes still needed before ParseProxyV2 can decide on `data`.
size_t ProxyBytesWanted(std::string_view data);

}  // namespace p2pshare::central
