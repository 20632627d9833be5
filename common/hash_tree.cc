#include "common/hash_tree.h"

#include <algorithm>

#include <openssl/evp.h>

#include "common/hex.h"
#include "common/sha256.h"

namespace p2pshare {
namespace {

// One reusable OpenSSL context (a context per digest costs an allocation).
class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new()) {}
  ~Hasher() { EVP_MD_CTX_free(ctx_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Digest Of(const void* a, size_t a_size, const void* b = nullptr, size_t b_size = 0) {
    Digest out;
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx_, a, a_size);
    if (b_size > 0) EVP_DigestUpdate(ctx_, b, b_size);
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    return out;
  }
  Digest Node(const Digest& left, const Digest& right) {
    return Of(left.data(), left.size(), right.data(), right.size());
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The root of a subtree of 2^level zero leaves.
const Digest& Zero(int level) {
  static const std::vector<Digest> zeros = [] {
    std::vector<Digest> z(64);
    Hasher h;
    z[0] = Digest{};
    for (size_t i = 1; i < z.size(); ++i) z[i] = h.Node(z[i - 1], z[i - 1]);
    return z;
  }();
  return zeros[static_cast<size_t>(level)];
}

int Log2(int64_t pow2) { return 63 - __builtin_clzll(static_cast<uint64_t>(pow2)); }

int64_t Pow2AtLeast(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// The node over `width` (a power of two, >= nodes.size()) nodes at `level`,
// the ones missing past the end being subtrees of zero leaves.
Digest Reduce(std::vector<Digest> nodes, int64_t width, int level, Hasher& h) {
  while (width > 1) {
    const size_t up = (nodes.size() + 1) / 2;
    for (size_t i = 0; i < up; ++i) {
      const Digest& right = 2 * i + 1 < nodes.size() ? nodes[2 * i + 1] : Zero(level);
      nodes[i] = h.Node(nodes[2 * i], right);
    }
    nodes.resize(up);
    width /= 2;
    ++level;
  }
  return nodes.empty() ? Zero(level) : nodes[0];
}

}  // namespace

int64_t PieceBytes(int64_t size) {
  return std::max(kMinPieceBytes, Pow2AtLeast((std::max<int64_t>(size, 0) + kMaxPieces - 1) / kMaxPieces));
}

int64_t PieceCount(int64_t size) {
  const int64_t piece = PieceBytes(size);
  return std::max<int64_t>(1, (size + piece - 1) / piece);
}

Digest Sha256Digest(std::string_view data) {
  Hasher h;
  return h.Of(data.data(), data.size());
}

// A piece's leaves merged as they come, a binary counter of subtrees:
// the stack holds at most one node per level.
struct PieceHasher::Impl {
  explicit Impl(int64_t piece_bytes) : levels(Log2(std::max<int64_t>(1, piece_bytes / kTreeBlockBytes))) {}
  const int levels;  // the piece's tree height: 2^levels leaves
  Hasher h;
  std::vector<char> block;                         // a block's bytes not hashed yet (< 16 KiB)
  std::vector<std::pair<int, Digest>> stack;       // (level, node), levels decreasing
  int64_t leaves = 0;

  void Leaf(const void* data, size_t n) {
    Digest node = h.Of(data, n);
    int level = 0;
    while (!stack.empty() && stack.back().first == level) {
      node = h.Node(stack.back().second, node);
      stack.pop_back();
      ++level;
    }
    stack.emplace_back(level, node);
    ++leaves;
  }
  Digest Finish() {
    if (!block.empty() || leaves == 0) Leaf(block.data(), block.size());
    block.clear();
    // Missing leaves are zero: each node still open gets a zero sibling.
    while (stack.size() > 1 || stack.back().first < levels) {
      auto [level, node] = stack.back();
      stack.pop_back();
      if (!stack.empty() && stack.back().first == level) {
        node = h.Node(stack.back().second, node);
        stack.pop_back();
      } else {
        node = h.Node(node, Zero(level));
      }
      stack.emplace_back(level + 1, node);
    }
    Digest out = stack.back().second;
    stack.clear();
    leaves = 0;
    return out;
  }
};

PieceHasher::PieceHasher(int64_t piece_bytes) : impl_(std::make_unique<Impl>(piece_bytes)) {
  impl_->block.reserve(kTreeBlockBytes);
}

PieceHasher::~PieceHasher() = default;

void PieceHasher::Update(const void* data, size_t size) {
  Impl& m = *impl_;
  fed_ += static_cast<int64_t>(size);
  const char* p = static_cast<const char*>(data);
  if (!m.block.empty()) {  // complete the partial block first
    const size_t take = std::min(size, static_cast<size_t>(kTreeBlockBytes) - m.block.size());
    m.block.insert(m.block.end(), p, p + take);
    p += take;
    size -= take;
    if (m.block.size() < static_cast<size_t>(kTreeBlockBytes)) return;
    m.Leaf(m.block.data(), m.block.size());
    m.block.clear();
  }
  for (; size >= static_cast<size_t>(kTreeBlockBytes); p += kTreeBlockBytes, size -= kTreeBlockBytes) {
    m.Leaf(p, kTreeBlockBytes);
  }
  m.block.assign(p, p + size);
}

Digest PieceHasher::Finish() {
  fed_ = 0;
  return impl_->Finish();
}

Digest PieceHash(std::string_view data, int64_t piece_bytes) {
  PieceHasher hasher(piece_bytes);
  hasher.Update(data.data(), data.size());
  return hasher.Finish();
}

Digest RootOfPieces(const std::vector<Digest>& pieces, int64_t piece_bytes) {
  Hasher h;
  return Reduce(pieces, Pow2AtLeast(static_cast<int64_t>(pieces.size())),
                Log2(piece_bytes / kTreeBlockBytes), h);
}

bool PiecesMatchRoot(const std::vector<Digest>& pieces, int64_t size, const Digest& root) {
  return size >= 0 && static_cast<int64_t>(pieces.size()) == PieceCount(size) &&
         RootOfPieces(pieces, PieceBytes(size)) == root;
}

struct HashTreeBuilder::Impl {
  explicit Impl(int64_t size) : size(size), piece_bytes(PieceBytes(size)), piece(piece_bytes) {}
  const int64_t size;
  const int64_t piece_bytes;
  int64_t fed = 0;
  Sha256 file;
  PieceHasher piece;  // the piece being read
  std::vector<Digest> pieces;
};

HashTreeBuilder::HashTreeBuilder(int64_t size) : impl_(std::make_unique<Impl>(size)) {
  impl_->pieces.reserve(static_cast<size_t>(PieceCount(size)));
}

HashTreeBuilder::~HashTreeBuilder() = default;

void HashTreeBuilder::Update(const void* data, size_t size) {
  Impl& m = *impl_;
  m.file.Update(data, size);
  m.fed += static_cast<int64_t>(size);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {  // piece by piece
    const auto take = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(size), m.piece_bytes - m.piece.fed()));
    m.piece.Update(p, take);
    p += take;
    size -= take;
    if (m.piece.fed() == m.piece_bytes) m.pieces.push_back(m.piece.Finish());
  }
}

Result<FileHashes> HashTreeBuilder::Finish() {
  Impl& m = *impl_;
  if (m.fed != m.size) {
    return Status(Code::kFailedPrecondition, "the content was " + std::to_string(m.fed) +
                                                 " bytes, not the " + std::to_string(m.size) + " expected");
  }
  if (m.piece.fed() > 0 || m.size == 0) m.pieces.push_back(m.piece.Finish());
  FileHashes out;
  out.sha256 = m.file.FinishHex();
  out.root = RootOfPieces(m.pieces, m.piece_bytes);
  out.pieces = std::move(m.pieces);
  return out;
}

Result<FileHashes> HashFile(const std::string& path) {
  std::unique_ptr<HashTreeBuilder> tree;
  RETURN_IF_ERROR(ReadRegularFile(
      path, [&](int64_t size) { tree = std::make_unique<HashTreeBuilder>(size); },
      [&](const char* data, size_t size) { tree->Update(data, size); }));
  auto hashes = tree->Finish();
  if (!hashes.ok()) return Status(Code::kFailedPrecondition, path + " changed while it was read");
  return hashes;
}

}  // namespace p2pshare
