// Keeps the heap from growing with the bytes a process moves.
//
// glibc raises its mmap threshold each time a large block is freed (up to
// 32 MiB), so the 256 KiB - 1 MiB buffers of a transfer (ours and gRPC's)
// end up in the heap, which fragments and is not given back: a 1 GiB
// transfer took peer-client to 108 MiB RSS and peer-server to 83 MiB.
// Fixing the threshold stops that drift. (The other half of the bound is
// the fixed HTTP/2 window of the gRPC channels; see common/peer_channel.h
// and common/transfer_tuning.h.)
//
// For the peer programs (kTransfers) the threshold is 4 MiB and the heap
// is trimmed only past 64 MiB free: over TLS, gRPC's encrypted buffers are
// a little over 1 MiB each, and with a 1 MiB threshold and glibc's 128 KiB
// trim threshold each one was mmapped (or its arena trimmed with madvise)
// and faulted back in, page by page, for every message — most of the
// peer-server's time in a download went to page faults (127 MB/s; 440
// with the thresholds below, peak RSS unchanged at 24 MiB). With that
// threshold, what a thread frees stays in its arena, and glibc gives up
// to 8 arenas per core: a swarm download (a reading and a verifying
// thread per holder) from three holders peaked at 57-61 MiB for 1 GiB;
// with at most 2 arenas, 48 MiB (1 arena: 41 MiB), at the same speed.
// Central keeps the 1 MiB threshold, glibc's trimming and its arenas.
#pragma once

namespace p2pshare {

enum class HeapUse { kDirectory, kTransfers };

// Call once at the start of main, before any threads.
void BoundHeapGrowth(HeapUse use);

}  // namespace p2pshare
