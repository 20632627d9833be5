#include "common/heap.h"

#include <malloc.h>

namespace p2pshare {

void BoundHeapGrowth(HeapUse use) {
  if (use == HeapUse::kTransfers) {
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_ARENA_MAX, 2);
  } else {
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  }
}

}  // namespace p2pshare
