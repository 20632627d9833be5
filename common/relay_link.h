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
// Within each peer the rest never learns how it is connected: the caller's
// gRPC channel connects to a RelayForwarder on loopback that fetches a
// ticket per connection; the holder's peer-server gets the relayed
// connection as one more connection from loopback (Splice).
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
// The hello line's longest (the prefix, 32 hex digits, "\n", with room).
inline constexpr size_t kRelayHelloMax = 64;

// Connects to the ticket's relay, presents the token and waits (up to
// `timeout`) for the other side: the connection, ready to carry the peers'
// TLS, or Unavailable naming why not in plain words.
Result<int> DialRelay(const RelayTicket& ticket, std::chrono::milliseconds timeout);

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

// A loopback listener whose every connection is carried through the
// relay to `account`: `ticket` is asked for a fresh ticket per connection
// (POST /api/v1/rendezvous). What the process's gRPC channel to a relayed
// peer connects to (common/peer_channel.h).
class RelayForwarder {
 public:
  using TicketSource = std::function<Result<RelayTicket>(const std::string& account)>;
  // Listens on 127.0.0.1 at a free port. Unavailable when it cannot.
  static Result<std::unique_ptr<RelayForwarder>> Start(std::string account, TicketSource ticket);
  ~RelayForwarder();  // stops accepting; connections being carried end by themselves
  int port() const { return port_; }
  // Why the last connection could not be carried, in plain words (empty
  // when it was): what an error about this peer should say.
  std::string last_failure() const;

 private:
  RelayForwarder(std::string account, TicketSource ticket, int fd, int port);
  void AcceptLoop();

  struct Shared;
  const std::string account_;
  const TicketSource ticket_;
  const int listen_fd_;
  const int port_;
  std::shared_ptr<Shared> shared_;
  std::thread acceptor_;
};

}  // namespace p2pshare
