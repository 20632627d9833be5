// EventLog: the recent events of the network (logins, logouts, evictions,
// upload targets chosen) for the dashboard and GET /api/v1/events.
//
// Only the last kKept events are kept, in memory: a restart starts an
// empty log. Replicas on a shared store record events in its change feed
// and each appends them here in the feed's order, with the feed's ids.
//
// Thread-safe: Record from httplib's workers and the sweeper, After from
// workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/directory_types.h"
#include "common/mutex.h"

namespace p2pshare::central {

class EventLog {
 public:
  static constexpr size_t kKept = 200;

  // Appends an event stamped now with the next id (ids start at 1).
  // `public_detail` is what anonymous readers see (default: `detail`).
  void Record(std::string kind, std::string username, std::string detail,
              std::string public_detail = "");
  // Appends an event as another replica recorded it (docs/architecture.md,
  // "Replicas"): its id and time are the change feed's; ids go on from it.
  void Append(NetworkEvent event);
  // The kept events with an id above `after`, oldest first.
  std::vector<NetworkEvent> After(int64_t after) const;

 private:
  mutable Mutex mu_;
  std::deque<NetworkEvent> events_ GUARDED_BY(mu_);
  int64_t next_id_ GUARDED_BY(mu_) = 1;
};

}  // namespace p2pshare::central
