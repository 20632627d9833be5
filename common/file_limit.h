// The open-file limit of a server process: each connection is a
// descriptor, and the usual soft limit (1024) is a bound a stranger can
// reach with 1024 silent TCP connections — after which nobody else can
// connect until they go. Servers raise the soft limit towards the hard one.
#pragma once

#include <cstdint>

namespace p2pshare {

inline constexpr uint64_t kUnlimitedFiles = UINT64_MAX;

// Raises the soft RLIMIT_NOFILE to `wanted` (at most the hard limit; never
// lowers it) and returns the soft limit now in force (kUnlimitedFiles for
// RLIM_INFINITY).
uint64_t RaiseOpenFileLimit(uint64_t wanted);

}  // namespace p2pshare
