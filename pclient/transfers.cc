#include "pclient/transfers.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/bounded_queue.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/peer_channel.h"
#include "common/proto_convert.h"
#include "common/sha256.h"
#include "common/transfer_tuning.h"
#include "common/unique_fd.h"
#include "pclient/format.h"
#include "pclient/swarm.h"
#include "pclient/transfer_io.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = kTransferChunkBytes;
// Chunks received but not yet written and hashed, at most.
constexpr size_t kPipelineChunks = 4;
// Bytes written between two starts of their write-back to disk.
constexpr int64_t kWritebackBytes = 8 << 20;

// Hashes the first `n` bytes of `fd` into `hash`.
Status HashPrefix(int fd, int64_t n, Sha256* hash) {
  std::vector<char> buf(kChunk);
  for (int64_t pos = 0; pos < n;) {
    ssize_t r = ::pread(fd, buf.data(), std::min<int64_t>(buf.size(), n - pos), pos);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Internal("cannot read the partial download");
    hash->Update(buf.data(), static_cast<size_t>(r));
    pos += r;
  }
  return Status::Ok();
}

}  // namespace

namespace {

// One download: the .part file, the bytes and hash so far, and the holders
// tried. Prepare, then FetchFrom each holder until Complete, then Finish.
class Download {
 public:
  Download(const DownloadRequest& req, const ProgressFn& progress, const NoteFn& note)
      : req_(req), f_(req.file), progress_(progress), note_(note), start_(Clock::now()) {}

  // Checks the description, finds what is already on disk and opens the
  // .part. True when the file is already there (nothing to fetch).
  Result<bool> Prepare();
  // Streams from `holder` from the byte reached, until the end or a failure.
  // Errors only for a local write failure, and Cancelled when the request's
  // stop_requested says so (the .part kept); a holder's failure is noted.
  Status FetchFrom(const Holder& holder);
  bool complete() const { return complete_; }
  // Verifies the hash and renames the .part into place.
  Result<DownloadResult> Finish();
  // Why no holder could finish.
  Status Incomplete() const;
  DownloadResult& result() { return out_; }

 private:
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  const DownloadRequest& req_;
  const FileResult& f_;
  const ProgressFn& progress_;
  const NoteFn& note_;
  const Clock::time_point start_;
  DownloadResult out_;
  std::string part_path_;
  UniqueFd part_;
  int64_t pos_ = 0;
  int64_t written_back_ = 0;  // the disk write of bytes before this was started
  Sha256 hash_;
  bool complete_ = false;
  std::string failures_;
};

Result<bool> Download::Prepare() {
  Status name_ok = CheckSharedName(f_.name);
  if (!name_ok.ok()) return InvalidArgument("refusing to save '" + f_.name + "': " + name_ok.message());
  if (!IsSha256Hex(f_.sha256) || f_.size < 0) return InvalidArgument("bad file description from central");
  if (!req_.verify_only) {
    fs::path final_path = fs::path(req_.dest_dir) / f_.name;
    part_path_ = final_path.string() + kPartSuffix;
    out_.path = final_path.string();
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) return Internal("cannot create " + final_path.parent_path().string() + ": " + ec.message());
    if (fs::exists(final_path, ec)) {
      ASSIGN_OR_RETURN(std::string have, Sha256File(out_.path));
      if (have != f_.sha256) {
        return AlreadyExists("a different file is already at " + out_.path + "; move it away first");
      }
      out_.already_there = true;
      return true;
    }
    part_ = UniqueFd(::open(part_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!part_.valid()) return Internal("cannot open " + part_path_ + ": " + std::strerror(errno));
    struct stat st;
    ::fstat(part_.get(), &st);
    pos_ = st.st_size;
    if (pos_ > f_.size) {  // longer than the file: not a prefix of it
      (void)!::ftruncate(part_.get(), 0);
      pos_ = 0;
    }
  }
  if (pos_ > 0) RETURN_IF_ERROR(HashPrefix(part_.get(), pos_, &hash_));
  out_.resumed_at = pos_;
  if (pos_ > 0 && note_) note_("resuming " + f_.name + ": " + HumanSize(pos_) + " of " + HumanSize(f_.size) + " are here already");
  if (progress_) progress_({pos_, f_.size, {}});
  // Complete when every byte is here: from an earlier .part, or received
  // from a holder that serves this very version (an empty file needs one).
  complete_ = pos_ == f_.size && f_.size > 0;
  return false;
}

Status Download::FetchFrom(const Holder& holder) {
  auto stub = PeerStub(holder.host, holder.port, holder.username);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineFor(f_.size - pos_, req_.limit_rate));
  v1::DownloadRequest dl;
  dl.set_sha256(f_.sha256);
  dl.set_offset(pos_);
  auto reader = stub->Download(&ctx, dl);
  CallWatch watch(&ctx);  // a holder that sends nothing is cut off: the next one's turn
  bool first = true, wrong_version = false, left_early = true;
  auto since = Clock::now();
  int64_t session_bytes = 0;
  Status write_error;
  // Two threads: this one receives (gRPC decrypts in the thread that
  // reads), the sink writes and hashes. One after the other, each waited
  // for the other and the holder for both; a few chunks between them keep
  // both busy with memory still bounded.
  struct Piece {
    int64_t offset;
    std::string data;
  };
  BoundedQueue<Piece> pieces(kPipelineChunks);
  std::thread sink([&] {
    while (auto piece = pieces.Pop()) {
      const int64_t n = static_cast<int64_t>(piece->data.size());
      if (!req_.verify_only) write_error = WriteAll(part_.get(), piece->data.data(), n, piece->offset);
      if (!write_error.ok()) {
        pieces.Close();
        return;
      }
      hash_.Update(piece->data);
      pos_ += n;
      if (!req_.verify_only && pos_ - written_back_ >= kWritebackBytes) {
        // Start the disk write of what is in now, without waiting for it:
        // the fsync before the rename then has only the tail left to wait
        // for (it waited for the whole file: ~1 s per GiB on this disk).
        ::sync_file_range(part_.get(), written_back_, pos_ - written_back_, SYNC_FILE_RANGE_WRITE);
        written_back_ = pos_;
      }
      session_bytes += n;
      if (progress_) progress_({pos_, f_.size, {}});
      if (req_.limit_rate > 0) {  // hold the average rate at the limit
        auto due = since + std::chrono::duration<double>(static_cast<double>(session_bytes) /
                                                         static_cast<double>(req_.limit_rate));
        std::this_thread::sleep_until(due);
      }
    }
  });
  int64_t received = pos_;
  v1::Chunk chunk;
  bool stopped = false;
  for (;;) {
    if (req_.stop_requested && req_.stop_requested()) {  // Ctrl-C, cancel: keep what is here
      stopped = true;
      break;
    }
    if (!reader->Read(&chunk)) {
      left_early = false;  // the holder ended the stream
      break;
    }
    if (first) {
      first = false;
      wrong_version = chunk.info().sha256() != f_.sha256 || chunk.info().size() != f_.size;
    }
    const int64_t n = static_cast<int64_t>(chunk.data().size());
    if (wrong_version || chunk.offset() != received || received + n > f_.size) break;
    received += n;
    if (!pieces.Push(Piece{chunk.offset(), std::move(*chunk.mutable_data())})) break;  // sink failed
    watch.Progress();  // the holder's turn again from here (not counting our own waits)
  }
  pieces.Close();
  sink.join();
  if (left_early) ctx.TryCancel();
  grpc::Status s = reader->Finish();
  RETURN_IF_ERROR(write_error);
  if (session_bytes > 0) out_.from.push_back(holder.username);
  out_.fetched += session_bytes;
  complete_ = pos_ == f_.size && !wrong_version && !first && (s.ok() || session_bytes > 0);
  if (stopped && !complete_) {
    if (req_.verify_only) return Status(Code::kCancelled, "stopped; nothing was saved (--verify-only)");
    return Status(Code::kCancelled, "stopped; " + HumanSize(pos_) + " of " + HumanSize(f_.size) +
                                        " are kept: 'download " + f_.sha256 + "' resumes it");
  }
  if (complete_) {
    if (session_bytes == 0) out_.from.push_back(holder.username);  // an empty file
    return Status::Ok();
  }
  std::string why = wrong_version ? "holds another version of the file"
                    : !watch.why().empty() ? watch.why()
                                           : (s.ok() ? "ended the stream early" : s.error_message());
  failures_ += (failures_.empty() ? "" : "; ") + holder.username + ": " + why;
  if (note_) {
    note_("holder " + holder.username + " failed (" + why + ") at byte " + std::to_string(pos_) +
          "; trying the next");
  }
  return Status::Ok();
}

Status Download::Incomplete() const {
  if (failures_.empty()) {
    return Unavailable("no other peer holds " + f_.name + " right now", "no_holder");
  }
  return Unavailable("could not complete " + f_.name + " (" + std::to_string(pos_) + " of " +
                         std::to_string(f_.size) + " bytes; " + failures_ +
                         "); run download again to resume",
                     "no_holder");
}

Result<DownloadResult> Download::Finish() {
  std::string got = hash_.FinishHex();
  if (got != f_.sha256) {
    if (!req_.verify_only) ::unlink(part_path_.c_str());
    return Status(Code::kDataLoss,
                  "the bytes received hash to " + got.substr(0, 12) + ", not " + f_.sha256.substr(0, 12) +
                      " (a holder's file changed after it was indexed); nothing was saved");
  }
  if (req_.verify_only) {
    out_.seconds = Seconds();
    return out_;
  }
  RETURN_IF_ERROR(PlaceDownload(part_.get(), part_path_, out_.path));
  out_.seconds = Seconds();  // received, verified, on disk and in place
  return out_;
}

}  // namespace

Result<DownloadResult> DownloadFile(const DownloadRequest& req, const ProgressFn& progress,
                                    const NoteFn& note) {
  // From every holder at once, piece by piece, when they report a hash
  // tree; else (older holders, --verify-only, an empty file, a file already
  // at the path) one holder at a time, in order.
  auto swarm = SwarmDownload(req, progress, note);
  if (swarm.ok() || swarm.status().code() != Code::kUnimplemented) return swarm;
  Download download(req, progress, note);
  ASSIGN_OR_RETURN(bool already_there, download.Prepare());
  if (already_there) return download.result();
  // In random order, never by name: holders that serve nothing cannot all
  // come first (and each that stays silent is cut off: CallWatch).
  std::vector<Holder> holders = req.file.holders;
  std::shuffle(holders.begin(), holders.end(), std::mt19937(std::random_device{}()));
  for (const Holder& holder : holders) {
    if (download.complete()) break;
    if (holder.username == req.own_username || holder.partial) continue;  // a partial holder serves pieces only
    if (holder.size >= 0 && holder.size != req.file.size) continue;  // claims another size: another version
    RETURN_IF_ERROR(download.FetchFrom(holder));
  }
  if (!download.complete()) return download.Incomplete();
  return download.Finish();
}

Result<UploadResult> UploadFile(const std::string& path, const std::string& name,
                                const Holder& target, const ProgressFn& progress,
                                const std::function<bool()>& stop_requested) {
  auto start = Clock::now();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return NotFound("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument(path + " is not a regular file");
  }
  const int64_t size = st.st_size;
  auto stub = PeerStub(target.host, target.port, target.username);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineFor(size, 0));
  v1::UploadReply reply;
  auto writer = stub->Upload(&ctx, &reply);
  v1::UploadMessage msg;
  msg.mutable_header()->set_name(name);
  msg.mutable_header()->set_size(size);  // no hash: it is computed as the bytes go, and sent last
  Status local_error;
  Sha256 hash;
  if (writer->Write(msg)) {
    int64_t pos = 0;
    bool sent = true;
    while (pos < size) {
      if (stop_requested && stop_requested()) {
        local_error = Status(Code::kCancelled, "upload of " + name + " stopped; " + target.username +
                                                   " keeps nothing of it");
        ctx.TryCancel();
        break;
      }
      std::string* data = msg.mutable_data();
      data->resize(std::min<int64_t>(kChunk, size - pos));
      ssize_t r = ::pread(fd.get(), data->data(), data->size(), pos);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        local_error = Internal(path + " changed while it was sent");
        ctx.TryCancel();
        break;
      }
      data->resize(static_cast<size_t>(r));
      hash.Update(*data);
      if (!writer->Write(msg)) {  // the receiver ended the call: Finish says why
        sent = false;
        break;
      }
      pos += r;
      if (progress) progress({pos, size, {}});
    }
    if (sent && local_error.ok()) {
      msg.set_sha256(hash.FinishHex());
      writer->Write(msg);
    }
    writer->WritesDone();
  }
  grpc::Status s = writer->Finish();
  if (!local_error.ok()) return local_error;
  if (!s.ok()) return FromGrpcStatus(s).WithContext(target.username + " refused the upload");
  return UploadResult{FromProto(reply.file()),
                      std::chrono::duration<double>(Clock::now() - start).count()};
}

}  // namespace p2pshare::pclient
