#include "common/small_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace p2pshare {

namespace {

// Writes `contents` to a new temp file beside `path` (a name of its own:
// peer-server and peer-client of one peer write the same files, and two
// writers sharing one temp name could rename each other's half-written
// bytes into place). Returns the temp file's name.
Result<std::string> WriteTempBeside(const std::string& path, const std::string& contents,
                                    unsigned mode) {
  std::string tmp = path + ".new.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Internal("cannot write beside " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0 &&
            ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
            ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Internal("cannot write " + path + ": " + std::strerror(saved));
  }
  return tmp;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& contents, unsigned mode) {
  ASSIGN_OR_RETURN(std::string tmp, WriteTempBeside(path, contents, mode));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    return Internal("cannot write " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

Status CreateFileOnce(const std::string& path, const std::string& contents, unsigned mode) {
  ASSIGN_OR_RETURN(std::string tmp, WriteTempBeside(path, contents, mode));
  // link() puts the whole file in place or fails when the name is taken.
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int saved = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return Status::Ok();
  if (saved == EEXIST) return AlreadyExists(path + " already exists");
  return Internal("cannot create " + path + ": " + std::strerror(saved));
}

Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + " does not exist");
    return Internal("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() > (1 << 20)) {
      ::close(fd);
      if (n < 0) return Internal("cannot read " + path + ": " + std::strerror(errno));
      if (out.size() > (1 << 20)) return Internal(path + " is over 1 MiB");
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace p2pshare
