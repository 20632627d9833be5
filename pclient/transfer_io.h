// What the download paths of peer-client share: writes, deadlines, the
// watch on a silent holder, and putting a finished .part in place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::pclient {

// Bytes written between two starts of their write-back to disk
// (sync_file_range), so the fsync before the rename has only the tail left
// to wait for.
inline constexpr int64_t kWritebackBytes = 8 << 20;

// A deadline that grows with the bytes still to move (at >= 256 KiB/s).
std::chrono::system_clock::time_point DeadlineFor(int64_t bytes, int64_t limit_rate);

// How long a holder may take to send its first bytes after it is asked
// (a queued answer counts), and to send more in the middle of a stream,
// before the call is cut off and the next holder gets its turn.
inline constexpr auto kFirstByteTimeout = std::chrono::seconds(10);
inline constexpr auto kStallTimeout = std::chrono::seconds(30);

// Watches one call to a holder from its start: cuts it off (TryCancel)
// when nothing has come `first` after the start, or nothing more `between`
// two Progress calls. A holder that accepts a call and then sends nothing
// (one of many free accounts listing a file it does not serve) costs a
// downloader `first`, not the whole call's deadline.
// Thread-safe: Progress from the receiving thread; its own thread watches.
class CallWatch {
 public:
  CallWatch(grpc::ClientContext* context, std::chrono::steady_clock::duration first = kFirstByteTimeout,
            std::chrono::steady_clock::duration between = kStallTimeout);
  ~CallWatch();  // stops watching
  CallWatch(const CallWatch&) = delete;
  CallWatch& operator=(const CallWatch&) = delete;

  void Progress();  // bytes came
  // Why the call was cut off ("sent nothing for 10 s ..."); empty when it
  // was not.
  std::string why() const;

 private:
  void Loop();

  grpc::ClientContext* const context_;
  const std::chrono::steady_clock::duration first_, between_;
  mutable Mutex mu_;
  CondVar stop_cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::optional<std::chrono::steady_clock::time_point> progress_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point started_ GUARDED_BY(mu_);
  std::string why_ GUARDED_BY(mu_);
  std::thread thread_;
};

// pwrite of all `n` bytes at `offset`; ResourceExhausted when the disk is full.
Status WriteAll(int fd, const char* data, size_t n, int64_t offset);

// "10.0 MiB of 30.0 MiB verified are kept", or "nothing of it was verified yet".
std::string KeptWords(int64_t kept, int64_t size);
// Cancelled ("stopped"): a download the user stopped, keeping `kept` of
// `size` bytes (verified). What resumes it is the caller's to say.
Status StoppedStatus(int64_t kept, int64_t size);
// Unavailable ("no_holder"): no holder could complete `name`; `failures`
// says what each did, in pclient/peer_words.h's words ("alice went
// offline; bob did not answer in time"; empty: nobody holds it). What
// happens next is the caller's to say.
Status IncompleteStatus(const std::string& name, int64_t kept, int64_t size, const std::string& failures);

// fsyncs `fd` (the .part at `part_path`) and renames it to `final_path`
// without replacing anything there.
Status PlaceDownload(int fd, const std::string& part_path, const std::string& final_path);

}  // namespace p2pshare::pclient
