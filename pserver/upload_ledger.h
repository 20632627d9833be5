// What this peer-server serves to others, as a person counts it: one
// download per account and file. A swarm downloader asks for a run of
// pieces about once a second, so the calls of one account for one file
// with less than kServedGap between them are one download: it starts with
// the first ("serving 'x' to carol" in the log, at info) and ends
// kServedGap after the last ("served 'x' to carol: 24.0 MiB in 6 s").
// `transfers` (the Uploads call) and central's dashboard (heartbeats) see
// the downloads in progress.
//
// Every account is a stranger: the ledger holds at most kMaxServed
// downloads (the calls in flight are bounded by the per-caller limits; a
// flood of tiny ones pushes out the oldest idle ones, never one in flight).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/directory_types.h"
#include "common/mutex.h"

namespace p2pshare::pserver {

inline constexpr auto kServedGap = std::chrono::seconds(5);
inline constexpr size_t kMaxServed = 1024;

class UploadLedger {
 public:
  using Clock = std::chrono::steady_clock;

  struct Served {
    std::string to;       // the account downloading
    FileEntry file;       // name, size, sha256
    int64_t bytes = 0;    // sent to it so far
    double seconds = 0;   // since its first call
    double rate = 0;      // bytes a second over the last few seconds
    int calls = 0;        // in flight now
  };

  // A call of `to` for `file` starts / sent `bytes` / ended.
  void Begin(const std::string& to, const FileEntry& file, Clock::time_point now = Clock::now());
  void Sent(const std::string& to, const std::string& sha256, int64_t bytes, Clock::time_point now = Clock::now());
  void End(const std::string& to, const std::string& sha256, Clock::time_point now = Clock::now());

  // The downloads in progress (ending those idle for kServedGap, each
  // logged), most bytes first.
  std::vector<Served> Now(Clock::time_point now = Clock::now());

 private:
  struct Entry {
    Served s;
    Clock::time_point first, last;
    // For the rate: bytes at the start of the current window.
    Clock::time_point window_start;
    int64_t window_bytes = 0;
    double last_rate = 0;
  };
  using Key = std::pair<std::string, std::string>;  // (account, sha256)
  void Expire(Clock::time_point now) REQUIRES(mu_);
  static void LogEnd(const Entry& e);

  Mutex mu_;
  std::map<Key, Entry> served_ GUARDED_BY(mu_);
};

}  // namespace p2pshare::pserver
