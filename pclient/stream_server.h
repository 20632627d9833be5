// Watch while downloading: a file being downloaded, served on a loopback
// HTTP URL with Range support, so mpv, vlc or a browser can open it before
// it completes (peer-client's `stream`).
//
// Only verified bytes go out: what the .part's record of verified pieces
// names (common/part_record.h; the download writes it a few times a
// second, after the pieces it names are on disk), or the whole file once
// it is in place. A read of bytes not verified yet waits for them, and
// where the reader reads steers the download (reader_at(): the swarm
// fetches the pieces just ahead of it first). The URL listens on 127.0.0.1
// only, on a port of its own, and serves that one file.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/directory_types.h"
#include "common/hash_tree.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace httplib {
class Server;
}

namespace p2pshare::pclient {

class StreamServer {
 public:
  // `file` lands at `final_path`, downloaded into `final_path`.part with
  // pieces checked against `root`. `ended()` says the download ended
  // without the file (a read waiting for bytes then gives up).
  StreamServer(FileResult file, std::string final_path, Digest root, std::function<bool()> ended);
  ~StreamServer();  // Stop()

  // Listens on 127.0.0.1 (a free port); the URL to open.
  Result<std::string> Start();
  void Stop();
  // The byte the last read wanted (-1: none yet).
  int64_t reader_at() const { return reader_at_.load(); }

 private:
  // How many bytes from `offset` on are verified now, and an open file to
  // read them from (the .part or the file in place).
  int64_t Verified(int64_t offset, UniqueFd* fd);

  const FileResult file_;
  const std::string final_path_;
  const Digest root_;
  const std::function<bool()> ended_;
  std::atomic<int64_t> reader_at_{-1};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace p2pshare::pclient
