#include "central/http_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

namespace p2pshare::central {
namespace {

using Clock = std::chrono::steady_clock;

thread_local Clock::time_point request_start;
thread_local bool close_after_reply = false;

int MillisUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

// Waits for `events` on `fd` for at most `timeout_ms`; true when ready (or
// the peer hung up, which the next read or write reports).
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
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  }
  return text;
}

// One connection as cpp-httplib's Stream, for the request being served:
// reads are buffered (cpp-httplib reads headers a byte at a time) and fail
// once the request's deadline has passed; writes wait at most io_timeout.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, std::chrono::milliseconds io_timeout)
      : fd_(fd), io_timeout_ms_(static_cast<int>(io_timeout.count())) {
    remote_ip_ = PeerAddress(fd, &remote_port_);
  }

  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  size_t buffered() const { return end_ - pos_; }

  bool is_readable() const override { return buffered() > 0 || WaitFor(fd_, POLLIN, ReadWaitMs()); }
  bool is_writable() const override { return WaitFor(fd_, POLLOUT, io_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    while (buffered() == 0) {
      if (!WaitFor(fd_, POLLIN, ReadWaitMs())) return -1;
      ssize_t n = ::recv(fd_, buf_, sizeof buf_, MSG_DONTWAIT);
      if (n > 0) {
        pos_ = 0;
        end_ = static_cast<size_t>(n);
      } else if (n == 0) {
        return 0;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        return -1;
      }
    }
    size_t k = std::min(size, buffered());
    std::memcpy(ptr, buf_ + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return fd_; }

 private:
  int ReadWaitMs() const {
    return std::min(io_timeout_ms_, MillisUntil(deadline_, Clock::now()));
  }

  const int fd_;
  const int io_timeout_ms_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string remote_ip_;
  int remote_port_ = 0;
  char buf_[16 * 1024];
  size_t pos_ = 0;
  size_t end_ = 0;
};

// The unsigned decimal after the first "Content-Length:" of a header
// block; 0 when absent or malformed (cpp-httplib then answers at once).
uint64_t ContentLength(std::string_view header) {
  static constexpr std::string_view kName = "content-length:";
  size_t line = header.find('\n');
  while (line != std::string_view::npos && line + 1 < header.size()) {
    std::string_view rest = header.substr(line + 1);
    if (rest.size() > kName.size() &&
        std::equal(kName.begin(), kName.end(), rest.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      uint64_t v = 0;
      size_t i = kName.size();
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
      for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
        if (v > (UINT64_MAX - 9) / 10) return UINT64_MAX;
        v = v * 10 + static_cast<uint64_t>(rest[i] - '0');
      }
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
      // Anything but digits is malformed: 0, so cpp-httplib sees it now.
      return i < rest.size() && (rest[i] == '\r' || rest[i] == '\n') ? v : 0;
    }
    line = header.find('\n', line + 1);
  }
  return 0;
}

void SendAndClose(int fd, int status, const char* reason, const std::string& error,
                  const std::string& message) {
  std::string body = "{\"error\":\"" + error + "\",\"message\":\"" + message + "\"}";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  std::string all = head + body;
  // Best effort: a small reply fits the socket buffer; never block the gate.
  (void)::send(fd, all.data(), all.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Unread input makes close() send a reset, which can destroy the reply
  // before the client reads it: drop what has arrived (bounded) first.
  char scratch[16 * 1024];
  for (int i = 0; i < 64 && ::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0; ++i) {
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
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

std::chrono::steady_clock::time_point GatedServer::RequestStart() { return request_start; }

// Runs one request; false when the connection must close after it.
bool GatedServer::ServeOne(httplib::Stream& strm) {
  request_start = Clock::now();
  close_after_reply = false;
  bool closed = false;
  bool ok = process_request(strm, false, closed, nullptr);
  return ok && !closed && !close_after_reply;
}

GatedServer::GatedServer(GateOptions options)
    : options_(options), pool_(std::make_unique<httplib::ThreadPool>(options.threads)) {
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
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      // Requests still arriving end now; their replies can still be written.
      for (int fd : active_) ::shutdown(fd, SHUT_RD);
    }
    uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
    gate_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [fd, w] : waiting_) ::close(fd);
      waiting_.clear();
      deadlines_.clear();
    }
    pool_->shutdown();
  });
}

GateStats GatedServer::stats() const {
  GateStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.waiting = static_cast<int64_t>(waiting_.size());
  }
  s.timed_out = timed_out_.load();
  s.too_large = too_large_.load();
  s.evicted = evicted_.load();
  return s;
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  Serve(sock, /*fresh=*/true);
  return true;
}

GatedServer::Peeked GatedServer::PeekRequest(int fd) const {
  thread_local std::vector<char> buf;
  Peeked p;
  size_t want = options_.max_header_bytes;
  for (;;) {
    if (buf.size() < want) buf.resize(want);
    ssize_t n = ::recv(fd, buf.data(), want, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      p.arrival = Arrival::kClosed;
      return p;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      p.arrival = (errno == EAGAIN || errno == EWOULDBLOCK) ? Arrival::kIncomplete : Arrival::kClosed;
      return p;
    }
    p.bytes = static_cast<size_t>(n);
    std::string_view data(buf.data(), p.bytes);
    size_t end = data.find("\r\n\r\n");
    size_t header_end = end == std::string_view::npos ? std::string_view::npos : end + 4;
    if (header_end == std::string_view::npos) {
      size_t lf = data.find("\n\n");
      if (lf != std::string_view::npos) header_end = lf + 2;
    }
    if (header_end == std::string_view::npos || header_end > options_.max_header_bytes) {
      if (p.bytes < options_.max_header_bytes) {
        p.arrival = Arrival::kIncomplete;
      } else {
        bool has_request_line = data.substr(0, options_.max_header_bytes).find('\n') !=
                                std::string_view::npos;
        p.arrival = has_request_line ? Arrival::kHeaderTooLarge : Arrival::kUriTooLong;
      }
      return p;
    }
    p.content_length = ContentLength(data.substr(0, header_end));
    // Large bodies are read by the worker; small ones must be here first.
    if (p.content_length == 0 || p.content_length > options_.max_waiting_body ||
        p.bytes >= header_end + p.content_length) {
      p.arrival = Arrival::kComplete;
      return p;
    }
    size_t needed = header_end + static_cast<size_t>(p.content_length);
    if (want >= needed) {
      p.arrival = Arrival::kIncomplete;
      return p;
    }
    want = needed;  // peek again, far enough to see the whole body
  }
}

void GatedServer::Serve(int fd, bool fresh) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    active_.insert(fd);
  }
  ConnectionStream strm(fd, std::chrono::milliseconds(write_timeout_sec_ * 1000));
  bool park = false;
  bool started = false;
  for (;;) {
    auto now = Clock::now();
    Clock::time_point deadline = now + options_.request_timeout;
    if (strm.buffered() == 0) {
      Peeked p = PeekRequest(fd);
      if (p.arrival == Arrival::kIncomplete) {
        park = true;
        started = fresh || p.bytes > 0;
        break;
      }
      if (p.arrival == Arrival::kClosed) break;
      if (p.arrival != Arrival::kComplete) {
        std::lock_guard<std::mutex> lock(mu_);
        active_.erase(fd);
        Reject(fd, p.arrival);
        return;
      }
      if (p.content_length > options_.max_waiting_body && options_.min_body_rate > 0) {
        deadline += std::chrono::milliseconds(
            static_cast<int64_t>(std::min<uint64_t>(p.content_length, uint64_t{1} << 40) *
                                 1000 / static_cast<uint64_t>(options_.min_body_rate)));
      }
    }
    strm.set_deadline(deadline);
    if (!ServeOne(strm) || svr_sock_ == INVALID_SOCKET) break;
    fresh = false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(fd);
  }
  if (park && Park(fd, started)) return;
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

bool GatedServer::Park(int fd, bool started) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  while (waiting_.size() >= options_.max_connections && !deadlines_.empty()) {
    int victim = deadlines_.begin()->second;
    ForgetWaiting(victim);
    ::close(victim);
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  // A new or half-sent request gets request_timeout; an idle keep-alive
  // connection (between requests) gets idle_timeout.
  Waiting w;
  w.started = started;
  w.deadline = Clock::now() + (started ? options_.request_timeout : options_.idle_timeout);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  waiting_[fd] = w;
  deadlines_.emplace(w.deadline, fd);
  return true;
}

void GatedServer::ForgetWaiting(int fd) {
  auto it = waiting_.find(fd);
  if (it == waiting_.end()) return;
  deadlines_.erase({it->second.deadline, fd});
  waiting_.erase(it);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void GatedServer::Reject(int fd, Arrival why) {
  too_large_.fetch_add(1, std::memory_order_relaxed);
  if (why == Arrival::kUriTooLong) {
    SendAndClose(fd, 414, "URI Too Long", "uri_too_long", "request line over the limit");
  } else {
    SendAndClose(fd, 431, "Request Header Fields Too Large", "headers_too_large",
                 "request headers over " + std::to_string(options_.max_header_bytes) + " bytes");
  }
}

void GatedServer::GateLoop() {
  std::vector<epoll_event> events(256);
  for (;;) {
    int timeout_ms = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (!deadlines_.empty()) {
        timeout_ms = std::min(timeout_ms, MillisUntil(deadlines_.begin()->first, Clock::now()));
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
      OnReadable(events[i].data.fd);
    }
    ExpireWaiting(Clock::now());
  }
}

void GatedServer::OnReadable(int fd) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = waiting_.find(fd);
  if (it == waiting_.end() || stopping_) return;
  Peeked p = PeekRequest(fd);
  switch (p.arrival) {
    case Arrival::kIncomplete:
      if (p.bytes > 0 && !it->second.started) {
        // The first bytes of a request: it now has request_timeout.
        deadlines_.erase({it->second.deadline, fd});
        it->second.started = true;
        it->second.deadline = Clock::now() + options_.request_timeout;
        deadlines_.emplace(it->second.deadline, fd);
      }
      return;
    case Arrival::kComplete:
      ForgetWaiting(fd);
      lock.unlock();
      pool_->enqueue([this, fd] { Serve(fd, /*fresh=*/false); });
      return;
    case Arrival::kClosed:
      ForgetWaiting(fd);
      ::close(fd);
      return;
    case Arrival::kHeaderTooLarge:
    case Arrival::kUriTooLong:
      ForgetWaiting(fd);
      Reject(fd, p.arrival);
      return;
  }
}

void GatedServer::ExpireWaiting(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    int fd = deadlines_.begin()->second;
    bool started = waiting_[fd].started;
    ForgetWaiting(fd);
    if (started) {
      timed_out_.fetch_add(1, std::memory_order_relaxed);
      SendAndClose(fd, 408, "Request Timeout", "request_timeout",
                   "the request did not arrive in time");
    } else {
      ::close(fd);
    }
  }
}

}  // namespace p2pshare::central
