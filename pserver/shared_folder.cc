#include "pserver/shared_folder.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/names.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

Result<std::unique_ptr<SharedFolder>> SharedFolder::Open(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    spdlog::warn("the shared folder {} did not exist; created it (empty): check shared_dir if you "
                 "meant another folder", root);
  }
  fs::create_directories(fs::path(root) / kInternalDir / "tmp", ec);
  if (ec) return Internal("cannot create shared folder " + root + ": " + ec.message());
  std::string canonical = fs::canonical(root, ec).string();
  if (ec) return Internal("cannot resolve shared folder " + root + ": " + ec.message());
  UniqueFd root_fd(::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return Internal("cannot open " + canonical + ": " + Errno(errno));
  std::string tmp = canonical + "/" + kInternalDir + "/tmp";
  // Temp files left by a crash mid-upload are never finished: clear them.
  for (const auto& e : fs::directory_iterator(tmp, ec)) fs::remove(e.path(), ec);
  UniqueFd tmp_fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!tmp_fd.valid()) return Internal("cannot open " + tmp + ": " + Errno(errno));
  return std::unique_ptr<SharedFolder>(
      new SharedFolder(canonical, std::move(root_fd), std::move(tmp_fd)));
}

Status SharedFolder::CheckSharedName(std::string_view name) { return p2pshare::CheckSharedName(name); }

Result<UniqueFd> SharedFolder::OpenBeneath(const std::string& name, int flags) const {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd_.get(), name.c_str(), &how, sizeof how);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  if (err == ENOSYS || err == EPERM) {
    // No openat2 here (old kernel or seccomp): resolve and compare.
    std::error_code ec;
    fs::path resolved = fs::canonical(fs::path(root_) / name, ec);
    if (ec) return NotFound("'" + name + "' is not shared here");
    std::string r = resolved.string();
    if (r.compare(0, root_.size() + 1, root_ + "/") != 0) {
      return PermissionDenied("'" + name + "' resolves outside the shared folder");
    }
    UniqueFd plain(::open(r.c_str(), flags | O_CLOEXEC));
    if (!plain.valid()) return NotFound("'" + name + "' cannot be opened: " + Errno(errno));
    return plain;
  }
  if (err == EXDEV || err == ELOOP) {
    return PermissionDenied("'" + name + "' resolves outside the shared folder");
  }
  if (err == ENOENT || err == ENOTDIR) return NotFound("'" + name + "' is not shared here");
  return Internal("cannot open '" + name + "': " + Errno(err));
}

Result<UniqueFd> SharedFolder::OpenForRead(const std::string& name) const {
  RETURN_IF_ERROR(CheckSharedName(name));
  // O_NONBLOCK: opening a FIFO or a device never waits (a FIFO with no
  // writer would block forever). What was opened is checked, not what a
  // path named before: a swap between check and open changes nothing.
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(name, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFound("'" + name + "' is not a regular file");
  }
  return fd;
}

Result<TempFile> SharedFolder::CreateTemp() const {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = "upload-" + std::to_string(::getpid()) + "-" +
                       std::to_string(counter.fetch_add(1)) + "-" + std::to_string(rd());
    int fd = ::openat(tmp_fd_.get(), name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) return TempFile{UniqueFd(fd), name};
    if (errno != EEXIST) return Internal("cannot create a temp file: " + Errno(errno));
  }
  return Internal("cannot create a temp file");
}

void SharedFolder::RemoveTemp(const std::string& temp_name) const {
  ::unlinkat(tmp_fd_.get(), temp_name.c_str(), 0);
}

Status SharedFolder::Commit(const std::string& temp_name, const std::string& name) const {
  RETURN_IF_ERROR(CheckSharedName(name));
  // Walk (and make) the parent folders one component at a time, refusing
  // symlinks, so the file lands inside the folder whatever is on disk.
  UniqueFd dir(::dup(root_fd_.get()));
  size_t start = 0;
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', start)) {
    std::string component = name.substr(start, slash - start);
    if (::mkdirat(dir.get(), component.c_str(), 0755) != 0 && errno != EEXIST) {
      return Internal("cannot create folder for '" + name + "': " + Errno(errno));
    }
    UniqueFd next(::openat(dir.get(), component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      return PermissionDenied("'" + name + "': a parent folder is a symlink or not a folder");
    }
    dir = std::move(next);
    start = slash + 1;
  }
  std::string base = name.substr(start);
  if (::renameat2(tmp_fd_.get(), temp_name.c_str(), dir.get(), base.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EEXIST) return AlreadyExists("'" + name + "' already exists");
    if (err == EINVAL || err == ENOSYS) {  // filesystem without RENAME_NOREPLACE
      if (::linkat(tmp_fd_.get(), temp_name.c_str(), dir.get(), base.c_str(), 0) != 0) {
        if (errno == EEXIST) return AlreadyExists("'" + name + "' already exists");
        return Internal("cannot place '" + name + "': " + Errno(errno));
      }
      RemoveTemp(temp_name);
      return Status::Ok();
    }
    return Internal("cannot place '" + name + "': " + Errno(err));
  }
  ::fsync(dir.get());
  return Status::Ok();
}

int64_t SharedFolder::FilesystemFreeBytes() const {
  struct statvfs s;
  if (::fstatvfs(root_fd_.get(), &s) != 0) return 0;
  return static_cast<int64_t>(s.f_bavail) * static_cast<int64_t>(s.f_frsize);
}

}  // namespace p2pshare::pserver
