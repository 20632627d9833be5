#include "central/relay.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "central/http_connection.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "common/relay_link.h"

namespace p2pshare::central {

using Clock = std::chrono::steady_clock;

// A bytes-a-second cap that callers share: Take(n) waits until n more
// bytes fit (a second's worth may pass at once).
class RelayServer::RateCap {
 public:
  explicit RateCap(int64_t rate) : rate_(rate) {}
  void Take(int64_t n) {
    if (rate_ <= 0) return;
    Clock::time_point wake;
    {
      MutexLock lock(mu_);
      const auto now = Clock::now();
      const double burst = static_cast<double>(rate_);
      credit_ = std::min(burst, credit_ + std::chrono::duration<double>(now - last_).count() *
                                              static_cast<double>(rate_));
      last_ = now;
      credit_ -= static_cast<double>(n);
      if (credit_ >= 0) return;
      wake = now + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(-credit_ / static_cast<double>(rate_)));
    }
    std::this_thread::sleep_until(wake);
  }

 private:
  const int64_t rate_;
  Mutex mu_;
  double credit_ GUARDED_BY(mu_) = 0;
  Clock::time_point last_ GUARDED_BY(mu_) = Clock::now();
};

struct RelayServer::Session {
  std::string caller, holder, address;
  std::string caller_token, holder_token;
  Clock::time_point expires;
  int first = -1;        // the side that came first, waiting for the other
  bool met = false;      // both came: it runs (or ran)
  bool forgotten = false;
  RateCap cap;
  explicit Session(int64_t rate) : cap(rate) {}
};

namespace {

void KeepWatching(int fd) {
  // A peer whose cable is pulled sends no FIN: probes find it within a
  // minute when idle, and unacknowledged data gives up after 30 s.
  int on = 1, idle = 20, interval = 10, count = 3;
  unsigned timeout_ms = 30000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof timeout_ms);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void Say(int fd, const std::string& line) {
  std::string all = line + "\n";
  (void)::send(fd, all.data(), all.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

Result<std::unique_ptr<RelayServer>> RelayServer::Start(const std::string& host, int port,
                                                        RelayOptions options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return Unavailable("cannot listen for the relay on " + JoinHostPort(host, port) +
                       ": not an address of this machine");
  }
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (found->ai_family == AF_INET6) {
    int off = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  const bool bound = fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 128) == 0;
  ::freeaddrinfo(found);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (!bound || ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Unavailable("cannot listen for the relay on " + JoinHostPort(host, port) + ": " + why);
  }
  int bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                            : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return std::unique_ptr<RelayServer>(new RelayServer(fd, bound_port, options));
}

RelayServer::RelayServer(int fd, int port, RelayOptions options)
    : options_(options),
      listen_fd_(fd),
      port_(port),
      total_(std::make_unique<RateCap>(options.total_rate)),
      waiting_by_address_(options.waiting_per_address, 2 * options.max_sessions + 64) {
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

RelayServer::~RelayServer() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (const auto& [fd, other] : live_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    MutexLock lock(mu_);
    met_.notify_all();
    threads_done_.wait(lock, [&]() REQUIRES(mu_) { return threads_ == 0; });
  }
  ::close(listen_fd_);
}

RelayStats RelayServer::stats() const {
  MutexLock lock(mu_);
  RelayStats s;
  s.sessions = running_;
  s.waiting = sessions_ - running_;
  s.bytes = bytes_.load();
  s.sessions_done = done_.load();
  s.refused = refused_.load();
  return s;
}

void RelayServer::Expire() {
  const auto now = Clock::now();
  std::vector<std::shared_ptr<Session>> stale;
  for (const auto& [token, s] : by_token_) {
    if (!s->met && s->expires <= now) stale.push_back(s);
  }
  for (const auto& s : stale) Forget(s);
}

void RelayServer::Forget(const std::shared_ptr<Session>& s) {
  if (s->forgotten) return;
  s->forgotten = true;
  by_token_.erase(s->caller_token);
  by_token_.erase(s->holder_token);
  auto give_back = [](std::map<std::string, int64_t>& m, const std::string& key) {
    if (--m[key] <= 0) m.erase(key);
  };
  give_back(per_caller_, s->caller);
  give_back(per_holder_, s->holder);
  give_back(per_pair_, s->caller + '\n' + s->holder);
  give_back(per_address_, s->address);
  --sessions_;
}

Result<RelayTokens> RelayServer::Open(const std::string& caller, const std::string& address,
                                      const std::string& holder) {
  MutexLock lock(mu_);
  Expire();
  auto busy = [&](const std::string& why) {
    refused_.fetch_add(1);
    return Unavailable("the relay " + why + "; try again in a moment", "busy");
  };
  if (sessions_ >= options_.max_sessions) return busy("carries as many sessions as it may");
  const std::string pair = caller + '\n' + holder;
  auto at = [](const std::map<std::string, int64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? int64_t{0} : it->second;
  };
  if (at(per_caller_, caller) >= options_.sessions_per_account) {
    return busy("carries as many sessions of this account as it may");
  }
  if (at(per_pair_, pair) >= options_.sessions_per_pair) {
    return busy("carries as many sessions from this account to " + holder + " as it may");
  }
  if (at(per_holder_, holder) >= options_.sessions_per_holder) {
    return busy("carries as many sessions to " + holder + " as it may");
  }
  if (at(per_address_, address) >= options_.sessions_per_address) {
    return busy("carries as many sessions asked for from your address as it may");
  }
  auto s = std::make_shared<Session>(options_.session_rate);
  s->caller = caller;
  s->holder = holder;
  s->address = address;
  s->caller_token = RandomHex(16);
  s->holder_token = RandomHex(16);
  s->expires = Clock::now() + options_.ticket_ttl;
  by_token_[s->caller_token] = s;
  by_token_[s->holder_token] = s;
  ++per_caller_[caller];
  ++per_holder_[holder];
  ++per_pair_[pair];
  ++per_address_[address];
  ++sessions_;
  return RelayTokens{s->caller_token, s->holder_token};
}

void RelayServer::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      return;  // shut down
    }
    MutexLock lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    ++threads_;
    int port = 0;
    std::thread([this, fd, address = PeerAddress(fd, &port)] { Admit(fd, address); }).detach();
  }
}

void RelayServer::Admit(int fd, std::string address) {
  struct Done {
    RelayServer* r;
    ~Done() {
      MutexLock lock(r->mu_);
      if (--r->threads_ == 0) r->threads_done_.notify_all();
    }
  } done{this};
  auto slot = waiting_by_address_.Enter(address);
  if (!slot) {
    refused_.fetch_add(1);
    Say(fd, "NO too many connections from your address wait to present a ticket");
    ::close(fd);
    return;
  }
  KeepWatching(fd);
  auto line = ReadRelayLine(fd, kRelayHelloMax, options_.ticket_ttl);
  const std::string prefix = kRelayHello;
  std::string token = line.ok() && line->rfind(prefix, 0) == 0 ? line->substr(prefix.size()) : "";
  MutexLock lock(mu_);
  auto it = by_token_.find(token);
  if (token.empty() || it == by_token_.end() || stopping_) {
    lock.Unlock();
    refused_.fetch_add(1);
    Say(fd, "NO unknown or expired ticket");
    ::close(fd);
    return;
  }
  std::shared_ptr<Session> s = it->second;
  by_token_.erase(it);  // good once
  if (s->first < 0) {
    s->first = fd;
    slot.reset();  // it waits as part of a session now, which is bounded
    met_.wait_until(lock, s->expires, [&]() REQUIRES(mu_) { return s->met || stopping_; });
    if (!s->met) {
      Forget(s);
      lock.Unlock();
      Say(fd, "NO the other peer did not come in time");
      ::close(fd);
    }
    return;  // the second side's thread runs the session
  }
  s->met = true;
  ++running_;
  live_fds_[s->first] = fd;
  live_fds_[fd] = s->first;
  met_.notify_all();
  const int first = s->first;
  lock.Unlock();
  slot.reset();
  Run(s, first, fd);
}

void RelayServer::Run(std::shared_ptr<Session> s, int first, int second) {
  Say(first, "OK");
  Say(second, "OK");
  int64_t moved = Pump(first, second, options_.idle, [&](int64_t n) {
    s->cap.Take(n);
    total_->Take(n);
    bytes_.fetch_add(n, std::memory_order_relaxed);
  });
  (void)moved;
  MutexLock lock(mu_);
  live_fds_.erase(first);
  live_fds_.erase(second);
  --running_;
  Forget(s);
  ::close(first);
  ::close(second);
  done_.fetch_add(1);
}

}  // namespace p2pshare::central
