// SessionAgent against a real central in the test process: a lost session
// ends in a re-login asking for the old port and a re-sent index; a
// re-login that gets another port tells the server to move; logins retry
// with backoff while central cannot serve them.
#include "pserver/session_agent.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "pserver/catalog.h"
#include "pserver/shared_folder.h"
#include "unit/file_util.h"
#include "unit/in_process_central.h"
#include "unit/test_dir.h"

namespace p2pshare::pserver {
namespace {

using std::chrono::milliseconds;

class SessionAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(tmp_.path() / "share/notes.txt", "alice's notes\n");
    auto folder = SharedFolder::Open(tmp_ / "share");
    ASSERT_TRUE(folder.ok()) << folder.status().message();
    folder_ = std::move(folder).value();
    catalog_ = std::make_unique<Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
    client_ = std::make_unique<DirectoryClient>(central_.url());
    SessionAgentOptions options;
    options.username = "alice";
    options.password = "alice-password";
    options.advertise_host = "127.0.0.1";
    options.backoff_min = milliseconds(20);
    options.backoff_max = milliseconds(100);
    agent_ = std::make_unique<SessionAgent>(client_.get(), catalog_.get(), options, nullptr,
                                            nullptr);
  }
  void TearDown() override { agent_->Stop(); }

  void StartAgent() {
    agent_->Start([this](AgentEvent e, int port, const std::string&) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.emplace_back(e, port);
    });
  }
  std::vector<std::pair<AgentEvent, int>> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Whether central's index lists alice's file, held by alice at `port`.
  bool Indexed(int port) {
    auto page = central_.directory().Search(central::SearchQuery{"notes", 50, 0});
    return page.ok() && page->total == 1 && page->results[0].holders.size() == 1 &&
           page->results[0].holders[0].port == port;
  }

  testing::TestDir tmp_;
  testing::InProcessCentral central_;
  std::unique_ptr<SharedFolder> folder_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<DirectoryClient> client_;
  std::unique_ptr<SessionAgent> agent_;
  std::mutex mu_;
  std::vector<std::pair<AgentEvent, int>> events_;  // GUARDED_BY(mu_)
};

TEST_F(SessionAgentTest, FirstLoginRegistersTheAccountAndSendsTheIndex) {
  auto port = agent_->Login(std::nullopt, {});
  ASSERT_TRUE(port.ok()) << port.status().message();
  EXPECT_EQ(*port, 50051);
  StartAgent();
  EXPECT_TRUE(testing::WaitUntil([&] { return Indexed(50051); }));
}

TEST_F(SessionAgentTest, LostSessionLogsInAgainOnTheOldPortAndResendsTheIndex) {
  ASSERT_EQ(*agent_->Login(50053, {}), 50053);  // not the lowest: a re-login must ask for it
  StartAgent();
  ASSERT_TRUE(testing::WaitUntil([&] { return Indexed(50053); }));

  central_.Advance(std::chrono::seconds(10));  // past the TTL: central evicts alice
  ASSERT_EQ(central_.Sweep(), 1);
  ASSERT_FALSE(Indexed(50053)) << "eviction drops the index";

  // The next heartbeat hears session_expired; the agent logs in again,
  // asking for its old port, and sends the whole index again.
  EXPECT_TRUE(testing::WaitUntil([&] { return Indexed(50053); }));
  EXPECT_EQ(agent_->port(), 50053);
  EXPECT_TRUE(Events().empty()) << "same port: nothing for the server to do";
}

TEST_F(SessionAgentTest, ReloginThatGetsAnotherPortTellsTheServerToMove) {
  ASSERT_EQ(*agent_->Login(std::nullopt, {}), 50051);
  StartAgent();
  ASSERT_TRUE(testing::WaitUntil([&] { return Indexed(50051); }));
  agent_->Stop();  // paused while its session is lost and its port taken

  central_.Advance(std::chrono::seconds(10));
  ASSERT_EQ(central_.Sweep(), 1);
  ASSERT_TRUE(central_.directory().Register("bob", "bob-password").ok());
  int64_t retry = 0;
  auto bob = central_.directory().Login({"bob", "bob-password", std::nullopt, 50051, {}},
                                        "127.0.0.1", &retry);
  ASSERT_TRUE(bob.ok()) << bob.status().message();
  ASSERT_EQ(bob->port, 50051);

  StartAgent();
  ASSERT_TRUE(testing::WaitUntil([&] { return !Events().empty(); }));
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first, AgentEvent::kPortChanged);
  EXPECT_EQ(events[0].second, 50052);
  EXPECT_EQ(agent_->port(), 50052);
  EXPECT_TRUE(testing::WaitUntil([&] { return Indexed(50052); }));
}

TEST_F(SessionAgentTest, LoggedOutElsewhereEndsTheAgentWithAnEvent) {
  ASSERT_TRUE(agent_->Login(std::nullopt, {}).ok());
  StartAgent();
  ASSERT_TRUE(testing::WaitUntil([&] { return Indexed(50051); }));
  ASSERT_TRUE(central_.directory().Logout("alice").ok());  // e.g. its peer-client's logout
  ASSERT_TRUE(testing::WaitUntil([&] { return !Events().empty(); }));
  EXPECT_EQ(Events()[0].first, AgentEvent::kLoggedOut);
}

TEST(SessionAgentLoginTest, RetriesWithGrowingWaitsUntilCentralCanServe) {
  // A central that has no free port for the first three logins.
  httplib::Server fake;
  std::atomic<int> attempts{0};
  fake.Post("/api/v1/login", [&](const httplib::Request&, httplib::Response& res) {
    if (++attempts <= 3) {
      res.status = 503;
      res.set_content(R"({"error":"no_free_port","message":"every port is held"})",
                      "application/json");
      return;
    }
    res.set_content(R"({"token":"t","username":"alice","host":"127.0.0.1","port":50077,)"
                    R"("heartbeat_interval_s":5,"session_ttl_s":15,"friends":[]})",
                    "application/json");
  });
  fake.set_keep_alive_max_count(1);  // one request a connection: stop() waits for none
  int port = fake.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { fake.listen_after_bind(); });
  ASSERT_TRUE(testing::WaitUntil([&] { return fake.is_running(); }));

  testing::TestDir tmp;
  auto folder = SharedFolder::Open(tmp / "share");
  ASSERT_TRUE(folder.ok());
  Catalog catalog(folder->get());
  DirectoryClient client("http://127.0.0.1:" + std::to_string(port));
  SessionAgentOptions options;
  options.username = "alice";
  options.password = "alice-password";
  options.backoff_min = milliseconds(20);
  options.backoff_max = milliseconds(40);
  std::string token_seen;
  SessionAgent agent(&client, &catalog, options, nullptr,
                     [&](const std::string& t) { token_seen = t; });
  auto started = std::chrono::steady_clock::now();
  auto got = agent.Login(std::nullopt, {});
  auto waited = std::chrono::steady_clock::now() - started;
  fake.stop();
  serving.join();

  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, 50077);
  EXPECT_EQ(attempts.load(), 4);
  EXPECT_EQ(token_seen, "t");
  // Waits of 20, 40 and 40 ms (doubling, capped) came between the attempts.
  EXPECT_GE(waited, milliseconds(100));
}

TEST(BackoffTest, DoublesUpToTheCapAndResets) {
  Backoff b(milliseconds(250), milliseconds(8000));
  std::vector<int64_t> waits;
  for (int i = 0; i < 7; ++i) waits.push_back(b.Next().count());
  EXPECT_EQ(waits, (std::vector<int64_t>{250, 500, 1000, 2000, 4000, 8000, 8000}));
  b.Reset();
  EXPECT_EQ(b.Next().count(), 250);
}

}  // namespace
}  // namespace p2pshare::pserver
