#include "pclient/in_order.h"

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

#include "common/names.h"
#include "common/part_record.h"
#include "common/sha256.h"
#include "common/transfer_tuning.h"
#include "common/unique_fd.h"
#include "pclient/format.h"
#include "pclient/peer_words.h"
#include "pclient/range_receiver.h"
#include "pclient/transfer_io.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Chunks received but not yet written and hashed, at most.
constexpr size_t kPipelineChunks = 4;

// Hashes the first `n` bytes of `fd` into `hash`.
Status HashPrefix(int fd, int64_t n, Sha256* hash) {
  std::vector<char> buf(kTransferChunkBytes);
  for (int64_t pos = 0; pos < n;) {
    ssize_t r = ::pread(fd, buf.data(), std::min<int64_t>(buf.size(), n - pos), pos);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Internal("cannot read the partial download");
    hash->Update(buf.data(), static_cast<size_t>(r));
    pos += r;
  }
  return Status::Ok();
}

// One download: the .part file, the bytes and hash so far, and the holders
// tried. Prepare, then FetchFrom each holder until complete, then Finish.
// The sink of each holder's range: writes (unless --verify-only) and
// hashes in order.
class InOrder : public RangeSink {
 public:
  InOrder(const DownloadRequest& req, const ProgressFn& progress, const NoteFn& note)
      : req_(req), f_(req.file), progress_(progress), note_(note), start_(Clock::now()) {}

  // Checks the description, finds what is already on disk and opens the
  // .part. True when the file is already there (nothing to fetch).
  Result<bool> Prepare();
  // Receives from `holder` from the byte reached, until the end or a
  // failure. Errors only for a local write failure, and Cancelled when the
  // request's stop_requested says so (the .part kept); a holder's failure
  // is noted.
  Status FetchFrom(const Holder& holder);
  bool complete() const { return complete_; }
  // Verifies the hash and renames the .part into place.
  Result<DownloadResult> Finish();
  // Why no holder could finish.
  Status Incomplete() const { return IncompleteStatus(f_.name, pos_, f_.size, failures_); }
  DownloadResult& result() { return out_; }

  bool Take(int64_t offset, std::string_view data) override;

 private:
  const DownloadRequest& req_;
  const FileResult& f_;
  const ProgressFn& progress_;
  std::string holder_;  // being read from now
  const NoteFn& note_;
  const Clock::time_point start_;
  DownloadResult out_;
  std::string part_path_;
  UniqueFd part_;
  int64_t pos_ = 0;
  int64_t written_back_ = 0;  // the disk write of bytes before this was started
  Sha256 hash_;
  Status write_error_;
  bool complete_ = false;
  std::string failures_;
};

Result<bool> InOrder::Prepare() {
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
    if (pos_ > f_.size) {
      // A piece download's .part (its record past the last byte): never
      // cut here, the pieces it names are verified. DownloadFile comes
      // here with one only when it holds none of this size.
      if (VerifiedInPart(part_path_, f_.size) > 0) {
        return Unavailable("no holder can send " + f_.name + " piece by piece now; " +
                               KeptWords(VerifiedInPart(part_path_, f_.size), f_.size),
                           "no_holder");
      }
      if (note_) note_("the .part of " + f_.name + " held pieces of another version of it; starting over");
      (void)!::ftruncate(part_.get(), 0);
      pos_ = 0;
    }
  }
  if (pos_ > 0) RETURN_IF_ERROR(HashPrefix(part_.get(), pos_, &hash_));
  written_back_ = pos_;
  out_.resumed_at = pos_;
  if (pos_ > 0 && note_) note_("resuming " + f_.name + ": " + HumanSize(pos_) + " of " + HumanSize(f_.size) + " are here already");
  if (progress_) progress_({pos_, f_.size, {}, ""});
  // Complete when every byte is here: from an earlier .part, or received
  // from a holder that serves this very version (an empty file needs one).
  complete_ = pos_ == f_.size && f_.size > 0;
  return false;
}

bool InOrder::Take(int64_t offset, std::string_view data) {
  const auto n = static_cast<int64_t>(data.size());
  if (!req_.verify_only) write_error_ = WriteAll(part_.get(), data.data(), data.size(), offset);
  if (!write_error_.ok()) return false;
  hash_.Update(data);
  pos_ += n;
  if (!req_.verify_only && pos_ - written_back_ >= kWritebackBytes) {
    // Start the disk write of what is in now, without waiting for it: the
    // fsync before the rename then has only the tail left to wait for (it
    // waited for the whole file: ~1 s per GiB on this disk).
    ::sync_file_range(part_.get(), written_back_, pos_ - written_back_, SYNC_FILE_RANGE_WRITE);
    written_back_ = pos_;
  }
  if (progress_) progress_({pos_, f_.size, {}, holder_});
  return true;
}

Status InOrder::FetchFrom(const Holder& holder) {
  holder_ = holder.username;
  Pacer pacer(req_.limit_rate);
  RangeRequest range{holder, f_.sha256, f_.size, pos_, f_.size, req_.limit_rate, &pacer, kPipelineChunks,
                     req_.stop_requested, nullptr};
  const RangeOutcome got = ReceiveRange(range, *this);
  RETURN_IF_ERROR(write_error_);
  if (got.received > 0) out_.from.push_back(holder.username);
  out_.fetched += got.received;
  const grpc::Status& s = got.status;
  complete_ = pos_ == f_.size && got.answered && got.failure.empty() && (s.ok() || got.received > 0);
  if (got.stopped && !complete_) {
    if (req_.verify_only) return Status(Code::kCancelled, "stopped; nothing was saved (--verify-only)");
    return StoppedStatus(pos_, f_.size);
  }
  if (complete_) {
    if (got.received == 0) out_.from.push_back(holder.username);  // an empty file
    return Status::Ok();
  }
  const std::string why = !got.failure.empty() ? got.failure
                          : got.queue_place > 0 ? "is busy (all its upload slots are taken)"
                          : s.ok()              ? "stopped sending early"
                                                : PeerTrouble(holder.username, s);
  failures_ += (failures_.empty() ? "" : "; ") + holder.username + " " + why;
  if (note_) note_(holder.username + " " + why + " at " + HumanSize(pos_) + "; trying the next holder");
  return Status::Ok();
}

Result<DownloadResult> InOrder::Finish() {
  std::string got = hash_.FinishHex();
  if (got != f_.sha256) {
    if (!req_.verify_only) ::unlink(part_path_.c_str());
    return Status(Code::kDataLoss,
                  "the bytes received hash to " + got.substr(0, 12) + ", not " + f_.sha256.substr(0, 12) +
                      " (a holder's file changed after it was indexed); nothing was saved");
  }
  if (!req_.verify_only) RETURN_IF_ERROR(PlaceDownload(part_.get(), part_path_, out_.path));
  out_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();  // received, verified, in place
  return out_;
}

}  // namespace

Result<DownloadResult> InOrderDownload(const DownloadRequest& req, const ProgressFn& progress,
                                       const NoteFn& note) {
  InOrder download(req, progress, note);
  ASSIGN_OR_RETURN(bool already_there, download.Prepare());
  if (already_there) return download.result();
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

}  // namespace p2pshare::pclient
