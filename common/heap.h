// Keeps the heap from growing with the bytes a process moves.
//
// glibc raises its mmap threshold each time a large block is freed, so the
// 256 KiB - 1 MiB buffers of a transfer (ours and gRPC's) end up in the
// heap, which fragments and is not given back: a 1 GiB transfer took
// peer-client to 108 MiB RSS and peer-server to 83 MiB (35 and 40 MiB with
// the threshold fixed). Fixing the threshold at 128 KiB keeps large
// buffers mmapped and returned on free.
#pragma once

namespace p2pshare {

// Call once at the start of main, before any threads.
void BoundHeapGrowth();

}  // namespace p2pshare
