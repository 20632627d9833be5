// FolderWatcher: tells when a shared folder changed. inotify watches every
// folder of the tree; a burst of events is debounced (quiet for
// `debounce`, or at most `max_delay` after the first) into one call of
// `on_change`. A rescan also runs every `safety_interval`, for changes
// inotify cannot see (event queue overflow, network filesystems).
//
// DESIGN: the watcher only triggers; the Catalog works out what changed by
// comparing (size, mtime), so a lost or merged event never loses a change.
//
// Thread-safe: its own thread calls `on_change`; Start/Stop from main.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/status.h"
#include "common/unique_fd.h"

namespace p2pshare::pserver {

struct FolderWatcherOptions {
  std::chrono::milliseconds debounce{200};
  std::chrono::milliseconds max_delay{1000};
  std::chrono::milliseconds safety_interval{30000};
};

class FolderWatcher {
 public:
  FolderWatcher(std::string root, std::function<void()> on_change,
                FolderWatcherOptions options = {});
  ~FolderWatcher();  // stops

  Status Start();
  void Stop();

 private:
  void Loop();
  void WatchTree();  // adds a watch for every folder (re-adding is harmless)

  const std::string root_;
  const std::function<void()> on_change_;
  const FolderWatcherOptions options_;
  UniqueFd inotify_;
  UniqueFd wake_;  // eventfd that ends Loop
  std::thread thread_;
};

}  // namespace p2pshare::pserver
