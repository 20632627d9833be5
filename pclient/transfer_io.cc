#include "pclient/transfer_io.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/mutex.h"
#include "pclient/format.h"

namespace p2pshare::pclient {

std::chrono::system_clock::time_point DeadlineFor(int64_t bytes, int64_t limit_rate) {
  int64_t rate = limit_rate > 0 ? std::min<int64_t>(limit_rate, 256 << 10) : 256 << 10;
  return std::chrono::system_clock::now() + std::chrono::seconds(60 + bytes / rate);
}

CallWatch::CallWatch(grpc::ClientContext* context, std::chrono::steady_clock::duration first,
                     std::chrono::steady_clock::duration between)
    : context_(context), first_(first), between_(between), started_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] { Loop(); });
}

CallWatch::~CallWatch() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void CallWatch::Progress() {
  MutexLock lock(mu_);
  progress_ = std::chrono::steady_clock::now();
}

std::string CallWatch::why() const {
  MutexLock lock(mu_);
  return why_;
}

void CallWatch::Loop() {
  MutexLock lock(mu_);
  for (;;) {
    const auto due = progress_ ? *progress_ + between_ : started_ + first_;
    if (stop_cv_.wait_until(lock, due, [&] { mu_.AssertHeld(); return stop_; })) return;
    const auto now = std::chrono::steady_clock::now();
    if (progress_ ? now - *progress_ < between_ : now - started_ < first_) continue;  // progress meanwhile
    const auto secs = [](std::chrono::steady_clock::duration d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
    };
    why_ = progress_ ? "sent nothing for " + secs(between_) + " s in the middle of the download"
                     : "sent nothing for " + secs(first_) + " s after it was asked";
    context_->TryCancel();
    return;
  }
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

std::string KeptWords(int64_t kept, int64_t size) {
  if (kept <= 0) return "nothing of it was verified yet";
  return HumanSize(kept) + " of " + HumanSize(size) + " verified " + (kept == 1 ? "is" : "are") + " kept";
}

Status StoppedStatus(int64_t kept, int64_t size) {
  return Status(Code::kCancelled, "stopped; " + KeptWords(kept, size), "stopped");
}

Status IncompleteStatus(const std::string& name, int64_t kept, int64_t size, const std::string& failures) {
  if (failures.empty()) {
    return Unavailable("no other peer holds " + name + " right now" +
                           (kept > 0 ? "; " + KeptWords(kept, size) : ""),
                       "no_holder");
  }
  return Unavailable("could not complete " + name + ": " + failures + "; " + KeptWords(kept, size), "no_holder");
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
