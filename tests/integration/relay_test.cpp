// Peers that nobody can reach at their address, with the real binaries:
// central's channel brings the holder to central's relay, and transfers in
// both directions go through it, byte-identical, with the peers' own TLS.
// (Behind real routers in network namespaces: tests/network.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <regex>

#include "common/hex.h"
#include "common/relay_link.h"
#include "common/sha256.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/free_port.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

class RelayTest : public NetworkTest {
 protected:
  // Alice listens on 127.0.0.1 but is listed at 127.0.0.3, where nothing
  // answers: what a router that does not forward her port looks like.
  PeerServerProcess& StartHiddenAlice() {
    big_ = RandomBytes(6 * 1024 * 1024, 31);
    return StartHidden("alice", "127.0.0.3", [&](const fs::path& d) { WriteFile(d / "big.bin", big_); });
  }
  PeerServerProcess& StartHidden(const std::string& name, const std::string& listed,
                                 std::function<void(const fs::path&)> files = {}) {
    auto& peer = StartPeer(name, files ? files : [](const fs::path&) {},
                           Json{{"listen_host", "127.0.0.1"}, {"advertise_host", listed}});
    EXPECT_TRUE(WaitUntil([&] { return peer.log().find("the others reach it through central's relay") != std::string::npos; },
                          std::chrono::seconds(10)))
        << peer.log();
    EXPECT_TRUE(WaitUntil([&] { return peer.log().find("channel from central open") != std::string::npos; },
                          std::chrono::seconds(10)))
        << peer.log();
    return peer;
  }
  std::pair<int, std::string> Client(const std::string& user, std::vector<std::string> words) {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", WriteClientConfig(dir_.path(), user, *central_)};
    argv.insert(argv.end(), words.begin(), words.end());
    return RunToEnd(argv, (dir_.path() / user / ("client-" + std::to_string(++runs_) + ".log")).string());
  }
  int64_t Metric(const std::string& name) {
    auto res = central_->Http()->Get("/metrics");
    if (!res) return -1;
    std::smatch m;
    std::regex line("\n" + name + " ([0-9]+)");
    return std::regex_search(res->body, m, line) ? std::stoll(m[1]) : -1;
  }
  std::string big_;
  int runs_ = 0;
};

// Bob cannot be reached either (his own peer-server is listed where
// nothing answers): alice cannot connect back to him, so the relay
// carries both directions.
TEST_F(RelayTest, APeerNobodyReachesIsDownloadedFromAndUploadedToThroughTheRelay) {
  auto& alice = StartHiddenAlice();
  StartHidden("bob", "127.0.0.4");
  auto peers = central_->Client()->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].reachable, "relayed-only");

  auto [code, out] = Client("bob", {"download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(ReadFile(dir_.path() / "bob" / "downloads" / "big.bin"), big_);
  EXPECT_NE(out.find("(alice through central's relay)"), std::string::npos) << out;
  EXPECT_GE(Metric("p2pshare_relay_bytes_total"), static_cast<int64_t>(big_.size()))
      << "the bytes did not go through the relay";

  const std::string report = RandomBytes(700000, 32);
  WriteFile(dir_.path() / "bob" / "report.pdf", report);
  auto [up, up_out] = Client("bob", {"upload", (dir_.path() / "bob" / "report.pdf").string(), "--to", "alice", "--wait"});
  ASSERT_EQ(up, 0) << up_out;
  EXPECT_TRUE(WaitUntil([&] { return fs::exists(alice.shared_dir() / "report.pdf"); }, std::chrono::seconds(5)));
  EXPECT_EQ(ReadFile(alice.shared_dir() / "report.pdf"), report);
  EXPECT_GE(Metric("p2pshare_relay_sessions_total"), 1);
}

// When the holder is gone, the error names it and says why in our words,
// not gRPC's about a loopback port.
TEST_F(RelayTest, AHiddenHolderThatLeftIsNamedInPlainWords) {
  auto& alice = StartHiddenAlice();
  ASSERT_TRUE(central_->Client()->Register("bob", "bob-password").ok());
  auto found = central_->Client()->Search("big.bin");
  ASSERT_TRUE(found.ok() && found->total == 1);
  const std::string sha = found->results[0].sha256;
  alice.Signal(SIGKILL);
  alice.Wait(std::chrono::seconds(5));
  auto [code, out] = Client("bob", {"download", sha});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("alice is not connected to central right now"), std::string::npos) << out;
  EXPECT_EQ(out.find("127.0.0.1:"), std::string::npos) << "a loopback port reached the user: " << out;
}

// Strangers at the relay: guessed tokens open nothing, one account takes
// at most two of a holder's places, and the honest peer still gets its file.
TEST_F(RelayTest, GuessedTokensAndManyRendezvousOfAStrangerLeaveTheHonestPeerItsFile) {
  StartHiddenAlice();
  TestMember mallory(*central_, dir_.path(), "mallory");
  ASSERT_TRUE(mallory.status().ok()) << mallory.status().message();
  // Two places for one account at one holder (each held for the ticket's
  // 15 s, since mallory never comes); the third is refused.
  auto first = mallory.client().Rendezvous("alice");
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(mallory.client().Rendezvous("alice").ok());
  auto third = mallory.client().Rendezvous("alice");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().reason(), "busy") << third.status().message();
  const RelayTicket ticket = *first;
  for (int i = 0; i < 20; ++i) {
    RelayTicket guess = ticket;
    guess.token = RandomHex(16);
    auto fd = DialRelay(guess, std::chrono::milliseconds(3000));
    ASSERT_FALSE(fd.ok());
    EXPECT_NE(fd.status().message().find("unknown or expired ticket"), std::string::npos) << fd.status().message();
  }
  ASSERT_TRUE(central_->Client()->Register("bob", "bob-password").ok());
  auto [code, out] = Client("bob", {"--json", "download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(ReadFile(dir_.path() / "bob" / "downloads" / "big.bin"), big_);
  Json j = Json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["routes"]["alice"], "reversed") << out;
}

// Bob can be reached (no router in front of him): alice, whom nobody
// reaches, connects back to him when he downloads and when he uploads;
// the relay carries nothing.
TEST_F(RelayTest, AHiddenHolderConnectsBackToADownloaderThatCanBeReached) {
  auto& alice = StartHiddenAlice();
  StartPeer("bob", [](const fs::path&) {});
  auto [code, out] = Client("bob", {"download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(ReadFile(dir_.path() / "bob" / "downloads" / "big.bin"), big_);
  EXPECT_NE(out.find("(alice connected back to us)"), std::string::npos) << out;
  const std::string report = RandomBytes(300000, 33);
  WriteFile(dir_.path() / "bob" / "report.pdf", report);
  auto [up, up_out] = Client("bob", {"upload", (dir_.path() / "bob" / "report.pdf").string(), "--to", "alice", "--wait"});
  ASSERT_EQ(up, 0) << up_out;
  EXPECT_TRUE(WaitUntil([&] { return fs::exists(alice.shared_dir() / "report.pdf"); }, std::chrono::seconds(5)));
  EXPECT_EQ(ReadFile(alice.shared_dir() / "report.pdf"), report);
  EXPECT_EQ(Metric("p2pshare_relay_bytes_total"), 0) << "the relay carried what a reversal could";

  // In the REPL, `transfers` says how the holder was reached.
  fs::create_directories(dir_.path() / "bob" / "home");
  PtyProcess repl({PCLIENT_BIN, "--config", WriteClientConfig(dir_.path(), "bob", *central_)},
                  {{"HOME", (dir_.path() / "bob" / "home").string()}});
  ASSERT_TRUE(repl.WaitForLineEditor(std::chrono::seconds(10))) << repl.output();
  repl.Type("download big.bin --to " + (dir_.path() / "bob" / "again").string() + "\r");
  ASSERT_TRUE(repl.WaitFor("[#1] downloaded big.bin", std::chrono::seconds(30))) << repl.output();
  ASSERT_TRUE(repl.WaitForLineEditor(std::chrono::seconds(10))) << repl.output();
  repl.Type("transfers\r");
  EXPECT_TRUE(repl.WaitFor("alice reversed", std::chrono::seconds(5))) << repl.output();
  repl.Type("quit\r");
  EXPECT_EQ(repl.Wait(std::chrono::seconds(10)), 0) << repl.output();
}

// A stranger asking alice to connect back over and over: central stops
// it after a few, alice's peer-server keeps its places, and the honest
// downloader is still reversed to.
TEST_F(RelayTest, AStrangersManyReversalsAreCutShortAndTheHonestStillGetTheirs) {
  StartHiddenAlice();
  TestMember mallory(*central_, dir_.path(), "mallory");
  ASSERT_TRUE(mallory.status().ok()) << mallory.status().message();
  const int sink = FreePort();  // nothing listens: alice's dials fail at once
  // As fast as it can, without waiting when told to (a client that plays
  // by the rules waits Retry-After).
  int granted = 0, busy = 0;
  const std::string body = Json{{"peer", "alice"}, {"reverse_port", sink}}.dump();
  for (int i = 0; i < 40; ++i) {
    auto res = central_->Http()->Post("/api/v1/rendezvous", {{"Authorization", "Bearer " + mallory.login().token}},
                                      body, "application/json");
    ASSERT_TRUE(res);
    if (res->status == 200) {
      ++granted;
      EXPECT_EQ(Json::parse(res->body)["host"], "127.0.0.1") << "central names the address it sees, nothing else";
    } else {
      EXPECT_EQ(res->status, 503) << res->body;
      EXPECT_NE(res->body.find("busy"), std::string::npos) << res->body;
      ++busy;
    }
  }
  EXPECT_LE(granted, 12) << "a stranger had alice connect out " << granted << " times in a row";
  EXPECT_GE(busy, 28);
  ASSERT_TRUE(central_->Client()->Register("bob", "bob-password").ok());
  auto [code, out] = Client("bob", {"--json", "download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  Json j = Json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["routes"]["alice"], "reversed") << out;
}

}  // namespace
}  // namespace p2pshare::testing
