// Central's relay (central/relay.h) and the peers' ends of it
// (common/relay_link.h, the route in common/peer_channel.h), on loopback:
// real sockets, real peer servers over mutual TLS, and hostile relays and
// strangers doing what they would.
#include "central/relay.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "common/hex.h"
#include "common/host_port.h"
#include "common/relay_link.h"
#include "pserver/catalog.h"
#include "pserver/peer_service.h"
#include "pserver/shared_folder.h"
#include "unit/file_util.h"
#include "unit/free_port.h"
#include "unit/in_process_central.h"
#include "unit/test_dir.h"
#include "unit/test_network.h"

namespace p2pshare::central {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<RelayServer> StartRelay(RelayOptions options = {}) {
  auto relay = RelayServer::Start("127.0.0.1", 0, options);
  EXPECT_TRUE(relay.ok()) << relay.status().message();
  return std::move(relay).value();
}

RelayTicket Ticket(const RelayServer& relay, const std::string& token, const std::string& peer) {
  return RelayTicket{"127.0.0.1", relay.port(), token, peer};
}

// Sends all of `data` on `fd`, then ends its side.
void SendAllAndEnd(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
}

std::string ReadToEnd(int fd) {
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(RelayTest, TwoSidesWithTheirTicketsAreJoinedAndBytesPassBothWaysUnchanged) {
  auto relay = StartRelay();
  auto tokens = relay->Open("bob", "10.0.0.2", "alice");
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  auto holder = std::async(std::launch::async, [&] { return DialRelay(Ticket(*relay, tokens->holder, "bob"), milliseconds(5000)); });
  auto caller = DialRelay(Ticket(*relay, tokens->caller, "alice"), milliseconds(5000));
  ASSERT_TRUE(caller.ok()) << caller.status().message();
  auto held = holder.get();
  ASSERT_TRUE(held.ok()) << held.status().message();
  const std::string up = testing::RandomBytes(3 << 20, 1), down = testing::RandomBytes(2 << 20, 2);
  // Both ways at once: neither side reads until it has sent everything.
  std::thread a([&] { SendAllAndEnd(*caller, up); });
  std::thread b([&] { SendAllAndEnd(*held, down); });
  auto at_holder = std::async(std::launch::async, [&] { return ReadToEnd(*held); });
  EXPECT_EQ(ReadToEnd(*caller), down);
  EXPECT_EQ(at_holder.get(), up);
  a.join();
  b.join();
  ::close(*caller);
  ::close(*held);
  ASSERT_TRUE(testing::WaitUntil([&] { return relay->stats().sessions_done == 1; }));
  EXPECT_EQ(relay->stats().bytes, static_cast<int64_t>(up.size() + down.size()));
  EXPECT_EQ(relay->stats().sessions, 0);
}

TEST(RelayTest, AnUnknownUsedOrLateTicketOpensNothingAndSaysWhy) {
  RelayOptions options;
  options.ticket_ttl = milliseconds(300);
  auto relay = StartRelay(options);
  // A guessed token.
  auto guessed = DialRelay(Ticket(*relay, std::string(32, 'a'), "alice"), milliseconds(2000));
  ASSERT_FALSE(guessed.ok());
  EXPECT_NE(guessed.status().message().find("unknown or expired ticket"), std::string::npos)
      << guessed.status().message();
  // The other side never comes: the one that came is told so (no wait for
  // a fixed time: the ticket's life ends the wait).
  auto tokens = relay->Open("bob", "10.0.0.2", "alice");
  ASSERT_TRUE(tokens.ok());
  auto alone = DialRelay(Ticket(*relay, tokens->caller, "alice"), milliseconds(5000));
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.status().message().find("did not put us through to alice: the other peer did not come in time"),
            std::string::npos)
      << alone.status().message();
  // Its token was used: presenting it again opens nothing, and the
  // session's places are given back.
  auto again = DialRelay(Ticket(*relay, tokens->caller, "alice"), milliseconds(2000));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("unknown or expired"), std::string::npos);
  EXPECT_TRUE(testing::WaitUntil([&] { return relay->stats().waiting == 0; }));
  EXPECT_GE(relay->stats().refused, 2);
}

// Accounts are free: one stranger's account takes two of a holder's places,
// one address sixteen, and whoever else asks still gets in.
TEST(RelayTest, StrangersAccountsAndAddressesAreBoundedAndTheHonestStillGetIn) {
  auto relay = StartRelay();
  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += relay->Open("mallory", "10.6.6.6", "alice").ok();
  EXPECT_EQ(granted, 2) << "one account to one holder";
  for (int i = 0; i < 40; ++i) granted += relay->Open("mallory" + std::to_string(i), "10.6.6.6", "alice").ok();
  EXPECT_EQ(granted, 16) << "one address";
  auto busy = relay->Open("mallory99", "10.6.6.6", "alice");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().reason(), "busy");
  EXPECT_NE(busy.status().message().find("from your address"), std::string::npos) << busy.status().message();
  // One account asking for many holders, from many addresses.
  int spread = 0;
  for (int i = 0; i < 20; ++i) {
    spread += relay->Open("trudy", "10.7.0." + std::to_string(i), "holder" + std::to_string(i)).ok();
  }
  EXPECT_EQ(spread, 8) << "one asking account";
  EXPECT_TRUE(relay->Open("bob", "10.0.0.2", "alice").ok()) << "an honest account is not shut out";
  EXPECT_EQ(relay->stats().waiting, 16 + 8 + 1);
}

// A relay that splices a tiny loopback "relay" in front of a port: it reads
// the hello, says OK and copies bytes to `target` (what central's relay
// does once both sides are there, or what a hostile one might do with
// another peer behind it).
class SplicingRelay {
 public:
  explicit SplicingRelay(int target) : target_(target) {
    fd_ = ListenTcpAnyPort("127.0.0.1", &port_, 8).value();
    thread_ = std::thread([this] {
      for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0;) {
        std::thread([this, c] {
          if (ReadRelayLine(c, kRelayHelloMax, milliseconds(5000)).ok()) {
            ::send(c, "OK\n", 3, MSG_NOSIGNAL);
            int to = ConnectTcp("127.0.0.1", target_, 2000);
            if (to >= 0) {
              carried_ += 1;
              Pump(c, to, milliseconds(5000));
              ::close(to);
            }
          }
          ::close(c);
        }).detach();
      }
    });
  }
  ~SplicingRelay() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int carried() const { return carried_.load(); }

 private:
  const int target_;
  int fd_ = -1, port_ = 0;
  std::atomic<int> carried_{0};
  std::thread thread_;
};

class RelayRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tmp_.path() / "share");
    folder_ = std::move(pserver::SharedFolder::Open((tmp_.path() / "share").string())).value();
    catalog_ = std::make_unique<pserver::Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
    UsePeerIdentity(network_.Member("bob"));  // this process: the caller
  }
  void TearDown() override {
    UseRelay(nullptr);
    for (auto& s : servers_) s->Shutdown();
  }
  // A peer server of `account` on a port of its own.
  int Serve(const std::string& account) {
    PeerIdentity as = network_.Member(account);
    services_.push_back(std::make_unique<pserver::PeerServiceImpl>(
        folder_.get(), catalog_.get(), pserver::PeerServiceOptions{account, 0}, [] {}));
    grpc::ServerBuilder b;
    int bound = 0;
    AddPeerListeningPort(&b, "127.0.0.1", 0, &bound, &as);
    b.RegisterService(services_.back().get());
    servers_.push_back(b.BuildAndStart());
    EXPECT_TRUE(servers_.back() && bound > 0);
    return bound;
  }
  grpc::Status Ping(const std::string& host, int port, const std::string& account) {
    auto stub = PeerStub(host, port, account);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::PingRequest req;
    v1::PingReply reply;
    return stub->Ping(&ctx, req, &reply);
  }

  testing::TestDir tmp_;
  testing::TestNetwork network_;
  std::unique_ptr<pserver::SharedFolder> folder_;
  std::unique_ptr<pserver::Catalog> catalog_;
  std::vector<std::unique_ptr<pserver::PeerServiceImpl>> services_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

// Alice listens where nobody looks (her listed address refuses): calls to
// her go through the relay, with her certificate checked end to end.
TEST_F(RelayRouteTest, APeerWhoseAddressDoesNotAnswerIsReachedThroughTheRelay) {
  const int alice = Serve("alice");
  SplicingRelay relay(alice);
  int tickets = 0;
  UseRelay([&](const std::string& account, int) -> Result<RelayTicket> {
    ++tickets;
    return RelayTicket{"127.0.0.1", relay.port(), std::string(32, '0'), account};
  });
  const int listed = testing::FreePort();  // nothing listens there
  grpc::Status s = Ping("127.0.0.1", listed, "alice");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(RouteTo("alice"), "relayed");
  EXPECT_EQ(relay.carried(), 1);
  EXPECT_GE(tickets, 1);
  // A peer whose address answers is reached directly.
  const int carol = Serve("carol");
  EXPECT_TRUE(Ping("127.0.0.1", carol, "carol").ok());
  EXPECT_EQ(RouteTo("carol"), "direct");
}

// A relay cannot pass for the peer: one that puts us through to another
// member (mallory) instead of alice is refused at the TLS handshake.
TEST_F(RelayRouteTest, ARelayThatPutsUsThroughToAnotherPeerIsRefused) {
  const int mallory = Serve("mallory");
  SplicingRelay relay(mallory);
  UseRelay([&](const std::string& account, int) -> Result<RelayTicket> {
    return RelayTicket{"127.0.0.1", relay.port(), std::string(32, '0'), account};
  });
  grpc::Status s = Ping("127.0.0.1", testing::FreePort(), "dave");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(RouteTo("dave"), "relayed");
  EXPECT_GE(relay.carried(), 1) << "the call went through the relay";
}

// Central says why a relayed connection could not be made; the error says
// it in those words.
TEST_F(RelayRouteTest, WhyARelayedConnectionFailedIsKeptInPlainWords) {
  UseRelay([&](const std::string& account, int) -> Result<RelayTicket> {
    return NotFound(account + " is not online", "not_online");
  });
  EXPECT_FALSE(Ping("127.0.0.1", testing::FreePort(), "erin").ok());
  EXPECT_EQ(RouteTo("erin"), "relayed");
  EXPECT_TRUE(testing::WaitUntil([] { return RelayFailure("erin") == "erin is not online"; }))
      << RelayFailure("erin");
}

// The holder's side of reversals, as alice's peer-server does it: for each
// ticket, connect back to the caller and splice into her own port.
class ConnectingBackHolder {
 public:
  explicit ConnectingBackHolder(int own_port) : own_port_(own_port) {}
  ~ConnectingBackHolder() {
    for (auto& t : threads_) t.join();
  }
  void Take(const RelayTicket& ticket) {
    threads_.emplace_back([this, ticket] {
      auto back = DialBack(ticket, milliseconds(3000));
      if (!back.ok()) return;
      int own = ConnectTcp("127.0.0.1", own_port_, 2000);
      if (own >= 0) {
        connected_ += 1;
        Pump(*back, own, milliseconds(5000));
        ::close(own);
      }
      ::close(*back);
    });
  }
  int connected() const { return connected_.load(); }

 private:
  const int own_port_;
  std::atomic<int> connected_{0};
  std::vector<std::thread> threads_;
};

// Alice cannot be reached at her address, but we can: asked through
// central, she connects back to us and the call runs over that connection,
// her certificate checked as ever. The relay is never asked.
TEST_F(RelayRouteTest, AHolderNobodyReachesConnectsBackToACallerThatCanBeReached) {
  const int alice = Serve("alice");
  ConnectingBackHolder holder(alice);
  int relay_tickets = 0;
  UseRelay(
      [&](const std::string& account, int reverse_port) -> Result<RelayTicket> {
        if (reverse_port == 0) {
          ++relay_tickets;
          return Unavailable("no relay here");
        }
        RelayTicket t{"127.0.0.1", reverse_port, RandomHex(16), account};
        holder.Take(t);
        return t;
      },
      "bob", "127.0.0.1");
  grpc::Status s = Ping("127.0.0.1", testing::FreePort(), "alice");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(RouteTo("alice"), "reversed");
  EXPECT_GE(holder.connected(), 1);
  EXPECT_EQ(relay_tickets, 0);
}

// A holder that does not connect back (its machine cannot reach ours):
// the relay carries the call, and the next connections go to the relay
// at once instead of waiting for a reversal again.
TEST_F(RelayRouteTest, AReversalThatDoesNotComeFallsBackToTheRelayOnce) {
  const int alice = Serve("alice");
  SplicingRelay relay(alice);
  int reversals = 0;
  UseRelay(
      [&](const std::string& account, int reverse_port) -> Result<RelayTicket> {
        if (reverse_port > 0) {
          ++reversals;
          return RelayTicket{"127.0.0.1", reverse_port, RandomHex(16), account};  // nobody comes
        }
        return RelayTicket{"127.0.0.1", relay.port(), std::string(32, '0'), account};
      },
      "bob", "127.0.0.1");
  const int listed = testing::FreePort();
  grpc::Status s = Ping("127.0.0.1", listed, "alice");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(RouteTo("alice"), "relayed");
  EXPECT_GE(relay.carried(), 1);
  EXPECT_EQ(reversals, 1);
  // A second channel (another identity file: not the cached one) goes to
  // the relay without waiting for a reversal.
  PeerIdentity carol = network_.Member("carol");
  auto stub = PeerStub("127.0.0.1", listed, "alice", &carol);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::PingReply reply;
  EXPECT_TRUE(stub->Ping(&ctx, v1::PingRequest(), &reply).ok());
  EXPECT_EQ(reversals, 1);
  EXPECT_GE(relay.carried(), 2);
}

// A stranger who finds our reversal port first, with a guessed token, is
// closed; the holder presenting the right one is still taken.
TEST(ReversalListenerTest, AConnectionWithoutTheTokenIsClosedAndTheHoldersIsTaken) {
  auto listener = ReversalListener::Open("127.0.0.1");
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  const RelayTicket right{"127.0.0.1", (*listener)->port(), RandomHex(16), "bob"};
  std::promise<std::string> stranger_heard;
  std::thread stranger([&] {
    RelayTicket guess = right;
    guess.token = RandomHex(16);
    auto fd = DialBack(guess, milliseconds(3000));
    stranger_heard.set_value(fd.ok() ? "taken" : fd.status().message());
    if (fd.ok()) ::close(*fd);
  });
  std::thread holder([&] {
    // After the stranger: its wrong token is read and refused first.
    stranger_heard.get_future().wait();
    auto fd = DialBack(right, milliseconds(3000));
    if (fd.ok()) {
      ::send(*fd, "hi", 2, MSG_NOSIGNAL);
      ::close(*fd);
    }
  });
  auto taken = (*listener)->Await(right.token, "alice", milliseconds(5000));
  stranger.join();
  holder.join();
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  char buf[2];
  EXPECT_EQ(::recv(*taken, buf, 2, MSG_WAITALL), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  ::close(*taken);
}

TEST(ReversalListenerTest, AHolderThatNeverComesIsNamedAfterTheWait) {
  auto listener = ReversalListener::Open("127.0.0.1");
  ASSERT_TRUE(listener.ok());
  auto taken = (*listener)->Await(RandomHex(16), "alice", milliseconds(300));
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("alice did not connect back to us"), std::string::npos)
      << taken.status().message();
}

}  // namespace
}  // namespace p2pshare::central
