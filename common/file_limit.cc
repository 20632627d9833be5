#include "common/file_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace p2pshare {

uint64_t RaiseOpenFileLimit(uint64_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    // An unlimited hard limit still stops at the kernel's nr_open
    // (2^20 by default).
    const rlim_t hard = lim.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_max;
    lim.rlim_cur = std::min(static_cast<rlim_t>(wanted), hard);
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur == RLIM_INFINITY ? kUnlimitedFiles : static_cast<uint64_t>(lim.rlim_cur);
}

}  // namespace p2pshare
