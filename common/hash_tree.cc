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

Digest PieceHash(std::string_view data, int64_t piece_bytes) {
  Hasher h;
  std::vector<Digest> leaves;
  for (size_t at = 0; at < data.size() || leaves.empty(); at += kTreeBlockBytes) {
    const size_t n = std::min<size_t>(kTreeBlockBytes, data.size() - std::min(at, data.size()));
    leaves.push_back(h.Of(data.data() + std::min(at, data.size()), n));
  }
  return Reduce(std::move(leaves), piece_bytes / kTreeBlockBytes, 0, h);
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
  int64_t size;
  int64_t piece_bytes;
  int64_t fed = 0;
  Sha256 file;
  Hasher h;
  std::vector<char> block;          // a block's bytes not hashed yet (< 16 KiB)
  std::vector<Digest> leaves;       // of the piece being read
  std::vector<Digest> pieces;

  void Leaf(const void* data, size_t n) {
    leaves.push_back(h.Of(data, n));
    if (static_cast<int64_t>(leaves.size()) * kTreeBlockBytes == piece_bytes) EndPiece();
  }
  void EndPiece() {
    pieces.push_back(Reduce(std::move(leaves), piece_bytes / kTreeBlockBytes, 0, h));
    leaves.clear();
  }
};

HashTreeBuilder::HashTreeBuilder(int64_t size) : impl_(std::make_unique<Impl>()) {
  impl_->size = size;
  impl_->piece_bytes = PieceBytes(size);
  impl_->block.reserve(kTreeBlockBytes);
  impl_->pieces.reserve(static_cast<size_t>(PieceCount(size)));
}

HashTreeBuilder::~HashTreeBuilder() = default;

void HashTreeBuilder::Update(const void* data, size_t size) {
  Impl& m = *impl_;
  m.file.Update(data, size);
  m.fed += static_cast<int64_t>(size);
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

Result<FileHashes> HashTreeBuilder::Finish() {
  Impl& m = *impl_;
  if (m.fed != m.size) {
    return Status(Code::kFailedPrecondition, "the content was " + std::to_string(m.fed) +
                                                 " bytes, not the " + std::to_string(m.size) + " expected");
  }
  if (!m.block.empty() || m.size == 0) m.leaves.push_back(m.h.Of(m.block.data(), m.block.size()));
  if (!m.leaves.empty()) m.EndPiece();
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
