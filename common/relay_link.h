// The relay's wire and the two ends' plumbing (docs/protocol.md, "Relay").
//
// A peer that cannot be reached is still reached through central's relay:
// the peer that wants it (the caller) asks central for a rendezvous
// (POST /api/v1/rendezvous); central gives it a ticket — the relay's
// address and a one-time token — and gives the other peer (the holder) its
// own ticket over the channel (GET /api/v1/channel). Both dial out to the
// relay, each sends one line, "P2PSHARE-RELAY 1 <token>\n", and the relay
// answers "OK\n" once both are there, or "NO <why>\n" and closes. From then
// on the relay copies bytes both ways and nothing else: the two peers run
// the very TLS handshake (mutual, with their own certificates) and gRPC
// they would run directly, so the relay sees ciphertext only and cannot
// pass for either of them.
//
// Connection reversal comes first when the caller can be reached itself:
// the caller listens at a free port of its own address and asks central
// for a rendezvous naming that port (reverse_port); central tells the
// holder, over the channel, to connect out to the caller's address as
// central sees it. The holder dials, sends "P2PSHARE-REVERSE 1 <token>\n",
// the caller answers "OK\n", and from then on the connection carries the
// same TLS and gRPC as a direct one, the holder still the server of both.
// When no holder connects back within kReversalWait, the caller goes
// through the relay.
//
// Within each peer the rest never learns how it is connected: the caller's
// gRPC channel connects to a RelayForwarder on loopback that makes a
// reversed or relayed connection for each connection it accepts; the
// holder's peer-server gets either as one more connection from loopback
// (Splice).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/directory_types.h"
#include "common/status.h"

namespace p2pshare {

inline constexpr const char* kRelayHello = "P2PSHARE-RELAY 1 ";
inline constexpr const char* kReverseHello = "P2PSHARE-REVERSE 1 ";
// How long a caller waits for the holder to connect back before it goes
// through the relay: the channel's message and one connection, with room.
inline constexpr auto kReversalWait = std::chrono::seconds(3);
// The hello line's longest (the prefix, 32 hex digits, "\n", with room).
inline constexpr size_t kRelayHelloMax = 64;

// Connects to the ticket's relay, presents the token and waits (up to
// `timeout`) for the other side: the connection, ready to carry the peers'
// TLS, or Unavailable naming why not in plain words.
Result<int> DialRelay(const RelayTicket& ticket, std::chrono::milliseconds timeout);

// The holder's side of a reversal: connects to the caller at the ticket's
// host and port, presents the token and waits (up to `timeout`) for "OK":
// the connection, or Unavailable naming why not in plain words.
Result<int> DialBack(const RelayTicket& ticket, std::chrono::milliseconds timeout);

// The caller's side of a reversal: a listener at a free port of `host`
// (an IP literal of this machine) that takes one connection presenting a
// token. Thread-compatible.
class ReversalListener {
 public:
  static Result<std::unique_ptr<ReversalListener>> Open(const std::string& host);
  ~ReversalListener();
  int port() const { return port_; }
  // The first connection within `timeout` that presents `token` (answered
  // "OK"), or Unavailable saying that `peer` did not connect back. Others
  // (a wrong token, silence past the time left) are closed.
  Result<int> Await(const std::string& token, const std::string& peer, std::chrono::milliseconds timeout);

 private:
  ReversalListener(int fd, int port) : fd_(fd), port_(port) {}
  const int fd_;
  const int port_;
};

// Reads one line ending in '\n' of at most `max` bytes from `fd` within
// `timeout`, without reading past it (byte by byte: only for the short
// hello and answer). Unavailable when it does not come or is too long.
Result<std::string> ReadRelayLine(int fd, size_t max, std::chrono::milliseconds timeout);

// Copies bytes both ways between `a` and `b` (splice(2): through a pipe,
// never through user space) until both directions have ended (an end of
// stream passed on as a half-close) or either fails, or nothing moved for
// `idle`. `pace(n)` is called before n bytes are passed
// on (rate caps); it may wait. The bytes copied, both ways. Closes neither.
// Blocks SIGPIPE in the calling thread (a thread of its own).
int64_t Pump(int a, int b, std::chrono::milliseconds idle,
             const std::function<void(int64_t)>& pace = {});

// A loopback listener whose every connection is carried to `account`
// without its address: reversed when it connects back to us, else through
// the relay. `ticket(account, reverse_port)` asks central for a rendezvous
// (POST /api/v1/rendezvous): with a port, a reversal to that port of ours;
// with 0, a relay ticket. Reversal is tried while it works (and not at
// all when `reverse_host`, our address toward central, is empty); once
// the holder does not connect back, this forwarder uses the relay. What
// the process's gRPC channel to such a peer connects to
// (common/peer_channel.h).
class RelayForwarder {
 public:
  using TicketSource = std::function<Result<RelayTicket>(const std::string& account, int reverse_port)>;
  // Listens on 127.0.0.1 at a free port. Unavailable when it cannot.
  static Result<std::unique_ptr<RelayForwarder>> Start(std::string account, TicketSource ticket,
                                                       std::string reverse_host = "");
  ~RelayForwarder();  // stops accepting; connections being carried end by themselves
  int port() const { return port_; }
  // How the last connection was carried: "reversed" or "relayed" (before
  // the first: "reversed" when it will be tried, else "relayed").
  std::string route() const;
  // Why the last connection could not be carried, in plain words (empty
  // when it was): what an error about this peer should say.
  std::string last_failure() const;

 private:
  RelayForwarder(std::string account, TicketSource ticket, std::string reverse_host, int fd, int port);
  void AcceptLoop();

  struct Shared;
  const std::string account_;
  const TicketSource ticket_;
  const std::string reverse_host_;
  const int listen_fd_;
  const int port_;
  std::shared_ptr<Shared> shared_;
  std::thread acceptor_;
};

}  // namespace p2pshare
