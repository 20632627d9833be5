#include "central/port_allocator.h"

namespace p2pshare::central {

std::optional<int> PickPort(std::pair<int64_t, int64_t> range, const std::set<int>& used,
                            std::optional<int> preferred) {
  if (preferred && *preferred >= range.first && *preferred <= range.second &&
      !used.count(*preferred)) {
    return preferred;
  }
  for (int64_t port = range.first; port <= range.second; ++port) {
    if (!used.count(static_cast<int>(port))) return static_cast<int>(port);
  }
  return std::nullopt;
}

}  // namespace p2pshare::central
