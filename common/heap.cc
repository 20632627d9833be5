#include "common/heap.h"

#include <malloc.h>

namespace p2pshare {

void BoundHeapGrowth() { mallopt(M_MMAP_THRESHOLD, 1024 * 1024); }

}  // namespace p2pshare
