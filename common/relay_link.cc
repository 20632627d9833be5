#include "common/relay_link.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>


#include <cerrno>
#include <cstring>
#include <utility>

#include "common/host_port.h"
#include "common/mutex.h"

namespace p2pshare {
namespace {

using Clock = std::chrono::steady_clock;

// Connections a forwarder carries at once (a gRPC channel opens one; a
// few more while one is being replaced).
constexpr int kMaxCarried = 16;

void SetBlocking(int fd, bool blocking) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

void ClearTimeouts(int fd) {
  timeval none{};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
}

// One direction of a Pump: bytes move from `from` into a pipe and from the
// pipe to `to` with splice(2), never through user space.
struct Direction {
  int from = -1, to = -1;
  int pipe[2] = {-1, -1};
  size_t len = 0;     // bytes in the pipe
  bool eof = false;   // `from` ended its stream
  bool done = false;  // and all of it was passed on
  Direction() { ok = ::pipe2(pipe, O_CLOEXEC | O_NONBLOCK) == 0; }
  ~Direction() {
    if (pipe[0] >= 0) ::close(pipe[0]);
    if (pipe[1] >= 0) ::close(pipe[1]);
  }
  Direction(const Direction&) = delete;
  Direction& operator=(const Direction&) = delete;
  bool ok = false;
};

constexpr size_t kPipeBytes = 256 * 1024;

bool Retry() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

// Moves what it can without waiting; false when a socket failed.
bool Step(Direction& d, bool readable, bool writable, const std::function<void(int64_t)>& pace,
          int64_t& moved) {
  if (readable && d.len == 0 && !d.eof) {
    ssize_t n = ::splice(d.from, nullptr, d.pipe[1], nullptr, kPipeBytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      if (pace) pace(n);
      d.len = static_cast<size_t>(n);
      writable = true;  // try at once
    } else if (n == 0) {
      d.eof = true;
    } else if (!Retry()) {
      return false;
    }
  }
  if (writable && d.len > 0) {
    ssize_t n = ::splice(d.pipe[0], nullptr, d.to, nullptr, d.len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d.len -= static_cast<size_t>(n);
      moved += n;
    } else if (n < 0 && !Retry()) {
      return false;
    }
  }
  if (d.eof && d.len == 0 && !d.done) {
    ::shutdown(d.to, SHUT_WR);  // the end of stream, passed on
    d.done = true;
  }
  return true;
}

}  // namespace

Result<std::string> ReadRelayLine(int fd, size_t max, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  std::string line;
  while (line.size() < max) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return Unavailable("no answer in time");
    }
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
    if (n == 0) return Unavailable("the connection was closed");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return Unavailable(std::strerror(errno));
    }
    if (c == '\n') return line;
    line.push_back(c);
  }
  return Unavailable("the line is too long");
}

Result<int> DialRelay(const RelayTicket& ticket, std::chrono::milliseconds timeout) {
  const std::string where = "the relay at " + JoinHostPort(ticket.host, ticket.port);
  int fd = ConnectTcp(ticket.host, ticket.port, static_cast<int>(timeout.count()));
  if (fd < 0) return Unavailable(where + " cannot be reached");
  const std::string hello = kRelayHello + ticket.token + "\n";
  if (::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    ::close(fd);
    return Unavailable(where + " closed the connection");
  }
  auto answer = ReadRelayLine(fd, 256, timeout);
  if (!answer.ok() || *answer != "OK") {
    ::close(fd);
    if (!answer.ok()) {
      return Unavailable(where + " did not put us through to " + ticket.peer + " (" +
                         answer.status().message() + ")");
    }
    std::string why = answer->rfind("NO ", 0) == 0 ? answer->substr(3) : *answer;
    return Unavailable(where + " did not put us through to " + ticket.peer + ": " + why);
  }
  ClearTimeouts(fd);
  return fd;
}

Result<int> DialBack(const RelayTicket& ticket, std::chrono::milliseconds timeout) {
  const std::string where = ticket.peer + " at " + JoinHostPort(ticket.host, ticket.port);
  int fd = ConnectTcp(ticket.host, ticket.port, static_cast<int>(timeout.count()));
  if (fd < 0) return Unavailable(where + " cannot be reached to connect back to");
  const std::string hello = kReverseHello + ticket.token + "\n";
  auto answer = ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(hello.size())
                    ? ReadRelayLine(fd, 256, timeout)
                    : Result<std::string>(Unavailable("the connection was closed"));
  if (!answer.ok() || *answer != "OK") {
    ::close(fd);
    return Unavailable(where + " did not take our connection back (" +
                       (answer.ok() ? "it answered something else" : answer.status().message()) + ")");
  }
  ClearTimeouts(fd);
  return fd;
}

Result<std::unique_ptr<ReversalListener>> ReversalListener::Open(const std::string& host) {
  int port = 0;
  ASSIGN_OR_RETURN(int fd, ListenTcpAnyPort(host, &port, 8));
  return std::unique_ptr<ReversalListener>(new ReversalListener(fd, port));
}

ReversalListener::~ReversalListener() { ::close(fd_); }

Result<int> ReversalListener::Await(const std::string& token, const std::string& peer,
                                    std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  const std::string expected = kReverseHello + token;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return Unavailable(peer + " did not connect back to us within " +
                         std::to_string(timeout.count() / 1000) + " s");
    }
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    auto line = ReadRelayLine(conn, kRelayHelloMax, std::max(left, std::chrono::milliseconds(1)));
    // The token is secret until used: compared in time that does not
    // depend on where it differs.
    bool same = line.ok() && line->size() == expected.size();
    unsigned char diff = 0;
    for (size_t i = 0; same && i < expected.size(); ++i) diff |= (*line)[i] ^ expected[i];
    if (same && diff == 0 && ::send(conn, "OK\n", 3, MSG_NOSIGNAL) == 3) {
      ClearTimeouts(conn);
      return conn;
    }
    ::close(conn);  // someone else, or the holder gone quiet
  }
}

int64_t Pump(int a, int b, std::chrono::milliseconds idle, const std::function<void(int64_t)>& pace) {
  // splice(2) has no MSG_NOSIGNAL: a peer that closed must be an error
  // here (EPIPE), not a SIGPIPE that ends the process. Blocked for this
  // thread, which only pumps.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  SetBlocking(a, false);
  SetBlocking(b, false);
  auto ab = std::make_unique<Direction>();
  auto ba = std::make_unique<Direction>();
  ab->from = ba->to = a;
  ab->to = ba->from = b;
  int64_t moved = 0;
  if (!ab->ok || !ba->ok) return 0;
  ::fcntl(ab->pipe[1], F_SETPIPE_SZ, static_cast<int>(kPipeBytes));
  ::fcntl(ba->pipe[1], F_SETPIPE_SZ, static_cast<int>(kPipeBytes));
  while (!(ab->done && ba->done)) {
    pollfd p[2] = {{a, 0, 0}, {b, 0, 0}};
    if (ab->len == 0 && !ab->eof) p[0].events |= POLLIN;
    if (ba->len > 0) p[0].events |= POLLOUT;
    if (ba->len == 0 && !ba->eof) p[1].events |= POLLIN;
    if (ab->len > 0) p[1].events |= POLLOUT;
    int n = ::poll(p, 2, static_cast<int>(idle.count()));
    if (n == 0) break;  // nothing moved for `idle`
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const short gone = POLLHUP | POLLERR;
    bool a_in = (p[0].revents & (POLLIN | gone)) != 0, a_out = (p[0].revents & (POLLOUT | gone)) != 0;
    bool b_in = (p[1].revents & (POLLIN | gone)) != 0, b_out = (p[1].revents & (POLLOUT | gone)) != 0;
    if (!Step(*ab, a_in, b_out, pace, moved) || !Step(*ba, b_in, a_out, pace, moved)) break;
  }
  return moved;
}

namespace {

// One connection of `account`'s reversed to us: a listener at a free port
// of `host`, central asked to have `account` connect to it, and the wait.
Result<int> ConnectedBack(const std::string& account, const RelayForwarder::TicketSource& ticket,
                          const std::string& host) {
  ASSIGN_OR_RETURN(auto listener, ReversalListener::Open(host));
  ASSIGN_OR_RETURN(RelayTicket t, ticket(account, listener->port()));
  // Central names the address it sees us at. Another one than ours means
  // a router in between (whose ports it opens for us do not include this
  // one) or another family (a central_url whose name has both): nobody
  // would come, so the relay at once.
  if (t.host != host) {
    return Unavailable("central sees us at " + t.host + ", not at " + host +
                       ", where we listen (a router in between)");
  }
  return listener->Await(t.token, account, kReversalWait);
}

}  // namespace

struct RelayForwarder::Shared {
  Mutex mu;
  std::string last_failure GUARDED_BY(mu);
  std::string route GUARDED_BY(mu);
  std::atomic<bool> try_reverse{false};
  std::atomic<int> carried{0};
};

Result<std::unique_ptr<RelayForwarder>> RelayForwarder::Start(std::string account, TicketSource ticket,
                                                              std::string reverse_host) {
  int port = 0;
  auto fd = ListenTcpAnyPort("127.0.0.1", &port, 16);
  if (!fd.ok()) return Unavailable("cannot listen on loopback for the relay: " + fd.status().message());
  return std::unique_ptr<RelayForwarder>(
      new RelayForwarder(std::move(account), std::move(ticket), std::move(reverse_host), *fd, port));
}

RelayForwarder::RelayForwarder(std::string account, TicketSource ticket, std::string reverse_host, int fd,
                               int port)
    : account_(std::move(account)),
      ticket_(std::move(ticket)),
      reverse_host_(std::move(reverse_host)),
      listen_fd_(fd),
      port_(port),
      shared_(std::make_shared<Shared>()) {
  shared_->try_reverse = !reverse_host_.empty();
  shared_->route = reverse_host_.empty() ? "relayed" : "reversed";
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

std::string RelayForwarder::route() const {
  MutexLock lock(shared_->mu);
  return shared_->route;
}

RelayForwarder::~RelayForwarder() {
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listen_fd_);
}

std::string RelayForwarder::last_failure() const {
  MutexLock lock(shared_->mu);
  return shared_->last_failure;
}

void RelayForwarder::AcceptLoop() {
  for (;;) {
    int local = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (local < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    if (shared_->carried.fetch_add(1) >= kMaxCarried) {
      shared_->carried.fetch_sub(1);
      ::close(local);
      continue;
    }
    // Detached: a carried connection ends when either end closes, and
    // holds only what it shares (the forwarder may go first).
    // It logs nothing (at a process's exit it may still run while the
    // logging registry is torn down): what failed is kept in last_failure,
    // which the caller's error says.
    std::thread([shared = shared_, account = account_, ticket = ticket_, host = reverse_host_, local] {
      Result<int> remote = Unavailable("");
      std::string reversal_failed;
      if (shared->try_reverse) {
        remote = ConnectedBack(account, ticket, host);
        if (!remote.ok()) {
          // Not again for this forwarder's life: the relay from now on.
          shared->try_reverse = false;
          reversal_failed = remote.status().message();
        }
      }
      const bool reversed = remote.ok();
      if (!reversed) {
        auto t = ticket(account, 0);
        remote = t.ok() ? DialRelay(*t, std::chrono::seconds(10)) : Result<int>(t.status());
      }
      {
        MutexLock lock(shared->mu);
        shared->route = reversed ? "reversed" : "relayed";
        shared->last_failure = remote.ok() ? ""
                             : reversal_failed.empty() ? remote.status().message()
                                                       : reversal_failed + ", and " + remote.status().message();
      }
      if (remote.ok()) {
        (void)Pump(local, *remote, std::chrono::minutes(15));
        ::close(*remote);
      }
      ::close(local);
      shared->carried.fetch_sub(1);
    }).detach();
  }
}

}  // namespace p2pshare
