#include "common/host_port.h"

#include <sys/time.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/unique_fd.h"

namespace p2pshare {

Result<HostPort> ParseHostPort(std::string_view text, bool allow_any_port) {
  const std::string quoted = "'" + std::string(text.substr(0, 300)) + "'";
  auto bad = [&] { return InvalidArgument(quoted + " is not host:port"); };
  if (text.size() > 300) return bad();
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad();
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return bad();
  HostPort out;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]") != std::string_view::npos) {
    return bad();
  } else if (host.find(':') != std::string_view::npos) {
    return InvalidArgument(quoted + ": an IPv6 address needs brackets, as in [::1]:50051");
  }
  out.host = std::string(host);
  std::string_view port = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || ptr != port.data() + port.size() || port.size() > 5) return bad();
  if (out.port > 65535 || out.port < (allow_any_port ? 0 : 1)) {
    return InvalidArgument(quoted + " has no valid port");
  }
  return out;
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  const std::string text(host);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return true;
  }
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-') return false;
      if (host[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = host[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
    ++label;
  }
  return true;
}

std::string JoinHostPort(std::string_view host, int port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

Status ProbeListen(const std::string& host, int port, std::string_view not_here_hint) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int e = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); e != 0) {
    return Unavailable("cannot listen on " + JoinHostPort(host, port) + ": " + gai_strerror(e));
  }
  int err = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      err = errno;
      continue;  // e.g. no IPv6 on this machine: gRPC falls back to IPv4 alike
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0) {
      err = 0;
      break;
    }
    err = errno;
    if (err == EADDRINUSE) break;
  }
  ::freeaddrinfo(found);
  if (err == 0) return Status::Ok();
  if (err == EADDRINUSE) return AlreadyExists("port " + std::to_string(port) + " is taken");
  std::string why = std::strerror(err);
  if (err == EADDRNOTAVAIL && !not_here_hint.empty()) why += " (" + std::string(not_here_hint) + ")";
  return Unavailable("cannot listen on " + JoinHostPort(host, port) + ": " + why);
}

int ConnectTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

Result<int> ListenTcpAnyPort(const std::string& host, int* port, int backlog) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), "0", &hints, &found) != 0 || found == nullptr) {
    return InvalidArgument("'" + host + "' is not an IP address to listen on");
  }
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  const bool ok = fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, backlog) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0;
  const int err = errno;
  freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return Unavailable("cannot listen on " + host + ": " + std::strerror(err));
  }
  *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

std::string LocalAddressToward(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string out;
  for (addrinfo* a = found; a != nullptr && out.empty(); a = a->ai_next) {
    int fd = ::socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    char text[INET6_ADDRSTRLEN] = {};
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        ::getnameinfo(reinterpret_cast<sockaddr*>(&local), len, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0) {
      out = text;
    }
    ::close(fd);
  }
  freeaddrinfo(found);
  return out;
}

}  // namespace p2pshare
