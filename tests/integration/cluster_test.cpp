// Several `central` replicas on one PostgreSQL database (docs/architecture.md,
// "Replicas"): real processes, each test in a database of its own on the
// run's throwaway cluster (ctest's `postgres` fixture), or — the restart
// test — on a cluster of its own.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <thread>

#include "integration/test_support.h"
#include "unit/test_database.h"
#include "unit/test_dir.h"

namespace p2pshare::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

std::string Hash(char c) { return std::string(64, c); }

// `count` replicas of central on `url`, plain HTTP on loopback.
class Replicas {
 public:
  Replicas(const TestDir& dir, const std::string& url, int count, Json overrides = Json::object()) {
    overrides["db"] = url;
    overrides["tls"] = false;
    if (!overrides.contains("port_range")) {
      auto [lo, hi] = TestPortRange();
      overrides["port_range"] = Json::array({lo, hi});
    }
    for (int i = 0; i < count; ++i) {
      auto folder = dir.path() / ("replica" + std::to_string(i));
      std::filesystem::create_directories(folder);
      replicas_.push_back(std::make_unique<CentralProcess>(folder, overrides));
    }
  }
  Status Start() {
    for (auto& r : replicas_) RETURN_IF_ERROR(r->Start());
    return Status::Ok();
  }
  CentralProcess& operator[](size_t i) { return *replicas_[i]; }
  size_t size() const { return replicas_.size(); }

 private:
  std::vector<std::unique_ptr<CentralProcess>> replicas_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (db_.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  }
  TestDir dir_;
  TestDatabase db_;
};

// Logs `user` in at `client` (registering it first).
Result<LoginReply> Join(DirectoryClient& client, const std::string& user) {
  return RegisterAndLogin(client, user);
}

TEST_F(ClusterTest, AFileIndexedThroughOneReplicaIsFoundAtTheOthersWithinOneSecond) {
  Replicas replicas(dir_, db_.url(), 3);
  ASSERT_TRUE(replicas.Start().ok());
  auto a = replicas[0].Client();
  ASSERT_TRUE(Join(*a, "alice").ok());
  auto b = replicas[1].Client();
  auto c = replicas[2].Client();
  for (int round = 0; round < 3; ++round) {
    const std::string name = "song-" + std::to_string(round) + ".mp3";
    ASSERT_TRUE(a->PatchIndex({FileEntry{name, 3, Hash(char('a' + round))}}, {}).ok());
    const auto indexed = Clock::now();
    // The replica that took the write answers at once (it reads its own writes).
    EXPECT_EQ(a->Search(name)->total, 1);
    for (DirectoryClient* other : {b.get(), c.get()}) {
      EXPECT_TRUE(WaitUntil([&] {
        auto found = other->Search(name);
        return found.ok() && found->total == 1 && found->results[0].holders.size() == 1;
      }, milliseconds(1000) - std::chrono::duration_cast<milliseconds>(Clock::now() - indexed)))
          << name << " not found at " << other->base_url() << " within 1 s of its indexing";
    }
  }
  // A removal travels the same way.
  ASSERT_TRUE(a->PatchIndex({}, {"song-0.mp3"}).ok());
  EXPECT_TRUE(WaitUntil([&] { return c->Search("song-0")->total == 0; }, milliseconds(1000)));
}

TEST_F(ClusterTest, ALogoutAtOneReplicaIsHonouredByAllWithinOneSecond) {
  Replicas replicas(dir_, db_.url(), 3);
  ASSERT_TRUE(replicas.Start().ok());
  auto a = replicas[0].Client();
  auto login = Join(*a, "alice");
  ASSERT_TRUE(login.ok()) << login.status().message();
  auto indexed = a->ReplaceIndex({FileEntry{"notes.txt", 5, Hash('e')}});
  ASSERT_TRUE(indexed.ok()) << indexed.status().message();
  std::vector<std::unique_ptr<DirectoryClient>> others;
  for (size_t i = 1; i < replicas.size(); ++i) {
    others.push_back(replicas[i].Client());
    others.back()->set_token(login->token);
    ASSERT_TRUE(others.back()->Heartbeat().ok()) << "the token works at every replica";
  }
  ASSERT_TRUE(others[0]->Logout().ok());
  const auto logged_out = Clock::now();
  for (auto* client : {a.get(), others[1].get()}) {
    auto beat = client->Heartbeat();
    ASSERT_FALSE(beat.ok()) << "a logged-out token still works at " << client->base_url();
    EXPECT_EQ(beat.status().reason(), "logged_out");
  }
  EXPECT_TRUE(WaitUntil([&] { return others[1]->Search("notes")->total == 0; },
                        milliseconds(1000) - std::chrono::duration_cast<milliseconds>(
                                                 Clock::now() - logged_out)))
      << "the logged-out peer's files are still found at another replica";
  EXPECT_EQ(replicas[2].Client()->Stats()->peers_online, 0);
}

// Peers whose heartbeats go round robin over the replicas (as behind a
// load balancer) stay online past several TTLs; a peer that stops is
// evicted once, by one replica, and every replica sees it go.
TEST_F(ClusterTest, RoundRobinHeartbeatsAreNeverEvictedAndTheSilentAreEvictedOnce) {
  Replicas replicas(dir_, db_.url(), 3, Json{{"session_ttl_s", 2}, {"heartbeat_interval_s", 1}});
  ASSERT_TRUE(replicas.Start().ok());
  constexpr int kPeers = 6;
  std::vector<std::vector<std::unique_ptr<DirectoryClient>>> clients(kPeers);
  for (int p = 0; p < kPeers; ++p) {
    for (size_t r = 0; r < replicas.size(); ++r) clients[p].push_back(replicas[r].Client());
    auto login = Join(*clients[p][p % replicas.size()], "peer" + std::to_string(p));
    ASSERT_TRUE(login.ok()) << login.status().message();
    for (auto& c : clients[p]) c->set_token(login->token);
  }
  auto silent = replicas[0].Client();
  ASSERT_TRUE(Join(*silent, "quiet").ok());
  // 5 s (2.5 TTLs) of heartbeats every 0.5 s, each to the next replica.
  const auto until = Clock::now() + seconds(5);
  size_t turn = 0;
  while (Clock::now() < until) {
    for (int p = 0; p < kPeers; ++p) {
      auto beat = clients[p][turn % replicas.size()]->Heartbeat();
      ASSERT_TRUE(beat.ok()) << "peer" << p << " was dropped: " << beat.status().message();
    }
    ++turn;
    std::this_thread::sleep_for(milliseconds(500));  // the heartbeat period being simulated
  }
  for (size_t r = 0; r < replicas.size(); ++r) {
    auto stats = replicas[r].Client()->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->peers_online, kPeers) << "at replica " << r;
  }
  auto reply = replicas[1].Http()->Get("/api/v1/events");
  ASSERT_TRUE(reply && reply->status == 200);
  int evictions = 0;
  const Json events = Json::parse(reply->body);
  for (const auto& e : events["events"]) {
    if (e["kind"] != "eviction") continue;
    EXPECT_EQ(e["username"], "quiet") << "a heartbeating peer was evicted";
    ++evictions;
  }
  EXPECT_EQ(evictions, 1) << "the silent peer is evicted exactly once: " << reply->body;
  EXPECT_EQ(silent->Heartbeat().status().reason(), "session_expired");
}

// The last free port, asked for by logins at three replicas at once: one
// gets it, the others 503 "no_free_port"; never one port twice.
TEST_F(ClusterTest, LoginsRacingForTheLastPortNeverShareIt) {
  auto [lo, hi] = TestPortRange();
  (void)hi;
  Replicas replicas(dir_, db_.url(), 3, Json{{"port_range", Json::array({lo, lo + 2})}});
  ASSERT_TRUE(replicas.Start().ok());
  for (int round = 0; round < 3; ++round) {
    constexpr int kRacers = 6;
    std::vector<std::unique_ptr<DirectoryClient>> clients;
    for (int i = 0; i < kRacers; ++i) {
      clients.push_back(replicas[i % replicas.size()].Client());
      const std::string user = "r" + std::to_string(round) + "x" + std::to_string(i);
      ASSERT_TRUE(clients.back()->Register(user, user + "-password").ok());
    }
    std::vector<std::future<Result<LoginReply>>> logins;
    for (int i = 0; i < kRacers; ++i) {
      logins.push_back(std::async(std::launch::async, [&, i] {
        const std::string user = "r" + std::to_string(round) + "x" + std::to_string(i);
        return clients[i]->Login(LoginRequest{user, user + "-password", std::nullopt, std::nullopt, {}});
      }));
    }
    std::set<int> ports;
    int refused = 0;
    for (auto& f : logins) {
      auto r = f.get();
      if (r.ok()) {
        EXPECT_TRUE(ports.insert(r->port).second) << "port " << r->port << " handed out twice";
      } else {
        EXPECT_EQ(r.status().reason(), "no_free_port") << r.status().message();
        ++refused;
      }
    }
    EXPECT_EQ(ports.size(), 3u) << "every free port is used";
    EXPECT_EQ(refused, kRacers - 3);
    for (auto& c : clients) (void)c->Logout();
  }
}

// PostgreSQL restarted under the replicas: /healthz says "degraded"
// meanwhile, the replicas reconnect by themselves, and a peer that kept
// heartbeating (some failed meanwhile) is not evicted for the outage.
TEST(ClusterRestartTest, ReplicasRideOutARestartOfPostgres) {
  TestDir dir;
  // The server runs as `postgres` under root: it must reach its folder.
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  const std::string pg_dir = dir / "pg";
  const std::string script = std::string(P2P_SOURCE_DIR) + "/scripts/pg-cluster.sh";
  auto [rc, out] = RunToEnd({"bash", script, "start", pg_dir}, dir / "pg-start.log");
  ASSERT_EQ(rc, 0) << out;
  std::string url = out.substr(0, out.find('\n'));
  struct StopCluster {
    std::string script, dir;
    ~StopCluster() { std::system(("bash " + script + " stop " + dir + " >/dev/null 2>&1").c_str()); }
  } stop{script, pg_dir};

  Replicas replicas(dir, url, 2, Json{{"session_ttl_s", 3}, {"heartbeat_interval_s", 1}});
  ASSERT_TRUE(replicas.Start().ok());
  auto a = replicas[0].Client();
  auto login = Join(*a, "alice");
  ASSERT_TRUE(login.ok()) << login.status().message();
  ASSERT_TRUE(a->ReplaceIndex({FileEntry{"kept.txt", 4, Hash('f')}}).ok());
  std::atomic<bool> stop_beating{false};
  std::thread beating([&] {
    while (!stop_beating) {
      (void)a->Heartbeat();  // fails while the database is down
      std::this_thread::sleep_for(milliseconds(500));
    }
  });
  auto b = replicas[1].Client();
  auto b_http = replicas[1].Http();
  const std::string pg_bin = "/usr/lib/postgresql/15/bin/pg_ctl";
  const std::string as = getuid() == 0 ? "runuser -u postgres -- " : "";
  ASSERT_EQ(std::system((as + pg_bin + " -D " + pg_dir + "/data -m fast -w stop >/dev/null").c_str()), 0);
  EXPECT_TRUE(WaitUntil([&] {
    auto h = b_http->Get("/healthz");
    return h && h->status == 503 && h->body.find("\"degraded\"") != std::string::npos;
  }, seconds(5))) << "no replica said degraded while the database was down";
  // Down for longer than the TTL.
  std::this_thread::sleep_for(seconds(4));
  ASSERT_EQ(std::system((as + pg_bin + " -D " + pg_dir + "/data -l " + pg_dir +
                         "/server.log -w start >/dev/null").c_str()), 0);
  for (size_t r = 0; r < replicas.size(); ++r) {
    auto client = replicas[r].Client();
    EXPECT_TRUE(WaitUntil([&] { return client->Health().ok(); }, seconds(10)))
        << "replica " << r << " did not reconnect";
  }
  // Several TTLs later the peer is still online everywhere, its index intact.
  std::this_thread::sleep_for(seconds(4));
  stop_beating = true;
  beating.join();
  EXPECT_TRUE(a->Heartbeat().ok()) << "the peer was evicted for the database's outage";
  EXPECT_EQ(b->Search("kept")->total, 1);
  EXPECT_EQ(b->Stats()->peers_online, 1);
}

}  // namespace
}  // namespace p2pshare::testing
