// The one receive pipeline of every download: a byte range of one file
// from one holder, whatever the strategy around it (pieces from many
// holders, or the whole file from one holder at a time).
//
// The calling thread only reads the stream (gRPC decrypts in the thread
// that reads); a second thread hands each chunk to the sink (which checks,
// writes and hashes), so hashing and the disk never hold up the stream and
// the stream never holds up the disk. A few chunks may wait between them:
// memory stays bounded whatever the range.
//
// Around it, what every download needs from a holder: the version check
// on the first chunk (sha256 and size as the downloader knows them), bytes
// in order and within the range, CallWatch on a holder that goes silent,
// the rate limit, a stop the user asked for, and a holder's "queued" answer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "common/directory_types.h"

namespace p2pshare::pclient {

// Holds the average rate of everything it is told of at `limit` bytes a
// second since it was made (0: no limit). Thread-safe.
class Pacer {
 public:
  explicit Pacer(int64_t limit) : limit_(limit), start_(std::chrono::steady_clock::now()) {}
  // `n` more bytes came: sleeps until the average is back at the limit.
  void Took(int64_t n);

 private:
  const int64_t limit_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> total_{0};
};

// Where the received bytes go. Take runs on the pipeline's second thread,
// the rest on the reading thread.
class RangeSink {
 public:
  virtual ~RangeSink() = default;
  // Bytes [offset, offset + data.size()), in order. False stops the call
  // (the sink keeps why).
  virtual bool Take(int64_t offset, std::string_view data) = 0;
  // The holder answered with the right version and is sending.
  virtual void Started() {}
  // After each chunk: true when the rest of the range is not wanted any
  // more (another copy of it was verified meanwhile).
  virtual bool Enough(int64_t /*next*/) { return false; }
};

struct RangeRequest {
  Holder holder;
  std::string sha256;
  int64_t file_size = 0;
  int64_t begin = 0;  // [begin, end) of the file
  int64_t end = 0;
  int64_t limit_rate = 0;  // for the call's deadline
  Pacer* pacer = nullptr;  // null: no rate limit
  size_t pipeline_chunks = 4;
  // Asked before each chunk (null: never): true stops the call.
  std::function<bool()> stop_requested = nullptr;
  // Told of the call before it starts (false: do not start it) and with
  // null once it ended, so another thread can cancel it meanwhile.
  std::function<bool(grpc::ClientContext*)> on_call = nullptr;
};

struct RangeOutcome {
  bool called = false;     // on_call let the call start
  bool answered = false;   // the first chunk came, of the right version
  int64_t received = 0;    // bytes handed to the sink
  bool sink_stopped = false;  // Take returned false
  bool stopped = false;       // stop_requested
  bool stream_ended = false;  // the holder ended the stream; status says how
  grpc::Status status;
  // The holder's fault, seen here: "holds another version of the file",
  // "sent bytes out of order", or CallWatch's words. Empty: none.
  std::string failure;
  int64_t queue_place = 0;  // > 0: all its upload slots were busy; our place in its queue
};

// Receives req's range from req.holder into `sink` (mutual TLS, the
// holder's account checked: common/peer_channel.h). A call whose
// connection could not be made, before the holder said anything and for a
// reason that may pass (a reset, a timeout, a TLS handshake that could not
// start — not "connection refused", not a refused certificate), is made
// again once the channel connects within 2 s (3 attempts at most), so a
// holder that blinked is not lost for the whole download; on_call is told
// of each attempt.
RangeOutcome ReceiveRange(const RangeRequest& req, RangeSink& sink);

}  // namespace p2pshare::pclient
