// HostilePeer: a peer-server that is not one, for attack tests. It
// answers as an attacker would and writes down everything it is sent.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/peer_channel.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare::testing {

// A peer-server that is not one: it answers every call as an attacker
// would, after writing down every metadata item and request it was sent.
class HostilePeer final : public v1::PeerService::Service {
 public:
  grpc::Status Ping(grpc::ServerContext* ctx, const v1::PingRequest* req, v1::PingReply*) override {
    return Record(ctx, req->SerializeAsString());
  }
  grpc::Status ListFiles(grpc::ServerContext* ctx, const v1::ListFilesRequest* req,
                         v1::ListFilesReply* reply) override {
    grpc::Status failed = Record(ctx, req->SerializeAsString());
    if (!list_answer) return failed;
    *reply = *list_answer;
    return grpc::Status::OK;
  }
  grpc::Status PieceHashes(grpc::ServerContext* ctx, const v1::PieceHashesRequest* req,
                           v1::PieceHashesReply* reply) override {
    grpc::Status failed = Record(ctx, req->SerializeAsString());
    if (silent) return Hang(ctx);
    if (!layer_answer) return failed;
    *reply = *layer_answer;
    return grpc::Status::OK;
  }
  grpc::Status Download(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                        grpc::ServerWriter<v1::Chunk>* writer) override {
    grpc::Status failed = Record(ctx, req->SerializeAsString());  // collects...
    if (silent) return Hang(ctx);
    if (garbage_bytes > 0) {  // bytes of no file, from where it was asked
      v1::Chunk chunk;
      chunk.mutable_info()->set_sha256(req->sha256());
      chunk.mutable_info()->set_size(garbage_size);
      const std::string junk(1 << 20, 'j');
      for (int64_t sent = 0; sent < garbage_bytes && !ctx->IsCancelled(); sent += 1 << 20) {
        chunk.set_offset(req->offset() + sent);
        chunk.set_data(junk);
        if (!writer->Write(chunk)) break;
        chunk.clear_info();
      }
      return grpc::Status::OK;  // and ends early
    }
    auto it = serve.find(req->sha256());
    if (it == serve.end()) return failed;  // ...then fails fast
    v1::Chunk chunk;  // or serves what it was given, whatever it is asked for
    chunk.mutable_info()->set_sha256(req->sha256());
    chunk.mutable_info()->set_size(static_cast<int64_t>(it->second.size()));
    chunk.set_offset(0);
    chunk.set_data(it->second);
    writer->Write(chunk);
    return grpc::Status::OK;
  }
  grpc::Status Upload(grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadMessage>* reader,
                      v1::UploadReply*) override {
    v1::UploadMessage m;
    std::string all;
    while (reader->Read(&m)) all += m.SerializeAsString();
    return Record(ctx, all);
  }
  grpc::Status Locate(grpc::ServerContext* ctx, const v1::LocateRequest* req,
                      v1::LocateReply* reply) override {
    Record(ctx, req->SerializeAsString());
    *reply = locate_answer;
    return grpc::Status::OK;
  }

  std::vector<std::string> Collected() {
    std::lock_guard<std::mutex> lock(mu_);
    return collected_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  v1::LocateReply locate_answer;
  std::optional<v1::ListFilesReply> list_answer;  // ListFiles answers this (else fails)
  std::map<std::string, std::string> serve;       // Download sends these bytes, by sha256
  std::optional<v1::PieceHashesReply> layer_answer;  // PieceHashes answers this (else fails)
  // Download sends this many bytes of junk for a file of `garbage_size`.
  int64_t garbage_bytes = 0;
  int64_t garbage_size = 0;
  // Every Download and PieceHashes call is accepted and never answered
  // (until the caller gives up): a holder that serves nothing.
  std::atomic<bool> silent{false};

 private:
  grpc::Status Record(grpc::ServerContext* ctx, const std::string& request) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    for (const auto& [key, value] : ctx->client_metadata()) {
      collected_.emplace_back(key.data(), key.size());
      collected_.emplace_back(value.data(), value.size());
    }
    collected_.push_back(request);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try another holder");
  }
  static grpc::Status Hang(grpc::ServerContext* ctx) {
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // holds it open
    return grpc::Status(grpc::StatusCode::CANCELLED, "gave up");
  }
  std::mutex mu_;
  std::vector<std::string> collected_;  // GUARDED_BY(mu_)
  int calls_ = 0;                       // GUARDED_BY(mu_)
};

// `service` served over the network's TLS as `as`, on 127.0.0.1:`port`.
inline std::unique_ptr<grpc::Server> ServeAs(grpc::Service* service, const PeerIdentity& as, int port) {
  grpc::ServerBuilder b;
  int bound = 0;
  AddPeerListeningPort(&b, "127.0.0.1", port, &bound, &as);
  b.RegisterService(service);
  auto server = b.BuildAndStart();
  EXPECT_TRUE(server && bound == port) << "cannot serve on port " << port;
  return server;
}

}  // namespace p2pshare::testing
