// The real `peer-server` binaries with a real `central`: ports, index sync,
// transfers, auth, crashes, logout, taken ports, central going away.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <sstream>

#include "common/sha256.h"
#include "common/small_files.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"
#include "unit/test_network.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

class PeerServerTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    directory_ = central_->Client();
  }
  // `name` as a member of the network (joins its peer), kept alive by
  // heartbeats: its certificate identifies it to other peers.
  const PeerIdentity& Member(const std::string& name) {
    members_.push_back(std::make_unique<TestMember>(*central_, dir_.path(), name));
    EXPECT_TRUE(members_.back()->status().ok()) << members_.back()->status().ToString();
    return members_.back()->identity();
  }
  int64_t SearchTotal(const std::string& q) {
    auto page = directory_->Search(q);
    return page.ok() ? page->total : -1;
  }
  std::vector<std::string> Holders(const std::string& q) {
    std::vector<std::string> out;
    auto page = directory_->Search(q);
    if (page.ok()) {
      for (const auto& r : page->results) {
        for (const auto& h : r.holders) out.push_back(h.username);
      }
    }
    return out;
  }

  // central's /metrics ("" when it cannot be read).
  std::string CentralMetrics() {
    auto res = central_->Http()->Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  }

  std::unique_ptr<DirectoryClient> directory_;
  std::vector<std::unique_ptr<TestMember>> members_;
};

TEST_F(PeerServerTest, TwoPeersGetDistinctPortsAndShowInPeers) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "alice's"); });
  auto& bob = StartPeer("bob");
  EXPECT_EQ(alice.port(), range_.first);
  EXPECT_EQ(bob.port(), range_.first + 1);
  ASSERT_TRUE(WaitUntil([&] { return SearchTotal("a.txt") == 1; }, std::chrono::seconds(5)));
  auto peers = directory_->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].username, "alice");
  EXPECT_EQ((*peers)[0].port, alice.port());
  EXPECT_EQ((*peers)[0].files, 1);
  EXPECT_EQ((*peers)[1].port, bob.port());
  v1::PingReply pong;
  ASSERT_TRUE(PeerTestClient(alice.port(), Member("carol"), "alice").Ping("ECO", &pong).ok());
  EXPECT_EQ(pong.username(), "alice");
}

// Central checks, as any peer would, that it can reach the address it lists
// (docs/protocol.md, "Reachability"); the peer is told, and everyone sees it.
TEST_F(PeerServerTest, CentralReachesAPeerAtItsAddressAndSaysSo) {
  auto& alice = StartPeer("alice");
  const std::string told = "central reached this peer at 127.0.0.1:" + std::to_string(alice.port());
  ASSERT_TRUE(WaitUntil([&] { return alice.log().find(told) != std::string::npos; }, std::chrono::seconds(10)))
      << alice.log();
  auto peers = directory_->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].reachable, "direct");
  EXPECT_NE(CentralMetrics().find("p2pshare_peers_reachable{reachable=\"direct\"} 1"), std::string::npos)
      << CentralMetrics();
}

// A peer listed at an address where it does not listen (what a router that
// does not forward the port looks like from outside) is told at start, in
// one line, what that means — others reach it through central's relay —
// and peers and /metrics say so too.
TEST_F(PeerServerTest, APeerNobodyCanReachIsToldAtStartInOneLine) {
  auto& alice = StartPeer("alice", {}, Json{{"listen_host", "127.0.0.1"}, {"advertise_host", "127.0.0.3"}});
  const std::string told = "other peers cannot reach this peer at 127.0.0.3:" + std::to_string(alice.port()) +
                           " (central tried: connection refused";
  ASSERT_TRUE(WaitUntil([&] { return alice.log().find(told) != std::string::npos; }, std::chrono::seconds(10)))
      << alice.log();
  EXPECT_NE(alice.log().find("the others reach it through central's relay"), std::string::npos) << alice.log();
  auto peers = directory_->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].reachable, "relayed-only");
  EXPECT_NE(CentralMetrics().find("p2pshare_peers_reachable{reachable=\"relayed-only\"} 1"), std::string::npos)
      << CentralMetrics();
}

TEST_F(PeerServerTest, FolderChangesReachSearchWithinTwoSeconds) {
  auto& alice = StartPeer("alice");
  const auto two_s = std::chrono::seconds(2);
  WriteFile(alice.shared_dir() / "new/dropped.txt", "fresh");
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("dropped") == 1; }, two_s))
      << "a new file is not searchable 2 s after it appeared";
  fs::rename(alice.shared_dir() / "new/dropped.txt", alice.shared_dir() / "renamed.txt");
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("dropped") == 0 && SearchTotal("renamed") == 1; },
                        two_s))
      << "a rename is not reflected 2 s later";
  WriteFile(alice.shared_dir() / "renamed.txt", "changed content");
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto page = directory_->Search("renamed");
        return page.ok() && page->total == 1 &&
               page->results[0].sha256 == Sha256Hex("changed content");
      },
      two_s))
      << "a changed file's new hash is not indexed 2 s later";
  fs::remove(alice.shared_dir() / "renamed.txt");
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("renamed") == 0; }, two_s))
      << "a deleted file is still searchable 2 s later";
  EXPECT_NE(alice.log().find("index updated"), std::string::npos);
}

TEST_F(PeerServerTest, A64MiBDownloadIsByteIdenticalAndResumesFromAnOffset) {
  const std::string content = RandomBytes(64 * 1024 * 1024, 42);
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "big.bin", content); });
  StartPeer("bob");
  PeerTestClient client(alice.port(), Member("bob"), "alice");

  auto whole = client.Download("big.bin");
  ASSERT_TRUE(whole.status.ok()) << whole.status.error_message();
  EXPECT_EQ(whole.data.size(), content.size());
  EXPECT_EQ(Sha256Hex(whole.data), Sha256Hex(content));
  EXPECT_EQ(whole.info.sha256(), Sha256Hex(content));
  EXPECT_EQ(whole.info.size(), static_cast<int64_t>(content.size()));

  // An interrupted transfer: the first 10 MiB, then the rest from there.
  const int64_t cut = 10 * 1024 * 1024 + 17;
  auto head = client.Download("big.bin", 0, cut);
  auto rest = client.Download("big.bin", cut);
  ASSERT_TRUE(head.status.ok() && rest.status.ok());
  EXPECT_EQ(head.data.size(), static_cast<size_t>(cut));
  EXPECT_EQ(Sha256Hex(head.data + rest.data), Sha256Hex(content));
}

TEST_F(PeerServerTest, AnUploadLandsInTheTargetsFolderAndBecomesSearchable) {
  auto& alice = StartPeer("alice");
  StartPeer("bob");
  const std::string data = RandomBytes(3 * 1024 * 1024 + 1, 5);
  grpc::Status s =
      PeerTestClient(alice.port(), Member("bob"), "alice").Upload("gifts/from-bob.bin", data);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ReadFile(alice.shared_dir() / "gifts/from-bob.bin"), data);
  EXPECT_TRUE(WaitUntil([&] { return Holders("from-bob") == std::vector<std::string>{"alice"}; },
                        std::chrono::seconds(2)));
  EXPECT_TRUE(fs::is_empty(alice.shared_dir() / ".p2pshare/tmp"));
}

TEST_F(PeerServerTest, CallsWithoutAValidCertificateAreUnauthenticated) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  TestNetwork elsewhere;  // another network's CA
  auto ca = ReadSmallFile(central_->ca_file());
  ASSERT_TRUE(ca.ok());
  auto refused = [&](PeerTestClient client, const std::string& what) {
    v1::ListFilesReply files;
    EXPECT_EQ(client.ListFiles(&files).error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
    EXPECT_EQ(client.Download("a.txt").status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what;
    EXPECT_EQ(client.Upload("b.txt", "b").error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
  };
  refused(PeerTestClient::WithoutCertificate(alice.port(), *ca), "no certificate");
  PeerIdentity outsider = elsewhere.Member("mallory");
  ASSERT_TRUE(WriteFileAtomically(outsider.ca_file, *ca, 0644).ok());  // it knows whom to call
  refused(PeerTestClient(alice.port(), outsider, "alice"), "another network's certificate");

  // A member's certificate works; once its account logs out it is revoked,
  // and alice refuses it within her heartbeat interval (1 s here).
  auto carol = std::make_unique<TestMember>(*central_, dir_.path(), "carol");
  ASSERT_TRUE(carol->status().ok()) << carol->status().ToString();
  PeerTestClient as_carol(alice.port(), carol->identity(), "alice");
  ASSERT_TRUE(as_carol.Download("a.txt").status.ok());
  ASSERT_TRUE(carol->client().Logout().ok());
  // The stated bound: one heartbeat interval, plus a margin of two.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return as_carol.Download("a.txt").status.error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      std::chrono::seconds(3)))
      << "carol's certificate still works 3 s after her logout";
  EXPECT_FALSE(fs::exists(alice.shared_dir() / "b.txt"));
}

TEST_F(PeerServerTest, KilledPeerVanishesAfterTheTtlAndGetsItsOldPortBack) {
  StartPeer("alice");
  auto& bob = StartPeer("bob", [](const fs::path& d) { WriteFile(d / "bobs.txt", "b"); });
  auto& carol = StartPeer("carol", [](const fs::path& d) { WriteFile(d / "carols.txt", "c"); });
  int carol_port = carol.port();
  EXPECT_EQ(carol_port, range_.first + 2);
  ASSERT_TRUE(WaitUntil([&] { return SearchTotal("s.txt") == 2; }, std::chrono::seconds(5)));
  bob.Signal(SIGKILL);
  carol.Signal(SIGKILL);
  bob.Wait(std::chrono::seconds(5));
  carol.Wait(std::chrono::seconds(5));
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("s.txt") == 0; }, std::chrono::seconds(8)))
      << "killed peers' files are still searchable well after the 3 s TTL";
  // carol comes back first: she asks for her old port, not the lowest free.
  ASSERT_TRUE(carol.Start().ok());
  EXPECT_EQ(carol.port(), carol_port);
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("carols") == 1; }, std::chrono::seconds(5)));
}

TEST_F(PeerServerTest, ASecondPeerServerForTheAccountRefusesToStartAndTheFirstGoesOn) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  ASSERT_TRUE(WaitUntil([&] { return SearchTotal("a.txt") == 1; }, std::chrono::seconds(5)));
  // The same account from another folder (as a second terminal would).
  PeerServerProcess twin(dir_.path() / "twin", "alice", *central_);
  WriteFile(twin.shared_dir() / "other.txt", "o");
  EXPECT_FALSE(twin.Start().ok());
  EXPECT_EQ(twin.Wait(std::chrono::seconds(10)), 1) << twin.log();
  const std::string where = "127.0.0.1:" + std::to_string(alice.port());
  EXPECT_NE(twin.log().find("another peer-server for account 'alice' is already running at " + where),
            std::string::npos)
      << twin.log();
  // The first was not harmed: still running, still the only alice, at its
  // port, and its session still works (a new file reaches the index).
  EXPECT_TRUE(alice.running()) << alice.log();
  auto peers = directory_->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].port, alice.port());
  EXPECT_EQ(SearchTotal("other.txt"), 0);
  WriteFile(alice.shared_dir() / "b.txt", "b");
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("b.txt") == 1; }, std::chrono::seconds(5))) << alice.log();
  EXPECT_EQ(SearchTotal("a.txt"), 1);
  EXPECT_EQ(alice.log().find("logged out"), std::string::npos) << alice.log();
}

TEST_F(PeerServerTest, APeerServerRestartedRightAfterAKillTakesItsSessionBack) {
  // Its session is still online (the TTL has not passed): the new process
  // joins it, finds nobody answering at the port, and serves there.
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  const int port = alice.port();
  alice.Signal(SIGKILL);
  alice.Wait(std::chrono::seconds(5));
  ASSERT_EQ(directory_->Peers()->size(), 1u) << "the killed peer should still be listed";
  ASSERT_TRUE(alice.Start().ok()) << alice.log();
  EXPECT_EQ(alice.port(), port);
  EXPECT_EQ(alice.log().find("already running"), std::string::npos) << alice.log();
  WriteFile(alice.shared_dir() / "b.txt", "b");
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("b.txt") == 1; }, std::chrono::seconds(5)));
}

TEST_F(PeerServerTest, ALogoutFromThePeersClientStopsItsServer) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  auto client = central_->Client();
  auto login = RegisterAndLogin(*client, "alice");  // peer-client's login joins the peer
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->port, alice.port());
  ASSERT_TRUE(client->Logout().ok());
  auto code = alice.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.has_value()) << "peer-server still runs after its peer logged out";
  EXPECT_EQ(*code, 0);
  EXPECT_NE(alice.log().find("logged out of the network"), std::string::npos);
  EXPECT_EQ(SearchTotal("a.txt"), 0);
}

TEST_F(PeerServerTest, SigtermLogsOutAndExitsZero) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  ASSERT_TRUE(WaitUntil([&] { return SearchTotal("a.txt") == 1; }, std::chrono::seconds(5)));
  alice.Signal(SIGTERM);
  EXPECT_EQ(alice.Wait(std::chrono::seconds(10)), 0);
  EXPECT_EQ(SearchTotal("a.txt"), 0);  // at once, not after a TTL
  EXPECT_EQ(directory_->Peers()->size(), 0u);
}

TEST_F(PeerServerTest, APortTakenByAnotherProgramIsSkipped) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(range_.first));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto& alice = StartPeer("alice");
  ::close(fd);
  EXPECT_EQ(alice.port(), range_.first + 1);
  EXPECT_NE(alice.log().find("taken by another program"), std::string::npos);
  auto peers = directory_->Peers();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].port, range_.first + 1);
}

TEST_F(PeerServerTest, AListenHostThatIsNotThisMachinesIsOneClearErrorNotPortAfterPort) {
  // 192.0.2.1 (TEST-NET-1) is on no interface here: no port will ever bind
  // there. It used to be read as "port taken", asking central for port
  // after port forever.
  PeerServerProcess alice(dir_.path(), "alice", *central_, Json{{"listen_host", "192.0.2.1"}});
  EXPECT_FALSE(alice.Start().ok());
  EXPECT_EQ(alice.Wait(std::chrono::seconds(10)), 1) << alice.log();
  EXPECT_NE(alice.log().find("cannot listen on 192.0.2.1:"), std::string::npos) << alice.log();
  EXPECT_NE(alice.log().find("listen_host must be an address of this machine"), std::string::npos);
  EXPECT_EQ(alice.log().find("taken by another program"), std::string::npos) << alice.log();
  EXPECT_TRUE(WaitUntil([&] { return directory_->Peers()->empty(); }, std::chrono::seconds(5)))
      << "the peer must not stay online with a port it cannot serve";
}

TEST_F(PeerServerTest, WaitsForCentralAndLogsTheOutageOnce) {
  central_->Stop();
  peers_.push_back(std::make_unique<PeerServerProcess>(dir_.path(), "alice", *central_));
  auto& alice = *peers_.back();
  WriteFile(alice.shared_dir() / "a.txt", "a");
  std::thread starter([&] { EXPECT_TRUE(alice.Start().ok()); });
  // Let it retry a few times against the closed port (read from its log
  // file: `alice` itself is being set up by the starter thread).
  auto log_file = [&] { return ReadFile(dir_.path() / "alice" / "peer-server-1.log"); };
  WaitUntil([&] { return log_file().find("unreachable") != std::string::npos; },
            std::chrono::seconds(10));
  auto since = std::chrono::steady_clock::now();
  WaitUntil([&] { return std::chrono::steady_clock::now() - since > std::chrono::seconds(2); },
            std::chrono::seconds(3));
  ASSERT_TRUE(central_->Start().ok());
  starter.join();
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal("a.txt") == 1; }, std::chrono::seconds(5)));
  std::string log = alice.log();
  int outage_lines = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) outage_lines += line.find("unreachable") != std::string::npos;
  EXPECT_EQ(outage_lines, 1) << log;
  EXPECT_NE(log.find("answers again"), std::string::npos) << log;
}

TEST_F(PeerServerTest, SurvivesCentralKilledAndRestarted) {
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  ASSERT_TRUE(WaitUntil([&] { return SearchTotal("a.txt") == 1; }, std::chrono::seconds(5)));
  central_->Kill9();
  WriteFile(alice.shared_dir() / "while-down.txt", "w");  // a change central cannot hear of yet
  ASSERT_TRUE(central_->Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return SearchTotal(".txt") == 2; }, std::chrono::seconds(8)))
      << "the change made while central was down never arrived";
  EXPECT_TRUE(alice.running());
  auto peers = directory_->Peers();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].port, alice.port());
}

}  // namespace
}  // namespace p2pshare::testing
