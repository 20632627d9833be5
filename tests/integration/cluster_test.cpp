// Several `central` replicas on one PostgreSQL database (docs/architecture.md,
// "Replicas"): real processes, each test in a database of its own on the
// run's throwaway cluster (ctest's `postgres` fixture), or — the restart
// test — on a cluster of its own.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "common/mutex.h"
#include "common/relay_link.h"
#include "common/small_files.h"
#include "common/x509.h"
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
    if (!overrides.contains("tls")) overrides["tls"] = false;
    if (!overrides.contains("port_range")) {
      auto [lo, hi] = TestPortRange();
      overrides["port_range"] = Json::array({lo, hi});
    }
    for (int i = 0; i < count; ++i) {
      auto folder = dir.path() / ("replica" + std::to_string(i));
      std::filesystem::create_directories(folder);
      // Each writes the shared CA's certificate where CentralProcess looks.
      overrides["ca_dir"] = (folder / "ca").string();
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

// Central's channel across replicas: a peer-server's channel is held by one
// replica, a rendezvous is asked of another; the relay ticket still reaches
// the peer-server within a second (through the change feed), and the two
// sides meet at the asking replica's relay.
TEST_F(ClusterTest, AChannelMessageReachesThePeerWhicheverReplicaHoldsItsChannel) {
  Replicas replicas(dir_, db_.url(), 2);
  ASSERT_TRUE(replicas.Start().ok());
  auto alice = replicas[0].Client();
  auto login = Join(*alice, "alice");
  ASSERT_TRUE(login.ok()) << login.status().message();
  DirectoryClientOptions long_reads;
  long_reads.timeout = seconds(30);
  DirectoryClient channel(replicas[1].url(), long_reads);
  channel.set_token(login->token);
  Mutex mu;
  std::vector<Json> got;
  auto listening = std::async(std::launch::async, [&] {
    return channel.Listen([&](const Json& m) {
      MutexLock lock(mu);
      got.push_back(m);
      return true;
    });
  });
  auto received = [&](const std::string& type) {
    MutexLock lock(mu);
    for (const Json& m : got) {
      if (m.value("type", "") == type) return std::optional<Json>(m);
    }
    return std::optional<Json>();
  };
  ASSERT_TRUE(WaitUntil([&] { return received("hello").has_value(); }, seconds(5)));
  auto bob = replicas[0].Client();
  ASSERT_TRUE(Join(*bob, "bob").ok());
  auto ticket = bob->Rendezvous("alice");
  ASSERT_TRUE(ticket.ok()) << ticket.status().message();
  const auto asked = Clock::now();
  EXPECT_TRUE(WaitUntil([&] { return received("relay").has_value(); }, milliseconds(1000)))
      << "the relay ticket did not reach alice's channel at the other replica within 1 s";
  const double took = std::chrono::duration<double>(Clock::now() - asked).count();
  std::printf("a channel message across replicas arrived after %.0f ms\n", took * 1000);
  auto message = received("relay");
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["peer"], "bob");
  EXPECT_EQ((*message)["port"], ticket->port) << "both sides meet at the asking replica's relay";
  RelayTicket theirs{"127.0.0.1", ticket->port, (*message)["token"].get<std::string>(), "bob"};
  auto held = std::async(std::launch::async, [&] { return DialRelay(theirs, milliseconds(5000)); });
  auto mine = DialRelay(*ticket, milliseconds(5000));
  auto other = held.get();
  ASSERT_TRUE(mine.ok()) << mine.status().message();
  ASSERT_TRUE(other.ok()) << other.status().message();
  ASSERT_EQ(::send(*mine, "ping", 4, MSG_NOSIGNAL), 4);
  char buf[4];
  EXPECT_EQ(::recv(*other, buf, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ::close(*mine);
  ::close(*other);
  channel.Cancel();
  listening.wait();
}

// Peers whose heartbeats go round robin over the replicas (as behind a
// load balancer) stay online past several TTLs; a peer that stops is
// evicted once, by one replica, and every replica sees it go.
TEST_F(ClusterTest, RoundRobinHeartbeatsAreNeverEvictedAndTheSilentAreEvictedOnce) {
  // TTL 2 s and a beat every 0.5 s; under a sanitizer (kSanitizerSlowdown)
  // every time here is that many times longer, the ratios the same.
  constexpr int k = kSanitizerSlowdown;
  Replicas replicas(dir_, db_.url(), 3, Json{{"session_ttl_s", 2 * k}, {"heartbeat_interval_s", k}});
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
  const auto until = Clock::now() + seconds(5 * k);
  size_t turn = 0;
  while (Clock::now() < until) {
    for (int p = 0; p < kPeers; ++p) {
      auto beat = clients[p][turn % replicas.size()]->Heartbeat();
      ASSERT_TRUE(beat.ok()) << "peer" << p << " was dropped: " << beat.status().message();
    }
    ++turn;
    std::this_thread::sleep_for(milliseconds(500 * k));  // the heartbeat period being simulated
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

// A password guesser spreading its guesses over the replicas (as round
// robin would) gets the five free guesses of one central, not five per
// replica; the owner is in once the wait is over, at any replica, and that
// clears the count everywhere.
TEST_F(ClusterTest, PasswordGuessesSpreadOverReplicasCountAsOne) {
  Replicas replicas(dir_, db_.url(), 3);
  ASSERT_TRUE(replicas.Start().ok());
  ASSERT_TRUE(replicas[0].Client()->Register("alice", "alice-password").ok());
  std::vector<std::unique_ptr<DirectoryClient>> guesser;
  for (size_t r = 0; r < replicas.size(); ++r) guesser.push_back(replicas[r].Client());
  auto attempt = [](DirectoryClient& c, const std::string& password) {
    return c.Login(LoginRequest{"alice", password, std::nullopt, std::nullopt, {}}).status();
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(attempt(*guesser[i % 3], "guess-" + std::to_string(i)).reason(), "bad_credentials")
        << "guess " << i;
  }
  for (size_t r = 0; r < replicas.size(); ++r) {
    EXPECT_EQ(attempt(*guesser[r], "guess-more").reason(), "too_many_attempts")
        << "replica " << r << " let a sixth guess through";
  }
  auto owner = replicas[2].Client();
  ASSERT_TRUE(WaitUntil([&] { return attempt(*owner, "alice-password").ok(); }, seconds(10)));
  EXPECT_EQ(attempt(*guesser[0], "guess-after").reason(), "bad_credentials")
      << "the owner's login at one replica did not clear the count at another";
}

// An address that creates accounts round robin gets one central's share a
// minute, not one per replica.
TEST_F(ClusterTest, RegistrationsSpreadOverReplicasShareOneLimit) {
  Replicas replicas(dir_, db_.url(), 3, Json{{"register_per_minute", 3}});
  ASSERT_TRUE(replicas.Start().ok());
  for (int i = 0; i < 3; ++i) {
    auto made = replicas[static_cast<size_t>(i)].Client()->Register("user" + std::to_string(i),
                                                                     "user-password");
    ASSERT_TRUE(made.ok()) << made.status().message();
  }
  for (size_t r = 0; r < replicas.size(); ++r) {
    auto refused = replicas[r].Client()->Register("extra" + std::to_string(r), "user-password");
    ASSERT_FALSE(refused.ok()) << "replica " << r << " made a fourth account this minute";
    EXPECT_EQ(refused.status().reason(), "too_many_registrations");
  }
  EXPECT_EQ(replicas[1].Client()->Stats()->accounts, 3);
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

// HAProxy in TCP mode in front of `replicas` (TLS passes through), round
// robin, health-checking /healthz every 200 ms; as scripts/cluster.sh.
class Balancer {
 public:
  Balancer(const TestDir& dir, Replicas& replicas) {
    port_ = FreePort();
    std::ofstream cfg(dir / "haproxy.cfg");
    cfg << "global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 2s\n"
           "  timeout client 60s\n  timeout server 60s\n  retries 2\n  option redispatch\n"
           "frontend central\n  bind 127.0.0.1:" << port_ << "\n  default_backend replicas\n"
           "backend replicas\n  balance roundrobin\n  option httpchk GET /healthz\n"
           "  http-check expect status 200\n";
    for (size_t i = 0; i < replicas.size(); ++i) {
      cfg << "  server r" << i << " 127.0.0.1:" << replicas[i].port()
          << " check check-ssl verify none inter 200ms fall 1 rise 2\n";
    }
    cfg.close();
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"haproxy", "-db", "-f", dir / "haproxy.cfg"}, dir / "haproxy.log");
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// A call tried once more when it fails because central could not answer
// (what a client does behind a balancer); `retried` counts the second
// tries, `failed` the calls that failed twice.
template <class F>
auto WithOneRetry(F&& call, std::atomic<int>& retried, std::atomic<int>& failed) {
  auto r = call();
  if (!r.ok() && CentralUnavailable(r.status())) {
    ++retried;
    r = call();
  }
  if (!r.ok()) {
    if (failed++ == 0) ADD_FAILURE() << "first call failed twice: " << r.status().message();
  }
  return r;
}

// kill -9 of one replica while 100 peers heartbeat and index through
// HAProxy: no peer is evicted, no acknowledged index update is lost, and
// every call succeeds at its first or second try.
TEST_F(ClusterTest, KillingAReplicaUnderAHundredPeersLosesNothing) {
  // 100 accounts from one address: no registration limit here.
  // (Ports are only handed out here, never bound: a range wide enough.)
  auto [lo, hi] = TestPortRange();
  (void)hi;
  Json overrides{{"session_ttl_s", 3}, {"heartbeat_interval_s", 1}, {"tls", true},
                 {"register_per_minute", 0}, {"port_range", Json::array({lo, lo + 199})}};
  Replicas replicas(dir_, db_.url(), 3, overrides);
  ASSERT_TRUE(replicas.Start().ok());
  Balancer balancer(dir_, replicas);
  DirectoryClientOptions options;
  options.ca_pem = *ReadSmallFile(replicas[0].ca_file());
  options.ca_source = replicas[0].ca_file();
  options.timeout = seconds(10);
  auto probe = std::make_unique<DirectoryClient>(balancer.url(), options);
  ASSERT_TRUE(WaitUntil([&] { return probe->Health().ok(); }, seconds(10)));

  constexpr int kPeers = 100;
  std::vector<std::unique_ptr<DirectoryClient>> peers;
  for (int p = 0; p < kPeers; ++p) {
    peers.push_back(std::make_unique<DirectoryClient>(balancer.url(), options));
  }
  std::array<std::atomic<bool>, kPeers> joined{};
  std::atomic<int> retried{0}, failed{0};
  // Heartbeats every 0.5 s for every peer that joined, from 4 threads,
  // from its login through the kill.
  std::atomic<bool> stop{false};
  std::vector<std::thread> beating;
  for (int t = 0; t < 4; ++t) {
    beating.emplace_back([&, t] {
      while (!stop) {
        for (int p = t; p < kPeers; p += 4) {
          if (!joined[p]) continue;
          (void)WithOneRetry([&] { return peers[p]->Heartbeat(); }, retried, failed);
        }
        std::this_thread::sleep_for(milliseconds(500));  // the heartbeat period simulated
      }
    });
  }
  {
    std::vector<std::future<void>> joining;
    for (int t = 0; t < 4; ++t) {
      joining.push_back(std::async(std::launch::async, [&, t] {
        for (int p = t; p < kPeers; p += 4) {
          const std::string user = "p" + std::to_string(p);
          auto login = WithOneRetry([&] { return Join(*peers[p], user); }, retried, failed);
          if (!login.ok()) continue;
          joined[p] = true;
          (void)WithOneRetry([&] {
            return peers[p]->ReplaceIndex({FileEntry{"before-" + user + ".bin", p, Hash('a')}});
          }, retried, failed);
        }
      }));
    }
    for (auto& f : joining) f.get();
  }
  EXPECT_EQ(failed.load(), 0) << "joining failed";
  std::this_thread::sleep_for(seconds(1));
  replicas[1].Kill9();
  // Index updates right after the kill, each acknowledged one must stay.
  for (int p = 0; p < kPeers; ++p) {
    const std::string user = "p" + std::to_string(p);
    auto patched = WithOneRetry([&] {
      return peers[p]->PatchIndex({FileEntry{"after-" + user + ".bin", p, Hash('b')}}, {});
    }, retried, failed);
    EXPECT_TRUE(patched.ok()) << user << ": " << patched.status().message();
  }
  // Longer than the TTL after the kill.
  std::this_thread::sleep_for(seconds(4));
  stop = true;
  for (auto& t : beating) t.join();

  EXPECT_EQ(failed.load(), 0) << "calls failed even after one retry (" << retried.load()
                               << " were retried)";
  for (size_t r : {size_t{0}, size_t{2}}) {
    auto client = replicas[r].Client();
    auto stats = client->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->peers_online, kPeers) << "peers were evicted (replica " << r << ")";
    EXPECT_EQ(client->Search("before-", 200)->total, kPeers) << "replica " << r;
    EXPECT_EQ(client->Search("after-", 200)->total, kPeers)
        << "acknowledged index updates were lost (replica " << r << ")";
  }
  for (auto& p : peers) EXPECT_TRUE(p->Heartbeat().ok());
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
