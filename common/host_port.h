// Network addresses as text: "host:port", with an IPv6 literal in brackets
// ("[::1]:50051"). The one parser and printer of the project: config keys
// (listen, friends, metrics_listen), friend lists and gRPC targets.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace p2pshare {

struct HostPort {
  std::string host;  // a name or IP literal, never with brackets
  int port = 0;
};

// Parses "host:port" or "[ipv6]:port". The host must be non-empty, without
// spaces or control characters, and an IPv6 literal must be bracketed (a
// bare "::1:80" is ambiguous); the port is 1-65535, or 0 too with
// `allow_any_port` (a listener's "any free port"). InvalidArgument quoting
// the text otherwise.
Result<HostPort> ParseHostPort(std::string_view text, bool allow_any_port = false);

// Whether `host` is an IP literal (v4, or v6 without brackets) or a DNS
// name: labels of letters, digits and '-' (not first or last), 1-63 bytes
// each, separated by '.', 253 bytes in all. Nothing else — no ports,
// lists, spaces, control characters or escapes — is a host.
bool IsHostName(std::string_view host);

// "host:port", bracketing a host that contains ':' (IPv6): what
// ParseHostPort reads back, and what gRPC takes as a target.
std::string JoinHostPort(std::string_view host, int port);

// Whether host:port can be bound here, tried with a socket of our own (gRPC
// and cpp-httplib say only that they could not): "taken by another
// program" must not be confused with an address that is not this
// machine's (no port will ever do). OK when it can; AlreadyExists "port N
// is taken"; Unavailable "cannot listen on HOST:PORT: <why>" otherwise,
// with `not_here_hint` in parentheses for an address not of this machine.
Status ProbeListen(const std::string& host, int port, std::string_view not_here_hint = "");

// A TCP connection to host:port (the first of its addresses that accepts),
// with send and receive timeouts of `timeout_ms`; -1 when none answers.
// The caller closes it.
int ConnectTcp(const std::string& host, int port, int timeout_ms);

// A TCP listener on the IP literal `host` at a free port: its descriptor
// (close-on-exec) and, in `*port`, the port. Unavailable saying why.
Result<int> ListenTcpAnyPort(const std::string& host, int* port, int backlog);

// The address of this machine that packets to host:port leave from (the
// routing table's choice, asked with an unconnected UDP socket: nothing is
// sent); empty when there is no route.
std::string LocalAddressToward(const std::string& host, int port);

}  // namespace p2pshare
