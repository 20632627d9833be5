#include "pserver/peer_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/grpc_status.h"
#include "common/mutex.h"
#include "common/names.h"
#include "common/hex.h"
#include "common/sha256.h"
#include "common/proto_convert.h"

namespace p2pshare::pserver {
namespace {

// Counts a transfer as active for its lifetime.
class ActiveTransfer {
 public:
  explicit ActiveTransfer(std::atomic<int64_t>* n) : n_(n) { n_->fetch_add(1); }
  ~ActiveTransfer() { n_->fetch_sub(1); }

 private:
  std::atomic<int64_t>* n_;
};

}  // namespace

StallWatch::StallWatch(std::chrono::milliseconds timeout)
    : timeout_(timeout), thread_([this] {
        MutexLock lock(mu_);
        while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { mu_.AssertHeld(); return stop_; })) {
          lock.Unlock();
          Check();
          lock.Lock();
        }
      }) {}

StallWatch::~StallWatch() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StallWatch::Check() {
  auto now = std::chrono::steady_clock::now();
  MutexLock lock(mu_);
  for (auto& [id, w] : watched_) {
    if (!w.cancelled && now - w.last_move > timeout_) {
      // The call's thread wakes from its blocked Read or Write with false.
      w.cancelled = true;
      w.context->TryCancel();
      cancelled_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

StallWatch::Ticket::Ticket(StallWatch* watch, grpc::ServerContext* context) : watch_(watch) {
  MutexLock lock(watch_->mu_);
  id_ = watch_->next_id_++;
  watch_->watched_.emplace(id_, Watched{context, std::chrono::steady_clock::now()});
}

StallWatch::Ticket::~Ticket() {
  MutexLock lock(watch_->mu_);
  watch_->watched_.erase(id_);
}

void StallWatch::Ticket::Moved() {
  MutexLock lock(watch_->mu_);
  watch_->watched_.at(id_).last_move = std::chrono::steady_clock::now();
}

bool StallWatch::Ticket::stalled() const {
  MutexLock lock(watch_->mu_);
  return watch_->watched_.at(id_).cancelled;
}

PeerServiceImpl::PeerServiceImpl(const SharedFolder* folder, Catalog* catalog,
                                 PeerServiceOptions options, std::function<void()> on_upload)
    : folder_(folder),
      catalog_(catalog),
      options_(std::move(options)),
      on_upload_(std::move(on_upload)),
      calls_(options_.max_calls_per_peer, options_.max_calls),
      locates_(options_.locate_per_second, 2 * options_.locate_per_second),
      stalls_(options_.stall_timeout),
      slots_(options_.upload_slots),
      pacer_(options_.max_upload_rate) {}

int64_t PeerServiceImpl::free_bytes() const {
  return room_.FreeBytes(catalog_->TotalBytes(), options_.max_storage_bytes, folder_->FilesystemFreeBytes());
}

Result<PeerServiceImpl::Caller> PeerServiceImpl::Authorize(grpc::ServerContext* context) {
  ASSIGN_OR_RETURN(std::string account, options_.identify(*context));
  std::optional<ConcurrencyLimits::Slot> slot = calls_.Enter(account);
  if (!slot) {
    refused_calls_.fetch_add(1, std::memory_order_relaxed);
    return ResourceExhausted(calls_.InFlight(account) >= options_.max_calls_per_peer
                                 ? "your account has " + std::to_string(options_.max_calls_per_peer) +
                                       " calls in progress here already; try when one ends"
                                 : std::string("this peer is serving as many calls as it can; try again"),
                             "too_many_calls");
  }
  return Caller{std::move(account), std::move(*slot)};
}

grpc::Status PeerServiceImpl::Done(const char* method, const Status& s) {
  if (!s.ok()) {
    MutexLock lock(errors_mu_);
    ++errors_[{method, CodeName(s.code())}];
  }
  return ToGrpcStatus(s);
}

PeerServiceStats PeerServiceImpl::stats() const {
  PeerServiceStats out;
  out.bytes_served = bytes_served_.load();
  out.bytes_received = bytes_received_.load();
  out.active_transfers = active_transfers_.load();
  out.refused_calls = refused_calls_.load();
  out.stalled_calls = stalls_.cancelled();
  out.upload_slots_busy = slots_.busy();
  out.upload_queue = slots_.queued();
  MutexLock lock(errors_mu_);
  out.errors = errors_;
  return out;
}

grpc::Status PeerServiceImpl::Locate(grpc::ServerContext* context, const v1::LocateRequest* request,
                                     v1::LocateReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("Locate", caller.status());
  if (locator_ == nullptr) return Done("Locate", Status(Code::kUnimplemented, "no locator"));
  // Each query may fan out to friends: a caller gets only so many.
  if (int64_t wait_ms = locates_.Take(caller->account); wait_ms > 0) {
    refused_calls_.fetch_add(1, std::memory_order_relaxed);
    return Done("Locate", ResourceExhausted("too many queries from your account; try again in " +
                                                std::to_string(wait_ms) + " ms",
                                            "too_many_queries"));
  }
  auto deadline = context->deadline();
  auto cap = std::chrono::system_clock::now() + std::chrono::seconds(30);
  auto answer = locator_->Locate(*request, std::min(deadline, cap));
  if (!answer.ok()) return Done("Locate", answer.status());
  *reply = std::move(*answer);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::PieceHashes(grpc::ServerContext* context,
                                          const v1::PieceHashesRequest* request,
                                          v1::PieceHashesReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("PieceHashes", caller.status());
  if (!IsSha256Hex(request->sha256())) {
    return Done("PieceHashes", InvalidArgument("sha256 must be 64 lowercase hex digits"));
  }
  auto file = catalog_->FindByHash(request->sha256());
  if (!file) {
    // Not shared whole: perhaps being downloaded here, with some pieces.
    auto partial = OpenPartial(request->sha256());
    if (!partial.ok()) {
      if (partial.status().code() != Code::kNotFound) return Done("PieceHashes", partial.status());
      return Done("PieceHashes", NotFound("no shared file has sha256 " + request->sha256()));
    }
    const int64_t count = PieceCount(partial->file.size);
    reply->set_size(partial->file.size);
    reply->set_piece_bytes(PieceBytes(partial->file.size));
    reply->set_root(partial->file.root);
    if (!request->have_only()) {
      for (const Digest& d : partial->layer) reply->add_pieces(d.data(), d.size());
    }
    reply->set_have(std::string(partial->have.bitmap.begin(), partial->have.bitmap.begin() + (count + 7) / 8));
    return grpc::Status::OK;
  }
  auto pieces = catalog_->Pieces(request->sha256());
  if (!pieces.ok()) return Done("PieceHashes", pieces.status());
  reply->set_size(file->size);
  reply->set_piece_bytes(PieceBytes(file->size));
  reply->set_root(file->root);
  if (!request->have_only()) {
    for (const Digest& d : *pieces) reply->add_pieces(d.data(), d.size());
  }
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::Ping(grpc::ServerContext*, const v1::PingRequest* request,
                                   v1::PingReply* reply) {
  reply->set_payload(request->payload());
  reply->set_username(options_.username);
  reply->set_version(P2PSHARE_VERSION);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::Uploads(grpc::ServerContext* context, const v1::UploadsRequest*,
                                      v1::UploadsReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("Uploads", caller.status());
  // Who downloads what from here is this account's own business.
  if (caller->account != options_.username) {
    return Done("Uploads", PermissionDenied("only " + options_.username + " may see what others download from it"));
  }
  for (const UploadLedger::Served& s : ledger_.Now()) {
    auto* out = reply->add_serving();
    out->set_to(s.to);
    out->set_name(s.file.name);
    out->set_sha256(s.file.sha256);
    out->set_size(s.file.size);
    out->set_bytes(s.bytes);
    out->set_rate(s.rate);
    out->set_seconds(s.seconds);
  }
  for (const std::string& account : slots_.WaitingAccounts()) reply->add_queued(account);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::WishNews(grpc::ServerContext* context, const v1::WishNewsRequest* request,
                                       v1::WishNewsReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("WishNews", caller.status());
  if (caller->account != options_.username) {
    return Done("WishNews", PermissionDenied("only " + options_.username + " may read its wishes' news"));
  }
  // Waiting holds a server thread: a few at once, the rest answered at once.
  static constexpr int kWaitersAtOnce = 4;
  const bool may_wait = wish_waiters_.fetch_add(1) < kWaitersAtOnce;
  const auto wait = std::chrono::milliseconds(may_wait ? std::clamp(request->wait_ms(), 0, 20000) : 0);
  uint64_t last = 0;
  std::vector<pserver::WishNews> news;
  // In slices, so a call the server cancels (it is shutting down) ends
  // within one, whatever it asked to wait.
  const auto until = std::chrono::steady_clock::now() + wait;
  const uint64_t wakes = options_.wishes != nullptr ? options_.wishes->wakes() : 0;
  while (options_.wishes != nullptr) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    news = options_.wishes->After(request->after(), std::clamp(left, std::chrono::milliseconds(0),
                                                              std::chrono::milliseconds(250)), &last);
    if (!news.empty() || left.count() <= 250 || context->IsCancelled() || options_.wishes->closed() ||
        options_.wishes->wakes() != wakes) {
      break;
    }
  }
  wish_waiters_.fetch_sub(1);
  for (const pserver::WishNews& n : news) {
    auto* out = reply->add_news();
    out->set_seq(n.seq);
    out->set_wish(n.wish);
    out->set_query(n.query);
    out->set_name(n.name);
    out->set_size(n.size);
    out->set_sha256(n.sha256);
    out->set_holder(n.holder);
  }
  reply->set_last(last);
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::ListFiles(grpc::ServerContext* context, const v1::ListFilesRequest*,
                                        v1::ListFilesReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("ListFiles", caller.status());
  for (const FileEntry& f : catalog_->Files()) ToProto(f, reply->add_files());
  return grpc::Status::OK;
}

grpc::Status PeerServiceImpl::Download(grpc::ServerContext* context,
                                       const v1::DownloadRequest* request,
                                       grpc::ServerWriter<v1::Chunk>* writer) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("Download", caller.status());
  UploadSlots::Answer slot = slots_.Enter(caller->account, CallerAddress(*context));
  if (!slot.lease) {
    if (slot.place == 0) {
      return Done("Download", ResourceExhausted("every upload slot here is busy and the queue is full; "
                                                "try again later", "queue_full"));
    }
    context->AddTrailingMetadata(kQueuePlaceKey, std::to_string(slot.place));
    return Done("Download", ResourceExhausted(
                                "all " + std::to_string(options_.upload_slots) +
                                    " upload slots here are busy; you are number " + std::to_string(slot.place) +
                                    " in the queue (ask again within 10 s to keep your place)",
                                "queued"));
  }
  ActiveTransfer active(&active_transfers_);
  StallWatch::Ticket ticket(&stalls_, context);
  Status s = DoDownload(context, caller->account, *request, writer, ticket);
  if (ticket.stalled()) {
    s = Status(Code::kDeadlineExceeded, "the download made no progress for " +
                                            std::to_string(options_.stall_timeout.count()) + " ms");
  }
  if (!s.ok() && s.code() != Code::kCancelled) {
    spdlog::info("download by {} failed: {}", caller->account, s.message());
  }
  return Done("Download", s);
}

Status PeerServiceImpl::DoDownload(grpc::ServerContext* context, const std::string& to, const v1::DownloadRequest& req,
                                   grpc::ServerWriter<v1::Chunk>* writer,
                                   StallWatch::Ticket& ticket) {
  if (req.offset() < 0) return InvalidArgument("offset must be 0 or more");
  if (req.length() < 0) return InvalidArgument("length must be 0 or more");
  auto range = [&](int64_t size) -> Result<std::pair<int64_t, int64_t>> {
    if (req.offset() > size) {
      return Status(Code::kOutOfRange, "offset " + std::to_string(req.offset()) + " is past the end (" +
                                           std::to_string(size) + " bytes)");
    }
    int64_t end = size;
    if (req.length() > 0 && req.length() < end - req.offset()) end = req.offset() + req.length();
    return std::make_pair(req.offset(), end);
  };
  std::string name;
  if (req.file_case() == v1::DownloadRequest::kSha256) {
    if (!IsSha256Hex(req.sha256())) return InvalidArgument("sha256 must be 64 lowercase hex digits");
    auto found = catalog_->FindByHash(req.sha256());
    if (!found) {
      // Not shared whole: perhaps being downloaded here (its verified pieces only).
      auto partial = OpenPartial(req.sha256());
      if (!partial.ok()) {
        if (partial.status().code() != Code::kNotFound) return partial.status();
        return NotFound("no shared file has sha256 " + req.sha256());
      }
      ASSIGN_OR_RETURN(auto r, range(partial->file.size));
      const int64_t piece_bytes = PieceBytes(partial->file.size);
      for (int64_t i = r.first / piece_bytes; i * piece_bytes < r.second; ++i) {
        if (!partial->have.Has(i)) {
          return Status(Code::kFailedPrecondition, "piece " + std::to_string(i) + " is not here yet (this peer is still downloading the file)", "not_here_yet");
        }
      }
      return Stream(context, to, partial->fd.get(), partial->file, r.first, r.second, writer, ticket);
    }
    name = found->name;
  } else if (req.file_case() == v1::DownloadRequest::kName) {
    name = req.name();
  } else {
    return InvalidArgument("give the file's name or its sha256");
  }
  ASSIGN_OR_RETURN(UniqueFd fd, folder_->OpenForRead(name));
  auto entry = catalog_->Find(name);
  if (!entry) return NotFound("'" + name + "' is not shared (yet)");
  ASSIGN_OR_RETURN(auto r, range(entry->size));
  return Stream(context, to, fd.get(), *entry, r.first, r.second, writer, ticket);
}

std::vector<PartialFile> PeerServiceImpl::Partials() {
  std::vector<PartialFile> out;
  if (options_.partial_dir.empty()) return out;
  for (const FileEntry& f : ListPartialFiles(options_.partial_dir)) {
    auto p = OpenPartial(f.sha256);
    if (!p.ok()) continue;
    int64_t have = 0;
    const int64_t piece_bytes = PieceBytes(f.size);
    for (int64_t i = 0; i < PieceCount(f.size); ++i) {
      if (p->have.Has(i)) have += std::min(piece_bytes, f.size - i * piece_bytes);
    }
    if (have > 0) out.push_back(PartialFile{p->file, have});
  }
  return out;
}

Result<PeerServiceImpl::Partial> PeerServiceImpl::OpenPartial(const std::string& sha256) {
  if (options_.partial_dir.empty()) return NotFound("not downloading it");
  ASSIGN_OR_RETURN(auto desc, ReadPartialFile(options_.partial_dir, sha256));
  Partial p{std::move(desc.first), std::move(desc.second), {}, {}};
  const std::string path = options_.download_dir + "/" + p.file.name + kPartSuffix;
  p.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!p.fd.valid()) {
    RemovePartialFile(options_.partial_dir, sha256);  // the download ended or was cleaned up
    return NotFound("not downloading it any more");
  }
  struct stat st;
  if (::fstat(p.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return NotFound("not downloading it");
  Digest root{};
  HexDecode(p.file.root, root);
  auto record = ReadPartRecord(p.fd.get(), p.file.size, root, PieceCount(p.file.size));
  if (!record) return NotFound("no verified pieces of it here yet");
  p.have = std::move(*record);
  return p;
}

Status PeerServiceImpl::Stream(grpc::ServerContext* context, const std::string& to, int fd, const FileEntry& file,
                               int64_t begin, int64_t end, grpc::ServerWriter<v1::Chunk>* writer,
                               StallWatch::Ticket& ticket) {
  ledger_.Begin(to, file);
  struct Ended {
    UploadLedger& ledger;
    const std::string& to;
    const std::string& sha256;
    ~Ended() { ledger.End(to, sha256); }
  } ended{ledger_, to, file.sha256};
  ::posix_fadvise(fd, begin, end - begin, POSIX_FADV_SEQUENTIAL);
  v1::Chunk chunk;
  ToProto(file, chunk.mutable_info());
  int64_t pos = begin;
  bool first = true;
  while (first || pos < end) {
    if (context->IsCancelled()) return Status(Code::kCancelled, "the caller went away");
    const bool crowded = active_transfers_.load(std::memory_order_relaxed) > kLargeChunkTransfers;
    size_t chunk_bytes = crowded ? std::min(options_.chunk_bytes, kCrowdedChunkBytes) : options_.chunk_bytes;
    if (pacer_.rate() > 0) {  // small enough that the pacer's turns come several times a second
      chunk_bytes = std::min(chunk_bytes, static_cast<size_t>(std::max<int64_t>(16 << 10, pacer_.rate() / 8)));
    }
    size_t want = static_cast<size_t>(std::min<int64_t>(end - pos, chunk_bytes));
    std::string* data = chunk.mutable_data();
    data->resize(want);
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd, data->data() + got, want - got, pos + static_cast<int64_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Internal("reading '" + file.name + "' failed: " + std::strerror(errno));
      if (n == 0) break;  // the file shrank since it was indexed: send what there is
      got += static_cast<size_t>(n);
    }
    data->resize(got);
    if (pacer_.rate() > 0) {
      const auto at = pacer_.Reserve(static_cast<int64_t>(got));
      for (auto now = std::chrono::steady_clock::now(); now < at; now = std::chrono::steady_clock::now()) {
        if (context->IsCancelled()) return Status(Code::kCancelled, "the caller went away");
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(at - now, std::chrono::milliseconds(100)));
      }
      ticket.Moved();  // waiting for the pacer is not the caller's stall
    }
    chunk.set_offset(pos);
    if (!writer->Write(chunk)) return Status(Code::kCancelled, "the caller went away");
    ticket.Moved();
    bytes_served_.fetch_add(static_cast<int64_t>(got), std::memory_order_relaxed);
    ledger_.Sent(to, file.sha256, static_cast<int64_t>(got));
    pos += static_cast<int64_t>(got);
    if (first) {
      chunk.clear_info();
      first = false;
    }
    if (got < want) break;
  }
  return Status::Ok();
}

grpc::Status PeerServiceImpl::Upload(grpc::ServerContext* context,
                                     grpc::ServerReader<v1::UploadMessage>* reader,
                                     v1::UploadReply* reply) {
  auto caller = Authorize(context);
  if (!caller.ok()) return Done("Upload", caller.status());
  ActiveTransfer active(&active_transfers_);
  StallWatch::Ticket ticket(&stalls_, context);
  auto stored = DoUpload(context, reader, ticket);
  if (!stored.ok()) {
    Status s = stored.status();
    if (ticket.stalled()) {
      s = Status(Code::kDeadlineExceeded, "the upload made no progress for " +
                                              std::to_string(options_.stall_timeout.count()) + " ms");
    }
    spdlog::info("upload by {} refused: {}", caller->account, s.message());
    return Done("Upload", s);
  }
  spdlog::info("{} uploaded '{}' ({} bytes)", caller->account, stored->name, stored->size);
  ToProto(*stored, reply->mutable_file());
  return grpc::Status::OK;
}

std::string CallerAddress(const grpc::ServerContext& context) {
  std::string peer = context.peer();
  for (const char* bracket : {"%5B", "%5D", "[", "]"}) {
    for (size_t at; (at = peer.find(bracket)) != std::string::npos;) peer.erase(at, std::strlen(bracket));
  }
  if (peer.starts_with("ipv4:") || peer.starts_with("ipv6:")) {
    peer = peer.substr(5);
    return peer.substr(0, peer.rfind(':'));  // without the port
  }
  return "";
}

namespace {

// The upload's header: name, size and (unless it comes last) hash, checked.
Result<FileEntry> ReadUploadHeader(grpc::ServerReader<v1::UploadMessage>* reader) {
  v1::UploadMessage msg;
  if (!reader->Read(&msg) || msg.msg_case() != v1::UploadMessage::kHeader) {
    return InvalidArgument("the first message of an upload must be its header");
  }
  FileEntry want{msg.header().name(), msg.header().size(), msg.header().sha256(), ""};
  RETURN_IF_ERROR(SharedFolder::CheckSharedName(want.name));
  if (std::count(want.name.begin(), want.name.end(), '/') >= kMaxUploadDepth) {
    return InvalidArgument("an uploaded name may have at most " + std::to_string(kMaxUploadDepth) +
                           " parts (folders and the file)");
  }
  if (want.size < 0 || want.size > kMaxUploadBytes) {
    return InvalidArgument("size must be from 0 to " + std::to_string(kMaxUploadBytes) + " bytes (1 PiB)");
  }
  if (!want.sha256.empty() && !IsSha256Hex(want.sha256)) {
    return InvalidArgument("sha256 must be 64 lowercase hex digits (or empty, and sent last)");
  }
  return want;
}

Status WriteAll(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ENOSPC || errno == EDQUOT)) return ResourceExhausted("the disk is full");
    if (n < 0) return Internal(std::string("writing the upload failed: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// A temp file removed when it goes out of scope, unless kept.
struct RemoveUnlessKept {
  const SharedFolder* folder;
  std::string name;
  bool keep = false;
  ~RemoveUnlessKept() {
    if (!keep) folder->RemoveTemp(name);
  }
};

}  // namespace

Result<FileEntry> PeerServiceImpl::DoUpload(grpc::ServerContext* context,
                                            grpc::ServerReader<v1::UploadMessage>* reader,
                                            StallWatch::Ticket& ticket) {
  ASSIGN_OR_RETURN(FileEntry want, ReadUploadHeader(reader));
  const bool hash_last = want.sha256.empty();
  // The same name with the same content is a repeat: answered with what is
  // here. When the hash comes last, a same-sized file can only be compared
  // once the bytes are in.
  std::optional<FileEntry> existing = catalog_->Find(want.name);
  if (existing) {
    if (existing->size != want.size || (!hash_last && existing->sha256 != want.sha256)) {
      return AlreadyExists("'" + want.name + "' exists here with other content");
    }
    if (!hash_last) return *existing;
  } else if (folder_->OpenForRead(want.name).ok()) {
    return AlreadyExists("'" + want.name + "' exists here");
  }
  // Every upload takes room while its bytes come in, even one that turns
  // out to repeat a file here: the temp file fills the disk all the same.
  ASSIGN_OR_RETURN(UploadRoom::Reservation reservation,
                   room_.Reserve(want.size, catalog_->TotalBytes(), options_.max_storage_bytes,
                                 folder_->FilesystemFreeBytes()));  // before a byte
  ticket.Moved();

  ASSIGN_OR_RETURN(TempFile temp, folder_->CreateTemp());
  RemoveUnlessKept cleanup{folder_, temp.name};
  ASSIGN_OR_RETURN(FileHashes got, ReceiveUpload(context, reader, temp.fd.get(), &want, ticket));
  reservation.Wrote(want.size);
  if (got.sha256 != want.sha256) {
    return Status(Code::kDataLoss, "the bytes received hash to " + got.sha256 + ", not " + want.sha256);
  }
  if (existing) {
    if (existing->sha256 == got.sha256) return *existing;
    return AlreadyExists("'" + want.name + "' exists here with other content");
  }
  want.root = HexEncode(got.root.data(), got.root.size());
  RETURN_IF_ERROR(Place(temp, want, got));
  cleanup.keep = true;
  if (on_upload_) on_upload_();
  return want;
}

Result<FileHashes> PeerServiceImpl::ReceiveUpload(grpc::ServerContext* context,
                                                   grpc::ServerReader<v1::UploadMessage>* reader,
                                                   int fd, FileEntry* want,
                                                   StallWatch::Ticket& ticket) {
  const bool hash_last = want->sha256.empty();
  v1::UploadMessage msg;
  HashTreeBuilder hash(want->size);
  int64_t received = 0;
  bool hash_received = false;
  while (reader->Read(&msg)) {
    ticket.Moved();
    if (hash_received) return InvalidArgument("nothing may follow the hash");
    if (hash_last && msg.msg_case() == v1::UploadMessage::kSha256) {
      if (!IsSha256Hex(msg.sha256())) return InvalidArgument("sha256 must be 64 lowercase hex digits");
      want->sha256 = msg.sha256();
      hash_received = true;
      continue;
    }
    if (msg.msg_case() != v1::UploadMessage::kData) {
      return InvalidArgument(hash_last ? "only data, then the hash, may follow the header"
                                       : "only data may follow the header");
    }
    const std::string& data = msg.data();
    if (received + static_cast<int64_t>(data.size()) > want->size) {
      return InvalidArgument("more bytes than the " + std::to_string(want->size) + " announced");
    }
    RETURN_IF_ERROR(WriteAll(fd, data));
    hash.Update(data.data(), data.size());
    received += static_cast<int64_t>(data.size());
    bytes_received_.fetch_add(static_cast<int64_t>(data.size()), std::memory_order_relaxed);
  }
  if (context->IsCancelled()) return Status(Code::kCancelled, "the sender went away");
  if (received != want->size) {
    return Status(Code::kDataLoss, "received " + std::to_string(received) + " of " +
                                       std::to_string(want->size) + " bytes");
  }
  if (hash_last && !hash_received) {
    return Status(Code::kDataLoss, "the upload ended without the hash of its bytes");
  }
  return hash.Finish();
}

Status PeerServiceImpl::Place(const TempFile& temp, const FileEntry& file, const FileHashes& hashes) {
  if (::fsync(temp.fd.get()) != 0) {
    if (errno == ENOSPC || errno == EDQUOT) return ResourceExhausted("the disk is full");
    return Internal(std::string("fsync failed: ") + std::strerror(errno));
  }
  struct stat st;
  ::fstat(temp.fd.get(), &st);
  RETURN_IF_ERROR(folder_->Commit(temp.name, file.name));
  catalog_->Adopt(file.name, file.size,
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, hashes);
  return Status::Ok();
}

}  // namespace p2pshare::pserver
