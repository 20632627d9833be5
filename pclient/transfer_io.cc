#include "pclient/transfer_io.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace p2pshare::pclient {

std::chrono::system_clock::time_point DeadlineFor(int64_t bytes, int64_t limit_rate) {
  int64_t rate = limit_rate > 0 ? std::min<int64_t>(limit_rate, 256 << 10) : 256 << 10;
  return std::chrono::system_clock::now() + std::chrono::seconds(60 + bytes / rate);
}

Status WriteAll(int fd, const char* data, size_t n, int64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      if (errno == ENOSPC) return ResourceExhausted("the disk is full");
      return Internal(std::string("writing failed: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += w;
  }
  return Status::Ok();
}

Status PlaceDownload(int fd, const std::string& part_path, const std::string& final_path) {
  if (::fsync(fd) != 0) return Internal(std::string("fsync failed: ") + std::strerror(errno));
  if (::renameat2(AT_FDCWD, part_path.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return AlreadyExists("a file appeared at " + final_path + " meanwhile; the download stays in " +
                           part_path);
    }
    return Internal("cannot rename " + part_path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace p2pshare::pclient
