#include "pserver/folder_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "pserver/shared_folder.h"

namespace p2pshare::pserver {
namespace {
namespace fs = std::filesystem;
constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                           IN_MOVED_TO | IN_DELETE_SELF | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW;
}  // namespace

FolderWatcher::FolderWatcher(std::string root, std::function<void()> on_change,
                             FolderWatcherOptions options)
    : root_(std::move(root)), on_change_(std::move(on_change)), options_(options) {}

FolderWatcher::~FolderWatcher() { Stop(); }

Status FolderWatcher::Start() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_.valid()) {
    spdlog::warn("inotify unavailable ({}); the shared folder is rescanned every {} s",
                 std::strerror(errno), options_.safety_interval.count() / 1000);
  }
  wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_.valid()) return Internal(std::string("eventfd: ") + std::strerror(errno));
  WatchTree();
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void FolderWatcher::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void FolderWatcher::WatchTree() {
  if (!inotify_.valid()) return;
  ::inotify_add_watch(inotify_.get(), root_.c_str(), kMask);
  std::error_code ec;
  fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() == 0 && it->path().filename() == kInternalDir) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      if (::inotify_add_watch(inotify_.get(), it->path().c_str(), kMask) < 0 && errno == ENOSPC) {
        spdlog::warn("out of inotify watches; changes deep in the folder show at the next rescan");
        return;
      }
    }
  }
}

void FolderWatcher::Loop() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;  // events seen, on_change not yet called
  Clock::time_point first_event{}, last_event{};
  auto next_safety = Clock::now() + options_.safety_interval;
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    auto now = Clock::now();
    Clock::time_point deadline = next_safety;
    if (pending) {
      deadline = std::min({deadline, last_event + options_.debounce, first_event + options_.max_delay});
    }
    int timeout_ms = static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1));
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
    int n = ::poll(fds, inotify_.valid() ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("folder watcher: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) return;
    if (inotify_.valid() && (fds[1].revents & POLLIN)) {
      bool any = false;
      for (;;) {
        ssize_t len = ::read(inotify_.get(), buf, sizeof buf);
        if (len <= 0) break;
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          // Our own state (hash cache, upload temp files) is not a change.
          bool internal = ev->len > 0 && std::strcmp(ev->name, kInternalDir) == 0;
          any |= !internal;
          p += sizeof(inotify_event) + ev->len;
        }
      }
      if (any) {
        last_event = Clock::now();
        if (!pending) first_event = last_event;
        pending = true;
      }
    }
    now = Clock::now();
    bool debounced = pending && (now >= last_event + options_.debounce ||
                                 now >= first_event + options_.max_delay);
    if (debounced || now >= next_safety) {
      pending = false;
      next_safety = now + options_.safety_interval;
      WatchTree();  // new folders get watches before they are scanned
      on_change_();
    }
  }
}

}  // namespace p2pshare::pserver
