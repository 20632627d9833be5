#include "central/http_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "central/http_connection.h"
#include "central/http_framing.h"
#include "central/proxy_protocol.h"
#include "common/mutex.h"

namespace p2pshare::central {
namespace {

using Clock = std::chrono::steady_clock;

thread_local Clock::time_point request_start;
thread_local bool close_after_reply = false;
thread_local std::optional<std::string> adopt_as_stream;

// One line as an HTTP/1.1 chunk (RFC 9112 section 7.1).
std::string Chunk(const std::string& line) {
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", line.size() + 1);
  return size + line + "\n\r\n";
}

// Forwards cpp-httplib's accept loop to the server's own pool, which lives
// on after the loop ends so the gate can keep handing work to it.
class ForwardingQueue final : public httplib::TaskQueue {
 public:
  explicit ForwardingQueue(httplib::ThreadPool* pool) : pool_(pool) {}
  void enqueue(std::function<void()> fn) override { pool_->enqueue(std::move(fn)); }
  void shutdown() override {}

 private:
  httplib::ThreadPool* pool_;
};

}  // namespace

void GatedServer::CloseAfterReply() { close_after_reply = true; }

void GatedServer::AdoptAsStream(std::string key) { adopt_as_stream = std::move(key); }

std::chrono::steady_clock::time_point GatedServer::RequestStart() { return request_start; }

// Runs one request; false when the connection must close after it.
bool GatedServer::ServeOne(httplib::Stream& strm) {
  request_start = Clock::now();
  close_after_reply = false;
  adopt_as_stream.reset();
  bool closed = false;
  bool ok = process_request(strm, false, closed, nullptr);
  return ok && !closed && !close_after_reply;
}

GatedServer::GatedServer(GateOptions options)
    : options_(options),
      connections_by_address_(static_cast<int64_t>(options.max_connections_per_address), 0),
      pool_(std::make_unique<httplib::ThreadPool>(options.threads)) {
  new_task_queue = [this] { return new ForwardingQueue(pool_.get()); };
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    spdlog::critical("cannot create the connection gate: {}", std::strerror(errno));
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  gate_thread_ = std::thread([this] { GateLoop(); });
}

GatedServer::~GatedServer() {
  Shutdown();
  ::close(epoll_fd_);
  ::close(wake_fd_);
  if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
}

Status GatedServer::EnableTls(const std::string& key_pem, const std::string& chain_pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Internal("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // TLS 1.2: forward-secret AEAD suites only (ECDHE with AES-GCM or
  // ChaCha20-Poly1305; central's key is EC, so ECDSA) — no CBC (LUCKY13),
  // no static RSA. TLS 1.3's suites are all AEAD already.
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                   "ECDHE-ECDSA-CHACHA20-POLY1305") != 1) {
    SSL_CTX_free(ctx);
    return Internal("cannot set the TLS cipher suites");
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  bool ok = true;
  {
    BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    ok = key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
  }
  BIO* chain_bio = BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size()));
  X509* leaf = ok ? PEM_read_bio_X509(chain_bio, nullptr, nullptr, nullptr) : nullptr;
  ok = leaf != nullptr && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {  // the rest of the chain, sent with the leaf
    X509* extra = PEM_read_bio_X509(chain_bio, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      ok = false;
    }
  }
  BIO_free(chain_bio);
  ok = ok && SSL_CTX_check_private_key(ctx) == 1;
  ERR_clear_error();
  if (!ok) {
    SSL_CTX_free(ctx);
    return Internal("the TLS key and certificate do not load");
  }
  ssl_ctx_ = ctx;
  return Status::Ok();
}

void GatedServer::RaiseBacklog() {
  int fd = svr_sock_;
  if (fd >= 0) ::listen(fd, SOMAXCONN);
}

std::string GatedServer::ServeBuffer(const std::string& raw) {
  httplib::detail::BufferStream strm;
  strm.write(raw.data(), raw.size());
  while (ServeOne(strm)) {
  }
  return strm.get_buffer().substr(raw.size());
}

void GatedServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    {
      MutexLock lock(mu_);
      stopping_ = true;
      // Requests still arriving end now; their replies can still be written.
      for (int fd : active_) ::shutdown(fd, SHUT_RD);
    }
    uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
    gate_thread_.join();
    {
      MutexLock lock(mu_);
      waiting_.clear();  // closes them
      deadlines_.clear();
      streams_.clear();
      stream_of_.clear();
      stream_due_.clear();
    }
    pool_->shutdown();
  });
}

GateStats GatedServer::stats() const {
  GateStats s;
  {
    MutexLock lock(mu_);
    s.waiting = static_cast<int64_t>(waiting_.size());
    s.buffered_bytes = static_cast<int64_t>(buffered_);
    s.streams = static_cast<int64_t>(streams_.size());
  }
  s.timed_out = timed_out_.load();
  s.too_large = too_large_.load();
  s.evicted = evicted_.load();
  s.refused = refused_.load();
  return s;
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  auto conn = std::make_unique<Connection>(sock);
  conn->client_ip = PeerAddress(sock, &conn->client_port);
  const std::string& address = conn->client_ip;
  std::optional<ConcurrencyLimits::Slot> slot;
  if (options_.trusted_proxies.count(address) > 0) {
    // A balancer: its connections count against the client its header
    // names, once it has arrived (Arrived).
    conn->awaiting_proxy = true;
    slot.emplace();
  } else {
    slot = connections_by_address_.Enter(address);
  }
  if (!slot) {
    // One address holds its share of connections already.
    refused_.fetch_add(1, std::memory_order_relaxed);
    if (ssl_ctx_ == nullptr) {
      Answer(*conn, 503, "Service Unavailable", "too_many_connections",
             "too many connections from your address");
      CloseAfterAnswer(std::move(conn));
    }
    return true;
  }
  conn->slot = std::move(*slot);
  if (ssl_ctx_ != nullptr) {
    ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
    conn->ssl = SSL_new(ssl_ctx_);
    SSL_set_fd(conn->ssl, sock);
    SSL_set_accept_state(conn->ssl);
  }
  Serve(std::move(conn), /*fresh=*/true);
  return true;
}

GatedServer::Peeked GatedServer::Arrived(Connection& conn) const {
  Peeked p;
  if (conn.awaiting_proxy) {
    switch (ReadProxyHeader(conn)) {
      case IoResult::kWouldBlock:
        p.arrival = Arrival::kIncomplete;
        return p;
      case IoResult::kClosed:
        p.arrival = Arrival::kClosed;  // no header, or a malformed one: closed unanswered
        return p;
      case IoResult::kData: {
        auto slot = connections_by_address_.Enter(conn.client_ip);
        if (!slot) {
          refused_.fetch_add(1, std::memory_order_relaxed);
          p.arrival = Arrival::kClosed;
          return p;
        }
        conn.slot = std::move(*slot);
        break;
      }
    }
  }
  for (;;) {
    std::string_view data = conn.unread();
    p.bytes = data.size();
    const HeaderBlock block = ScanHeaderBlock(data, options_.max_header_bytes);
    if (block.scan == HeaderScan::kBareLineEnd) {
      p.arrival = Arrival::kBareLineEnd;
      return p;
    }
    const size_t header_end = block.end;
    size_t needed = options_.max_header_bytes;
    if (block.scan == HeaderScan::kIncomplete) {
      if (p.bytes >= options_.max_header_bytes) {
        bool has_request_line =
            data.substr(0, options_.max_header_bytes).find('\n') != std::string_view::npos;
        p.arrival = has_request_line ? Arrival::kHeaderTooLarge : Arrival::kUriTooLong;
        return p;
      }
    } else {
      Framing f = ScanFraming(data.substr(0, header_end));
      if (f.body_method && !f.has_length && !f.has_transfer_encoding) {
        // No framing at all: a zero-length body (RFC 9112 section 6.3).
        conn.in.insert(conn.pos + header_end - 2, "Content-Length: 0\r\n");
        continue;
      }
      DropAcceptEncoding(conn.in.data() + conn.pos, header_end);  // replies go uncompressed
      p.content_length = f.content_length;
      if (p.content_length > options_.max_body_bytes) {
        p.arrival = Arrival::kBodyTooLarge;
        return p;
      }
      // The whole body is read here before a worker is given; chunked
      // bodies go on at once, to be refused.
      if (f.has_transfer_encoding || p.bytes >= header_end + p.content_length) {
        p.arrival = Arrival::kComplete;
        return p;
      }
      needed = header_end + static_cast<size_t>(p.content_length);
    }
    if (conn.eof) {
      p.arrival = p.bytes == 0 ? Arrival::kClosed : Arrival::kIncomplete;
      return p;
    }
    switch (ReadAvailable(conn, needed - p.bytes)) {
      case IoResult::kData:
        continue;
      case IoResult::kWouldBlock:
        p.arrival = Arrival::kIncomplete;
        return p;
      case IoResult::kClosed:
        // A half-sent request waits out its deadline (then 408), as before
        // the client closed; nothing sent at all is simply closed.
        conn.eof = true;
        p.arrival = p.bytes == 0 ? Arrival::kClosed : Arrival::kIncomplete;
        return p;
    }
  }
}

void GatedServer::Serve(std::unique_ptr<Connection> conn, bool fresh) {
  const int fd = conn->fd;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    active_.insert(fd);
  }
  ConnectionStream strm(*conn, std::chrono::milliseconds(write_timeout_sec_ * 1000));
  bool park = false;
  bool started = false;
  for (;;) {
    auto now = Clock::now();
    Clock::time_point deadline = now + options_.request_timeout;
    Peeked p = Arrived(*conn);
    if (p.arrival == Arrival::kIncomplete) {
      park = true;
      // A new connection, a TLS handshake under way or part of a request:
      // the client owes a request within request_timeout.
      started = fresh || p.bytes > 0 || conn->awaiting_proxy ||
                (conn->ssl != nullptr && !conn->handshaken);
      break;
    }
    if (p.arrival == Arrival::kClosed) break;
    if (p.arrival == Arrival::kBodyTooLarge) {
      MutexLock lock(mu_);
      active_.erase(fd);
      RefuseBody(std::move(conn), p.content_length);
      return;
    }
    if (p.arrival != Arrival::kComplete) {
      {
        MutexLock lock(mu_);
        active_.erase(fd);
      }
      Reject(*conn, p.arrival);
      CloseAfterAnswer(std::move(conn));
      return;
    }
    strm.set_deadline(deadline);
    if (!ServeOne(strm)) {
      if (adopt_as_stream) {
        {
          MutexLock lock(mu_);
          active_.erase(fd);
        }
        std::string key = std::move(*adopt_as_stream);
        adopt_as_stream.reset();
        AdoptStream(std::move(conn), std::move(key));
        return;
      }
      break;
    }
    if (svr_sock_ == INVALID_SOCKET) break;
    conn->Compact();
    fresh = false;
  }
  {
    MutexLock lock(mu_);
    active_.erase(fd);
  }
  if (park && Park(conn, started)) return;
  ::shutdown(fd, SHUT_RDWR);
}

Clock::time_point GatedServer::RequestDeadline(Clock::time_point started_at,
                                               uint64_t content_length) const {
  Clock::time_point deadline = started_at + options_.request_timeout;
  if (options_.min_body_rate > 0 && content_length > 0) {
    deadline += std::chrono::milliseconds(static_cast<int64_t>(
        std::min<uint64_t>(content_length, options_.max_body_bytes) * 1000 /
        static_cast<uint64_t>(options_.min_body_rate)));
  }
  return deadline;
}

void GatedServer::MoveDeadline(int fd, Waiting& w, Clock::time_point deadline) {
  if (deadline == w.deadline) return;
  deadlines_.erase({w.deadline, fd});
  w.deadline = deadline;
  deadlines_.emplace(deadline, fd);
}

bool GatedServer::Park(std::unique_ptr<Connection>& conn, bool started) {
  MutexLock lock(mu_);
  return ParkLocked(conn, started, 0);
}

void GatedServer::RefuseBody(std::unique_ptr<Connection> conn, uint64_t content_length) {
  Reject(*conn, Arrival::kBodyTooLarge);
  if (content_length > 8 * uint64_t{options_.max_body_bytes}) {
    CloseAfterAnswer(std::move(conn));
    return;
  }
  ::shutdown(conn->fd, SHUT_WR);  // the answer, then FIN; reading goes on
  uint64_t drain = content_length;
  conn->in.clear();
  conn->pos = 0;
  (void)ParkLocked(conn, /*started=*/false, drain);  // refused: closed as it goes
}

void GatedServer::Drain(int fd, Waiting& w) {
  Connection& conn = *w.conn;
  bool done = false;
  for (;;) {
    IoResult r = ReadAvailable(conn, static_cast<size_t>(std::min<uint64_t>(w.drain, 16 * 1024)));
    uint64_t got = conn.buffered();
    conn.in.clear();
    conn.pos = 0;
    w.drain -= std::min(w.drain, got);
    if (r == IoResult::kClosed || w.drain == 0) {
      done = true;
      break;
    }
    if (r == IoResult::kWouldBlock) break;
  }
  if (done) ForgetWaiting(fd);  // closes
}

bool GatedServer::ParkLocked(std::unique_ptr<Connection>& conn, bool started, uint64_t drain) {
  if (stopping_) return false;
  while (waiting_.size() >= options_.max_connections && !deadlines_.empty()) {
    ForgetWaiting(deadlines_.begin()->second);  // the victim closes as it goes
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  // A new or half-sent request gets request_timeout; an idle keep-alive
  // connection (between requests) gets idle_timeout.
  const int fd = conn->fd;
  Waiting w;
  w.started = started;
  w.drain = drain;
  w.started_at = Clock::now();
  w.deadline = drain > 0 ? RequestDeadline(w.started_at, drain)
                         : w.started_at + (started ? options_.request_timeout : options_.idle_timeout);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  // A TLS handshake may wait to write, too.
  if (conn->ssl != nullptr && !conn->handshaken) ev.events |= EPOLLOUT;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  w.conn = std::move(conn);
  buffered_ += w.conn->buffered();
  deadlines_.emplace(w.deadline, fd);
  waiting_.emplace(fd, std::move(w));
  return true;
}

std::unique_ptr<Connection> GatedServer::ForgetWaiting(int fd) {
  auto it = waiting_.find(fd);
  if (it == waiting_.end()) return nullptr;
  deadlines_.erase({it->second.deadline, fd});
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  std::unique_ptr<Connection> conn = std::move(it->second.conn);
  buffered_ -= std::min(buffered_, conn->buffered());
  waiting_.erase(it);
  return conn;
}

void GatedServer::Reject(Connection& conn, Arrival why) {
  if (why != Arrival::kBareLineEnd) too_large_.fetch_add(1, std::memory_order_relaxed);
  if (why == Arrival::kBodyTooLarge) {
    Answer(conn, 413, "Payload Too Large", "payload_too_large",
           "request body over the limit of " + std::to_string(options_.max_body_bytes) + " bytes");
  } else if (why == Arrival::kBareLineEnd) {
    Answer(conn, 400, "Bad Request", "bad_request",
           "bare LF or CR in the request header: every line must end in CRLF (RFC 9112)");
  } else if (why == Arrival::kUriTooLong) {
    Answer(conn, 414, "URI Too Long", "uri_too_long", "request line over the limit");
  } else {
    Answer(conn, 431, "Request Header Fields Too Large", "headers_too_large",
           "request headers over " + std::to_string(options_.max_header_bytes) + " bytes");
  }
}

void GatedServer::GateLoop() {
  std::vector<epoll_event> events(256);
  for (;;) {
    int timeout_ms = 1000;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      if (!deadlines_.empty()) {
        timeout_ms = std::min(timeout_ms, MillisUntil(deadlines_.begin()->first, Clock::now()));
      }
      if (!stream_due_.empty()) {
        timeout_ms = std::min(timeout_ms, MillisUntil(stream_due_.begin()->first, Clock::now()));
      }
    }
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("connection gate: epoll_wait: {}", std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t v;
        (void)::read(wake_fd_, &v, sizeof v);
        continue;
      }
      {
        MutexLock lock(mu_);
        if (streams_.count(events[i].data.fd) > 0) {
          OnStreamEvent(events[i].data.fd, events[i].events);
          continue;
        }
      }
      OnReadable(events[i].data.fd);
    }
    ExpireWaiting(Clock::now());
    TendStreams(Clock::now());
  }
}

void GatedServer::OnReadable(int fd) {
  MutexLock lock(mu_);
  auto it = waiting_.find(fd);
  if (it == waiting_.end() || stopping_) return;
  if (it->second.drain > 0) {
    Drain(fd, it->second);
    return;
  }
  Connection& conn = *it->second.conn;
  const bool was_handshaken = conn.ssl == nullptr || conn.handshaken;
  const size_t before = conn.buffered();
  Peeked p = Arrived(conn);
  buffered_ += conn.buffered() - std::min(before, conn.buffered());
  if (buffered_ > options_.max_buffered_bytes && p.arrival == Arrival::kIncomplete) {
    // Read-ahead for all waiting connections is over its bound: the one
    // that pushed it over goes.
    refused_.fetch_add(1, std::memory_order_relaxed);
    std::unique_ptr<Connection> dropped = ForgetWaiting(fd);
    Answer(*dropped, 503, "Service Unavailable", "busy", "too many request bytes waiting; try again");
    CloseAfterAnswer(std::move(dropped));
    return;
  }
  if (!was_handshaken && conn.handshaken) {
    // The handshake is done: no more waiting to write.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  switch (p.arrival) {
    case Arrival::kIncomplete:
      if (p.bytes > 0 && !it->second.started) {
        // The first bytes of a request: it now has request_timeout.
        it->second.started = true;
        it->second.started_at = Clock::now();
      }
      if (it->second.started) {
        // A declared body extends the deadline by its size at min_body_rate.
        MoveDeadline(fd, it->second, RequestDeadline(it->second.started_at, p.content_length));
      }
      return;
    case Arrival::kComplete: {
      // The pool's tasks must be copyable: the connection travels as a raw
      // pointer, owned again at once by Serve (the pool runs every task,
      // even while shutting down).
      Connection* ready = ForgetWaiting(fd).release();
      lock.Unlock();
      pool_->enqueue([this, ready] { Serve(std::unique_ptr<Connection>(ready), false); });
      return;
    }
    case Arrival::kClosed:
      ForgetWaiting(fd);
      return;
    case Arrival::kBodyTooLarge:
      RefuseBody(ForgetWaiting(fd), p.content_length);
      return;
    case Arrival::kHeaderTooLarge:
    case Arrival::kBareLineEnd:
    case Arrival::kUriTooLong: {
      std::unique_ptr<Connection> rejected = ForgetWaiting(fd);
      Reject(*rejected, p.arrival);
      CloseAfterAnswer(std::move(rejected));
      return;
    }
  }
}

void GatedServer::ExpireWaiting(Clock::time_point now) {
  MutexLock lock(mu_);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    int fd = deadlines_.begin()->second;
    bool started = waiting_[fd].started;
    std::unique_ptr<Connection> conn = ForgetWaiting(fd);
    if (started && conn) {
      timed_out_.fetch_add(1, std::memory_order_relaxed);
      Answer(*conn, 408, "Request Timeout", "request_timeout", "the request did not arrive in time");
      CloseAfterAnswer(std::move(conn));
    }
  }
}

bool GatedServer::StreamsAvailable() const {
  MutexLock lock(mu_);
  return streams_.size() < options_.max_streams;
}

void GatedServer::AdoptStream(std::unique_ptr<Connection> conn, std::string key) {
  MutexLock lock(mu_);
  if (stopping_ || streams_.size() >= options_.max_streams) return;  // closes
  auto old = stream_of_.find(key);
  if (old != stream_of_.end()) DropStream(old->second);
  const int fd = conn->fd;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT | EPOLLET;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return;
  const auto now = Clock::now();
  Stream s;
  s.conn = std::move(conn);
  s.key = key;
  s.ends = now + options_.stream_lifetime;
  s.next_ping = now + options_.stream_ping;
  stream_due_.emplace(std::min(s.ends, s.next_ping), fd);
  streams_.emplace(fd, std::move(s));
  stream_of_[std::move(key)] = fd;
}

bool GatedServer::Publish(const std::string& key, const std::string& line) {
  MutexLock lock(mu_);
  auto it = stream_of_.find(key);
  if (it == stream_of_.end()) return false;
  SendOnStream(it->second, line);
  return true;
}

void GatedServer::SendOnStream(int fd, const std::string& line) {
  Stream& s = streams_.at(fd);
  s.outbox += Chunk(line);
  if (!FlushStream(s)) DropStream(fd);
}

bool GatedServer::FlushStream(Stream& s) {
  while (!s.outbox.empty()) {
    ssize_t n = WriteNow(*s.conn, s.outbox.data(), s.outbox.size());
    if (n < 0) return false;
    if (n == 0) break;
    s.outbox.erase(0, static_cast<size_t>(n));
  }
  return s.outbox.size() <= options_.max_stream_backlog;
}

void GatedServer::DropStream(int fd) {
  auto it = streams_.find(fd);
  if (it == streams_.end()) return;
  stream_due_.erase({std::min(it->second.ends, it->second.next_ping), fd});
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto key = stream_of_.find(it->second.key);
  if (key != stream_of_.end() && key->second == fd) stream_of_.erase(key);
  streams_.erase(it);  // closes
}

void GatedServer::OnStreamEvent(int fd, uint32_t events) {
  Stream& s = streams_.at(fd);
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    // A client says nothing once it has asked: what arrives is dropped,
    // and a closed connection ends the stream.
    for (;;) {
      IoResult r = ReadAvailable(*s.conn, 16 * 1024);
      s.conn->in.clear();
      s.conn->pos = 0;
      if (r == IoResult::kClosed) {
        DropStream(fd);
        return;
      }
      if (r == IoResult::kWouldBlock) break;
    }
  }
  if (!FlushStream(s)) DropStream(fd);
}

void GatedServer::TendStreams(Clock::time_point now) {
  MutexLock lock(mu_);
  while (!stream_due_.empty() && stream_due_.begin()->first <= now) {
    const int fd = stream_due_.begin()->second;
    Stream& s = streams_.at(fd);
    if (s.ends <= now) {
      // The last chunk, then closed: the client asks again.
      s.outbox += "0\r\n\r\n";
      (void)FlushStream(s);
      ::shutdown(fd, SHUT_WR);
      DropStream(fd);
      continue;
    }
    stream_due_.erase(stream_due_.begin());
    s.next_ping = now + options_.stream_ping;
    stream_due_.emplace(std::min(s.ends, s.next_ping), fd);
    SendOnStream(fd, R"({"type":"ping"})");
  }
}

}  // namespace p2pshare::central
