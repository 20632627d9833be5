// Fuzz target: the peer-server's request path — Download, Upload, Locate and
// ListFiles messages as a caller sends them — through gRPC in process (an
// in-process channel to the real PeerServiceImpl, its SharedFolder, Catalog
// and Locator) over a real folder with a subfolder, an empty file, a FIFO
// and a symlink out of the folder.
//
// Input: the first byte picks the RPC, the rest is its messages: one
// serialized request (Download, Locate), or for Upload a sequence of
// [1-byte length][serialized UploadMessage] frames. Oracle: every call
// ends with a status (none INTERNAL or UNKNOWN, none cut off by the
// deadline: nothing may block), nothing outside the folder is written, the
// secret beside it is never sent, and a file an Upload reports placed is
// there with the size and SHA-256 the reply names.
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "common/sha256.h"
#include "p2pshare.grpc.pb.h"
#include "pserver/catalog.h"
#include "pserver/locator.h"
#include "pserver/peer_service.h"
#include "pserver/shared_folder.h"

namespace {

using namespace p2pshare;
using namespace p2pshare::pserver;
namespace fs = std::filesystem;

const char kSecret[] = "a secret outside the shared folder";

[[noreturn]] void Bug(const std::string& what) {
  std::fprintf(stderr, "BUG: %s\n", what.c_str());
  std::abort();
}

void Write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

class Harness {
 public:
  Harness() {
    spdlog::set_level(spdlog::level::off);
    // Fuzzed strings that are not UTF-8 make protobuf log a line each.
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    char tmpl[] = "/tmp/p2pshare-fuzz-peer-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
    root_ = dir_ / "share";
    Write(root_ / "music/song.ogg", std::string(300000, 's'));
    Write(root_ / "notes.txt", "notes\n");
    Write(root_ / "empty.bin", "");
    Write(dir_ / "secret.txt", kSecret);
    fs::create_symlink("../secret.txt", root_ / "escape.txt");
    if (::mkfifo((root_ / "pipe.bin").c_str(), 0644) != 0) std::abort();
    folder_ = std::move(SharedFolder::Open(root_.string())).value();
    catalog_ = std::make_unique<Catalog>(folder_.get());
    if (!catalog_->Refresh().ok()) std::abort();
    PeerServiceOptions options{"alice", 8 << 20};
    options.identify = [](const grpc::ServerContext&) -> Result<std::string> { return std::string("fuzzer"); };
    options.locate_per_second = 0;  // the fuzzer asks as fast as it can
    options.max_calls_per_peer = 96;
    service_ = std::make_unique<PeerServiceImpl>(folder_.get(), catalog_.get(), options, [] {});
    locator_ = std::make_unique<Locator>(nullptr, catalog_.get(), LocatorOptions{"alice"},
                                         [] { return std::vector<std::string>(); },
                                         [] { return HostPort{"127.0.0.1", 1}; });
    service_->set_locator(locator_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::PeerService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void Run(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
      case 0: Download(rest); break;
      case 1: Upload(rest); break;
      case 2: Locate(rest); break;
      default: List(); break;
    }
    if (fs::exists(dir_ / "escape.txt") || fs::exists(dir_ / "secret.txt.part")) Bug("wrote outside the folder");
    std::ifstream in(dir_ / "secret.txt");
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (secret != kSecret) Bug("the file outside the folder changed");
  }

 private:
  void Prepare(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  void Check(const grpc::Status& s, const char* rpc) {
    if (s.error_code() == grpc::StatusCode::INTERNAL || s.error_code() == grpc::StatusCode::UNKNOWN ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      Bug(std::string(rpc) + " ended with " + std::to_string(s.error_code()) + ": " + s.error_message());
    }
  }

  void Download(const std::string& bytes) {
    v1::DownloadRequest req;
    if (!req.ParseFromString(bytes)) return;
    grpc::ClientContext ctx;
    Prepare(&ctx);
    auto reader = stub_->Download(&ctx, req);
    v1::Chunk chunk;
    while (reader->Read(&chunk)) {
      if (chunk.data().find(kSecret) != std::string::npos) Bug("sent the secret outside the folder");
    }
    Check(reader->Finish(), "Download");
  }

  void Upload(const std::string& bytes) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::UploadReply reply;
    auto writer = stub_->Upload(&ctx, &reply);
    for (size_t at = 0; at < bytes.size();) {
      size_t len = static_cast<uint8_t>(bytes[at++]);
      v1::UploadMessage m;
      if (!m.ParseFromString(bytes.substr(at, len))) break;
      at += len;
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    Check(s, "Upload");
    if (s.ok()) {
      const v1::FileInfo& f = reply.file();
      fs::path placed = root_ / f.name();
      auto hash = Sha256File(placed.string());
      std::error_code ec;
      if (!hash.ok() || *hash != f.sha256() || static_cast<int64_t>(fs::file_size(placed, ec)) != f.size()) {
        Bug("upload of '" + f.name() + "' reported placed but is not there as reported");
      }
      Reset();
    }
  }

  // Back to the folder the harness made: uploads removed, catalog reread.
  void Reset() {
    static const std::set<std::string> kKeep = {"music", "notes.txt", "empty.bin", "escape.txt",
                                                "pipe.bin", kInternalDir};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_, ec)) {
      if (kKeep.count(e.path().filename().string()) == 0) fs::remove_all(e.path(), ec);
    }
    if (!catalog_->Refresh().ok()) Bug("the catalog cannot be reread");
  }

  void Locate(const std::string& bytes) {
    v1::LocateRequest req;
    if (!req.ParseFromString(bytes)) return;
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::LocateReply reply;
    Check(stub_->Locate(&ctx, req, &reply), "Locate");
  }

  void List() {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListFilesReply reply;
    Check(stub_->ListFiles(&ctx, v1::ListFilesRequest(), &reply), "ListFiles");
  }

  fs::path dir_, root_;
  std::unique_ptr<SharedFolder> folder_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<PeerServiceImpl> service_;
  std::unique_ptr<Locator> locator_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::PeerService::Stub> stub_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = new Harness();
  harness->Run(data, size);
  return 0;
}
