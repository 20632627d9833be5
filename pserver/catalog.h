// Catalog: the files of one shared folder, with their sizes and SHA-256.
//
// A Refresh walks the folder (recursively; regular files, and symlinks
// whose target is a regular file inside the folder; not the internal folder
// nor *.part files; names that break the naming rules are skipped) and
// returns what changed since the last Refresh. A file is read once for its
// SHA-256 and its hash tree (common/hash_tree.h). Hashes and tree roots are
// cached on disk in <root>/.p2pshare/hashes.tsv keyed by (name, size,
// mtime), so a restart over unchanged files hashes nothing; piece layers in
// <root>/.p2pshare/pieces/<sha256> (at most 128 KiB each).
//
// Thread-safe: Refresh is serialized (the session agent's thread); lookups
// come from gRPC threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/directory_types.h"
#include "common/hash_tree.h"
#include "common/mutex.h"
#include "common/status.h"
#include "pserver/shared_folder.h"

namespace p2pshare::pserver {

struct CatalogDelta {
  std::vector<FileEntry> added;  // new or changed
  std::vector<std::string> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

class Catalog {
 public:
  // Loads the hash cache of `folder` (an unreadable cache is ignored).
  explicit Catalog(const SharedFolder* folder);

  // Walks the folder; hashes only files whose size or mtime changed.
  Result<CatalogDelta> Refresh();

  std::vector<FileEntry> Files() const;
  std::optional<FileEntry> Find(const std::string& name) const;
  std::optional<FileEntry> FindByHash(const std::string& sha256) const;
  int64_t TotalBytes() const;
  size_t size() const;
  // Tells the catalog the hash of a file just placed (an upload) with the
  // size and mtime it has, so the next Refresh does not read it again.
  void Adopt(const std::string& name, int64_t size, int64_t mtime_ns, const FileHashes& hashes);

  // The piece layer of the content `sha256` held here: from the cache when
  // it matches the root, else the file is read again (and the cache
  // rewritten). NotFound when no file here has that content.
  Result<std::vector<Digest>> Pieces(const std::string& sha256) const;

  // Files hashed since construction (for tests and start-up logs).
  int64_t files_hashed() const { return files_hashed_.load(); }

 private:
  struct Entry {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    std::string sha256;
    std::string root;  // hex
  };
  struct ToHash {
    std::string name;
    std::string path;
    std::optional<FileHashes> hashes;  // none until hashed (and when it could not be read)
  };
  static constexpr size_t kMaxHashThreads = 8;
  // Hashes `files` on up to one thread per core and records the hashes in
  // `found`, dropping those that vanished or changed while being read.
  void HashAll(std::vector<ToHash>* files, std::map<std::string, Entry>* found);
  // Walks the folder: every shared file into `found`, those whose size or
  // mtime differ from `cache` also into `to_hash`.
  Status Walk(const std::map<std::string, Entry>& cache, std::map<std::string, Entry>* found,
              std::vector<ToHash>* to_hash) const;
  // Makes `found` the catalog; what changed against the previous one.
  CatalogDelta Apply(std::map<std::string, Entry> found);
  void LoadCache();
  std::string PiecesPath(const std::string& sha256) const;
  // Writes a piece layer to its cache file (replaced whole).
  void SavePieces(const std::string& sha256, const std::vector<Digest>& pieces) const;
  // Removes the piece layers of content no longer in `entries`.
  void PrunePieces(const std::map<std::string, Entry>& entries) const;
  void SaveCache(const std::map<std::string, Entry>& entries);

  const SharedFolder* const folder_;
  Mutex refresh_mu_;  // serializes Refresh
  mutable Mutex mu_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);  // the files now
  std::map<std::string, Entry> cache_ GUARDED_BY(mu_);  // known hashes
  int64_t total_bytes_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> files_hashed_{0};
};

}  // namespace p2pshare::pserver
