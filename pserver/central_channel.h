// CentralChannel: the peer-server's end of central's channel
// (docs/protocol.md, "Channel"). While the peer serves, one GET
// /api/v1/channel stays open, opened again with backoff whenever it ends
// or breaks; each message is acted on at once:
//
//   "reverse"    another peer cannot reach this one directly but can be
//                reached itself: connect out to it (the address central
//                saw it at), present the token, and splice that connection
//                into this peer's own gRPC port on loopback
//                (common/relay_link.h), so the caller's TLS and calls reach
//                the server unchanged;
//   "relay"      the same through central's relay, for the others;
//   "heartbeat"  central has news (this account was logged out elsewhere):
//                the session agent heartbeats now instead of when due;
//   "wish"       a wish of this account came true (pserver/wish_inbox.h).
//
// Thread-safe: Start and Stop from the peer-server's main thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/directory_client.h"
#include "common/mutex.h"

namespace p2pshare::pserver {

// Reversed and relayed connections spliced into this peer at once; more
// tickets wait for none and are refused (the caller's next attempt asks
// again).
inline constexpr int kMaxRelayedConnections = 32;

struct CentralChannelHooks {
  std::function<std::string()> token;     // the session's current token
  std::function<int()> port;              // the gRPC port this peer serves on now
  std::string local_host;                 // how this process reaches its own server
  std::string central_host;               // central_url's host: the relay's, when a ticket names none
  std::function<void()> heartbeat_now;
  std::function<void(const Json&)> wish_found;  // a {type: "wish"} message
};

class CentralChannel {
 public:
  CentralChannel(const std::string& base_url, DirectoryClientOptions options, CentralChannelHooks hooks);
  ~CentralChannel();  // Stop()

  void Start();
  void Stop();  // idempotent; relayed connections under way go on to their end
  // Relayed connections being carried now, and since start.
  int relayed_now() const { return relayed_now_->load(); }
  int64_t relayed_total() const { return relayed_total_.load(); }

 private:
  void Loop();
  bool OnMessage(const Json& message);
  // Dials as the ticket says (back to the caller, or to the relay) and
  // splices the connection into this peer's own port.
  void Splice(const RelayTicket& ticket, bool reverse);

  DirectoryClient client_;
  const CentralChannelHooks hooks_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = true;
  std::thread thread_;
  std::shared_ptr<std::atomic<int>> relayed_now_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<int64_t> relayed_total_{0};
};

}  // namespace p2pshare::pserver
