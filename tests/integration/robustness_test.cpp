// Faults and hostile input against the real binaries (label `robustness`):
// crashes lose no acknowledged data and leave no partial files; every
// token-requiring route of central refuses missing, garbage, ended and
// other peers' tokens; logs hold no secrets; many concurrent downloads all verify.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <set>
#include <thread>

#include "common/sha256.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

class RobustnessTest : public NetworkTest {
 protected:
  // Every log written in the test folder, concatenated.
  std::string AllLogs() {
    std::string all;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      if (e.path().extension() == ".log") all += ReadFile(e.path());
    }
    return all;
  }

};

TEST_F(RobustnessTest, KillNineOfCentralDuringABurstLosesNoAcknowledgedUpdate) {
  auto alice = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*alice, "alice").ok());
  std::atomic<bool> stop{false};
  std::vector<std::string> acknowledged;
  std::mutex mu;
  std::thread burst([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      std::string name = "burst/f" + std::to_string(i);
      if (alice->PatchIndex({{name, i, Sha256Hex(name)}}, {}).ok()) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(name);
      }
    }
  });
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return acknowledged.size() > 200;
  }, std::chrono::seconds(20)));
  central_->Kill9();  // mid-burst
  stop = true;
  burst.join();
  ASSERT_TRUE(central_->Start().ok());
  auto page = alice->Search("burst/", 1000, 0);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  // Every update central said OK to is there (maybe one more in flight).
  EXPECT_GE(page->total, static_cast<int64_t>(acknowledged.size()));
  EXPECT_LE(page->total, static_cast<int64_t>(acknowledged.size()) + 1);
  std::set<std::string> names;
  for (int64_t off = 0; off < page->total; off += 1000) {
    auto p = alice->Search("burst/", 1000, off);
    ASSERT_TRUE(p.ok());
    for (const auto& r : p->results) names.insert(r.name);
  }
  for (const auto& a : acknowledged) EXPECT_TRUE(names.count(a)) << a << " was acknowledged and is gone";
}

TEST_F(RobustnessTest, AnUploadThatStopsHalfWayLeavesNothingAtTheReceiver) {
  auto& alice = StartPeer("alice");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok()) << bob.status().ToString();
  // A sender that announces 64 MiB, sends 10 and then ends its stream.
  std::string data = RandomBytes(10 * 1024 * 1024, 4);
  PeerTestClient client(alice.port(), bob.identity(), "alice");
  grpc::Status s = client.Upload("half.bin", data, 64 * 1024 * 1024,
                                 std::string(64, 'a'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "half.bin"));
  EXPECT_TRUE(WaitUntil([&] { return fs::is_empty(alice.shared_dir() / ".p2pshare/tmp"); },
                        std::chrono::seconds(5)));
}

TEST_F(RobustnessTest, AReceiverKilledMidUploadGivesTheSenderAClearError) {
  std::string data = RandomBytes(64 * 1024 * 1024, 8);
  auto& alice = StartPeer("alice");
  std::thread killer;
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok()) << bob.status().ToString();
  // Kill alice once the temp file has grown: the upload is mid-way.
  killer = std::thread([&] {
    WaitUntil([&] {
      for (const auto& e : fs::directory_iterator(alice.shared_dir() / ".p2pshare/tmp")) {
        std::error_code ec;
        if (fs::file_size(e.path(), ec) > 8 * 1024 * 1024) return true;
      }
      return false;
    }, std::chrono::seconds(30));
    alice.Signal(SIGKILL);
  });
  grpc::Status s = PeerTestClient(alice.port(), bob.identity(), "alice").Upload("big.bin", data);
  killer.join();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "big.bin"));  // nothing visible under the name
  // Started again, the receiver clears the half-written temp file.
  ASSERT_TRUE(alice.Start().ok());
  EXPECT_TRUE(fs::is_empty(alice.shared_dir() / ".p2pshare/tmp"));
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "big.bin"));
}

TEST_F(RobustnessTest, EveryTokenRouteRefusesBadTokens) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  auto bob = central_->Client();
  auto bob_login = RegisterAndLogin(*bob, "bob");
  ASSERT_TRUE(bob_login.ok());
  KeepAlive bob_alive(bob.get());
  auto carol = central_->Client();
  auto ended = RegisterAndLogin(*carol, "carol");
  ASSERT_TRUE(ended.ok());
  ASSERT_TRUE(carol->Logout().ok());
  // dave logs in and goes silent: central evicts him after the TTL.
  auto dave = central_->Client();
  auto expired = RegisterAndLogin(*dave, "dave");
  ASSERT_TRUE(expired.ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto peers = bob->Peers();
    return peers.ok() && std::none_of(peers->begin(), peers->end(),
                                      [](const PeerInfo& p) { return p.username == "dave"; });
  }, std::chrono::seconds(15)));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"none", ""}, {"garbage", "not-a-token"}, {"forged", std::string(64, 'e')},
      {"logged out", ended->token}, {"expired", expired->token}};
  for (const auto& [what, token] : bad) {
    auto c = central_->Client();
    c->set_token(token);
    EXPECT_EQ(c->Heartbeat().status().code(), Code::kUnauthenticated) << what;
    EXPECT_EQ(c->ReplaceIndex({}).status().code(), Code::kUnauthenticated) << what;
    EXPECT_EQ(c->PatchIndex({}, {}).status().code(), Code::kUnauthenticated) << what;
    EXPECT_EQ(c->UploadTarget("x", 1).status().code(), Code::kUnauthenticated) << what;
    EXPECT_EQ(c->Logout().code(), Code::kUnauthenticated) << what;
  }
  // Another peer's token acts only for that peer: bob's token cannot
  // touch alice's index. (Peers never see tokens: they know callers by
  // certificate; pserver_test.cpp and trust_test.cpp attack that.)
  ASSERT_TRUE(bob->ReplaceIndex({}).ok());
  ASSERT_TRUE(WaitUntil([&] { return bob->Search("a.txt")->total == 1; }, std::chrono::seconds(5)));
  EXPECT_EQ(bob->Search("a.txt")->results[0].holders[0].username, "alice");
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "u.txt"));
  // Nothing secret in any log: passwords and tokens never appear.
  std::string logs = AllLogs();
  for (const std::string& secret : {std::string("alice-password"), std::string("bob-password"),
                                    bob_login->token, ended->token, expired->token}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "a secret is in the logs";
  }
}

TEST_F(RobustnessTest, AFullDiskAtTheReceiverIsACleanErrorAndLeavesNothing) {
  // alice shares a 12 MiB tmpfs (mounting needs root, which CI has).
  fs::path shared = dir_.path() / "alice" / "shared";
  auto disk = ScopedTmpfs::Mount(shared, "12m");
  if (!disk.ok()) GTEST_SKIP() << disk.status().message();
  auto& alice = StartPeer("alice");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok()) << bob.status().ToString();

  // Larger than the disk: refused before a byte is written.
  grpc::Status huge = PeerTestClient(alice.port(), bob.identity(), "alice").Upload("huge.bin",
                                                          RandomBytes(20 * 1024 * 1024, 1));
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << huge.error_message();

  // Two that each fit but not together: the second is refused before its
  // first byte (the free-disk check counts what the first has still to
  // write; it used to run out of disk mid-write instead).
  const std::string a = RandomBytes(8 * 1024 * 1024, 2), b = RandomBytes(8 * 1024 * 1024, 3);
  grpc::Status sa, sb;
  std::thread ta([&] { sa = PeerTestClient(alice.port(), bob.identity(), "alice").Upload("a.bin", a); });
  std::thread tb([&] { sb = PeerTestClient(alice.port(), bob.identity(), "alice").Upload("b.bin", b); });
  ta.join();
  tb.join();
  EXPECT_TRUE(!sa.ok() || !sb.ok()) << "16 MiB fit on a 12 MiB disk?";
  for (const auto& [status, name, data] : {std::tuple{sa, "a.bin", &a}, std::tuple{sb, "b.bin", &b}}) {
    if (status.ok()) {
      EXPECT_EQ(Sha256File((shared / name).string()).value(), Sha256Hex(*data)) << name;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
      EXPECT_NE(status.error_message().find("not enough free disk space"), std::string::npos)
          << status.error_message();
      EXPECT_FALSE(fs::exists(shared / name)) << name << " is there half written";
    }
  }
  EXPECT_TRUE(WaitUntil([&] { return fs::is_empty(shared / ".p2pshare/tmp"); }, std::chrono::seconds(5)));
  // The space of the failed upload is free again: a small upload works.
  EXPECT_TRUE(PeerTestClient(alice.port(), bob.identity(), "alice").Upload("small.bin", "fits").ok());
  EXPECT_TRUE(alice.running());
}

TEST_F(RobustnessTest, AHundredConcurrentDownloadsOfOneFileAllVerifyInBoundedMemory) {
  // 96 x 8 MiB = 768 MiB if a server held whole files; streaming keeps it
  // small. 12 downloaders, 8 downloads each: as many as a peer-server
  // serves at once (max_calls_per_peer 8, 96 calls in all).
  const std::string content = RandomBytes(8 * 1024 * 1024, 21);
  // Every downloader gets an upload slot at once (the default 4 would queue 8 of them).
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "popular.bin", content); },
                          Json{{"upload_slots", 12}});
  std::vector<std::unique_ptr<TestMember>> members;
  for (int m = 0; m < 12; ++m) {
    members.push_back(std::make_unique<TestMember>(*central_, dir_.path(), "fan" + std::to_string(m)));
    ASSERT_TRUE(members.back()->status().ok()) << members.back()->status().ToString();
  }
  const std::string want = Sha256Hex(content);
  const int64_t rss_before = PeakRssBytes(alice.pid());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 96; ++i) {
    threads.emplace_back([&, i] {
      auto d = PeerTestClient(alice.port(), members[i % 12]->identity(), "alice").Download("popular.bin");
      if (d.status.ok() && Sha256Hex(d.data) == want) good++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 96);
  EXPECT_TRUE(alice.running());
  const int64_t rss_peak = PeakRssBytes(alice.pid());
  std::printf("peer-server peak RSS: %.1f MiB before, %.1f MiB after 100 downloads of 8 MiB\n",
              rss_before / 1048576.0, rss_peak / 1048576.0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)rss_peak;  // shadow memory makes RSS meaningless under sanitizers
#else
  EXPECT_LT(rss_peak, int64_t{192} << 20) << "memory must not grow with files x downloads";
#endif
}

TEST_F(RobustnessTest, HostileRpcsAgainstTheRealPeerServerTouchNothingOutside) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  WriteFile(outside / "secret.txt", "top secret");
  auto& alice = StartPeer("alice", [&](const fs::path& d) {
    WriteFile(d / "song.bin", RandomBytes(300000, 4));
    fs::create_symlink(outside / "secret.txt", d / "escape.txt");
    fs::create_directory_symlink(outside, d / "escape-dir");
  });
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok()) << bob.status().ToString();
  PeerTestClient rpc(alice.port(), bob.identity(), "alice");
  auto down = [&](const std::string& name, int64_t offset = 0, int64_t length = 0) {
    return rpc.Download(name, offset, length).status.error_code();
  };
  EXPECT_EQ(down("../outside/secret.txt"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(down((outside / "secret.txt").string()), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(down(std::string("song.bin\0.txt", 13)), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(down("escape.txt"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(down("escape-dir/secret.txt"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(down("song.bin", -1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(down("song.bin", 0, -1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(down("song.bin", INT64_MAX), grpc::StatusCode::OUT_OF_RANGE);
  auto tail = rpc.Download("song.bin", 299990, INT64_MAX);
  EXPECT_TRUE(tail.status.ok());
  EXPECT_EQ(tail.data.size(), 10u);

  auto up = [&](const std::string& name, const std::string& data, int64_t size = -1,
                const std::string& sha = "", int64_t stop_after = -1) {
    return rpc.Upload(name, data, size, sha, stop_after).error_code();
  };
  EXPECT_EQ(up("../outside/new.txt", "x"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(up((outside / "new.txt").string(), "x"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(up("escape-dir/new.txt", "x"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(up("escape.txt", "overwrite"), grpc::StatusCode::ALREADY_EXISTS);
  const std::string data = RandomBytes(2 * 1024 * 1024, 5);
  EXPECT_EQ(up("lie-hash.bin", data, -1, std::string(64, 'a')), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(up("lie-short.bin", data, 1000), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(up("lie-long.bin", data, 3 * 1024 * 1024), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(up("half.bin", data, -1, "", 1024 * 1024), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(up("huge.bin", "x", int64_t{1} << 49), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(up("huge.bin", "x", int64_t{1} << 60), grpc::StatusCode::INVALID_ARGUMENT) << "over 1 PiB";

  // Nothing outside changed, nothing partial or refused is in the folder.
  EXPECT_EQ(ReadFile(outside / "secret.txt"), "top secret");
  EXPECT_EQ(std::distance(fs::directory_iterator(outside), fs::directory_iterator()), 1);
  for (const char* n : {"lie-hash.bin", "lie-short.bin", "lie-long.bin", "half.bin", "huge.bin"}) {
    EXPECT_FALSE(fs::exists(alice.shared_dir() / n)) << n;
  }
  EXPECT_TRUE(fs::is_empty(alice.shared_dir() / ".p2pshare/tmp"));
  EXPECT_TRUE(alice.running());
}

TEST_F(RobustnessTest, PasswordGuessingIsSlowedButTheOwnerGetsBackIn) {
  auto owner = central_->Client();
  ASSERT_TRUE(owner->Register("alice", "alice-password").ok());
  auto guesser = central_->Client();
  auto attempt = [](DirectoryClient& c, const std::string& password) {
    return c.Login(LoginRequest{"alice", password, std::nullopt, std::nullopt, {}}).status();
  };
  // Five free guesses, then 429 — for the guesser and, for the wait, the owner.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(attempt(*guesser, "guess-" + std::to_string(i)).reason(), "bad_credentials");
  }
  EXPECT_EQ(attempt(*guesser, "guess-5").reason(), "too_many_attempts");
  EXPECT_EQ(attempt(*owner, "alice-password").reason(), "too_many_attempts");
  // Attempts refused while waiting do not lengthen the wait: the owner,
  // trying again and again, is in once the announced seconds pass
  // (well before the 60 s cap).
  ASSERT_TRUE(WaitUntil([&] { return attempt(*owner, "alice-password").ok(); },
                        std::chrono::seconds(10)));
  // Success clears the count: one more wrong guess is a plain 401 again.
  EXPECT_EQ(attempt(*guesser, "guess-7").reason(), "bad_credentials");
}

}  // namespace
}  // namespace p2pshare::testing
