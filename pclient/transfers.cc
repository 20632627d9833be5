#include "pclient/transfers.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "common/grpc_status.h"
#include "common/names.h"
#include "common/part_record.h"
#include "common/peer_channel.h"
#include "common/proto_convert.h"
#include "common/sha256.h"
#include "common/transfer_tuning.h"
#include "common/unique_fd.h"
#include "p2pshare.grpc.pb.h"
#include "pclient/format.h"
#include "pclient/in_order.h"
#include "pclient/peer_words.h"
#include "pclient/swarm.h"
#include "pclient/transfer_io.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Whether the download's folder can take the file: writable, and with
// room for what is not on disk yet (a .part from before counts), so a full
// disk is found out before the first byte, not at the end.
Status CheckRoomFor(const DownloadRequest& req) {
  const fs::path final_path = fs::path(req.dest_dir) / req.file.name;
  const fs::path dir = final_path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::access(dir.c_str(), W_OK) != 0) {
    const std::string why = ec ? ec.message() : std::strerror(errno);
    return PermissionDenied("cannot write in " + dir.string() + " (" + why + "); choose another folder with --to",
                            "not_writable");
  }
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return Status::Ok();  // cannot tell: the writes will say
  struct stat part {};
  int64_t here = 0;
  if (::stat((final_path.string() + kPartSuffix).c_str(), &part) == 0) here = static_cast<int64_t>(part.st_blocks) * 512;
  const int64_t needed = req.file.size + 2 * static_cast<int64_t>(kPartSlotBytes) - here;
  const auto free_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  if (needed > free_bytes) {
    return ResourceExhausted(req.file.name + " needs " + HumanSize(needed) + ", only " + HumanSize(free_bytes) +
                                 " free in " + dir.string() + "; make room or choose another folder with --to",
                             "disk_full");
  }
  return Status::Ok();
}

}  // namespace

Strategy ChooseStrategy(const DownloadRequest& req, bool file_at_path) {
  if (req.verify_only || req.file.size == 0 || file_at_path) return Strategy::kInOrder;
  for (const Holder& h : req.file.holders) {
    if (!h.root.empty() && !h.partial && h.username != req.own_username) return Strategy::kPieces;
  }
  return Strategy::kInOrder;
}

Result<DownloadResult> DownloadFile(const DownloadRequest& req, const ProgressFn& progress,
                                    const NoteFn& note) {
  Status name_ok = CheckSharedName(req.file.name);
  if (!name_ok.ok()) return InvalidArgument("refusing to save '" + req.file.name + "': " + name_ok.message());
  if (!IsSha256Hex(req.file.sha256) || req.file.size < 0) return InvalidArgument("bad file description from central");
  std::error_code ec;
  const bool file_at_path = !req.verify_only && fs::exists(fs::path(req.dest_dir) / req.file.name, ec);
  if (!req.verify_only && !file_at_path) RETURN_IF_ERROR(CheckRoomFor(req));
  if (ChooseStrategy(req, file_at_path) == Strategy::kPieces) {
    std::string why_not;
    if (std::optional<Result<DownloadResult>> swarm = SwarmDownload(req, progress, note, &why_not)) {
      return std::move(*swarm);
    }
    // No holder gave a piece layer that hashes to its root. Verified pieces
    // here are kept for when one does (the in-order strategy would have to
    // start over); without any, the whole file from one holder at a time,
    // checked by its SHA-256 alone.
    const std::string part = (fs::path(req.dest_dir) / req.file.name).string() + kPartSuffix;
    if (int64_t kept = VerifiedInPart(part, req.file.size); kept > 0) {
      return IncompleteStatus(req.file.name, kept, req.file.size, why_not);
    }
  }
  return InOrderDownload(req, progress, note);
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
      data->resize(std::min<int64_t>(kTransferChunkBytes, size - pos));
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
      if (progress) progress({pos, size, {}, ""});
    }
    if (sent && local_error.ok()) {
      msg.set_sha256(hash.FinishHex());
      writer->Write(msg);
    }
    writer->WritesDone();
  }
  grpc::Status s = writer->Finish();
  if (!local_error.ok()) return local_error;
  if (!s.ok()) {
    if (PeerAway(s)) return PeerCallStatus(target.username, s, "upload of " + name);
    return FromGrpcStatus(s).WithContext(target.username + " refused the upload");
  }
  return UploadResult{FromProto(reply.file()),
                      std::chrono::duration<double>(Clock::now() - start).count()};
}

}  // namespace p2pshare::pclient
