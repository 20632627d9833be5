#include "pclient/transfers.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/grpc_status.h"
#include "common/names.h"
#include "common/peer_channel.h"
#include "common/proto_convert.h"
#include "common/sha256.h"
#include "common/transfer_tuning.h"
#include "common/unique_fd.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = kTransferChunkBytes;

// A deadline that grows with the bytes still to move (at >= 256 KiB/s).
std::chrono::system_clock::time_point DeadlineFor(int64_t bytes, int64_t limit_rate) {
  int64_t rate = limit_rate > 0 ? std::min<int64_t>(limit_rate, 256 << 10) : 256 << 10;
  return std::chrono::system_clock::now() + std::chrono::seconds(60 + bytes / rate);
}

Status WriteAll(int fd, const char* data, size_t n, int64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      if (errno == ENOSPC) return ResourceExhausted("the disk is full");
      return Internal(std::string("writing failed: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
    offset += w;
  }
  return Status::Ok();
}

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

Result<DownloadResult> DownloadFile(const DownloadRequest& req, const ProgressFn& progress,
                                    const NoteFn& note) {
  const FileResult& f = req.file;
  Status name_ok = CheckFileName(f.name);
  if (!name_ok.ok()) return InvalidArgument("refusing to save '" + f.name + "': " + name_ok.message());
  if (!IsSha256Hex(f.sha256) || f.size < 0) return InvalidArgument("bad file description from central");
  auto start = Clock::now();
  DownloadResult out;
  fs::path final_path = fs::path(req.dest_dir) / f.name;
  std::string part_path = final_path.string() + kPartSuffix;
  UniqueFd part;
  int64_t pos = 0;
  if (!req.verify_only) {
    out.path = final_path.string();
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) return Internal("cannot create " + final_path.parent_path().string() + ": " + ec.message());

    if (fs::exists(final_path, ec)) {
      ASSIGN_OR_RETURN(std::string have, Sha256File(out.path));
      if (have == f.sha256) {
        out.already_there = true;
        return out;
      }
      return AlreadyExists("a different file is already at " + out.path + "; move it away first");
    }

    part = UniqueFd(::open(part_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!part.valid()) return Internal("cannot open " + part_path + ": " + std::strerror(errno));
    struct stat st;
    ::fstat(part.get(), &st);
    pos = st.st_size;
    if (pos > f.size) {  // longer than the file: not a prefix of it
      (void)!::ftruncate(part.get(), 0);
      pos = 0;
    }
  }
  Sha256 hash;
  if (pos > 0) RETURN_IF_ERROR(HashPrefix(part.get(), pos, &hash));
  out.resumed_at = pos;
  if (pos > 0 && note) note("resuming " + f.name + " at byte " + std::to_string(pos));
  if (progress) progress(pos, f.size);

  std::string failures;
  v1::Chunk chunk;
  // Complete when every byte is here: from an earlier .part, or received
  // from a holder that serves this very version (an empty file needs one).
  bool complete = pos == f.size && f.size > 0;
  for (const Holder& holder : req.file.holders) {
    if (complete) break;
    if (holder.username == req.own_username) continue;
    auto stub = PeerStub(holder.host, holder.port);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineFor(f.size - pos, req.limit_rate));
    ctx.AddMetadata("authorization", "Bearer " + req.token);
    v1::DownloadRequest dl;
    dl.set_sha256(f.sha256);
    dl.set_offset(pos);
    auto reader = stub->Download(&ctx, dl);
    bool first = true, wrong_version = false;
    auto since = Clock::now();
    int64_t session_bytes = 0;
    Status write_error;
    while (reader->Read(&chunk)) {
      if (first) {
        first = false;
        if (chunk.info().sha256() != f.sha256 || chunk.info().size() != f.size) {
          wrong_version = true;
          ctx.TryCancel();
          break;
        }
      }
      if (chunk.offset() != pos) {
        ctx.TryCancel();
        break;
      }
      const int64_t n = static_cast<int64_t>(chunk.data().size());
      if (pos + n > f.size) {
        ctx.TryCancel();
        break;
      }
      if (!req.verify_only) write_error = WriteAll(part.get(), chunk.data().data(), n, pos);
      if (!write_error.ok()) {
        ctx.TryCancel();
        break;
      }
      hash.Update(chunk.data());
      pos += n;
      session_bytes += n;
      if (progress) progress(pos, f.size);
      if (req.limit_rate > 0) {  // hold the average rate at the limit
        auto due = since + std::chrono::duration<double>(static_cast<double>(session_bytes) /
                                                         static_cast<double>(req.limit_rate));
        std::this_thread::sleep_until(due);
      }
    }
    grpc::Status s = reader->Finish();
    if (!write_error.ok()) return write_error;
    if (session_bytes > 0) out.from.push_back(holder.username);
    out.fetched += session_bytes;
    complete = pos == f.size && !wrong_version && !first && (s.ok() || session_bytes > 0);
    if (complete) {
      if (session_bytes == 0) out.from.push_back(holder.username);  // an empty file
      break;
    }
    std::string why = wrong_version ? "holds another version of the file"
                                    : (s.ok() ? "ended the stream early" : s.error_message());
    failures += (failures.empty() ? "" : "; ") + holder.username + ": " + why;
    if (note) {
      note("holder " + holder.username + " failed (" + why + ") at byte " + std::to_string(pos) +
           "; trying the next");
    }
  }
  if (!complete) {
    if (failures.empty()) {
      return Unavailable("no other peer holds " + f.name + " right now", "no_holder");
    }
    return Unavailable("could not complete " + f.name + " (" + std::to_string(pos) + " of " +
                           std::to_string(f.size) + " bytes; " + failures +
                           "); run download again to resume",
                       "no_holder");
  }
  std::string got = hash.FinishHex();
  if (got != f.sha256) {
    if (!req.verify_only) ::unlink(part_path.c_str());
    return Status(Code::kDataLoss,
                  "the bytes received hash to " + got.substr(0, 12) + ", not " + f.sha256.substr(0, 12) +
                      " (a holder's file changed after it was indexed); nothing was saved");
  }
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  if (req.verify_only) {
    out.seconds = seconds();
    return out;
  }
  if (::fsync(part.get()) != 0) return Internal(std::string("fsync failed: ") + std::strerror(errno));
  if (::renameat2(AT_FDCWD, part_path.c_str(), AT_FDCWD, out.path.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return AlreadyExists("a file appeared at " + out.path + " meanwhile; the download stays in " +
                           part_path);
    }
    return Internal("cannot rename " + part_path + ": " + std::strerror(errno));
  }
  out.seconds = seconds();  // received, verified, on disk and in place
  return out;
}

Result<UploadResult> UploadFile(const std::string& path, const std::string& name,
                                const Holder& target, const std::string& token,
                                const ProgressFn& progress) {
  auto start = Clock::now();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return NotFound("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgument(path + " is not a regular file");
  }
  const int64_t size = st.st_size;
  auto stub = PeerStub(target.host, target.port);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineFor(size, 0));
  ctx.AddMetadata("authorization", "Bearer " + token);
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
      if (progress) progress(pos, size);
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
