#include "common/part_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/hex.h"
#include "common/json_fields.h"
#include "common/names.h"
#include "common/unique_fd.h"

namespace p2pshare {
namespace {

namespace fs = std::filesystem;

constexpr char kSlotMagic[8] = {'p', '2', 'p', 'p', 'c', 's', '0', '1'};
constexpr size_t kBody = 8 + 8 + 32 + 8 + kPartBitmapBytes;
static_assert(kBody + 32 <= kPartSlotBytes);

bool ReadAt(int fd, void* buf, size_t n, int64_t offset) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + got, n - got, offset + static_cast<int64_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// The newer valid slot for a file of `size` bytes and `pieces` pieces, of
// `root` (null: of any root).
std::optional<PartRecord> ReadSlots(int fd, int64_t size, const Digest* root, int64_t pieces) {
  std::optional<PartRecord> best;
  for (int slot = 0; slot < 2; ++slot) {
    std::vector<uint8_t> b(kPartSlotBytes);
    if (!ReadAt(fd, b.data(), b.size(), size + slot * static_cast<int64_t>(kPartSlotBytes))) continue;
    Digest sum = Sha256Digest(std::string_view(reinterpret_cast<const char*>(b.data()), kBody));
    if (std::memcmp(b.data(), kSlotMagic, 8) != 0 || std::memcmp(b.data() + kBody, sum.data(), 32) != 0) continue;
    if (root != nullptr && std::memcmp(b.data() + 16, root->data(), 32) != 0) continue;  // another version's record
    uint64_t seq, count;
    std::memcpy(&seq, b.data() + 8, 8);
    std::memcpy(&count, b.data() + 48, 8);
    if (count != static_cast<uint64_t>(pieces) || (best && seq <= best->seq)) continue;
    PartRecord r;
    r.seq = seq;
    std::memcpy(r.bitmap.data(), b.data() + 56, kPartBitmapBytes);
    best = std::move(r);
  }
  return best;
}

}  // namespace

std::optional<PartRecord> ReadPartRecord(int fd, int64_t size, const Digest& root, int64_t pieces) {
  return ReadSlots(fd, size, &root, pieces);
}

int64_t VerifiedInPart(const std::string& part_path, int64_t size) {
  UniqueFd fd(::open(part_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return 0;
  if (st.st_size != size + 2 * static_cast<int64_t>(kPartSlotBytes)) return 0;
  const int64_t pieces = PieceCount(size), piece_bytes = PieceBytes(size);
  std::optional<PartRecord> record = ReadSlots(fd.get(), size, nullptr, pieces);
  if (!record) return 0;
  int64_t bytes = 0;
  for (int64_t i = 0; i < pieces; ++i) {
    if (record->Has(i)) bytes += std::min(piece_bytes, size - i * piece_bytes);
  }
  return bytes;
}

Status WritePartRecord(int fd, int64_t size, const Digest& root, int64_t pieces, const PartRecord& record) {
  std::vector<uint8_t> b(kPartSlotBytes, 0);
  const uint64_t count = static_cast<uint64_t>(pieces);
  std::memcpy(b.data(), kSlotMagic, 8);
  std::memcpy(b.data() + 8, &record.seq, 8);
  std::memcpy(b.data() + 16, root.data(), 32);
  std::memcpy(b.data() + 48, &count, 8);
  std::memcpy(b.data() + 56, record.bitmap.data(), kPartBitmapBytes);
  Digest sum = Sha256Digest(std::string_view(reinterpret_cast<const char*>(b.data()), kBody));
  std::memcpy(b.data() + kBody, sum.data(), 32);
  const int64_t at = size + static_cast<int64_t>(record.seq % 2) * static_cast<int64_t>(kPartSlotBytes);
  for (size_t off = 0; off < b.size();) {
    ssize_t n = ::pwrite(fd, b.data() + off, b.size() - off, at + static_cast<int64_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal(std::string("writing the record of verified pieces failed: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string PartialDir(const std::string& shared_dir) { return shared_dir + "/.p2pshare/partial"; }

Status WritePartialFile(const std::string& dir, const FileEntry& file, const std::vector<Digest>& layer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());
  const std::string base = dir + "/" + file.sha256;
  {
    std::ofstream out(base + ".layer.new", std::ios::binary | std::ios::trunc);
    for (const Digest& d : layer) out.write(reinterpret_cast<const char*>(d.data()), 32);
    std::ofstream meta(base + ".json.new", std::ios::trunc);
    meta << ToJson(file).dump();
    if (!out || !meta) return Internal("cannot write " + base);
  }
  // The layer first: a description is never there without its layer.
  if (std::rename((base + ".layer.new").c_str(), (base + ".layer").c_str()) != 0 ||
      std::rename((base + ".json.new").c_str(), (base + ".json").c_str()) != 0) {
    return Internal("cannot write " + base);
  }
  return Status::Ok();
}

void RemovePartialFile(const std::string& dir, const std::string& sha256) {
  ::unlink((dir + "/" + sha256 + ".json").c_str());
  ::unlink((dir + "/" + sha256 + ".layer").c_str());
}

namespace {

Result<FileEntry> ReadDescription(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 16384) return InvalidArgument(path + " is too long");
  ASSIGN_OR_RETURN(Json j, ParseJsonObject(text, path));
  ASSIGN_OR_RETURN(FileEntry f, FileEntryFromJson(j, ""));
  if (f.root.empty() || f.size <= 0) return InvalidArgument(path + " has no root or no bytes");
  return f;
}

}  // namespace

std::vector<FileEntry> ListPartialFiles(const std::string& dir) {
  std::vector<FileEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && out.size() < kMaxPartialFiles; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 64 + 5 || name.substr(64) != ".json" || !IsSha256Hex(name.substr(0, 64))) continue;
    auto f = ReadDescription(it->path().string());
    if (f.ok() && f->sha256 == name.substr(0, 64)) out.push_back(std::move(*f));
  }
  return out;
}

Result<std::pair<FileEntry, std::vector<Digest>>> ReadPartialFile(const std::string& dir, const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return InvalidArgument("sha256 must be 64 lowercase hex digits");
  const std::string base = dir + "/" + sha256;
  auto f = ReadDescription(base + ".json");
  if (!f.ok() || f->sha256 != sha256) return NotFound("no download of " + sha256 + " here");
  Digest root{};
  if (!HexDecode(f->root, root)) return NotFound("no download of " + sha256 + " here");
  const int64_t pieces = PieceCount(f->size);
  UniqueFd fd(::open((base + ".layer").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  std::vector<Digest> layer(static_cast<size_t>(pieces));
  if (!fd.valid() || !ReadAt(fd.get(), layer.data(), layer.size() * 32, 0)) {
    return NotFound("no piece layer for " + sha256 + " here");
  }
  if (!PiecesMatchRoot(layer, f->size, root)) return NotFound("the piece layer for " + sha256 + " is damaged");
  return std::make_pair(std::move(*f), std::move(layer));
}

}  // namespace p2pshare
