#include "common/hash_tree.h"

#include <gtest/gtest.h>

#include <random>

#include <fstream>

#include "common/hex.h"
#include "common/sha256.h"
#include "unit/test_dir.h"

namespace p2pshare {
namespace {

std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed)) % 251);
  return s;
}

std::string Raw(const Digest& d) { return std::string(d.begin(), d.end()); }

// The tree as docs/protocol.md defines it, written out the long way: every
// 16 KiB leaf, padded with zero leaves to a power of two of whole pieces,
// then halved pairwise up to the root.
std::string NaiveRoot(const std::string& data) {
  std::vector<std::string> layer;
  for (size_t at = 0; at < data.size() || layer.empty(); at += kTreeBlockBytes) {
    std::string leaf_hex = Sha256Hex(std::string_view(data).substr(std::min(at, data.size()), kTreeBlockBytes));
    std::string leaf;
    for (size_t i = 0; i < 64; i += 2) leaf += static_cast<char>(std::stoi(leaf_hex.substr(i, 2), nullptr, 16));
    layer.push_back(leaf);
  }
  const auto size = static_cast<int64_t>(data.size());
  int64_t pieces = 1;
  while (pieces < PieceCount(size)) pieces *= 2;
  layer.resize(static_cast<size_t>(pieces * (PieceBytes(size) / kTreeBlockBytes)), std::string(32, '\0'));
  while (layer.size() > 1) {
    std::vector<std::string> up;
    for (size_t i = 0; i < layer.size(); i += 2) {
      std::string hex = Sha256Hex(layer[i] + layer[i + 1]);
      std::string node;
      for (size_t j = 0; j < 64; j += 2) node += static_cast<char>(std::stoi(hex.substr(j, 2), nullptr, 16));
      up.push_back(node);
    }
    layer = up;
  }
  return layer[0];
}

FileHashes Build(const std::string& data, size_t step) {
  HashTreeBuilder b(static_cast<int64_t>(data.size()));
  for (size_t at = 0; at < data.size(); at += step) {
    b.Update(data.data() + at, std::min(step, data.size() - at));
  }
  auto h = b.Finish();
  EXPECT_TRUE(h.ok()) << h.status().message();
  return *h;
}

TEST(HashTreeTest, PieceSizeGrowsWithTheFileToKeepAtMost4096Pieces) {
  EXPECT_EQ(PieceBytes(0), 256 << 10);
  EXPECT_EQ(PieceCount(0), 1);
  EXPECT_EQ(PieceBytes(1), 256 << 10);
  EXPECT_EQ(PieceCount((256 << 10) + 1), 2);
  EXPECT_EQ(PieceBytes(int64_t{1} << 30), 256 << 10);
  EXPECT_EQ(PieceCount(int64_t{1} << 30), 4096);
  EXPECT_EQ(PieceBytes((int64_t{1} << 30) + 1), 512 << 10);
  EXPECT_EQ(PieceBytes(int64_t{4} << 30), 1 << 20);
  EXPECT_EQ(PieceCount(int64_t{4} << 30), 4096);
  EXPECT_LE(PieceCount(int64_t{1} << 50), kMaxPieces);
}

TEST(HashTreeTest, RootIsTheTreeOverPaddedLeavesWhateverTheUpdateSizes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{16385}, size_t{256 << 10},
                      size_t{(256 << 10) + 1}, size_t{(3 << 20) + 17}}) {
    const std::string data = Bytes(size, static_cast<int>(size % 97));
    const std::string naive = NaiveRoot(data);
    for (size_t step : {size_t{1} << 20, size_t{777}, size_t{16384}}) {
      if (step == 777 && size > (1 << 20)) continue;  // slow; the other steps cover it
      FileHashes h = Build(data, step);
      EXPECT_EQ(Raw(h.root), naive) << size << " in steps of " << step;
      EXPECT_EQ(h.sha256, Sha256Hex(data));
      EXPECT_EQ(static_cast<int64_t>(h.pieces.size()), PieceCount(static_cast<int64_t>(size)));
    }
  }
}

TEST(HashTreeTest, EachPieceVerifiesAloneAndTheLayerAgainstTheRoot) {
  const std::string data = Bytes((5 << 20) / 2 + 123, 7);  // 11 pieces, the last short
  const auto size = static_cast<int64_t>(data.size());
  FileHashes h = Build(data, 100000);
  const int64_t piece = PieceBytes(size);
  ASSERT_EQ(h.pieces.size(), 11u);
  for (size_t i = 0; i < h.pieces.size(); ++i) {
    std::string_view bytes = std::string_view(data).substr(i * static_cast<size_t>(piece), static_cast<size_t>(piece));
    EXPECT_EQ(PieceHash(bytes, piece), h.pieces[i]) << i;
    std::string bad(bytes);
    bad[bad.size() / 2] ^= 1;  // one bit anywhere in a piece
    EXPECT_NE(PieceHash(bad, piece), h.pieces[i]) << i;
  }
  EXPECT_TRUE(PiecesMatchRoot(h.pieces, size, h.root));
  // A holder that lies about one piece, or sends too few, is caught by the root.
  auto lying = h.pieces;
  lying[3][0] ^= 1;
  EXPECT_FALSE(PiecesMatchRoot(lying, size, h.root));
  auto short_layer = h.pieces;
  short_layer.pop_back();
  EXPECT_FALSE(PiecesMatchRoot(short_layer, size, h.root));
  EXPECT_FALSE(PiecesMatchRoot(h.pieces, size + PieceBytes(size), h.root));  // a piece count of another size
}

TEST(HashTreeTest, FewerOrMoreBytesThanAnnouncedIsAnError) {
  HashTreeBuilder b(10);
  b.Update("abc", 3);
  EXPECT_EQ(b.Finish().status().code(), Code::kFailedPrecondition);
}

TEST(HashTreeTest, FileHashesMatchTheBytes) {
  testing::TestDir dir;
  const std::string data = Bytes((1 << 20) + 5, 3);
  std::ofstream(dir / "f", std::ios::binary) << data;
  auto h = HashFile(dir / "f");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->sha256, Sha256Hex(data));
  EXPECT_EQ(Raw(h->root), NaiveRoot(data));
  EXPECT_EQ(HashFile(dir / "absent").status().code(), Code::kNotFound);
}

}  // namespace
TEST(HashTreeTest, APieceHashedInPartsIsThePieceHash) {
  std::mt19937 random(11);
  for (int64_t piece_bytes : {int64_t{256} << 10, int64_t{1} << 20, int64_t{1} << 30}) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{16384}, size_t{16385}, size_t{100000}, size_t{262144}}) {
      if (static_cast<int64_t>(size) > piece_bytes) continue;
      std::string data(size, '\0');
      for (char& c : data) c = static_cast<char>(random());
      PieceHasher hasher(piece_bytes);
      for (size_t at = 0; at < size;) {  // in parts of random sizes
        const size_t n = std::min<size_t>(size - at, 1 + random() % 40000);
        hasher.Update(data.data() + at, n);
        at += n;
      }
      EXPECT_EQ(hasher.fed(), static_cast<int64_t>(size));
      EXPECT_EQ(hasher.Finish(), PieceHash(data, piece_bytes)) << piece_bytes << " " << size;
      EXPECT_EQ(hasher.fed(), 0) << "ready for the next piece";
    }
  }
}

}  // namespace p2pshare
