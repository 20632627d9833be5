// What a transfer is asked to do and says as it goes: the types shared by
// the download strategies (pclient/in_order.h, pclient/swarm.h), the
// transfers they serve (pclient/transfers.h), the queue and the output.
// Types only, so every file of pclient/ can include it without a cycle.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/directory_types.h"
#include "common/status.h"

namespace p2pshare::pclient {

// Where a transfer stands: bytes done of total; for a swarm download, each
// holder's part too.
struct SourceStatus {
  std::string holder;
  int64_t bytes = 0;        // verified bytes it sent
  double rate = 0;          // bytes a second since it started sending
  int64_t queue_place = 0;  // waiting in its upload queue at this place (0: not)
  bool dropped = false;
};
struct TransferProgress {
  int64_t done = 0;
  int64_t total = 0;
  std::vector<SourceStatus> sources;
  std::string holder;  // in order: the holder being read from now
};
// Called as a transfer moves.
using ProgressFn = std::function<void(const TransferProgress&)>;
// Called with a line worth telling the user (a failover, a resume).
using NoteFn = std::function<void(const std::string&)>;

struct DownloadRequest {
  FileResult file;           // name, size, sha256, holders in the order to try
  std::string dest_dir;      // the file lands at dest_dir/file.name
  std::string own_username;  // never download from ourselves
  int64_t limit_rate = 0;    // bytes per second; 0 = as fast as possible
  bool verify_only = false;  // fetch and check the hash, write nothing
  // Swarm downloads: where to describe the file while it is downloaded, so
  // this peer's peer-server serves its verified pieces to others (empty:
  // nowhere); and how to ask central for the holders again (new partial
  // holders join as the download goes; null: never).
  std::string partial_dir = {};
  std::function<Result<std::vector<Holder>>()> refresh_holders = nullptr;
  // Asked a few times a second (null: never): true stops the download
  // (Cancelled), keeping every verified piece for a resume. The REPL's
  // Ctrl-C.
  std::function<bool()> stop_requested = nullptr;
  // Streaming (pclient/stream_server.h): the byte a reader needs next (-1:
  // none), asked before each pick, so the pieces just ahead of it come
  // first (null: no reader). Must be cheap: it is asked under a lock.
  std::function<int64_t()> reader_at = nullptr;
};

struct DownloadResult {
  std::string path;
  bool already_there = false;  // the same file was there: nothing fetched
  int64_t resumed_at = 0;      // bytes reused from an earlier .part
  int64_t fetched = 0;         // bytes received now
  std::vector<std::string> from;  // holders that sent bytes, in order
  double seconds = 0;
  // Swarm downloads: verified bytes each holder sent, the holders dropped
  // and why, the sources used at once.
  std::map<std::string, int64_t> bytes_from;
  std::vector<std::pair<std::string, std::string>> dropped;
  int sources = 0;
  std::map<std::string, int64_t> queued_at;  // holders that queued us: the place they first gave
};

struct UploadResult {
  FileEntry file;
  double seconds = 0;
};

}  // namespace p2pshare::pclient
