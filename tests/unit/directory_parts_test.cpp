// The pieces Directory is made of, each on its own over a real SQLite
// store: EventLog, Accounts, Sessions, PortAllocator, OnlinePeers and
// FileIndex. (directory_test.cpp tests them together.)
#include <gtest/gtest.h>

#include "central/accounts.h"
#include "central/event_log.h"
#include "central/file_index.h"
#include "central/online_peers.h"
#include "central/port_allocator.h"
#include "central/sessions.h"
#include "central/store/directory_store.h"
#include "unit/test_dir.h"

namespace p2pshare::central {
namespace {

using Clock = std::chrono::steady_clock;

class DirectoryPartsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = DirectoryStore::Open(dir_ / "central.db");
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  void Online(const std::string& user, int port) {
    ASSERT_TRUE(store_->CreateAccount({user, "hash"}).ok());
    ASSERT_TRUE(store_->AddPeer({user, "127.0.0.1", port}).ok());
  }

  testing::TestDir dir_;
  std::unique_ptr<DirectoryStore> store_;
  Clock::time_point now_ = Clock::now();
};

TEST(EventLogTest, KeepsTheLatestInOrderWithIncreasingIds) {
  EventLog log;
  for (int i = 0; i < static_cast<int>(EventLog::kKept) + 5; ++i) {
    log.Record("login", "user" + std::to_string(i), "detail");
  }
  auto all = log.After(0);
  ASSERT_EQ(all.size(), EventLog::kKept);
  EXPECT_EQ(all.front().id, 6) << "the five oldest were dropped";
  EXPECT_EQ(all.back().id, static_cast<int64_t>(EventLog::kKept) + 5);
  EXPECT_EQ(all.back().username, "user204");
  auto latest = log.After(all.back().id - 2);
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_LT(latest[0].id, latest[1].id);
  EXPECT_TRUE(log.After(all.back().id).empty());
}

TEST_F(DirectoryPartsTest, AccountsCheckPasswordsAndSlowDownGuessing) {
  Accounts accounts(store_.get(), AccountsOptions{true, 1000, [this] { return now_; }});
  ASSERT_TRUE(accounts.Register("alice", "alice-password").ok());
  EXPECT_EQ(accounts.Register("alice", "other-password").status().reason(), "username_taken");
  EXPECT_EQ(accounts.Register("bob", "short").status().code(), Code::kInvalidArgument);
  int64_t retry = 0;
  EXPECT_TRUE(accounts.CheckPassword("alice", "alice-password", "10.0.0.1", &retry).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(accounts.CheckPassword("alice", "guess", "10.0.0.9", &retry).reason(),
              "bad_credentials");
  }
  // The guesser waits; alice, at her own address, does not.
  Status blocked = accounts.CheckPassword("alice", "alice-password", "10.0.0.9", &retry);
  EXPECT_EQ(blocked.reason(), "too_many_attempts");
  const int64_t wait = retry;
  EXPECT_GT(wait, 0);
  EXPECT_TRUE(accounts.CheckPassword("alice", "alice-password", "10.0.0.1", &retry).ok());
  now_ += std::chrono::seconds(wait);
  EXPECT_TRUE(accounts.CheckPassword("alice", "alice-password", "10.0.0.9", &retry).ok());
  EXPECT_EQ(accounts.failed_logins(), 5);
  EXPECT_EQ(*accounts.Count(), 1);
}

TEST_F(DirectoryPartsTest, ClosedRegistration) {
  Accounts accounts(store_.get(), AccountsOptions{false, 1000});
  EXPECT_EQ(accounts.Register("alice", "alice-password").status().reason(), "registration_closed");
}

TEST_F(DirectoryPartsTest, SessionsIssueCheckAndForgetTokens) {
  Online("alice", 50051);
  Sessions sessions(store_.get(), SessionsOptions{3, nullptr, [this] { return now_; }});
  auto token = sessions.Open("alice");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*sessions.Authenticate(*token), "alice");
  EXPECT_EQ(*sessions.Authenticate(*token), "alice") << "again, from the cache";
  EXPECT_EQ(sessions.Authenticate("").status().reason(), "unauthenticated");
  EXPECT_EQ(sessions.Authenticate(std::string(64, 'f')).status().reason(), "bad_token");

  // The store ends the tokens (as an eviction does), then the peer is
  // forgotten: the cached answer must not outlive it.
  ASSERT_TRUE(store_->RemovePeer("alice", SessionState::kExpired, UnixNow()).ok());
  sessions.Forget("alice");
  EXPECT_EQ(sessions.Authenticate(*token).status().reason(), "session_expired");
  EXPECT_EQ(sessions.Heartbeat("alice", {}).reason(), "session_expired");
}

TEST_F(DirectoryPartsTest, SessionsFindTheSilentAndKeepTheReportedLoad) {
  Online("alice", 50051);
  Online("bob", 50052);
  Sessions sessions(store_.get(), SessionsOptions{3, nullptr, [this] { return now_; }});
  sessions.Revive({"alice", "bob"});
  now_ += std::chrono::seconds(2);
  HeartbeatRequest hb;
  hb.free_bytes = 1000;
  hb.active_transfers = 2;
  ASSERT_TRUE(sessions.Heartbeat("bob", hb).ok());
  now_ += std::chrono::seconds(2);  // alice silent 4 s, bob 2 s; the TTL is 3 s
  EXPECT_EQ(sessions.Silent(now_), std::vector<std::string>{"alice"});
  EXPECT_TRUE(sessions.IsSilent("alice", now_));
  EXPECT_FALSE(sessions.IsSilent("bob", now_));
  auto bob = sessions.Live("bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->free_bytes, 1000);
  EXPECT_EQ(bob->active_transfers, 2);
  EXPECT_FALSE(sessions.Live("carol").has_value());
}

TEST_F(DirectoryPartsTest, PortAllocatorHandsOutFreePortsPerHost) {
  PortAllocator ports(store_.get(), {50051, 50053});
  Online("alice", 50051);
  EXPECT_EQ(*ports.Assign("127.0.0.1", std::nullopt, {}), 50052);
  EXPECT_EQ(*ports.Assign("127.0.0.1", std::nullopt, {50052}), 50053) << "excluded";
  EXPECT_EQ(*ports.Assign("127.0.0.1", 50053, {}), 50053) << "preferred and free";
  EXPECT_EQ(*ports.Assign("10.0.0.2", 50051, {}), 50051) << "another host";
  EXPECT_EQ(ports.Assign("127.0.0.1", 60000, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ports.Assign("127.0.0.1", std::nullopt, {50052, 50053}).status().reason(),
            "no_free_port");
}

TEST(OnlinePeersTest, AddressesAndTheFriendRing) {
  OnlinePeers online;
  online.Add({"alice", "10.0.0.1", 50051});
  online.Add({"bob", "::1", 50052});
  online.Add({"carol", "10.0.0.3", 50053});
  EXPECT_EQ(online.Count(), 3);
  EXPECT_EQ(online.FriendsOf("carol"), (std::vector<std::string>{"[::1]:50052", "10.0.0.1:50051"}));
  EXPECT_EQ(online.FriendsOf("alice"), (std::vector<std::string>{"10.0.0.3:50053", "[::1]:50052"}));
  online.Add({"alice", "10.0.0.1", 50051});  // a second login keeps its place
  EXPECT_EQ(online.FriendsOf("bob"),
            (std::vector<std::string>{"10.0.0.1:50051", "10.0.0.3:50053"}));
  online.Remove("bob");
  auto holders = online.Addresses({"carol", "bob", "alice"});
  ASSERT_EQ(holders.size(), 2u) << "bob left";
  EXPECT_EQ(holders[0], (Holder{"carol", "10.0.0.3", 50053}));
  EXPECT_EQ(holders[1], (Holder{"alice", "10.0.0.1", 50051}));
  EXPECT_TRUE(online.FriendsOf("bob").empty());
}

TEST_F(DirectoryPartsTest, FileIndexWritesTheStoreThenSearchesInMemory) {
  Online("alice", 50051);
  FileIndex index(store_.get());
  const std::string sha(64, 'a');
  EXPECT_EQ(*index.Replace("alice", {{"music/help.mp3", 3, sha}, {"notes.txt", 1, sha}}), 2);
  EXPECT_EQ(index.Search("HELP", 50, 0).total, 1);
  EXPECT_EQ(*index.Patch("alice", {}, {"notes.txt"}), 1);
  EXPECT_EQ(index.Search("notes", 50, 0).total, 0);
  EXPECT_EQ(index.Replace("alice", {{"a", 1, sha}, {"a", 2, sha}}).status().code(),
            Code::kInvalidArgument)
      << "a name listed twice";
  EXPECT_EQ(index.Replace("nobody", {}).status().code(), Code::kNotFound);

  // A restart: a new index loads what the store kept.
  FileIndex reloaded(store_.get());
  ASSERT_TRUE(reloaded.Load({{"alice", "127.0.0.1", 50051}}).ok());
  EXPECT_EQ(reloaded.Search("help", 50, 0).total, 1);
  EXPECT_TRUE(reloaded.FindByHash(sha).has_value());

  auto removed = reloaded.RemovePeer("alice", SessionState::kLoggedOut, UnixNow());
  ASSERT_TRUE(removed.ok());
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->port, 50051);
  EXPECT_EQ(reloaded.Search("help", 50, 0).total, 0);
  EXPECT_TRUE(store_->ListFiles("alice")->empty());
}

}  // namespace
}  // namespace p2pshare::central
