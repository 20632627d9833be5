// The attack suite (label `attacks`; docs/protocol.md, "Limits"): each test
// runs one attack as a hostile peer would, against the real binaries, while
// an honest peer works beside it, and asserts what the honest user would
// notice: their calls answered, fast (p99 under 100 ms for /healthz and
// heartbeats: wide enough for a loaded 2-core CI machine), their files
// intact; the attacked server's threads and memory bounded; everything as
// before once the attack stops. Every attack is bounded in count and time,
// stops by itself and targets loopback only (127.0.0.1, and 127.0.0.2/3 as
// other source addresses).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "integration/network_test.h"
#include "attacks/attack_support.h"
#include "integration/raw_connection.h"
#include "integration/test_support.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Each test starts central with the settings its attack needs.
class AttackTest : public ProcessTest {};

// --- central ---------------------------------------------------------------

TEST_F(AttackTest, SlowBodiesDoNotFreezeCentral) {
  StartCentral({{"tls", false}});
  HonestPeer honest(*central_, dir_.path());
  ASSERT_TRUE(honest.status().ok()) << honest.status().ToString();
  // 64 connections each declare a 1 MiB body and send a byte every 100 ms
  // for 5 s: before, each held one of central's 64 workers.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 64; ++i) {
    slow.push_back(std::make_unique<RawConnection>(central_->port()));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->Send("PUT /api/v1/index HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{");
  }
  honest.Start();
  for (int tick = 0; tick < 50; ++tick) {
    for (auto& s : slow) s->Send("x");
    std::this_thread::sleep_for(milliseconds(100));  // the attacker's own pace
  }
  honest.Stop();
  honest.ExpectUnharmed();
  EXPECT_LT(ProcStatus(central_->pid(), "Threads"), 100) << "threads of central";
  const int64_t rss_kb = ProcStatus(central_->pid(), "VmRSS");
  std::printf("central during the attack: %lld threads, %lld kB resident\n",
              static_cast<long long>(ProcStatus(central_->pid(), "Threads")), static_cast<long long>(rss_kb));
  EXPECT_LT(rss_kb, 512 * 1024) << "kB resident (sanitizer builds included)";
  slow.clear();
  EXPECT_TRUE(central_->Client()->Health().ok());
}

TEST_F(AttackTest, OneAddressCannotTakeEveryConnection) {
  StartCentral({{"tls", false}});
  // 600 idle connections from one address: 256 are kept, the rest refused.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 600; ++i) held.push_back(std::make_unique<RawConnection>(central_->port()));
  // Another machine is served at once.
  std::string reply = Exchange(central_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               "127.0.0.2");
  EXPECT_EQ(StatusOf(reply), 200) << reply;
  // A refused connection was answered 503 and closed at once; a kept one
  // says nothing yet. (Read without waiting, round after round, until the
  // refusals have all come: on a loaded machine central accepts a little
  // behind the client's connects.)
  std::vector<std::string> got(held.size());
  auto refusals = [&] {
    int n = 0;
    for (size_t i = 0; i < held.size(); ++i) {
      got[i] += held[i]->ReadNow();
      if (got[i].find("too_many_connections") != std::string::npos) n++;
    }
    return n;
  };
  int refused = 0;
  WaitUntil([&] { return (refused = refusals()) >= 600 - 256; }, seconds(10));
  refused = refusals();
  // 256 kept; a connection of the test's own start-up may still hold a slot.
  EXPECT_GE(refused, 600 - 256);
  EXPECT_LE(refused, 600 - 256 + 2);
  held.clear();
  // Once central has seen them close (at once, on each one's hang-up), the
  // address is served again.
  EXPECT_TRUE(WaitUntil([&] {
    return StatusOf(Exchange(central_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200;
  }, seconds(10)));
}

TEST_F(AttackTest, GuessingAPasswordDoesNotLockTheOwnerOut) {
  StartCentral({{"tls", false}});
  auto alice = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*alice, "alice").ok());  // alice's own machine: 127.0.0.1
  ASSERT_TRUE(alice->Logout().ok());
  // An attacker on another machine guesses for as long as it likes (30
  // tries here, without waiting for Retry-After).
  int slowed = 0;
  for (int i = 0; i < 30; ++i) {
    std::string r = Exchange(central_->port(),
                             Post("/api/v1/login", R"({"username":"alice","password":"guess-)" +
                                                       std::to_string(i) + R"(","host":"127.0.0.2"})"),
                             "127.0.0.2");
    if (StatusOf(r) == 429) slowed++;
    else EXPECT_EQ(StatusOf(r), 401) << r;
  }
  EXPECT_GT(slowed, 0) << "the guesser is slowed";
  // The owner logs in at once, from her machine and from a new one.
  LoginRequest login;
  login.username = "alice";
  login.password = "alice-password";
  login.host = "127.0.0.1";
  auto again = alice->Login(login);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  std::string fresh = Exchange(central_->port(),
                               Post("/api/v1/login", R"({"username":"alice","password":"alice-password","host":"127.0.0.3"})"),
                               "127.0.0.3");
  EXPECT_EQ(StatusOf(fresh), 200) << fresh;
}

TEST_F(AttackTest, ARegistrationFloodIsThrottledPerAddress) {
  StartCentral({{"tls", false}});
  HonestPeer honest(*central_, dir_.path());
  ASSERT_TRUE(honest.status().ok()) << honest.status().ToString();
  honest.Start();
  // 60 new accounts from one address, each a PBKDF2 for central.
  int created = 0, throttled = 0;
  for (int i = 0; i < 60; ++i) {
    std::string r = Exchange(central_->port(),
                             Post("/api/v1/register", R"({"username":"bot)" + std::to_string(i) +
                                                          R"(","password":"bot-password"})"),
                             "127.0.0.2");
    if (StatusOf(r) == 201) created++;
    if (StatusOf(r) == 429) {
      throttled++;
      EXPECT_NE(r.find("Retry-After:"), std::string::npos) << r;
      EXPECT_NE(r.find("too_many_registrations"), std::string::npos) << r;
    }
  }
  honest.Stop();
  // 20 at once, then one every 3 s (a slow machine may earn a few more).
  EXPECT_LE(created, 25);
  EXPECT_GE(throttled, 35);
  EXPECT_EQ(created + throttled, 60);
  honest.ExpectUnharmed();
  // Someone at another address still registers.
  EXPECT_TRUE(central_->Client()->Register("carol", "carol-password").ok());
}

TEST_F(AttackTest, OnePeerCannotFillTheIndex) {
  StartCentral({{"tls", false}, {"max_files_per_peer", 1000}, {"max_index_files", 1500}});
  auto mallory = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*mallory, "mallory").ok());
  auto files = [](const std::string& prefix, int n) {
    std::vector<FileEntry> out;
    for (int i = 0; i < n; ++i) {
      std::string name = prefix + std::to_string(i);
      out.push_back({name, i, Sha256Hex(name)});
    }
    return out;
  };
  ASSERT_TRUE(mallory->ReplaceIndex(files("m", 1000)).ok());
  auto over = mallory->ReplaceIndex(files("m", 1001));
  EXPECT_EQ(over.status().reason(), "too_many_files") << over.status().ToString();
  auto grow = mallory->PatchIndex(files("extra", 1), {});
  EXPECT_EQ(grow.status().reason(), "too_many_files") << grow.status().ToString();
  // Replacing a listed file is no growth.
  EXPECT_TRUE(mallory->PatchIndex({{"m7", 70, Sha256Hex("new")}}, {}).ok());
  EXPECT_EQ(central_->Client()->Search("m", 1000).value().total, 1000) << "nothing half applied";
  // The whole index is bounded too; others still add within it.
  auto bob = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*bob, "bob").ok());
  EXPECT_EQ(bob->ReplaceIndex(files("b", 600)).status().reason(), "too_many_files");
  EXPECT_TRUE(bob->ReplaceIndex(files("b", 500)).ok());
}

TEST_F(AttackTest, APostWithoutBodyOrLengthIsAnEmptyBody) {
  StartCentral({{"tls", false}});
  auto alice = central_->Client();
  auto login = RegisterAndLogin(*alice, "alice");
  ASSERT_TRUE(login.ok());
  // curl -X POST .../logout -H "Authorization: Bearer ..." sends no length.
  std::string r = Exchange(central_->port(), "POST /api/v1/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                                 login->token + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 204) << r;
  EXPECT_FALSE(alice->Heartbeat().ok()) << "logged out";
  // Ambiguous framing stays refused.
  EXPECT_EQ(StatusOf(Exchange(central_->port(), "POST /api/v1/login HTTP/1.1\r\nHost: x\r\n"
                                                "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")),
            411);
}

TEST_F(AttackTest, BroadSearchesRunOneAtATime) {
  StartCentral({{"tls", false}, {"max_files_per_peer", 200000}});
  // 120 000 names. A two-letter fragment in none of them ("qz") is in no
  // key's list: finding that it matches nothing checks every name.
  auto bulk = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*bulk, "bulk").ok());
  KeepAlive bulk_alive(bulk.get());  // its session outlives a slow ingest
  for (int part = 0; part < 20; ++part) {
    std::vector<FileEntry> files;
    for (int i = 0; i < 6000; ++i) {
      std::string name = "archive/p" + std::to_string(part) + "/item-" + std::to_string(i) + ".dat";
      files.push_back({name, i, Sha256Hex(name)});
    }
    ASSERT_TRUE(bulk->PatchIndex(files, {}).ok());
  }
  HonestPeer honest(*central_, dir_.path());
  ASSERT_TRUE(honest.status().ok()) << honest.status().ToString();
  honest.Start();
  std::atomic<int> sent{0}, answered{0}, busy{0}, popular_answered{0}, popular_sent{0};
  std::vector<std::thread> attackers;
  const std::string letters = "bfgjklnoqsuvwxyz";  // none is in "archive/p0/item-0.dat"
  for (int t = 0; t < 6; ++t) {
    attackers.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", central_->port());
      c.set_keep_alive(true);
      // 40 each at least, and on until the honest peer has worked through
      // the attack (most are told busy at once, so 240 alone can be over
      // before it has made a few calls). Each fragment differs, so no
      // answer comes from the cache.
      for (int i = 0; i < 40 || honest.rounds() < 10; ++i) {
        const int n = t * 40 + i;
        std::string q = {letters[(n / 16) % 16], letters[n % 16]};
        sent++;
        auto r = c.Get("/api/v1/search?q=" + q + "&limit=50");
        if (r && r->status == 200) answered++;
        if (r && r->status == 503) {
          busy++;
          EXPECT_EQ(r->get_header_value("Retry-After"), "1");
        }
      }
    });
  }
  // Meanwhile someone searches for what every name has: the first page
  // comes at once, never "busy".
  std::thread popular([&] {
    httplib::Client c("127.0.0.1", central_->port());
    c.set_keep_alive(true);
    for (const char* q : {"item", "a", "dat", "archive/p1", "*", "?", "i", "it"}) {
      popular_sent++;
      auto r = c.Get(std::string("/api/v1/search?limit=50&q=") + httplib::detail::encode_query_param(q));
      if (r && r->status == 200 && Json::parse(r->body)["results"].size() == 50) popular_answered++;
      else ADD_FAILURE() << q << ": " << (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : "no answer");
    }
  });
  for (auto& t : attackers) t.join();
  popular.join();
  honest.Stop();
  std::printf("broad searches: %d answered, %d told busy; popular: %d of %d answered\n", answered.load(),
              busy.load(), popular_answered.load(), popular_sent.load());
  EXPECT_EQ(answered + busy, sent.load());
  EXPECT_GT(answered.load(), 0);
  EXPECT_GT(busy.load(), 0) << "six at once ran side by side";
  honest.ExpectUnharmed();
}

// --- peer-server -----------------------------------------------------------

TEST_F(AttackTest, StreamsThatNeverReadAreCappedAndEnded) {
  StartCentral();
  const std::string big = RandomBytes(64 * 1024 * 1024, 7);
  auto& alice = StartPeer("alice", [&](const fs::path& d) {
    WriteFile(d / "big.bin", big);
    WriteFile(d / "notes.txt", "the honest peer's notes\n");
  }, {{"stall_timeout_s", 3}});
  TestMember mallory(*central_, dir_.path(), "mallory");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(mallory.status().ok() && bob.status().ok());
  // 130 downloads of 64 MiB, none ever read (one connection carries 16 at
  // a time; the client queues the rest).
  auto channel = PeerChannel("127.0.0.1", alice.port(), "alice", &mallory.identity());
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::thread> streams;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int i = 0; i < 130; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() + seconds(120));
    streams.emplace_back([&, ctx = contexts.back().get()] {
      auto stub = v1::PeerService::NewStub(channel);
      v1::DownloadRequest req;
      req.set_name("big.bin");
      auto reader = stub->Download(ctx, req);
      // Never Read: the server's writes block. (A client that has not read
      // its messages does not see the call's end either: the test cancels
      // its side once the server has ended it.)
      grpc::Status s = reader->Finish();
      std::lock_guard<std::mutex> lock(mu);
      codes[s.error_code()]++;
    });
  }
  // Meanwhile the honest peer downloads, and the server stays within bounds.
  WaitUntil([&] { std::lock_guard<std::mutex> lock(mu); return codes[grpc::StatusCode::RESOURCE_EXHAUSTED] >= 100; },
            seconds(30));
  auto notes = PeerTestClient(alice.port(), bob.identity(), "alice").Download("notes.txt");
  EXPECT_TRUE(notes.status.ok()) << notes.status.error_message();
  EXPECT_EQ(notes.data, "the honest peer's notes\n");
  EXPECT_LT(ProcStatus(alice.pid(), "Threads"), 150) << "threads of the peer-server";
  EXPECT_LT(ProcStatus(alice.pid(), "VmRSS"), 512 * 1024) << "kB resident (sanitizer builds included)";
  // The streams that were let in make no progress, and the server ends them.
  auto ended = [&] {
    std::string log = alice.log();
    int n = 0;
    for (size_t at = log.find("made no progress"); at != std::string::npos;
         at = log.find("made no progress", at + 1)) {
      n++;
    }
    return n;
  };
  // Every call is either refused or let in and then ended by the server (8
  // at once: on a machine slow enough to admit calls later than the stall
  // timeout, a few more are let in as others end).
  EXPECT_TRUE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return codes[grpc::StatusCode::RESOURCE_EXHAUSTED] + ended() >= 130;
  }, seconds(60))) << ended() << " ended";
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& t : streams) t.join();
  EXPECT_GE(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 110) << "8 calls per peer at once";
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED] + ended(), 130);
  EXPECT_EQ(codes[grpc::StatusCode::OK], 0);
  // Afterwards mallory, too, is served again.
  auto again = PeerTestClient(alice.port(), mallory.identity(), "alice").Download("notes.txt");
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(alice.running());
}


TEST_F(AttackTest, StalledUploadsStayWithinTheQuotaAndEnd) {
  StartCentral();
  const std::string song = RandomBytes(1024 * 1024, 9);
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "song.bin", song); },
                          {{"stall_timeout_s", 4}, {"max_storage_bytes", 4 * 1024 * 1024}});
  TestMember mallory(*central_, dir_.path(), "mallory");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(mallory.status().ok() && bob.status().ok());
  // Six uploads under the shared name, same size, hash last: all the bytes,
  // then silence. Before, a same-sized "replacement" skipped the quota.
  auto channel = PeerChannel("127.0.0.1", alice.port(), "alice", &mallory.identity());
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::atomic<int> sent{0};
  std::vector<std::thread> uploads;
  for (int i = 0; i < 6; ++i) {
    uploads.emplace_back([&] {
      auto stub = v1::PeerService::NewStub(channel);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + seconds(120));
      v1::UploadReply reply;
      auto writer = stub->Upload(&ctx, &reply);
      v1::UploadMessage m;
      m.mutable_header()->set_name("song.bin");
      m.mutable_header()->set_size(static_cast<int64_t>(song.size()));
      bool open = writer->Write(m);
      m.set_data(RandomBytes(song.size(), 10));
      if (open && writer->Write(m)) sent++;
      grpc::Status s = writer->Finish();  // no hash, no end: a stall
      std::lock_guard<std::mutex> lock(mu);
      codes[s.error_code()]++;
    });
  }
  WaitUntil([&] { std::lock_guard<std::mutex> lock(mu); return codes[grpc::StatusCode::RESOURCE_EXHAUSTED] >= 3; },
            seconds(20));
  EXPECT_LE(TempBytes(alice.shared_dir()), 3 * 1024 * 1024) << "the quota left is 3 MiB";
  for (auto& t : uploads) t.join();
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 3);
  EXPECT_EQ(codes[grpc::StatusCode::OK], 0);
  EXPECT_TRUE(WaitUntil([&] { return TempBytes(alice.shared_dir()) == 0; }, seconds(10)))
      << "stalled uploads leave nothing behind";
  EXPECT_EQ(Sha256File((alice.shared_dir() / "song.bin").string()).value(), Sha256Hex(song));
  // A name 20 folders deep: refused before any folder is made.
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "d" + std::to_string(i) + "/";
  grpc::Status d = PeerTestClient(alice.port(), mallory.identity(), "alice").Upload(deep + "x", "");
  EXPECT_EQ(d.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << d.error_message();
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "d0"));
  // The room is back for an honest upload.
  EXPECT_TRUE(PeerTestClient(alice.port(), bob.identity(), "alice").Upload("bob.bin", RandomBytes(2 << 20, 11)).ok());
}

TEST_F(AttackTest, AFifoInTheFolderNeverHangsTheServer) {
  StartCentral();
  auto& alice = StartPeer("alice", [&](const fs::path& d) {
    ASSERT_EQ(::mkfifo((d / "pipe.bin").c_str(), 0644), 0);
    WriteFile(d / "notes.txt", "notes\n");
  });
  TestMember mallory(*central_, dir_.path(), "mallory");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(mallory.status().ok() && bob.status().ok());
  std::vector<std::thread> calls;
  std::mutex mu;
  std::vector<grpc::Status> results;
  for (int i = 0; i < 3; ++i) {
    calls.emplace_back([&] {
      auto d = PeerTestClient(alice.port(), mallory.identity(), "alice").Download("pipe.bin");
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(d.status);
    });
    calls.emplace_back([&] {
      grpc::Status u = PeerTestClient(alice.port(), mallory.identity(), "alice").Upload("pipe.bin", "x");
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(u);
    });
  }
  for (auto& t : calls) t.join();
  for (const grpc::Status& s : results) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << "a call waited on the FIFO";
  }
  auto notes = PeerTestClient(alice.port(), bob.identity(), "alice").Download("notes.txt");
  EXPECT_TRUE(notes.status.ok()) << notes.status.error_message();
  EXPECT_TRUE(alice.running());
}

TEST_F(AttackTest, SilentConnectionsCannotUseUpAPeerServersDescriptors) {
  // A stranger (no account needed) opens TCP connections to a peer-server
  // and never says a word. Each holds a descriptor; with the soft
  // open-file limit most sessions start with (1024), 1100 of them left
  // nobody else able to connect, and gRPC's handshake timeout (120 s)
  // kept them that long.
  rlimit mine{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &mine), 0);
  if (mine.rlim_max != RLIM_INFINITY && mine.rlim_max < 4096) {
    GTEST_SKIP() << "the hard open-file limit here (" << mine.rlim_max << ") is below what the attack needs";
  }
  StartCentral();
  rlimit session = mine;
  session.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &session), 0);  // what alice's process inherits
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "notes.txt", "notes\n"); });
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &mine), 0);
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok());

  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 1100; ++i) {
    silent.push_back(std::make_unique<RawConnection>(alice.port(), "127.0.0.2"));
    ASSERT_TRUE(silent.back()->ok()) << "connection " << i;
  }
  auto notes = PeerTestClient(alice.port(), bob.identity(), "alice").Download("notes.txt");
  EXPECT_TRUE(notes.status.ok()) << "bob could not download beside 1100 silent connections: "
                                 << notes.status.error_message();
  EXPECT_EQ(notes.data, "notes\n");
  // And the silent ones are cut off once the handshake time is up (10 s).
  EXPECT_TRUE(WaitUntil(
      [&] {
        return std::all_of(silent.begin(), silent.end(), [](auto& c) { return c->ClosedByServer(); });
      },
      seconds(30)))
      << "silent connections still held 30 s later";
  EXPECT_TRUE(alice.running()) << alice.log();
}

TEST_F(AttackTest, ALocateFloodIsRateLimitedPerCaller) {
  StartCentral();
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "notes.txt", "notes\n"); });
  TestMember mallory(*central_, dir_.path(), "mallory");
  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(mallory.status().ok() && bob.status().ok());
  PeerTestClient attacker(alice.port(), mallory.identity(), "alice");
  int refused = 0, answered = 0;
  for (int i = 0; i < 60; ++i) {
    v1::LocateRequest req;
    req.set_query("notes");
    v1::LocateReply reply;
    grpc::Status s = attacker.Locate(req, &reply);
    if (s.ok()) answered++;
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) refused++;
  }
  std::printf("locate flood: %d answered, %d refused\n", answered, refused);
  EXPECT_EQ(answered + refused, 60);
  EXPECT_GE(refused, 25);  // 10 at once, then 5 a second
  // The honest peer's query is answered: its own allowance.
  v1::LocateRequest req;
  req.set_query("notes");
  v1::LocateReply reply;
  grpc::Status s = PeerTestClient(alice.port(), bob.identity(), "alice").Locate(req, &reply);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(reply.results_size(), 1);
}

}  // namespace
}  // namespace p2pshare::testing
