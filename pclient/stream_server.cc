#include "pclient/stream_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <thread>

#include "common/http_server.h"
#include "common/names.h"
#include "common/part_record.h"
#include "common/unique_fd.h"
#include "pclient/share_link.h"

namespace p2pshare::pclient {
namespace {

// At most this much goes out per provider call (memory stays bounded).
constexpr size_t kStreamChunkBytes = 256 << 10;
// How often a read waiting for bytes looks again.
constexpr auto kWaitStep = std::chrono::milliseconds(100);

std::string ContentType(const std::string& name) {
  const std::string ext = name.substr(name.find_last_of('.') + 1);
  if (ext == "mp4" || ext == "m4v") return "video/mp4";
  if (ext == "mkv") return "video/x-matroska";
  if (ext == "webm") return "video/webm";
  if (ext == "mp3") return "audio/mpeg";
  if (ext == "ogg" || ext == "oga") return "audio/ogg";
  if (ext == "flac") return "audio/flac";
  if (ext == "wav") return "audio/wav";
  if (ext == "pdf") return "application/pdf";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// The last part of a name, for the URL's path.
std::string UrlPath(const std::string& name) { return "/" + PercentEncode(name.substr(name.find_last_of('/') + 1)); }

}  // namespace

StreamServer::StreamServer(FileResult file, std::string final_path, Digest root, std::function<bool()> ended)
    : file_(std::move(file)), final_path_(std::move(final_path)), root_(root), ended_(std::move(ended)) {}

StreamServer::~StreamServer() { Stop(); }

int64_t StreamServer::Verified(int64_t offset, UniqueFd* fd) {
  // In place: whole and verified.
  UniqueFd whole(::open(final_path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (whole.valid()) {
    *fd = std::move(whole);
    return file_.size - offset;
  }
  const std::string part_path = final_path_ + kPartSuffix;
  UniqueFd part(::open(part_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!part.valid()) return 0;
  const int64_t pieces = PieceCount(file_.size), piece_bytes = PieceBytes(file_.size);
  std::optional<PartRecord> record = ReadPartRecord(part.get(), file_.size, root_, pieces);
  if (!record) return 0;
  int64_t run = 0;
  for (int64_t i = offset / piece_bytes; i < pieces && record->Has(i); ++i) {
    run = std::min(file_.size, (i + 1) * piece_bytes) - offset;
  }
  if (run > 0) *fd = std::move(part);
  return run;
}

Result<std::string> StreamServer::Start() {
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  RefuseSharedPort(*server_);
  const std::string path = UrlPath(file_.name);
  server_->Get(path, [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Accept-Ranges", "bytes");
    res.set_content_provider(
        static_cast<size_t>(file_.size), ContentType(file_.name),
        [this](size_t offset, size_t length, httplib::DataSink& sink) {
          reader_at_ = static_cast<int64_t>(offset);
          // Wait for verified bytes at `offset`; the reader's place steers
          // the download meanwhile.
          for (;;) {
            UniqueFd fd;
            const int64_t ready = Verified(static_cast<int64_t>(offset), &fd);
            if (ready > 0 && fd.valid()) {
              std::string buf(std::min<size_t>({length, kStreamChunkBytes, static_cast<size_t>(ready)}), '\0');
              const ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(offset));
              if (n <= 0) return false;
              return sink.write(buf.data(), static_cast<size_t>(n));
            }
            if (stopping_ || (ended_ && ended_()) || !sink.is_writable()) return false;
            std::this_thread::sleep_for(kWaitStep);
          }
        });
  });
  const int port = server_->bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    server_.reset();
    return Unavailable("cannot listen on 127.0.0.1 for the stream");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

void StreamServer::Stop() {
  stopping_ = true;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace p2pshare::pclient
