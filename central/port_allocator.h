// Port hand-out: which gRPC port a peer that comes online gets.
//
// A peer gets the lowest port of `port_range` not held by another online
// peer on the same host, or the port it prefers when that one is free;
// ports it says it could not bind are skipped (docs/protocol.md, "Ports").
// Which ports are held is read from the store, so the allocation is only
// as serialized as its caller makes it: Directory holds its membership
// lock around Assign and the AddPeer that records the choice.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "central/store/directory_store.h"
#include "common/status.h"

namespace p2pshare::central {

// The rule itself, as a pure function: `preferred` when it lies in `range`
// and is not in `used`, else the lowest port of `range` not in `used`;
// nullopt when every port of the range is used.
std::optional<int> PickPort(std::pair<int64_t, int64_t> range, const std::set<int>& used,
                            std::optional<int> preferred);

// Thread-safe as far as the store is; see above for races.
class PortAllocator {
 public:
  PortAllocator(DirectoryStore* store, std::pair<int64_t, int64_t> range)
      : store_(store), range_(range) {}

  // A free port on `host`. InvalidArgument when `preferred` lies outside
  // the range; Unavailable "no_free_port" when every port is held.
  Result<int> Assign(const std::string& host, std::optional<int64_t> preferred,
                     const std::vector<int64_t>& exclude) const;

  std::pair<int64_t, int64_t> range() const { return range_; }

 private:
  DirectoryStore* const store_;
  const std::pair<int64_t, int64_t> range_;
};

}  // namespace p2pshare::central
