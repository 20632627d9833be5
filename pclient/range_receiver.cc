#include "pclient/range_receiver.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "common/bounded_queue.h"
#include "common/peer_channel.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/transfer_io.h"

namespace p2pshare::pclient {

void Pacer::Took(int64_t n) {
  if (limit_ <= 0) return;
  const int64_t total = total_.fetch_add(n) + n;
  std::this_thread::sleep_until(
      start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(static_cast<double>(total) / static_cast<double>(limit_))));
}

namespace {

// Connection attempts for one range, and how long each retry waits for the
// channel to connect (gRPC's own reconnect backoff starts at 1 s).
constexpr int kConnectAttempts = 3;
constexpr auto kReconnectWait = std::chrono::seconds(2);

// The place a holder that queued us gave in its trailers (1 if it gave none).
int64_t QueuePlace(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("p2pshare-queue-place");
  if (it == trailers.end()) return 1;
  return std::clamp<int64_t>(std::atoll(std::string(it->second.data(), it->second.size()).c_str()), 1, 1000000);
}

// Reads the stream into `chunks` until the range is in, the holder ends it
// or fails, the sink stops, or the user does.
void ReadStream(const RangeRequest& req, RangeSink& sink, grpc::ClientReaderInterface<v1::Chunk>& reader,
                CallWatch& watch, BoundedQueue<std::pair<int64_t, std::string>>& chunks, RangeOutcome& out) {
  v1::Chunk chunk;
  int64_t at = req.begin;  // next byte expected
  // An empty range (an empty file) still reads one chunk: its header says
  // which version the holder has.
  while (!out.answered || at < req.end) {
    if (req.stop_requested && req.stop_requested()) {  // Ctrl-C, cancel: keep what is here
      out.stopped = true;
      return;
    }
    if (!reader.Read(&chunk)) {
      out.stream_ended = true;
      return;
    }
    if (!out.answered) {
      if (chunk.info().sha256() != req.sha256 || chunk.info().size() != req.file_size) {
        out.failure = "holds another version of the file";
        return;
      }
      out.answered = true;
      sink.Started();
    }
    const auto n = static_cast<int64_t>(chunk.data().size());
    if (chunk.offset() != at || at + n > req.end) {
      out.failure = "sent bytes out of order";
      return;
    }
    if (req.pacer != nullptr) req.pacer->Took(n);
    std::string data;
    data.swap(*chunk.mutable_data());
    if (n > 0 && !chunks.Push({at, std::move(data)})) return;  // the sink stopped
    watch.Progress();  // the holder's turn again from here (not counting our own waits)
    at += n;
    if (at < req.end && sink.Enough(at)) return;
  }
}

// One call for the range on `channel`.
RangeOutcome ReceiveOnce(const RangeRequest& req, RangeSink& sink,
                         const std::shared_ptr<grpc::Channel>& channel) {
  RangeOutcome out;
  auto stub = v1::PeerService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineFor(req.end - req.begin, req.limit_rate));
  v1::DownloadRequest dl;
  dl.set_sha256(req.sha256);
  dl.set_offset(req.begin);
  if (req.end < req.file_size) dl.set_length(req.end - req.begin);
  if (req.on_call && !req.on_call(&ctx)) return out;
  out.called = true;
  auto reader = stub->Download(&ctx, dl);
  CallWatch watch(&ctx);  // a holder that sends nothing is cut off
  BoundedQueue<std::pair<int64_t, std::string>> chunks(req.pipeline_chunks);
  std::thread taker([&] {
    while (auto next = chunks.Pop()) {
      if (sink.Take(next->first, next->second)) {
        out.received += static_cast<int64_t>(next->second.size());
        continue;
      }
      out.sink_stopped = true;
      chunks.Close();  // the reader stops at its next chunk
      ctx.TryCancel();
      return;
    }
  });
  ReadStream(req, sink, *reader, watch, chunks, out);
  chunks.Close();
  taker.join();
  const bool all_in = out.answered && req.begin + out.received == req.end && !out.sink_stopped;
  if (!out.stream_ended && !all_in) ctx.TryCancel();  // we stopped reading: end the call
  out.status = reader->Finish();
  if (req.on_call) req.on_call(nullptr);
  if (out.failure.empty()) out.failure = watch.why();
  if (!out.answered && out.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      out.status.error_details() == "queued") {
    out.queue_place = QueuePlace(ctx);
  }
  return out;
}

// The call never reached the holder because the connection (TCP or TLS)
// could not be made, for a reason that may pass: a reset, a timeout, a TLS
// handshake that could not start. Not when the holder's machine said no
// one listens (connection refused), or the TLS handshake took place and
// failed (a certificate not from the network's CA, or not the holder's:
// common/peer_channel.cc): asking again would get the same answer.
bool MayConnectOnRetry(const RangeOutcome& out) {
  if (!out.called || out.answered || out.received > 0 || !out.failure.empty() || out.sink_stopped ||
      out.stopped || out.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    return false;
  }
  const std::string& why = out.status.error_message();
  return why.find("Connection refused") == std::string::npos &&
         why.find("refused the server") == std::string::npos &&
         why.find("andshake failed") == std::string::npos;  // gRPC: "Ssl handshake failed: …"
}

// Waits up to kReconnectWait for `channel` to connect again, asking
// req.stop_requested meanwhile. True when it is connected.
bool Reconnected(const RangeRequest& req, grpc::Channel& channel) {
  const auto until = std::chrono::steady_clock::now() + kReconnectWait;
  while (std::chrono::steady_clock::now() < until) {
    if (req.stop_requested && req.stop_requested()) return false;
    const auto step = std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
    if (channel.WaitForConnected(std::chrono::system_clock::now() +
                                 (step - std::chrono::steady_clock::now()))) {
      return true;
    }
  }
  return false;
}

}  // namespace

RangeOutcome ReceiveRange(const RangeRequest& req, RangeSink& sink) {
  const Holder& h = req.holder;
  std::shared_ptr<grpc::Channel> channel = PeerChannel(h.host, h.port, h.username);
  RangeOutcome out = ReceiveOnce(req, sink, channel);
  // A connection that failed before the holder said anything, for a reason
  // that may pass, is tried again once the channel connects (a busy machine
  // at the TLS handshake, a reset); a holder that stays away is given up
  // after kReconnectWait, and one that refused at once is not waited for.
  for (int attempt = 1; attempt < kConnectAttempts && MayConnectOnRetry(out); ++attempt) {
    if (!Reconnected(req, *channel)) break;
    out = ReceiveOnce(req, sink, channel);
  }
  // Reached without its address (common/peer_channel.h) and not put
  // through: the relay's or central's words, not gRPC's about a loopback port.
  if (!out.answered && !out.status.ok() && out.failure.empty() && RouteTo(h.username) != "direct") {
    const std::string why = RelayFailure(h.username);
    if (!why.empty()) out.failure = "cannot be reached at its address, nor connect back to us, nor through the relay: " + why;
  }
  return out;
}

}  // namespace p2pshare::pclient
