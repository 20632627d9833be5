// How peers move file bytes over gRPC: one set of numbers for peer-server
// and peer-client, which must agree (Performance in the README has the
// measurements behind them). common/peer_channel.h applies them.
#pragma once

#include <cstddef>

namespace p2pshare {

// Download chunks and upload messages. Over mutual TLS, 1 MiB messages
// moved ~15% more per second than 256 KiB ones (fewer thread wake-ups per
// byte on both sides, the holder's most of all).
inline constexpr size_t kTransferChunkBytes = 1 << 20;
// A holder's memory grows with chunk size x downloads served at once
// (~2.4 MiB per download with 1 MiB chunks, ~0.7 MiB with 256 KiB): past
// this many transfers at once it sends the smaller chunks.
inline constexpr int kLargeChunkTransfers = 8;
inline constexpr size_t kCrowdedChunkBytes = 256 << 10;

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

// A caller that has not finished its TLS handshake by then is cut off
// (gRPC's default is 120 s: a stranger's silent connections would hold a
// descriptor each that long). A handshake takes two round trips.
inline constexpr int kServerHandshakeTimeoutMs = 10 * 1000;

// The largest message a peer accepts: a chunk with room to spare (gRPC's
// default limit is 4 MiB).
inline constexpr int kMaxPeerMessageBytes = 8 << 20;

}  // namespace p2pshare
