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

Result<int> PortAllocator::Assign(const std::string& host, std::optional<int64_t> preferred,
                                  const std::vector<int64_t>& exclude) const {
  if (preferred && (*preferred < range_.first || *preferred > range_.second)) {
    return InvalidArgument("field 'preferred_port' must lie in the port range " +
                           std::to_string(range_.first) + "-" + std::to_string(range_.second));
  }
  ASSIGN_OR_RETURN(std::set<int> used, store_->PortsInUse(host));
  for (int64_t p : exclude) used.insert(static_cast<int>(p));
  std::optional<int> wanted;
  if (preferred) wanted = static_cast<int>(*preferred);
  std::optional<int> port = PickPort(range_, used, wanted);
  if (!port) return Unavailable("every port of the range is held on host " + host, "no_free_port");
  return *port;
}

}  // namespace p2pshare::central
