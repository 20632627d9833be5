// The port hand-out rule of SPEC §4, as a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <utility>

namespace p2pshare::central {

// The port for a new peer on a host whose online peers hold `used`:
// `preferred` when it lies in `range` and is free, else the lowest free port
// of `range`; nullopt when every port of the range is held.
std::optional<int> PickPort(std::pair<int64_t, int64_t> range, const std::set<int>& used,
                            std::optional<int> preferred);

}  // namespace p2pshare::central
