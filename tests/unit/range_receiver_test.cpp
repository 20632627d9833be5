// The one receive pipeline (pclient/range_receiver.h) against a real
// in-process peer server over mutual TLS: a holder whose first connection
// cannot be made is tried again once it is up, and one that stays away is
// given up after one bounded wait.
#include "pclient/range_receiver.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/sha256.h"
#include "pserver/catalog.h"
#include "pserver/peer_service.h"
#include "pserver/shared_folder.h"
#include "unit/file_util.h"
#include "unit/free_port.h"
#include "unit/test_dir.h"
#include "unit/test_network.h"

namespace p2pshare::pclient {
namespace {

namespace fs = std::filesystem;

// Keeps what it is given.
class StringSink : public RangeSink {
 public:
  bool Take(int64_t, std::string_view data) override {
    bytes.append(data);
    return true;
  }
  std::string bytes;
};

class RangeReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_ = testing::RandomBytes(2 * 1024 * 1024 + 17, 41);
    testing::WriteFile(tmp_.path() / "share/film.bin", content_);
    folder_ = std::move(pserver::SharedFolder::Open((tmp_.path() / "share").string())).value();
    catalog_ = std::make_unique<pserver::Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
    UsePeerIdentity(bob_);  // the downloader's
    port_ = testing::FreePort();  // nothing listens there yet
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  // alice's peer server on port_.
  void StartAlice() {
    service_ = std::make_unique<pserver::PeerServiceImpl>(folder_.get(), catalog_.get(),
                                                          pserver::PeerServiceOptions{"alice", 0}, [] {});
    grpc::ServerBuilder b;
    int bound = 0;
    AddPeerListeningPort(&b, "127.0.0.1", port_, &bound, &alice_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ && bound == port_);
  }
  RangeRequest Whole(const std::function<bool(grpc::ClientContext*)>& on_call) {
    RangeRequest req;
    req.holder = Holder{"alice", "127.0.0.1", port_};
    req.sha256 = Sha256Hex(content_);
    req.file_size = static_cast<int64_t>(content_.size());
    req.begin = 0;
    req.end = req.file_size;
    req.on_call = on_call;
    return req;
  }

  testing::TestDir tmp_;
  testing::TestNetwork network_;
  PeerIdentity alice_ = network_.Member("alice");
  PeerIdentity bob_ = network_.Member("bob");
  std::string content_;
  int port_ = 0;
  std::unique_ptr<pserver::SharedFolder> folder_;
  std::unique_ptr<pserver::Catalog> catalog_;
  std::unique_ptr<pserver::PeerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(RangeReceiverTest, AHolderUpOnlyAfterTheFirstConnectionFailedStillSendsTheRange) {
  int calls = 0, ended = 0;
  StringSink sink;
  RangeOutcome out = ReceiveRange(Whole([&](grpc::ClientContext* call) {
                                    if (call != nullptr) {
                                      ++calls;
                                    } else if (++ended == 1) {
                                      StartAlice();  // up once the first attempt failed
                                    }
                                    return true;
                                  }),
                                  sink);
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_TRUE(out.answered);
  EXPECT_EQ(calls, 2) << "the failed connection was tried once more";
  EXPECT_TRUE(sink.bytes == content_) << sink.bytes.size() << " of " << content_.size() << " bytes, or other bytes";
}

TEST_F(RangeReceiverTest, AHolderThatStaysAwayIsGivenUpAfterOneWait) {
  int calls = 0;
  StringSink sink;
  RangeOutcome out = ReceiveRange(Whole([&](grpc::ClientContext* call) {
                                    if (call != nullptr) ++calls;
                                    return true;
                                  }),
                                  sink);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE) << out.status.error_message();
  EXPECT_FALSE(out.answered);
  EXPECT_EQ(calls, 1) << "a call is made again only once the channel connects";
  EXPECT_TRUE(sink.bytes.empty());
}

TEST_F(RangeReceiverTest, AStopAskedWhileWaitingForTheHolderEndsTheWaitAtOnce) {
  int calls = 0;
  StringSink sink;
  RangeRequest req = Whole([&](grpc::ClientContext* call) {
    if (call != nullptr) ++calls;
    return true;
  });
  req.stop_requested = [&] { return calls >= 1; };  // the user cancels after the first try
  RangeOutcome out = ReceiveRange(req, sink);
  EXPECT_FALSE(out.answered);
  EXPECT_EQ(calls, 1) << "no attempt after the stop";
}

}  // namespace
}  // namespace p2pshare::pclient
