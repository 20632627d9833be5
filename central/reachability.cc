#include "central/reachability.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "common/openssl_ptr.h"
#include "common/unique_fd.h"
#include "common/x509.h"

namespace p2pshare::central {
namespace {

using Clock = std::chrono::steady_clock;

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false when it passed.
bool Await(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string Seconds(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// A TCP connection to host:port made before the deadline (the first
// address that answers), or why none was.
UniqueFd Connect(const std::string& host, int port, Clock::time_point deadline,
                 std::chrono::milliseconds timeout, std::string* why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    *why = "its host '" + host + "' does not resolve (" + gai_strerror(rc) + ")";
    return UniqueFd();
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, freeaddrinfo);
  *why = "no address of '" + host + "'";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      *why = std::strerror(errno);
      continue;
    }
    if (!Await(fd.get(), POLLOUT, deadline)) {
      *why = "no answer within " + Seconds(timeout) + " (a firewall or a router dropping it?)";
      return UniqueFd();
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) return fd;
    *why = err == ECONNREFUSED ? "connection refused (nothing listens there; a router not "
                                 "forwarding the port?)"
                               : std::string(std::strerror(err));
  }
  return UniqueFd();
}

// The handshake as a client that trusts only the network's CA; the
// server's certificate (PEM) once it completed, or why not.
std::string Handshake(int fd, const std::string& ca_pem, Clock::time_point deadline,
                      std::chrono::milliseconds timeout, std::string* why) {
  std::unique_ptr<SSL_CTX, SslFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *why = "cannot make a TLS client";
    return "";
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  AddPemCertificates(SSL_CTX_get_cert_store(ctx.get()), ca_pem);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // gRPC speaks HTTP/2 over TLS: offer it, as a peer would.
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  for (;;) {
    ERR_clear_error();
    const int r = SSL_connect(ssl.get());
    if (r == 1) break;
    const int e = SSL_get_error(ssl.get(), r);
    short events = 0;
    if (e == SSL_ERROR_WANT_READ) events = POLLIN;
    if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      const long verify = SSL_get_verify_result(ssl.get());
      if (verify != X509_V_OK) {
        *why = std::string("it presented a certificate not from this network (") +
               X509_verify_cert_error_string(verify) + ")";
      } else {
        *why = "no TLS handshake (another program on the port?)";
      }
      ERR_clear_error();
      return "";
    }
    if (!Await(fd, events, deadline)) {
      *why = "no TLS handshake within " + Seconds(timeout) + " (another program on the port?)";
      return "";
    }
  }
  openssl::Cert cert(SSL_get1_peer_certificate(ssl.get()));
  std::string pem;
  if (cert) {
    openssl::Bio out(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(out.get(), cert.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.get(), &data);
    pem.assign(data, static_cast<size_t>(n));
  }
  SSL_shutdown(ssl.get());  // close_notify; its answer is not awaited
  ERR_clear_error();
  if (pem.empty()) *why = "it presented no certificate";
  return pem;
}

}  // namespace

ReachProbe ProbePeer(const std::string& host, int port, const std::string& account,
                     const std::string& ca_pem, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  ReachProbe out;
  UniqueFd fd = Connect(host, port, deadline, timeout, &out.why);
  if (!fd.valid()) return out;
  const std::string pem = Handshake(fd.get(), ca_pem, deadline, timeout, &out.why);
  if (pem.empty()) return out;
  auto info = VerifyCertificate(pem, ca_pem, static_cast<int64_t>(std::time(nullptr)));
  if (!info.ok()) {
    out.why = "it presented a certificate this network does not accept (" + info.status().message() + ")";
    return out;
  }
  std::optional<std::string> who = PeerUsername(*info);
  if (!who) {
    out.why = "it presented a certificate that is not a peer's";
  } else if (*who != account) {
    out.why = "it presented " + *who + "'s certificate, not " + account + "'s (another peer on that address?)";
  } else {
    out.reached = true;
    out.why.clear();
  }
  return out;
}

}  // namespace p2pshare::central
