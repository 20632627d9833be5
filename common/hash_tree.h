// The hash tree of a file's content (docs/protocol.md, "Pieces and the hash
// tree"): SHA-256 over 16 KiB blocks, as BitTorrent v2 (BEP 52) builds it,
// so a piece can be verified the moment it arrives, before the whole file
// is there.
//
//   leaf      SHA-256 of a 16 KiB block (the last one as long as it is; an
//             empty file has one leaf, the hash of nothing)
//   node      SHA-256(left child || right child)
//   piece     the node over PieceBytes(size) / 16 KiB leaves; the last
//             piece's missing leaves are 32 zero bytes
//   root      the node over the pieces, their count padded to a power of two
//             with the hash of a piece of zero leaves
//
// A file's piece size depends on its size alone: a power of two, at least
// 256 KiB, and large enough that a file has at most 4 096 pieces (a piece
// layer of at most 128 KiB).
//
// HashTreeBuilder computes the file's SHA-256 and its tree in one pass over
// its bytes, in O(pieces) memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace p2pshare {

using Digest = std::array<uint8_t, 32>;

inline constexpr int64_t kTreeBlockBytes = 16 << 10;
inline constexpr int64_t kMinPieceBytes = 256 << 10;
inline constexpr int64_t kMaxPieces = 4096;

// The piece size of a file of `size` bytes.
int64_t PieceBytes(int64_t size);
// Its number of pieces (1 for an empty file).
int64_t PieceCount(int64_t size);

// SHA-256 of `data`.
Digest Sha256Digest(std::string_view data);

// The hash of one piece from its bytes: `data` must be the whole piece (the
// last piece of a file is shorter); `piece_bytes` is the file's PieceBytes.
Digest PieceHash(std::string_view data, int64_t piece_bytes);

// PieceHash over bytes that come in parts: a piece's hash in O(log
// blocks) memory, whatever the piece size (a 1 GiB piece of a claimed
// 4 TiB file is never held whole). Update with the piece's bytes in
// order, then Finish; the hasher is then ready for the next piece.
class PieceHasher {
 public:
  explicit PieceHasher(int64_t piece_bytes);
  ~PieceHasher();
  PieceHasher(const PieceHasher&) = delete;
  PieceHasher& operator=(const PieceHasher&) = delete;

  void Update(const void* data, size_t size);
  Digest Finish();
  int64_t fed() const { return fed_; }  // bytes of the current piece

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t fed_ = 0;
};

// The root over a piece layer (pieces in order).
Digest RootOfPieces(const std::vector<Digest>& pieces, int64_t piece_bytes);

// What a file's content hashes to.
struct FileHashes {
  std::string sha256;          // 64 lowercase hex: the file's name for users
  Digest root{};               // the hash tree's root
  std::vector<Digest> pieces;  // the piece layer, PieceCount(size) hashes
};

class HashTreeBuilder {
 public:
  // `size`: the bytes that will be fed (it sets the piece size).
  explicit HashTreeBuilder(int64_t size);
  ~HashTreeBuilder();
  HashTreeBuilder(const HashTreeBuilder&) = delete;
  HashTreeBuilder& operator=(const HashTreeBuilder&) = delete;

  void Update(const void* data, size_t size);
  // FailedPrecondition when the bytes fed were not `size`.
  Result<FileHashes> Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hashes the regular file at `path` (read in 256 KiB blocks): its SHA-256
// and tree. NotFound if it cannot be opened, Internal on a read error,
// FailedPrecondition if its size changed while it was read.
Result<FileHashes> HashFile(const std::string& path);

// Whether `pieces` is the piece layer of a file of `size` bytes whose root
// is `root`.
bool PiecesMatchRoot(const std::vector<Digest>& pieces, int64_t size, const Digest& root);

}  // namespace p2pshare
