// Locator: the Locate RPC (the friend-peer model). Any peer is an access
// point for another's location queries:
//
//  - A client's query is answered through central on the caller's behalf
//    (results marked DIRECTORY), so a client that cannot reach central
//    still finds files.
//  - When central cannot be reached (or answers 5xx), the query floods: this
//    peer reads its own catalog and forwards the query to its friends with
//    ttl - 1 (in parallel), who do the same; answers are merged per (name,
//    sha256) with their holders and marked FLOOD. Every flood has a random
//    query id; a peer handles an id once and declines repeats, so a query
//    never visits a peer twice, and it stops when the ttl reaches 0.
//
// Only members may ask (callers with a certificate of the network; the
// service checks that). A friend's reply is checked before it is merged
// (DropBadLocateEntries), and a holder it names is believed only when its
// certificate names that account at connection time. Transfers never go
// through here: results carry the holders' addresses and the client
// downloads from them directly.
//
// Thread-safe: called on gRPC threads.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/directory_client.h"
#include "common/host_port.h"
#include "common/mutex.h"
#include "common/status.h"
#include "p2pshare.grpc.pb.h"
#include "pserver/catalog.h"

namespace p2pshare::pserver {

struct LocatorOptions {
  std::string username;
  int default_ttl = 3;
  int max_ttl = 8;
  // Each hop answers its caller this much before the caller's deadline.
  std::chrono::milliseconds hop_margin{150};
  std::chrono::seconds remember_ids{120};  // how long a query id counts as seen
  size_t max_seen_ids = 100000;            // beyond, the oldest are forgotten first
};

class Locator {
 public:
  using Clock = std::chrono::steady_clock;
  // `central` may be null (flood only). `friends` and `self` (the address
  // other peers reach this one at, as central gave it) are read on each
  // query: friends change with central's suggestions, the address with a
  // new login.
  Locator(DirectoryClient* central, const Catalog* catalog, LocatorOptions options,
          std::function<std::vector<std::string>()> friends, std::function<HostPort()> self);

  // Answers `request` by `deadline`. InvalidArgument for a bad request.
  Result<v1::LocateReply> Locate(const v1::LocateRequest& request,
                                 std::chrono::system_clock::time_point deadline);

 private:
  Result<v1::LocateReply> FromCentral(const v1::LocateRequest& request);
  v1::LocateReply Flood(const v1::LocateRequest& request,
                        std::chrono::system_clock::time_point deadline);
  // This peer's own matches, as FLOOD results.
  void AddOwnMatches(const v1::LocateRequest& request, v1::LocateReply* reply) const;
  // True the first time `id` is seen (within remember_ids).
  bool FirstSight(const std::string& id);

  DirectoryClient* const central_;
  const Catalog* const catalog_;
  const LocatorOptions options_;
  const std::function<std::vector<std::string>()> friends_;
  const std::function<HostPort()> self_;

  Mutex mu_;
  // Query ids seen, oldest first (at most kMaxSeenIds, each for remember_ids).
  std::list<std::pair<std::string, Clock::time_point>> seen_order_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::list<std::pair<std::string, Clock::time_point>>::iterator>
      seen_ GUARDED_BY(mu_);
};

// Merges `from` into `into`: results by (name, sha256) with their holders
// united (by username), visited peers appended, declines added; then keeps
// the first `limit` results by name, then hash, and sets `total`.
void MergeLocateReplies(v1::LocateReply* into, const v1::LocateReply& from, int limit);

}  // namespace p2pshare::pserver
