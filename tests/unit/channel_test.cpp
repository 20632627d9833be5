// Central's channel to each peer-server (GET /api/v1/channel, held by the
// connection gate: central/http_gate.h) against an in-process central, with
// the client peer-servers use (DirectoryClient::Listen).
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "common/directory_client.h"
#include "common/mutex.h"
#include "unit/in_process_central.h"

namespace p2pshare::testing {
namespace {

using std::chrono::milliseconds;

// A channel opened by `client` in a thread of its own, its messages kept.
class OpenChannel {
 public:
  explicit OpenChannel(DirectoryClient* client) : client_(client) {
    done_ = std::async(std::launch::async, [this] {
      return client_->Listen([this](const Json& m) {
        MutexLock lock(mu_);
        messages_.push_back(m);
        return true;
      });
    });
  }
  ~OpenChannel() {
    client_->Cancel();
    done_.wait();
  }
  // The types received so far.
  std::vector<std::string> Types() {
    MutexLock lock(mu_);
    std::vector<std::string> out;
    for (const Json& m : messages_) out.push_back(m.value("type", ""));
    return out;
  }
  bool Got(const std::string& type) {
    auto t = Types();
    return std::find(t.begin(), t.end(), type) != t.end();
  }
  // Whether Listen returned within `wait`, and how.
  std::optional<Status> Ended(milliseconds wait) {
    if (done_.wait_for(wait) != std::future_status::ready) return std::nullopt;
    return done_.get();
  }

 private:
  DirectoryClient* client_;
  Mutex mu_;
  std::vector<Json> messages_ GUARDED_BY(mu_);
  std::shared_future<Status> done_;
};

class ChannelTest : public ::testing::Test {
 protected:
  explicit ChannelTest(central::HttpApiOptions http = InProcessCentral::Small()) : central_(http) {}
  // A client logged in as `user`'s peer-server (a port of its own).
  std::unique_ptr<DirectoryClient> PeerServer(const std::string& user) {
    auto c = Client();
    EXPECT_TRUE(c->Register(user, user + "-password").ok());
    LoginRequest req;
    req.username = user;
    req.password = user + "-password";
    req.host = "127.0.0.1";
    EXPECT_TRUE(c->Login(req).ok());
    return c;
  }
  std::unique_ptr<DirectoryClient> Client() {
    DirectoryClientOptions o;
    o.timeout = milliseconds(30000);
    return std::make_unique<DirectoryClient>(central_.url(), o);
  }
  InProcessCentral central_;
};

TEST_F(ChannelTest, AMessageReachesThePeerServerAtOnce) {
  auto alice = PeerServer("alice");
  OpenChannel channel(alice.get());
  ASSERT_TRUE(WaitUntil([&] { return channel.Got("hello"); })) << "no hello";
  EXPECT_TRUE(central_.directory().Signal("alice", Json{{"type", "news"}, {"n", 1}}));
  EXPECT_TRUE(WaitUntil([&] { return channel.Got("news"); }));
  EXPECT_FALSE(central_.directory().Signal("bob", Json{{"type", "news"}})) << "bob has no channel";
}

TEST_F(ChannelTest, ANewerChannelOfTheAccountClosesTheOlder) {
  auto alice = PeerServer("alice");
  auto again = Client();
  again->set_token(alice->token());
  OpenChannel older(alice.get());
  ASSERT_TRUE(WaitUntil([&] { return older.Got("hello"); }));
  OpenChannel newer(again.get());
  ASSERT_TRUE(WaitUntil([&] { return newer.Got("hello"); }));
  EXPECT_TRUE(older.Ended(milliseconds(10000))) << "the older channel is still open";
  EXPECT_TRUE(central_.directory().Signal("alice", Json{{"type", "news"}}));
  EXPECT_TRUE(WaitUntil([&] { return newer.Got("news"); }));
}

// Only a peer-server keeps a channel: a client-only session and a caller
// without a token are told why.
TEST_F(ChannelTest, OnlyAnOnlinePeerServerOpensOne) {
  auto carol = Client();
  ASSERT_TRUE(carol->Register("carol", "carol-password").ok());
  LoginRequest req;
  req.username = "carol";
  req.password = "carol-password";
  req.client = true;
  ASSERT_TRUE(carol->Login(req).ok());
  Status s = carol->Listen([](const Json&) { return true; });
  EXPECT_EQ(s.reason(), "not_serving") << s.message();
  auto nobody = Client();
  EXPECT_EQ(nobody->Listen([](const Json&) { return true; }).code(), Code::kUnauthenticated);
}

class ShortChannelTest : public ChannelTest {
 protected:
  static central::HttpApiOptions Short() {
    auto http = InProcessCentral::Small();
    http.channel_ping = milliseconds(50);
    http.channel_lifetime = milliseconds(1000);
    return http;
  }
  ShortChannelTest() : ChannelTest(Short()) {}
};

// Pings keep a quiet channel alive through balancers; central ends each
// after its lifetime (cleanly: the peer-server asks again).
TEST_F(ShortChannelTest, PingsKeepItAliveAndItEndsCleanlyAfterItsLifetime) {
  auto alice = PeerServer("alice");
  OpenChannel channel(alice.get());
  auto ended = channel.Ended(milliseconds(10000));
  ASSERT_TRUE(ended) << "the channel outlived its lifetime";
  EXPECT_TRUE(ended->ok()) << ended->message();
  auto types = channel.Types();
  EXPECT_GE(std::count(types.begin(), types.end(), "ping"), 2) << types.size();
  EXPECT_EQ(types.front(), "hello");
}

}  // namespace
}  // namespace p2pshare::testing
