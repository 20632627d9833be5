// What a swarm download keeps on disk, shared by peer-client (which writes
// it) and peer-server (which serves the verified pieces to others
// downloading the same file): docs/protocol.md, "Swarm download" and
// "Partial holders".
//
//  - The record of verified pieces, past the last byte of <name>.part: two
//    slots of kPartSlotBytes written in turn (the newer valid one wins, so
//    a torn write leaves the older). A slot: magic, sequence, root, piece
//    count, bitmap, then the SHA-256 of all of that.
//  - The partial file's description, for its own peer-server:
//    <shared_dir>/.p2pshare/partial/<sha256>.json ({name, size, sha256,
//    root}) and <sha256>.layer (the piece layer, 32 bytes a piece).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/directory_types.h"
#include "common/hash_tree.h"
#include "common/status.h"

namespace p2pshare {

inline constexpr size_t kPartSlotBytes = 1024;
inline constexpr size_t kPartBitmapBytes = (kMaxPieces + 7) / 8;

struct PartRecord {
  uint64_t seq = 0;
  std::vector<uint8_t> bitmap = std::vector<uint8_t>(kPartBitmapBytes, 0);  // bit i: piece i verified
  bool Has(int64_t piece) const { return (bitmap[static_cast<size_t>(piece / 8)] >> (piece % 8)) & 1u; }
  void Set(int64_t piece) { bitmap[static_cast<size_t>(piece / 8)] |= static_cast<uint8_t>(1u << (piece % 8)); }
};

// The newer valid slot of the .part open at `fd` for a file of `size`
// bytes, `pieces` pieces and this root; nullopt when neither is.
std::optional<PartRecord> ReadPartRecord(int fd, int64_t size, const Digest& root, int64_t pieces);
// The bytes a piece download's .part at `part_path` holds verified for a
// file of `size` bytes, by its record of whatever root (0: no such .part,
// or nothing verified). Says what a download keeps when no holder can
// tell the root to check it against.
int64_t VerifiedInPart(const std::string& part_path, int64_t size);
// Writes `record` into slot seq % 2 (no sync: the caller orders it).
Status WritePartRecord(int fd, int64_t size, const Digest& root, int64_t pieces, const PartRecord& record);

// The folder of partial-file descriptions: <shared_dir>/.p2pshare/partial.
std::string PartialDir(const std::string& shared_dir);
// Writes (atomically) or removes the description of a partial file.
Status WritePartialFile(const std::string& dir, const FileEntry& file, const std::vector<Digest>& layer);
void RemovePartialFile(const std::string& dir, const std::string& sha256);
// Every well-formed description in `dir` (at most kMaxPartialFiles).
std::vector<FileEntry> ListPartialFiles(const std::string& dir);
// One description and its layer (checked against its root); NotFound.
Result<std::pair<FileEntry, std::vector<Digest>>> ReadPartialFile(const std::string& dir, const std::string& sha256);

}  // namespace p2pshare
