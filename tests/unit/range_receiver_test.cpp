// The one receive pipeline (pclient/range_receiver.h) against a real
// in-process peer server over mutual TLS: a holder whose first connection
// was cut is tried again once it is up; one that keeps hanging up is given
// up after one bounded wait; one that refused at once is not waited for.
#include "pclient/range_receiver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "common/sha256.h"
#include "common/unique_fd.h"
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

// A machine where something accepts every connection on `port` and hangs
// up at once (a peer-server restarting, a middlebox resetting).
class HangingUp {
 public:
  explicit HangingUp(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    int one = 1;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_.get(), 16), 0);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (c.valid()) ++connections_;
      }
    });
  }
  ~HangingUp() {
    stop_ = true;
    thread_.join();
  }
  int connections() const { return connections_.load(); }

 private:
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

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
  // An on_call that counts the calls made.
  static std::function<bool(grpc::ClientContext*)> Counting(int* calls) {
    return [calls](grpc::ClientContext* call) {
      if (call != nullptr) ++*calls;
      return true;
    };
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

TEST_F(RangeReceiverTest, AHolderWhoseFirstConnectionWasCutStillSendsTheRange) {
  auto machine = std::make_unique<HangingUp>(port_);  // the first connection is cut
  int calls = 0, ended = 0;
  StringSink sink;
  RangeOutcome out = ReceiveRange(Whole([&](grpc::ClientContext* call) {
                                    if (call != nullptr) {
                                      ++calls;
                                    } else if (++ended == 1) {
                                      machine.reset();
                                      StartAlice();  // up once the first attempt failed
                                    }
                                    return true;
                                  }),
                                  sink);
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_TRUE(out.answered);
  EXPECT_EQ(calls, 2) << "the cut connection was tried once more";
  EXPECT_TRUE(sink.bytes == content_) << sink.bytes.size() << " of " << content_.size() << " bytes, or other bytes";
}

TEST_F(RangeReceiverTest, AHolderThatKeepsHangingUpIsGivenUpAfterOneWait) {
  HangingUp machine(port_);
  int calls = 0;
  StringSink sink;
  RangeOutcome out = ReceiveRange(Whole(Counting(&calls)),
                                  sink);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE) << out.status.error_message();
  EXPECT_FALSE(out.answered);
  EXPECT_EQ(calls, 1) << "a call is made again only once the channel connects";
  EXPECT_GT(machine.connections(), 1) << "gRPC tried to connect again meanwhile";
  EXPECT_TRUE(sink.bytes.empty());
}

TEST_F(RangeReceiverTest, ARefusedConnectionIsNotWaitedFor) {
  int calls = 0;
  StringSink sink;
  RangeOutcome out = ReceiveRange(Whole(Counting(&calls)),
                                  sink);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE) << out.status.error_message();
  EXPECT_NE(out.status.error_message().find("Connection refused"), std::string::npos) << out.status.error_message();
  EXPECT_EQ(calls, 1);
}

TEST_F(RangeReceiverTest, AStopAskedWhileWaitingForTheHolderEndsTheWait) {
  HangingUp machine(port_);
  int calls = 0;
  StringSink sink;
  RangeRequest req = Whole(Counting(&calls));
  req.stop_requested = [&] { return calls >= 1; };  // the user cancels after the first try
  RangeOutcome out = ReceiveRange(req, sink);
  EXPECT_FALSE(out.answered);
  EXPECT_EQ(calls, 1) << "no attempt after the stop";
  EXPECT_EQ(machine.connections(), 1) << "no waiting for a reconnection after the stop";
}

}  // namespace
}  // namespace p2pshare::pclient
