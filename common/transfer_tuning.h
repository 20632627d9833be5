// How peers move file bytes over gRPC: one set of numbers for peer-server
// and peer-client, which must agree (Performance in the README has the
// measurements behind them). common/peer_channel.h applies them.
#pragma once

#include <cstddef>

namespace p2pshare {

// Download chunks and upload messages: 256 KiB streams at ~1.2 GB/s from
// memory (1 MiB: ~1.3 GB/s) with a quarter of the heap per message.
inline constexpr size_t kTransferChunkBytes = 256 << 10;

// A fixed HTTP/2 stream window instead of gRPC's BDP probing: the probing
// grew the window until gRPC held ~67 MiB of received slices ahead of a
// disk slower than loopback. What gRPC may buffer ahead of the reader.
inline constexpr int kHttp2WindowBytes = 8 << 20;

// HTTP/2 frames a peer accepts (the default is 16 KiB): without the
// probing, small frames cost a third of the throughput; 1 MiB wins most
// of it back.
inline constexpr int kHttp2MaxFrameBytes = 1 << 20;
// Streams one connection may carry at once at a peer-server (each is a
// call: more than any honest client opens to one holder).
inline constexpr int kMaxStreamsPerConnection = 16;

// The largest message a peer accepts: a chunk with room to spare (gRPC's
// default limit is 4 MiB).
inline constexpr int kMaxPeerMessageBytes = 8 << 20;

}  // namespace p2pshare
