// PeerServiceImpl: the gRPC service of a peer (docs/protocol.md, "gRPC
// service of peer-server"), an adapter between the generated base and the
// peer's SharedFolder, Catalog, TokenVerifier and Locator.
//
// Download streams from disk in 1 MiB chunks, 256 KiB while more than 8
// transfers run at once (bounded memory: ~2.4 and ~0.7 MiB per download
// measured, most of it gRPC's buffers; backpressure from
// ServerWriter::Write; common/transfer_tuning.h). Upload writes to a temp
// file in the folder's internal area, hashes as it goes, and renames into
// place only when the size and SHA-256 match; every failure removes the
// temp file, so no partial file is ever visible.
//
// Download takes one of the upload slots for its caller's account (or
// answers RESOURCE_EXHAUSTED "queued" with the caller's place, also in the
// trailing metadata kQueuePlaceKey) and sends no faster than the pacer of
// max_upload_rate allows (pserver/upload_slots.h).
//
// Every call but Ping names its caller by certificate and is counted
// against the caller's limits (PeerServiceOptions) before any work; a
// stream that stops moving (a downloader that does not read, an uploader
// that does not send) is cancelled by the stall watch after stall_timeout,
// so no caller holds a thread or a reservation for long without progress.
// Uploads reserve their announced size against the quota and the free
// disk (both counting uploads in flight) before the first byte, and may
// not nest folders deeper than kMaxUploadDepth.
//
// Thread-safe: called on gRPC's thread pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "common/limits.h"
#include "common/mutex.h"
#include "common/part_record.h"
#include "common/unique_fd.h"
#include "common/peer_channel.h"
#include "common/transfer_tuning.h"
#include "p2pshare.grpc.pb.h"
#include "pserver/catalog.h"
#include "pserver/locator.h"
#include "pserver/shared_folder.h"
#include "pserver/upload_ledger.h"
#include "pserver/wish_inbox.h"
#include "pserver/upload_room.h"
#include "pserver/upload_slots.h"

namespace p2pshare::pserver {

// The IP address a call comes from, as gRPC names its peer
// ("ipv4:10.0.0.5:4321", "ipv6:[::1]:4321"); empty when it is not IP.
std::string CallerAddress(const grpc::ServerContext& context);

// Trailing metadata of a queued Download: the caller's place (1: next).
inline constexpr char kQueuePlaceKey[] = "p2pshare-queue-place";

// Path components an uploaded name may have (folders it may create: one less).
inline constexpr int kMaxUploadDepth = 16;

// Ends calls that make no progress: each watched call says when it moved;
// a thread checks once a second and cancels those idle past the timeout.
class StallWatch {
 public:
  explicit StallWatch(std::chrono::milliseconds timeout);
  ~StallWatch();
  StallWatch(const StallWatch&) = delete;
  StallWatch& operator=(const StallWatch&) = delete;

  // Watches `context` while the ticket lives; Moved() after each step.
  class Ticket {
   public:
    Ticket(StallWatch* watch, grpc::ServerContext* context);
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    void Moved();
    // True when the watch ended the call.
    bool stalled() const;

   private:
    StallWatch* const watch_;
    uint64_t id_;
  };
  int64_t cancelled() const { return cancelled_.load(); }

 private:
  struct Watched {
    grpc::ServerContext* context;
    std::chrono::steady_clock::time_point last_move;
    bool cancelled = false;
  };
  void Check();

  const std::chrono::milliseconds timeout_;
  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Watched> watched_ GUARDED_BY(mu_);
  std::atomic<int64_t> cancelled_{0};
  std::thread thread_;
};

struct PeerServiceOptions {
  std::string username;
  int64_t max_storage_bytes = int64_t{10} << 30;
  size_t chunk_bytes = kTransferChunkBytes;
  // Limits per calling account (docs/protocol.md, "Limits"): calls at once
  // (Download, Upload, ListFiles, Locate) and of all accounts together;
  // Locate queries a second (burst: twice that); how long a stream may go
  // without progress before it is ended (DEADLINE_EXCEEDED).
  int64_t max_calls_per_peer = 8;
  int64_t max_calls = 96;
  double locate_per_second = 5;
  std::chrono::milliseconds stall_timeout{30000};
  // Other accounts downloading from here at once, the rest queued (0: no
  // limit); bytes a second all downloads share (0: no limit).
  int64_t upload_slots = 0;
  int64_t max_upload_rate = 0;
  // Files this peer is downloading: their descriptions (common/part_record.h)
  // and the folder of their .part files. Empty: none served.
  std::string partial_dir = {};
  std::string download_dir = {};
  // Where central's news of this account's wishes wait for WishNews (null: none).
  WishInbox* wishes = nullptr;
  // Who a call comes from: the account of the certificate the caller
  // presented (common/peer_channel.h), or why not.
  std::function<Result<std::string>(const grpc::ServerContext&)> identify = PeerCaller;
};

// What the service has done, for /metrics.
struct PeerServiceStats {
  int64_t bytes_served = 0;    // file bytes sent by Download
  int64_t bytes_received = 0;  // file bytes taken in by Upload
  int64_t active_transfers = 0;
  int64_t refused_calls = 0;    // over a caller's limits
  int64_t stalled_calls = 0;    // ended by the stall watch
  int64_t upload_slots_busy = 0;  // accounts holding an upload slot
  int64_t upload_queue = 0;       // accounts waiting for one
  std::map<std::pair<std::string, std::string>, int64_t> errors;  // (method, code) -> calls
};

class PeerServiceImpl final : public v1::PeerService::Service {
 public:
  // `on_upload` runs after an upload was placed (to index it at once).
  PeerServiceImpl(const SharedFolder* folder, Catalog* catalog, PeerServiceOptions options,
                  std::function<void()> on_upload);

  grpc::Status Ping(grpc::ServerContext* context, const v1::PingRequest* request,
                    v1::PingReply* reply) override;
  grpc::Status ListFiles(grpc::ServerContext* context, const v1::ListFilesRequest* request,
                         v1::ListFilesReply* reply) override;
  grpc::Status Download(grpc::ServerContext* context, const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::Chunk>* writer) override;
  grpc::Status Upload(grpc::ServerContext* context, grpc::ServerReader<v1::UploadMessage>* reader,
                      v1::UploadReply* reply) override;
  grpc::Status Locate(grpc::ServerContext* context, const v1::LocateRequest* request,
                      v1::LocateReply* reply) override;
  grpc::Status PieceHashes(grpc::ServerContext* context, const v1::PieceHashesRequest* request,
                           v1::PieceHashesReply* reply) override;
  // What others download from here now; this peer's own account only.
  grpc::Status Uploads(grpc::ServerContext* context, const v1::UploadsRequest* request,
                       v1::UploadsReply* reply) override;
  grpc::Status WishNews(grpc::ServerContext* context, const v1::WishNewsRequest* request,
                        v1::WishNewsReply* reply) override;

  // Answers Locate (UNIMPLEMENTED without one). Set before serving.
  void set_locator(Locator* locator) { locator_ = locator; }

  int64_t active_transfers() const { return active_transfers_.load(); }
  PeerServiceStats stats() const;
  // The files this peer is downloading with pieces to serve, and how many
  // bytes of each it has (for central, in heartbeats).
  std::vector<PartialFile> Partials();
  // Bytes uploads may still add: the quota less what is shared and reserved.
  int64_t free_bytes() const;
  // The downloads from here in progress (pserver/upload_ledger.h).
  std::vector<UploadLedger::Served> Serving() { return ledger_.Now(); }
  // The accounts waiting for an upload slot, in order.
  std::vector<std::string> WaitingForSlots() { return slots_.WaitingAccounts(); }

 private:
  // Counts a failed call of `method` by its code; the gRPC form of `s`.
  grpc::Status Done(const char* method, const Status& s);
  // The caller's account, from its certificate: members only; and its
  // place among its calls (ResourceExhausted when it has too many).
  struct Caller {
    std::string account;
    ConcurrencyLimits::Slot slot;
  };
  Result<Caller> Authorize(grpc::ServerContext* context);
  Status DoDownload(grpc::ServerContext* context, const std::string& to, const v1::DownloadRequest& request,
                    grpc::ServerWriter<v1::Chunk>* writer, StallWatch::Ticket& ticket);
  // A file this peer is downloading (by sha256): its .part, when every
  // piece of the range asked for is verified there (FailedPrecondition
  // otherwise); `have` gets which pieces are.
  struct Partial {
    FileEntry file;
    std::vector<Digest> layer;
    PartRecord have;
    UniqueFd fd;
  };
  Result<Partial> OpenPartial(const std::string& sha256);
  // Sends bytes [begin, end) of `file`, open at `fd`, to account `to`.
  Status Stream(grpc::ServerContext* context, const std::string& to, int fd, const FileEntry& file, int64_t begin,
                int64_t end, grpc::ServerWriter<v1::Chunk>* writer, StallWatch::Ticket& ticket);
  // Upload's steps: header, room, bytes into a temp file, placed.
  Result<FileEntry> DoUpload(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadMessage>* reader,
                             StallWatch::Ticket& ticket);
  // Writes the data messages to `fd` and returns their SHA-256 and hash tree; sets
  // want->sha256 when it comes last. InvalidArgument for a stream out of
  // order or longer than announced, DataLoss for a short one.
  // Cancelled when the sender went away.
  Result<FileHashes> ReceiveUpload(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::UploadMessage>* reader, int fd,
                                    FileEntry* want, StallWatch::Ticket& ticket);
  // fsyncs the temp file, renames it into place and adds it to the catalog.
  Status Place(const TempFile& temp, const FileEntry& file, const FileHashes& hashes);

  const SharedFolder* const folder_;
  Catalog* const catalog_;
  const PeerServiceOptions options_;
  const std::function<void()> on_upload_;
  Locator* locator_ = nullptr;
  std::atomic<int64_t> active_transfers_{0};
  UploadRoom room_;  // what uploads in progress set aside
  ConcurrencyLimits calls_;
  RateLimits locates_;
  std::atomic<int64_t> refused_calls_{0};
  StallWatch stalls_;
  mutable UploadSlots slots_;  // stats() expires lapsed holders as it counts
  UploadLedger ledger_;
  std::atomic<int> wish_waiters_{0};  // WishNews calls waiting now
  UploadPacer pacer_;
  std::atomic<int64_t> bytes_served_{0}, bytes_received_{0};
  mutable Mutex errors_mu_;
  std::map<std::pair<std::string, std::string>, int64_t> errors_ GUARDED_BY(errors_mu_);
};

}  // namespace p2pshare::pserver
