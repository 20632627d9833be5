// Keeps the heap from growing with the bytes a process moves.
//
// glibc raises its mmap threshold each time a large block is freed (up to
// 32 MiB), so the 256 KiB - 1 MiB buffers of a transfer (ours and gRPC's)
// end up in the heap, which fragments and is not given back: a 1 GiB
// transfer took peer-client to 108 MiB RSS and peer-server to 83 MiB.
// Fixing the threshold at 1 MiB stops that drift: a transfer's 256 KiB
// messages are reused from the heap (no page faults per message), anything
// larger is mmapped and returned on free. (The other half of the bound is
// the fixed HTTP/2 window of the gRPC channels; see common/peer_channel.h
// and common/transfer_tuning.h.)
#pragma once

namespace p2pshare {

// Call once at the start of main, before any threads.
void BoundHeapGrowth();

}  // namespace p2pshare
