#include "central/http_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "central/proxy_protocol.h"

namespace p2pshare::central {

int MillisUntil(GateClock::time_point t, GateClock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string PeerAddress(int fd, int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  *port = 0;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      // An IPv4 client of a listener on [::]: known by its IPv4 address,
      // as it would be on 0.0.0.0 (advertised, bounded per address).
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    }
    *port = ntohs(a->sin6_port);
  }
  return text;
}

IoResult ReadAvailable(Connection& c, size_t max) {
  // SSL_get_error reads this thread's error queue: what an earlier call
  // (another connection's, a handler's) left there must not decide this
  // connection's fate (OpenSSL's rule: empty the queue before TLS I/O).
  ERR_clear_error();
  if (c.ssl != nullptr && !c.handshaken) {
    int r = SSL_accept(c.ssl);
    if (r != 1) {
      int e = SSL_get_error(c.ssl, r);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? IoResult::kWouldBlock
                                                                     : IoResult::kClosed;
    }
    c.handshaken = true;
  }
  char buf[16 * 1024];
  size_t want = std::min(sizeof buf, max);
  for (;;) {
    if (c.ssl != nullptr) {
      ERR_clear_error();
      int n = SSL_read(c.ssl, buf, static_cast<int>(want));
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        return IoResult::kData;
      }
      int e = SSL_get_error(c.ssl, n);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return IoResult::kWouldBlock;
      return IoResult::kClosed;
    }
    ssize_t n = ::recv(c.fd, buf, want, MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      return IoResult::kData;
    }
    if (n == 0) return IoResult::kClosed;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IoResult::kWouldBlock : IoResult::kClosed;
  }
}

IoResult ReadProxyHeader(Connection& c) {
  ProxyHeader header;
  for (;;) {
    const size_t want = ProxyBytesWanted(c.proxy_in);
    if (want == 0) break;
    char buf[kMaxProxyHeaderBytes];
    ssize_t n = ::recv(c.fd, buf, std::min(want, sizeof buf), MSG_DONTWAIT);
    if (n > 0) {
      c.proxy_in.append(buf, static_cast<size_t>(n));
      if (ParseProxyV2(c.proxy_in, &header) == ProxyParse::kBad) return IoResult::kClosed;
      continue;
    }
    if (n == 0) return IoResult::kClosed;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IoResult::kWouldBlock : IoResult::kClosed;
  }
  if (ParseProxyV2(c.proxy_in, &header) != ProxyParse::kDone) return IoResult::kClosed;
  c.awaiting_proxy = false;
  c.proxy_in.clear();
  c.proxy_in.shrink_to_fit();
  if (header.source_ip) {
    c.client_ip = *header.source_ip;
    c.client_port = header.source_port;
  }
  return IoResult::kData;
}

ssize_t WriteSome(Connection& c, const char* data, size_t size, int timeout_ms) {
  for (;;) {
    if (c.ssl != nullptr) {
      ERR_clear_error();
      int n = SSL_write(c.ssl, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
      if (n > 0) return n;
      int e = SSL_get_error(c.ssl, n);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_WRITE && WaitFor(c.fd, POLLOUT, timeout_ms)) continue;
      if (e == SSL_ERROR_WANT_READ && WaitFor(c.fd, POLLIN, timeout_ms)) continue;
      return -1;
    }
    if (!WaitFor(c.fd, POLLOUT, timeout_ms)) return -1;
    ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    return n;
  }
}

ssize_t WriteNow(Connection& c, const char* data, size_t size) {
  if (size == 0) return 0;
  if (c.ssl != nullptr) {
    ERR_clear_error();
    int n = SSL_write(c.ssl, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    if (n > 0) return n;
    int e = SSL_get_error(c.ssl, n);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
  }
  ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return n;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

void Answer(Connection& conn, int status, const char* reason, const std::string& error,
            const std::string& message) {
  if (conn.ssl != nullptr && !conn.handshaken) return;  // no TLS session to answer in
  std::string body = "{\"error\":\"" + error + "\",\"message\":\"" + message + "\"}";
  std::string all = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                    "\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (conn.ssl != nullptr) {
    ERR_clear_error();
    (void)SSL_write(conn.ssl, all.data(), static_cast<int>(all.size()));
    ERR_clear_error();
  } else {
    (void)::send(conn.fd, all.data(), all.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
}

void CloseAfterAnswer(std::unique_ptr<Connection> conn) {
  char scratch[16 * 1024];
  for (int i = 0; i < 64 && ::recv(conn->fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0; ++i) {
  }
  ::shutdown(conn->fd, SHUT_WR);
}

}  // namespace p2pshare::central
