// The gRPC service on an in-process server over mutual TLS, with a test
// network's CA: alice serves, bob calls as a member, and outsiders (no
// certificate, another CA's, an expired or revoked one) are refused.
#include "pserver/peer_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/hash_tree.h"
#include "common/hex.h"
#include "common/sha256.h"
#include "common/small_files.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"
#include "unit/test_dir.h"
#include "unit/test_network.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;

class PeerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "share";
    content_ = testing::RandomBytes(3 * 1024 * 1024 + 123, 7);
    testing::WriteFile(root_ / "music/song.bin", content_);
    testing::WriteFile(root_ / "empty.txt", "");
    testing::WriteFile(tmp_.path() / "secret.txt", "outside");
    fs::create_symlink("../secret.txt", root_ / "escape.txt");
    folder_ = std::move(SharedFolder::Open(root_.string())).value();
    catalog_ = std::make_unique<Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
    StartServer(int64_t{1} << 30);
  }
  void StartServer(int64_t quota) {
    if (server_) server_->Shutdown();
    service_ = std::make_unique<PeerServiceImpl>(folder_.get(), catalog_.get(),
                                                 PeerServiceOptions{"alice", quota},
                                                 [this] { uploads_++; });
    UsePeerIdentity(alice_);  // the server's: its CA checks the callers
    grpc::ServerBuilder b;
    port_ = 0;
    AddPeerListeningPort(&b, "127.0.0.1", 0, &port_, &alice_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ && port_ > 0);
    client_ = std::make_unique<testing::PeerTestClient>(port_, bob_, "alice");
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  bool TempFolderEmpty() { return fs::is_empty(root_ / ".p2pshare/tmp"); }

  testing::TestDir tmp_;
  testing::TestNetwork network_;
  PeerIdentity alice_ = network_.Member("alice");
  PeerIdentity bob_ = network_.Member("bob");
  int port_ = 0;
  fs::path root_;
  std::string content_;
  std::unique_ptr<SharedFolder> folder_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<PeerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<testing::PeerTestClient> client_;
  int uploads_ = 0;
};

TEST_F(PeerServiceTest, PingEchoesToAnyone) {
  v1::PingReply reply;
  ASSERT_TRUE(client_->Ping("ECO", &reply).ok());
  EXPECT_EQ(reply.payload(), "ECO");
  EXPECT_EQ(reply.username(), "alice");
  EXPECT_FALSE(reply.version().empty());
}

TEST_F(PeerServiceTest, ListFilesIsForMembers) {
  v1::ListFilesReply reply;
  ASSERT_TRUE(client_->ListFiles(&reply).ok());
  ASSERT_EQ(reply.files_size(), 2);
  EXPECT_EQ(reply.files(1).name(), "music/song.bin");
  EXPECT_EQ(reply.files(1).sha256(), Sha256Hex(content_));
}

TEST_F(PeerServiceTest, CallersWithoutAGoodCertificateAreUnauthenticated) {
  auto refused = [&](testing::PeerTestClient client, const char* why) {
    v1::ListFilesReply reply;
    grpc::Status s = client.ListFiles(&reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << why << ": " << s.error_message();
    EXPECT_EQ(reply.files_size(), 0) << why;
    auto d = client.Download("music/song.bin");
    EXPECT_EQ(d.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << why;
    EXPECT_TRUE(d.data.empty()) << why;
    EXPECT_EQ(client.Upload("sneaky.bin", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << why;
    return s.error_message();
  };
  EXPECT_NE(refused(testing::PeerTestClient::WithoutCertificate(port_, network_.ca_pem()),
                    "no certificate")
                .find("no client certificate"),
            std::string::npos);
  EXPECT_NE(refused(testing::PeerTestClient(port_, network_.Outsider("mallory"), "alice"),
                    "another network's CA")
                .find("not from this network's CA"),
            std::string::npos);
  EXPECT_NE(refused(testing::PeerTestClient(port_, network_.Member("late", -120), "alice"),
                    "expired")
                .find("expired"),
            std::string::npos);
  // Revoked (its account logged out): refused as soon as the list says so.
  PeerIdentity carol = network_.Member("carol");
  auto serial = ReadCertificate(*ReadSmallFile(carol.cert_file))->serial;
  AddRevokedCertificates({serial});
  EXPECT_NE(refused(testing::PeerTestClient(port_, carol, "alice"), "revoked").find("revoked"),
            std::string::npos);
  ForgetRevokedCertificates();
  EXPECT_FALSE(fs::exists(root_ / "sneaky.bin"));
}

TEST_F(PeerServiceTest, DownloadStreamsTheWholeFileInBoundedChunks) {
  auto d = client_->Download("music/song.bin");
  ASSERT_TRUE(d.status.ok()) << d.status.error_message();
  EXPECT_EQ(d.data, content_);
  EXPECT_EQ(d.info.size(), static_cast<int64_t>(content_.size()));
  EXPECT_EQ(d.info.sha256(), Sha256Hex(content_));
  for (size_t i = 0; i + 1 < d.chunk_sizes.size(); ++i) {
    EXPECT_GE(d.chunk_sizes[i], 256u * 1024);
    EXPECT_LE(d.chunk_sizes[i], 1024u * 1024);
  }
  auto by_hash = client_->Download(Sha256Hex(content_), 0, 0, /*by_hash=*/true);
  EXPECT_EQ(by_hash.data, content_);
  auto empty = client_->Download("empty.txt");
  ASSERT_TRUE(empty.status.ok());
  EXPECT_EQ(empty.data, "");
  EXPECT_EQ(empty.info.sha256(), Sha256Hex(""));
}

TEST_F(PeerServiceTest, WhoDownloadsWhatIsToldToThePeersOwnAccountOnly) {
  auto d = client_->Download("music/song.bin");  // bob downloads
  ASSERT_TRUE(d.status.ok()) << d.status.error_message();
  // bob, a stranger, asks what alice serves: refused, and told nothing.
  auto bob_stub = PeerStub("127.0.0.1", port_, "alice", &bob_);
  grpc::ClientContext bob_ctx;
  v1::UploadsReply bob_sees;
  grpc::Status refused = bob_stub->Uploads(&bob_ctx, v1::UploadsRequest(), &bob_sees);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(bob_sees.serving_size(), 0);
  // alice's own client (her certificate) sees bob's download.
  auto own = PeerStub("127.0.0.1", port_, "alice", &alice_);
  grpc::ClientContext ctx;
  v1::UploadsReply reply;
  ASSERT_TRUE(own->Uploads(&ctx, v1::UploadsRequest(), &reply).ok());
  ASSERT_EQ(reply.serving_size(), 1);
  EXPECT_EQ(reply.serving(0).to(), "bob");
  EXPECT_EQ(reply.serving(0).name(), "music/song.bin");
  EXPECT_EQ(reply.serving(0).bytes(), static_cast<int64_t>(content_.size()));
}

TEST_F(PeerServiceTest, PieceHashesLetEachPieceBeVerifiedAlone) {
  auto listed = catalog_->Find("music/song.bin");
  ASSERT_TRUE(listed);
  v1::PieceHashesReply reply;
  ASSERT_TRUE(client_->PieceHashes(Sha256Hex(content_), &reply).ok());
  EXPECT_EQ(reply.size(), static_cast<int64_t>(content_.size()));
  EXPECT_EQ(reply.root(), listed->root);  // the root the index was told
  const int64_t piece = reply.piece_bytes();
  ASSERT_EQ(piece, PieceBytes(reply.size()));
  ASSERT_EQ(reply.pieces_size(), PieceCount(reply.size()));
  std::vector<Digest> layer;
  for (const std::string& p : reply.pieces()) {
    ASSERT_EQ(p.size(), 32u);
    Digest d;
    std::copy(p.begin(), p.end(), d.begin());
    layer.push_back(d);
  }
  Digest root;
  ASSERT_TRUE(HexDecode(reply.root(), root));
  EXPECT_TRUE(PiecesMatchRoot(layer, reply.size(), root));
  // A ranged download of any one piece checks against its hash.
  for (int i : {0, 5, reply.pieces_size() - 1}) {
    auto d = client_->Download(Sha256Hex(content_), i * piece, piece, /*by_hash=*/true);
    ASSERT_TRUE(d.status.ok());
    EXPECT_EQ(PieceHash(d.data, piece), layer[static_cast<size_t>(i)]) << i;
  }
  v1::PieceHashesReply none;
  EXPECT_EQ(client_->PieceHashes(Sha256Hex("absent"), &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(client_->PieceHashes("../../etc/passwd", &none).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::PeerTestClient::WithoutCertificate(port_, network_.ca_pem()).PieceHashes(Sha256Hex(content_), &none).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(PeerServiceTest, DownloadFromAnOffsetAndForALength) {
  auto tail = client_->Download("music/song.bin", 1000000);
  ASSERT_TRUE(tail.status.ok());
  EXPECT_EQ(tail.data, content_.substr(1000000));
  auto middle = client_->Download("music/song.bin", 5, 10);
  EXPECT_EQ(middle.data, content_.substr(5, 10));
  auto at_end = client_->Download("music/song.bin", static_cast<int64_t>(content_.size()));
  ASSERT_TRUE(at_end.status.ok());
  EXPECT_EQ(at_end.data, "");
}

TEST_F(PeerServiceTest, DownloadRefusesBadRequests) {
  auto code = [&](const std::string& name, int64_t offset = 0, int64_t length = 0) {
    return client_->Download(name, offset, length).status.error_code();
  };
  EXPECT_EQ(code("../secret.txt"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code("/etc/passwd"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code(std::string("a\0b", 3)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code("escape.txt"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(".p2pshare/hashes.tsv"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code("nope.txt"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(code("music/song.bin", -1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code("music/song.bin", 0, -5), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code("music/song.bin", int64_t{1} << 50), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(client_->Download("zz", 0, 0, true).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PeerServiceTest, UploadIsVerifiedPlacedAndIndexed) {
  std::string data = testing::RandomBytes(2 * 1024 * 1024 + 5, 9);
  v1::UploadReply reply;
  grpc::Status s = client_->Upload("incoming/new.bin", data, -1, "", -1, &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.file().sha256(), Sha256Hex(data));
  EXPECT_EQ(testing::ReadFile(root_ / "incoming/new.bin"), data);
  EXPECT_EQ(uploads_, 1);
  ASSERT_TRUE(catalog_->Refresh().ok());
  EXPECT_EQ(catalog_->files_hashed(), 2);  // the two files of SetUp; the upload was adopted
  EXPECT_EQ(catalog_->Find("incoming/new.bin")->sha256, Sha256Hex(data));
  EXPECT_TRUE(TempFolderEmpty());
  // The same content again is fine; other content under that name is not.
  EXPECT_TRUE(client_->Upload("incoming/new.bin", data).ok());
  EXPECT_EQ(client_->Upload("incoming/new.bin", "other").error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(testing::ReadFile(root_ / "incoming/new.bin"), data);
}

TEST_F(PeerServiceTest, LyingOrTruncatedUploadsLeaveNothing) {
  std::string data = testing::RandomBytes(1500000, 3);
  EXPECT_EQ(client_->Upload("x1.bin", data, -1, std::string(64, 'a')).error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(client_->Upload("x2.bin", data, 1000).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // more bytes than announced
  EXPECT_EQ(client_->Upload("x3.bin", data, -1, "", 700000).error_code(),
            grpc::StatusCode::DATA_LOSS);  // stopped half way
  for (const char* n : {"x1.bin", "x2.bin", "x3.bin"}) EXPECT_FALSE(fs::exists(root_ / n)) << n;
  EXPECT_TRUE(TempFolderEmpty());
}

TEST_F(PeerServiceTest, UploadWithTheHashLastIsVerifiedLikeAnyOther) {
  std::string data = testing::RandomBytes(2 * 1024 * 1024 + 77, 11);
  v1::UploadReply reply;
  grpc::Status s = client_->UploadHashLast("late/hash.bin", data, "", std::nullopt, &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.file().sha256(), Sha256Hex(data));
  EXPECT_EQ(reply.file().size(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(testing::ReadFile(root_ / "late/hash.bin"), data);
  ASSERT_TRUE(catalog_->Refresh().ok());  // what the peer-server does after an upload
  ASSERT_TRUE(catalog_->Find("late/hash.bin"));
  EXPECT_EQ(catalog_->Find("late/hash.bin")->sha256, Sha256Hex(data));
  EXPECT_EQ(uploads_, 1);
  // A repeat of the same bytes is answered with the file already here; the
  // same size with other bytes is refused, and the file stays as it was.
  EXPECT_TRUE(client_->UploadHashLast("late/hash.bin", data).ok());
  std::string other = testing::RandomBytes(data.size(), 12);
  EXPECT_EQ(client_->UploadHashLast("late/hash.bin", other).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(client_->UploadHashLast("music/song.bin", "short").error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(testing::ReadFile(root_ / "late/hash.bin"), data);
  EXPECT_EQ(uploads_, 1);
  EXPECT_TRUE(TempFolderEmpty());
}

TEST_F(PeerServiceTest, HashLastUploadsThatLieOrStopLeaveNothing) {
  std::string data = testing::RandomBytes(1300000, 13);
  EXPECT_EQ(client_->UploadHashLast("y1.bin", data, std::string(64, 'b')).error_code(),
            grpc::StatusCode::DATA_LOSS);  // the hash does not match the bytes
  EXPECT_EQ(client_->UploadHashLast("y2.bin", data, std::nullopt).error_code(),
            grpc::StatusCode::DATA_LOSS);  // no hash at all
  EXPECT_EQ(client_->UploadHashLast("y3.bin", data, "NOT-HEX").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::UploadMessage more;
  more.set_data("x");
  EXPECT_EQ(client_->UploadHashLast("y4.bin", data, "", more).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // data after the hash
  // A hash message is only for uploads whose header had none.
  EXPECT_EQ(client_->UploadHashLast("y5.bin", data, "", std::nullopt, nullptr,
                                    Sha256Hex(data)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  for (const char* n : {"y1.bin", "y2.bin", "y3.bin", "y4.bin", "y5.bin"}) {
    EXPECT_FALSE(fs::exists(root_ / n)) << n;
  }
  EXPECT_TRUE(TempFolderEmpty());
}

TEST_F(PeerServiceTest, UploadRefusesBadNamesAndStrangers) {
  EXPECT_EQ(client_->Upload("../evil.txt", "x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client_->Upload("/tmp/evil.txt", "x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client_->Upload(".p2pshare/port", "1").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(client_->Upload("escape.txt", "x").error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(testing::ReadFile(tmp_.path() / "secret.txt"), "outside");
  EXPECT_EQ(testing::PeerTestClient::WithoutCertificate(port_, network_.ca_pem())
                .Upload("ok.txt", "x")
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(fs::exists(root_ / "ok.txt"));
}

TEST_F(PeerServiceTest, UploadOverTheQuotaIsResourceExhausted) {
  StartServer(static_cast<int64_t>(content_.size()) + 100);
  EXPECT_EQ(client_->Upload("big.bin", std::string(200, 'x')).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(client_->Upload("small.bin", std::string(50, 'x')).ok());
  EXPECT_FALSE(fs::exists(root_ / "big.bin"));
  EXPECT_TRUE(TempFolderEmpty());
}

}  // namespace
}  // namespace p2pshare::pserver
