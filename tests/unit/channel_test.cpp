// Central's channel to each peer-server (GET /api/v1/channel, held by the
// connection gate: central/http_gate.h) against an in-process central, with
// the client peer-servers use (DirectoryClient::Listen).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Strangers' accounts (free to make) each open a channel and never read
// it while central has much to tell them: each is dropped once 64 KiB wait
// for it — central's memory stays bounded by what they read, not by what
// it sends — and the honest peer's channel still brings its message at once.
TEST_F(ChannelTest, StrangersWhoNeverReadTheirChannelsAreDroppedAndTheHonestStillHear) {
  constexpr int kStrangers = 16;  // with alice, under the accounts one address makes a minute
  auto alice = PeerServer("alice");
  std::vector<int> fds;
  std::vector<std::unique_ptr<DirectoryClient>> strangers;
  for (int i = 0; i < kStrangers; ++i) {
    const std::string user = "stranger" + std::to_string(i);
    auto c = Client();
    ASSERT_TRUE(c->Register(user, user + "-password").ok());
    LoginRequest req;
    req.username = user;
    req.password = user + "-password";
    req.host = "127.0.1." + std::to_string(i + 1);  // the small port range is per host
    auto login = c->Login(req);
    ASSERT_TRUE(login.ok()) << login.status().message();
    // A small receive window, and nothing ever read.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(central_.url().substr(central_.url().rfind(':') + 1))));
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string get = "GET /api/v1/channel HTTP/1.1\r\nHost: central\r\nAuthorization: Bearer " +
                            login->token + "\r\n\r\n";
    ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
    fds.push_back(fd);
    strangers.push_back(std::move(c));
  }
  OpenChannel honest(alice.get());
  ASSERT_TRUE(WaitUntil([&] { return honest.Got("hello"); }));
  // Every stranger's channel is open (a message to it is taken).
  for (int i = 0; i < kStrangers; ++i) {
    ASSERT_TRUE(WaitUntil([&] { return central_.directory().Signal("stranger" + std::to_string(i), Json{{"type", "x"}}); }))
        << "stranger" << i << " has no channel";
  }
  // 4 KiB messages until central gives up on each (at most 64 MiB each).
  const Json big{{"type", "news"}, {"text", std::string(4096, 'n')}};
  int dropped = 0;
  for (int i = 0; i < kStrangers; ++i) {
    int sent = 0;
    while (sent < 16384 && central_.directory().Signal("stranger" + std::to_string(i), big)) ++sent;
    dropped += sent < 16384;
  }
  EXPECT_EQ(dropped, kStrangers) << "channels nobody reads kept taking messages";
  EXPECT_TRUE(central_.directory().Signal("alice", Json{{"type", "news"}}));
  EXPECT_TRUE(WaitUntil([&] { return honest.Got("news"); }));
  for (int fd : fds) ::close(fd);
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
