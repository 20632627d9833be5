// Central's check of a peer's address (central/reachability.h) against real
// listeners on loopback: alice's peer server over mutual TLS, nothing at
// all, a program that never speaks TLS, and a server of another network.
#include "central/reachability.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "pserver/catalog.h"
#include "pserver/peer_service.h"
#include "pserver/shared_folder.h"
#include "unit/free_port.h"
#include "unit/test_dir.h"
#include "unit/test_network.h"

namespace p2pshare::central {
namespace {

using std::chrono::milliseconds;

class ReachabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_.path() / "share");
    folder_ = std::move(pserver::SharedFolder::Open((tmp_.path() / "share").string())).value();
    catalog_ = std::make_unique<pserver::Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  // A peer server presenting `as` on a port of its own.
  int Serve(const PeerIdentity& as) {
    UsePeerIdentity(as);
    service_ = std::make_unique<pserver::PeerServiceImpl>(folder_.get(), catalog_.get(),
                                                          pserver::PeerServiceOptions{"alice", 0}, [] {});
    grpc::ServerBuilder b;
    int bound = 0;
    AddPeerListeningPort(&b, "127.0.0.1", 0, &bound, &as);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    EXPECT_TRUE(server_ && bound > 0);
    return bound;
  }

  testing::TestDir tmp_;
  testing::TestNetwork network_;
  std::unique_ptr<pserver::SharedFolder> folder_;
  std::unique_ptr<pserver::Catalog> catalog_;
  std::unique_ptr<pserver::PeerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ReachabilityTest, APeerPresentingItsOwnCertificateIsReached) {
  const int port = Serve(network_.Member("alice"));
  ReachProbe p = ProbePeer("127.0.0.1", port, "alice", network_.ca_pem(), milliseconds(3000));
  EXPECT_TRUE(p.reached) << p.why;
  EXPECT_EQ(p.why, "");
}

TEST_F(ReachabilityTest, AnotherAccountsPeerOnTheAddressIsNotThisAccountReached) {
  const int port = Serve(network_.Member("mallory"));
  ReachProbe p = ProbePeer("127.0.0.1", port, "alice", network_.ca_pem(), milliseconds(3000));
  EXPECT_FALSE(p.reached);
  EXPECT_NE(p.why.find("it presented mallory's certificate, not alice's"), std::string::npos) << p.why;
}

TEST_F(ReachabilityTest, APeerOfAnotherNetworkIsNotReached) {
  const int port = Serve(network_.Outsider("alice"));
  ReachProbe p = ProbePeer("127.0.0.1", port, "alice", network_.ca_pem(), milliseconds(3000));
  EXPECT_FALSE(p.reached);
  EXPECT_NE(p.why.find("not from this network"), std::string::npos) << p.why;
}

TEST_F(ReachabilityTest, NothingListeningIsConnectionRefused) {
  ReachProbe p = ProbePeer("127.0.0.1", testing::FreePort(), "alice", network_.ca_pem(), milliseconds(3000));
  EXPECT_FALSE(p.reached);
  EXPECT_NE(p.why.find("connection refused"), std::string::npos) << p.why;
}

TEST_F(ReachabilityTest, AProgramThatNeverSpeaksTlsIsGivenUpAtTheDeadline) {
  // Accepts (the kernel does, from the backlog) and never says a word.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  ReachProbe p = ProbePeer("127.0.0.1", ntohs(a.sin_port), "alice", network_.ca_pem(), milliseconds(300));
  EXPECT_FALSE(p.reached);
  EXPECT_NE(p.why.find("no TLS handshake within 300 ms"), std::string::npos) << p.why;
}

}  // namespace
}  // namespace p2pshare::central
