// One client connection of central's gate (central/http_gate.h): its
// socket, its TLS session and the bytes read ahead; reads that never block
// (a trusted balancer's PROXY header first), writes bounded in time, and the
// connection as cpp-httplib's Stream for the worker that serves a request.
// Where a request ends is central/http_framing.h's to say.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/types.h>

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/limits.h"

namespace p2pshare::central {

using GateClock = std::chrono::steady_clock;

// Milliseconds from `now` to `t` (0 when past).
int MillisUntil(GateClock::time_point t, GateClock::time_point now);
// Waits for `events` on `fd` for at most `timeout_ms`; true when ready (or
// the peer hung up, which the next read or write reports).
bool WaitFor(int fd, short events, int timeout_ms);
// The socket's peer as text (an IPv4 client of a [::] listener by its IPv4
// address) and its port.
std::string PeerAddress(int fd, int* port);

// One client connection: its socket, its TLS session (null for plain HTTP),
// and the bytes read from it (decrypted) but not yet consumed. Owned by the
// gate while it waits and by one worker while a request is served.
struct Connection {
  explicit Connection(int fd) : fd(fd) {}
  ~Connection() {
    if (ssl != nullptr) {
      if (handshaken) (void)SSL_shutdown(ssl);  // close_notify, best effort
      SSL_free(ssl);
    }
    ::close(fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  size_t buffered() const { return in.size() - pos; }
  std::string_view unread() const { return std::string_view(in).substr(pos); }
  void Compact() {
    in.erase(0, pos);
    pos = 0;
  }
  // Takes up to `size` buffered bytes.
  size_t Take(char* out, size_t size) {
    size_t k = std::min(size, buffered());
    std::memcpy(out, in.data() + pos, k);
    pos += k;
    if (pos == in.size()) {
      in.clear();
      pos = 0;
    }
    return k;
  }

  const int fd;
  ConcurrencyLimits::Slot slot;  // its place among its address's connections
  // From a trusted balancer: its PROXY header comes first (proxy_protocol.h)
  // and names the client (client_ip); until then no slot is taken.
  bool awaiting_proxy = false;
  std::string proxy_in;   // the header's bytes so far
  std::string client_ip;  // the socket's peer, or the client a PROXY header named
  int client_port = 0;
  SSL* ssl = nullptr;
  bool handshaken = false;
  bool eof = false;  // the client closed its side
  std::string in;
  size_t pos = 0;
};

enum class IoResult { kData, kWouldBlock, kClosed };

// Reads what is available now (at most `max`) into conn.in, without
// blocking; for TLS, finishes the handshake first.
IoResult ReadAvailable(Connection& c, size_t max);
// Reads the PROXY header of a connection from a trusted balancer, never a
// byte past it (TLS or HTTP follows): kData once it is whole and read
// (client_ip is the client's, or stays the balancer's for its own, LOCAL,
// connection), kWouldBlock, or kClosed for a closed connection or a
// malformed header.
IoResult ReadProxyHeader(Connection& c);
// Writes all of `data` (or gives up after `timeout_ms` without progress);
// the bytes written, or -1.
ssize_t WriteSome(Connection& c, const char* data, size_t size, int timeout_ms);

// Writes what the socket takes now of `data`, never waiting: the bytes
// written (0 when none fit), or -1 when the connection is gone. A TLS
// write that could not finish must be asked again with the same bytes first.
ssize_t WriteNow(Connection& c, const char* data, size_t size);

// A connection as cpp-httplib's Stream, for the request being served:
// reads come from what the gate read ahead, then from the socket (or TLS),
// and fail once the request's deadline has passed; writes wait at most
// io_timeout for progress.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(Connection& conn, std::chrono::milliseconds io_timeout)
      : conn_(conn), io_timeout_ms_(static_cast<int>(io_timeout.count())) {}

  void set_deadline(GateClock::time_point deadline) { deadline_ = deadline; }

  bool is_readable() const override {
    return conn_.buffered() > 0 || (conn_.ssl != nullptr && SSL_pending(conn_.ssl) > 0) ||
           WaitFor(conn_.fd, POLLIN, ReadWaitMs());
  }
  bool is_writable() const override { return WaitFor(conn_.fd, POLLOUT, io_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    while (conn_.buffered() == 0) {
      switch (ReadAvailable(conn_, 16 * 1024)) {
        case IoResult::kData: break;
        case IoResult::kClosed: return conn_.ssl != nullptr ? -1 : 0;
        case IoResult::kWouldBlock:
          if (!WaitFor(conn_.fd, POLLIN, ReadWaitMs())) return -1;
          break;
      }
    }
    return static_cast<ssize_t>(conn_.Take(ptr, size));
  }

  ssize_t write(const char* ptr, size_t size) override {
    return WriteSome(conn_, ptr, size, io_timeout_ms_);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = conn_.client_ip;
    port = conn_.client_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return conn_.fd; }

 private:
  int ReadWaitMs() const {
    return std::min(io_timeout_ms_, MillisUntil(deadline_, GateClock::now()));
  }

  Connection& conn_;
  const int io_timeout_ms_;
  GateClock::time_point deadline_ = GateClock::time_point::max();
};

// Writes a small error reply without blocking (it fits the socket buffer;
// what does not is dropped): the gate never waits for a client.
void Answer(Connection& conn, int status, const char* reason, const std::string& error,
            const std::string& message);
// Closes after an answer. Unread input makes close() send a reset, which
// can destroy the reply before the client reads it: drop what has arrived
// (bounded) first.
void CloseAfterAnswer(std::unique_ptr<Connection> conn);

}  // namespace p2pshare::central
