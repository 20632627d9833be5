#include "pserver/central_channel.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "common/backoff.h"
#include "common/host_port.h"
#include "common/relay_link.h"

namespace p2pshare::pserver {
namespace {

// Central pings every 15 s: a stream quiet for longer than this is gone.
constexpr auto kQuiet = std::chrono::seconds(40);

DirectoryClientOptions ChannelOptions(DirectoryClientOptions o) {
  o.timeout = kQuiet;
  return o;
}

}  // namespace

CentralChannel::CentralChannel(const std::string& base_url, DirectoryClientOptions options,
                               CentralChannelHooks hooks)
    : client_(base_url, ChannelOptions(std::move(options))), hooks_(std::move(hooks)) {}

CentralChannel::~CentralChannel() { Stop(); }

void CentralChannel::Start() {
  {
    MutexLock lock(mu_);
    if (!stop_) return;
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void CentralChannel::Stop() {
  {
    MutexLock lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  client_.Cancel();
  thread_.join();
}

void CentralChannel::Loop() {
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::seconds(30));
  bool was_open = false;
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stop_) return;
    }
    client_.set_token(hooks_.token());
    const auto opened = std::chrono::steady_clock::now();
    Status s = client_.Listen([this, &was_open, &backoff](const Json& m) {
      if (!was_open) spdlog::info("channel from central open: central can reach this peer at once");
      was_open = true;
      backoff.Reset();
      return OnMessage(m);
    });
    MutexLock lock(mu_);
    if (stop_) return;
    if (!s.ok() && was_open) {
      spdlog::warn("the channel from central closed ({}); opening it again", s.message());
      was_open = false;
    } else if (!s.ok()) {
      spdlog::debug("cannot open the channel from central: {}", s.message());
    }
    // A stream central ended after its lifetime is asked for again at
    // once; a failure waits its backoff.
    const bool lived = s.ok() && std::chrono::steady_clock::now() - opened > std::chrono::seconds(5);
    cv_.wait_for(lock, lived ? std::chrono::milliseconds(0) : backoff.Next(),
                 [&]() REQUIRES(mu_) { return stop_; });
  }
}

bool CentralChannel::OnMessage(const Json& m) {
  const std::string type = m.value("type", "");
  if (type == "heartbeat") {
    if (hooks_.heartbeat_now) hooks_.heartbeat_now();
  } else if (type == "wish") {
    if (hooks_.wish_found) hooks_.wish_found(m);
  } else if (type == "relay" || type == "reverse") {
    auto ticket = RelayTicketFromJson(m);
    if (ticket.ok() && ticket->host.empty()) ticket->host = hooks_.central_host;
    if (!ticket.ok()) {
      spdlog::warn("central sent a {} ticket that does not parse: {}", type, ticket.status().message());
    } else {
      Splice(*ticket, type == "reverse");
    }
  }
  // "hello", "ping" and types newer than this peer: nothing to do.
  MutexLock lock(mu_);
  return !stop_;
}

void CentralChannel::Splice(const RelayTicket& ticket, bool reverse) {
  const char* how = reverse ? "by having it connect back" : "through the relay";
  if (relayed_now_->fetch_add(1) >= kMaxRelayedConnections) {
    relayed_now_->fetch_sub(1);
    spdlog::warn("{} asked to reach this peer {}, but {} such connections are open already", ticket.peer, how,
                 kMaxRelayedConnections);
    return;
  }
  relayed_total_.fetch_add(1);
  // Detached: the connection lives as long as the two ends keep it; it
  // holds only what it shares.
  // It logs through a logger it holds (the registry may go at exit first).
  std::thread([ticket, reverse, how, host = hooks_.local_host, port = hooks_.port(), now = relayed_now_,
               log = spdlog::default_logger()] {
    auto relayed = reverse ? DialBack(ticket, kReversalWait) : DialRelay(ticket, std::chrono::seconds(10));
    if (!relayed.ok()) {
      log->warn("{} could not be put through to this peer: {}", ticket.peer, relayed.status().message());
    } else {
      int local = ConnectTcp(host, port, 5000);
      if (local < 0) {
        log->warn("a connection {} from {} cannot reach this peer's own port {}", how, ticket.peer, port);
      } else {
        log->debug("{} reaches this peer {} at {}", ticket.peer, how, JoinHostPort(ticket.host, ticket.port));
        (void)Pump(*relayed, local, std::chrono::minutes(15));
        ::close(local);
      }
      ::close(*relayed);
    }
    now->fetch_sub(1);
  }).detach();
}

}  // namespace p2pshare::pserver
