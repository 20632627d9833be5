#include "pserver/catalog.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/mutex.h"
#include "common/names.h"
#include "common/hex.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

Catalog::Catalog(const SharedFolder* folder) : folder_(folder) { LoadCache(); }

void Catalog::LoadCache() {
  std::ifstream in(folder_->internal_dir() + "/hashes.tsv");
  std::string line;
  MutexLock lock(mu_);
  while (std::getline(in, line)) {
    // sha256 \t root \t size \t mtime_ns \t name   (names hold no control
    // characters; a line of an older cache, without a root, is read again)
    std::istringstream s(line);
    Entry e;
    std::string name;
    if (!(s >> e.sha256 >> e.root >> e.size >> e.mtime_ns)) continue;
    s.get();
    std::getline(s, name);
    if (!IsSha256Hex(e.sha256) || !IsSha256Hex(e.root) || !CheckFileName(name).ok()) continue;
    cache_[name] = e;
  }
}

void Catalog::SaveCache(const std::map<std::string, Entry>& entries) {
  std::string path = folder_->internal_dir() + "/hashes.tsv";
  std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [name, e] : entries) {
      out << e.sha256 << '\t' << e.root << '\t' << e.size << '\t' << e.mtime_ns << '\t' << name << '\n';
    }
    if (!out) {
      spdlog::warn("cannot write the hash cache {}", path);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) spdlog::warn("cannot write the hash cache {}: {}", path, ec.message());
}

void Catalog::HashAll(std::vector<ToHash>* files, std::map<std::string, Entry>* found) {
  if (files->empty()) return;
  // Files are hashed by up to one thread per core, each taking the next
  // file: one core's SHA-256 is slower than the page cache (and an SSD).
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < files->size(); i = next.fetch_add(1)) {
      ToHash& f = (*files)[i];
      auto hashes = HashFile(f.path);
      if (hashes.ok()) f.hashes = std::move(*hashes);
    }
  };
  size_t threads = std::min<size_t>(files->size(), std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<size_t>(threads, kMaxHashThreads);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  for (const ToHash& f : *files) {
    auto it = found->find(f.name);
    if (!f.hashes) {  // vanished, unreadable or changed meanwhile
      found->erase(it);
      continue;
    }
    files_hashed_.fetch_add(1);
    // The file may have changed while it was hashed: keep it only if not
    // (the next refresh, which its change event brings, hashes it again).
    struct stat after;
    if (::stat(f.path.c_str(), &after) != 0 || after.st_size != it->second.size ||
        MtimeNs(after) != it->second.mtime_ns) {
      found->erase(it);
      continue;
    }
    it->second.sha256 = f.hashes->sha256;
    it->second.root = HexEncode(f.hashes->root.data(), f.hashes->root.size());
    SavePieces(f.hashes->sha256, f.hashes->pieces);
  }
}

namespace {

// The stat of what `path` shares: a regular file, or a symlink to a
// regular file inside `root`; nullopt for anything else (folders are walked
// by the caller; sockets, fifos and devices are never shared).
std::optional<struct stat> SharedStat(const fs::path& path, const std::string& root) {
  struct stat lst, st;
  if (::lstat(path.c_str(), &lst) != 0) return std::nullopt;
  if (S_ISREG(lst.st_mode)) return lst;
  if (!S_ISLNK(lst.st_mode)) return std::nullopt;
  std::error_code ec;
  fs::path target = fs::canonical(path, ec);
  if (ec || target.string().compare(0, root.size() + 1, root + "/") != 0) return std::nullopt;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return st;
}

}  // namespace

Result<CatalogDelta> Catalog::Refresh() {
  MutexLock serial(refresh_mu_);
  std::map<std::string, Entry> cache;
  {
    MutexLock lock(mu_);
    cache = cache_;
  }
  std::map<std::string, Entry> found;
  std::vector<ToHash> to_hash;
  RETURN_IF_ERROR(Walk(cache, &found, &to_hash));
  HashAll(&to_hash, &found);
  return Apply(std::move(found));
}

Status Catalog::Walk(const std::map<std::string, Entry>& cache, std::map<std::string, Entry>* found,
                     std::vector<ToHash>* to_hash) const {
  const std::string root = folder_->root();
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Internal("cannot read shared folder " + root + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      spdlog::debug("skipping part of the shared folder: {}", ec.message());
      ec.clear();
      continue;
    }
    const fs::path& path = it->path();
    if (it.depth() == 0 && path.filename() == kInternalDir) {
      it.disable_recursion_pending();
      continue;
    }
    std::optional<struct stat> st = SharedStat(path, root);
    if (!st) continue;
    std::string name = path.lexically_relative(root).generic_string();
    if (!SharedFolder::CheckSharedName(name).ok()) {
      spdlog::debug("not sharing '{}': its name breaks the naming rules", path.string());
      continue;
    }
    Entry e{static_cast<int64_t>(st->st_size), MtimeNs(*st), "", ""};
    auto cached = cache.find(name);
    if (cached != cache.end() && cached->second.size == e.size &&
        cached->second.mtime_ns == e.mtime_ns) {
      e.sha256 = cached->second.sha256;
      e.root = cached->second.root;
    } else {
      to_hash->push_back(ToHash{name, path.string(), std::nullopt});
    }
    (*found)[name] = e;
  }
  return Status::Ok();
}

CatalogDelta Catalog::Apply(std::map<std::string, Entry> found) {
  CatalogDelta delta;
  int64_t total = 0;
  bool cache_changed = false;
  {
    MutexLock lock(mu_);
    for (const auto& [name, e] : found) {
      total += e.size;
      auto old = entries_.find(name);
      if (old == entries_.end() || old->second.sha256 != e.sha256 || old->second.size != e.size ||
          old->second.root != e.root) {
        delta.added.push_back(FileEntry{name, e.size, e.sha256, e.root});
      }
      auto c = cache_.find(name);
      if (c == cache_.end() || c->second.mtime_ns != e.mtime_ns || c->second.sha256 != e.sha256 ||
          c->second.root != e.root) {
        cache_changed = true;
      }
    }
    for (const auto& [name, e] : entries_) {
      if (!found.count(name)) delta.removed.push_back(name);
    }
    cache_changed |= cache_.size() != found.size();
    entries_ = found;
    cache_ = found;
    total_bytes_ = total;
  }
  if (cache_changed) {
    SaveCache(found);
    PrunePieces(found);
  }
  return delta;
}

std::vector<FileEntry> Catalog::Files() const {
  MutexLock lock(mu_);
  std::vector<FileEntry> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(FileEntry{name, e.size, e.sha256, e.root});
  return out;
}

std::optional<FileEntry> Catalog::Find(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return FileEntry{name, it->second.size, it->second.sha256, it->second.root};
}

std::optional<FileEntry> Catalog::FindByHash(const std::string& sha256) const {
  MutexLock lock(mu_);
  for (const auto& [name, e] : entries_) {
    if (e.sha256 == sha256) return FileEntry{name, e.size, e.sha256, e.root};
  }
  return std::nullopt;
}

int64_t Catalog::TotalBytes() const {
  MutexLock lock(mu_);
  return total_bytes_;
}

size_t Catalog::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

void Catalog::Adopt(const std::string& name, int64_t size, int64_t mtime_ns, const FileHashes& hashes) {
  SavePieces(hashes.sha256, hashes.pieces);
  MutexLock lock(mu_);
  cache_[name] = Entry{size, mtime_ns, hashes.sha256, HexEncode(hashes.root.data(), hashes.root.size())};
}

void Catalog::PrunePieces(const std::map<std::string, Entry>& entries) const {
  std::set<std::string> held;
  for (const auto& [name, e] : entries) held.insert(e.sha256);
  std::error_code ec;
  for (fs::directory_iterator it(folder_->internal_dir() + "/pieces", ec), end; !ec && it != end; it.increment(ec)) {
    if (!held.count(it->path().filename().string())) fs::remove(it->path(), ec);
  }
}

std::string Catalog::PiecesPath(const std::string& sha256) const {
  return folder_->internal_dir() + "/pieces/" + sha256;
}

void Catalog::SavePieces(const std::string& sha256, const std::vector<Digest>& pieces) const {
  const std::string path = PiecesPath(sha256);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const Digest& d : pieces) out.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
    if (!out) {
      spdlog::warn("cannot write the piece layer cache {}", path);
      return;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) spdlog::warn("cannot write the piece layer cache {}: {}", path, ec.message());
}

Result<std::vector<Digest>> Catalog::Pieces(const std::string& sha256) const {
  std::optional<FileEntry> file = FindByHash(sha256);
  if (!file) return NotFound("no file here has the content " + sha256);
  Digest root{};
  if (!HexDecode(file->root, root)) return NotFound("no hash tree is known for " + sha256);
  std::vector<Digest> pieces;
  {
    std::ifstream in(PiecesPath(sha256), std::ios::binary);
    Digest d;
    while (static_cast<int64_t>(pieces.size()) <= kMaxPieces &&
           in.read(reinterpret_cast<char*>(d.data()), static_cast<std::streamsize>(d.size()))) {
      pieces.push_back(d);
    }
  }
  if (PiecesMatchRoot(pieces, file->size, root)) return pieces;
  // Missing or damaged: the file itself says.
  ASSIGN_OR_RETURN(FileHashes hashes, HashFile(folder_->root() + "/" + file->name));
  if (hashes.sha256 != sha256 || hashes.root != root) {
    return NotFound("'" + file->name + "' changed since it was indexed");
  }
  SavePieces(sha256, hashes.pieces);
  return std::move(hashes.pieces);
}

}  // namespace p2pshare::pserver
