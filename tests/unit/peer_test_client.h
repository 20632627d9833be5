// A small client of PeerService for tests: whole downloads and uploads as
// a member of the network (its certificate), or as a TLS client without
// one; every call with a deadline.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "common/peer_channel.h"
#include "common/sha256.h"
#include "p2pshare.grpc.pb.h"

namespace p2pshare::testing {

struct DownloadResult {
  grpc::Status status;
  v1::FileInfo info;
  std::string data;
  std::vector<size_t> chunk_sizes;
};

class PeerTestClient {
 public:
  // As member `as`, to a server presenting `server_account`'s certificate
  // (any member's when empty).
  PeerTestClient(int port, const PeerIdentity& as, const std::string& server_account = "")
      : stub_(PeerStub("127.0.0.1", port, server_account, &as)) {}

  // A TLS client with no certificate of its own (it checks the server's
  // chain against `ca_pem` and nothing else).
  static PeerTestClient WithoutCertificate(int port, const std::string& ca_pem) {
    namespace tls = grpc::experimental;
    tls::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(std::make_shared<tls::StaticDataCertificateProvider>(ca_pem));
    options.watch_root_certs();
    options.set_verify_server_certs(true);
    options.set_check_call_host(false);
    options.set_certificate_verifier(std::make_shared<tls::NoOpCertificateVerifier>());
    return PeerTestClient(v1::PeerService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), tls::TlsCredentials(options))));
  }

  void Prepare(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  }

  grpc::Status PieceHashes(const std::string& sha256, v1::PieceHashesReply* reply) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::PieceHashesRequest req;
    req.set_sha256(sha256);
    return stub_->PieceHashes(&ctx, req, reply);
  }

  DownloadResult Download(const std::string& name, int64_t offset = 0,
                          int64_t length = 0, bool by_hash = false) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::DownloadRequest req;
    if (by_hash) req.set_sha256(name); else req.set_name(name);
    req.set_offset(offset);
    req.set_length(length);
    DownloadResult out;
    auto reader = stub_->Download(&ctx, req);
    v1::Chunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first) out.info = chunk.info();
      first = false;
      out.chunk_sizes.push_back(chunk.data().size());
      out.data += chunk.data();
    }
    out.status = reader->Finish();
    return out;
  }

  // Uploads `data` announcing `size` and `sha256` (defaults: the truth);
  // sends only the first `send` bytes when given.
  grpc::Status Upload(const std::string& name, const std::string& data,
                      int64_t size = -1, std::string sha256 = "", int64_t send = -1,
                      v1::UploadReply* reply_out = nullptr) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::UploadReply reply;
    auto writer = stub_->Upload(&ctx, &reply);
    v1::UploadMessage header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_size(size < 0 ? static_cast<int64_t>(data.size()) : size);
    header.mutable_header()->set_sha256(sha256.empty() ? Sha256Hex(data) : sha256);
    if (writer->Write(header)) {
      size_t limit = send < 0 ? data.size() : static_cast<size_t>(send);
      for (size_t off = 0; off < limit; off += 1 << 20) {
        v1::UploadMessage m;
        m.set_data(data.substr(off, std::min<size_t>(1 << 20, limit - off)));
        if (!writer->Write(m)) break;
      }
      writer->WritesDone();
    }
    grpc::Status s = writer->Finish();
    if (reply_out) *reply_out = reply;
    return s;
  }

  // Uploads `data` with the hash last: header {name, size} without a hash,
  // the data, then `trailer` (the true hash when empty; none when nullopt),
  // then `after` when given (a message that must not follow the hash).
  // `header_sha256` puts a hash in the header too (which makes the last one
  // out of place).
  grpc::Status UploadHashLast(const std::string& name,
                              const std::string& data, std::optional<std::string> trailer = "",
                              std::optional<v1::UploadMessage> after = std::nullopt,
                              v1::UploadReply* reply_out = nullptr,
                              const std::string& header_sha256 = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::UploadReply reply;
    auto writer = stub_->Upload(&ctx, &reply);
    v1::UploadMessage m;
    m.mutable_header()->set_name(name);
    m.mutable_header()->set_size(static_cast<int64_t>(data.size()));
    m.mutable_header()->set_sha256(header_sha256);
    bool open = writer->Write(m);
    for (size_t off = 0; open && off < data.size(); off += 1 << 20) {
      m.set_data(data.substr(off, std::min<size_t>(1 << 20, data.size() - off)));
      open = writer->Write(m);
    }
    if (open && trailer) {
      m.set_sha256(trailer->empty() ? Sha256Hex(data) : *trailer);
      open = writer->Write(m);
    }
    if (open && after) writer->Write(*after);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (reply_out) *reply_out = reply;
    return s;
  }

  grpc::Status Locate(const v1::LocateRequest& request, v1::LocateReply* reply) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->Locate(&ctx, request, reply);
  }

  grpc::Status ListFiles(v1::ListFilesReply* reply) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->ListFiles(&ctx, v1::ListFilesRequest(), reply);
  }

  grpc::Status Ping(const std::string& payload, v1::PingReply* reply) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::PingRequest req;
    req.set_payload(payload);
    return stub_->Ping(&ctx, req, reply);
  }

 private:
  explicit PeerTestClient(std::unique_ptr<v1::PeerService::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::PeerService::Stub> stub_;
};

}  // namespace p2pshare::testing
