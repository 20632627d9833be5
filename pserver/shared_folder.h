// SharedFolder: the one place that turns names from the network into files
// of the shared folder, so nothing outside the folder is ever read or
// written. Opens go through openat2(RESOLVE_BENEATH): the kernel refuses
// any resolution ("..", absolute, a symlink) that would leave the folder.
// Kernels without openat2 get a canonical-path check instead.
//
// The folder's own state lives in `<root>/.p2pshare/` (hash cache, last
// port, saved friends, and upload temp files, so an upload's rename stays
// on one filesystem). It is never
// shared and never reachable by name.
//
// Thread-safe: const after Open; called from gRPC threads and the agent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/names.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace p2pshare::pserver {

struct TempFile {
  UniqueFd fd;
  std::string name;  // inside <root>/.p2pshare/tmp
};

class SharedFolder {
 public:
  // Opens `root`, creating it and its internal folder when missing, and
  // removes temp files a crash left behind (one peer-server per folder).
  static Result<std::unique_ptr<SharedFolder>> Open(const std::string& root);

  const std::string& root() const { return root_; }
  std::string internal_dir() const { return root_ + "/" + kInternalDir; }

  // OK when `name` may be shared: CheckFileName, and neither inside the
  // internal folder nor a partial download ("*.part"). InvalidArgument or
  // PermissionDenied otherwise.
  static Status CheckSharedName(std::string_view name);

  // Opens a shared regular file for reading, never waiting (FIFOs, devices
  // and sockets are NotFound, refused before anything blocks).
  // InvalidArgument (bad name), PermissionDenied (resolves outside the
  // folder), NotFound.
  Result<UniqueFd> OpenForRead(const std::string& name) const;

  // A new empty file in the internal temp folder.
  Result<TempFile> CreateTemp() const;
  void RemoveTemp(const std::string& temp_name) const;
  // Moves a temp file into place as `name`, making parent folders (never
  // through a symlink). AlreadyExists when `name` exists; the temp file is
  // left for the caller then.
  Status Commit(const std::string& temp_name, const std::string& name) const;

  // Bytes free on the folder's filesystem.
  int64_t FilesystemFreeBytes() const;

 private:
  SharedFolder(std::string root, UniqueFd root_fd, UniqueFd tmp_fd)
      : root_(std::move(root)), root_fd_(std::move(root_fd)), tmp_fd_(std::move(tmp_fd)) {}
  // openat2 beneath the root; fallback to a canonical path check.
  Result<UniqueFd> OpenBeneath(const std::string& name, int flags) const;

  const std::string root_;  // canonical
  const UniqueFd root_fd_;
  const UniqueFd tmp_fd_;
};

}  // namespace p2pshare::pserver
