// The friend-peer model with real binaries: central's friend suggestions,
// Locate through central and by flooding, and peer-client's fallback to its
// friends when central is stopped — the transfer still direct and verified.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/sha256.h"
#include "common/small_files.h"
#include "common/x509.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"
#include "unit/test_network.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

std::string Address(const PeerServerProcess& p) { return "127.0.0.1:" + std::to_string(p.port()); }

std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Visited(const v1::LocateReply& r) {
  return std::vector<std::string>(r.visited().begin(), r.visited().end());
}

class FriendsTest : public NetworkTest {
 protected:
  // A chain a -> b -> c -> d (each names the next as its only friend);
  // `far.bin` lies with c, two hops from a; `end.txt` with d.
  void StartChain() {
    far_ = RandomBytes(3 * 1024 * 1024 + 17, 21);
    d_ = &StartPeer("dan", [&](const fs::path& dir) { WriteFile(dir / "end.txt", "the end\n"); });
    c_ = &StartPeer("cat", [&](const fs::path& dir) { WriteFile(dir / "music/far.bin", far_); },
                    Json{{"friends", {Address(*d_)}}});
    b_ = &StartPeer("bea", {}, Json{{"friends", {Address(*c_)}}});
    a_ = &StartPeer("abe", {}, Json{{"friends", {Address(*b_)}}});
    auto directory = central_->Client();
    ASSERT_TRUE(WaitUntil([&] { return directory->Search("far.bin")->total == 1; },
                          std::chrono::seconds(10)));
  }
  // A client-only peer ("eve") whose config names `friends`.
  std::string ClientConfig(const std::vector<std::string>& friends) {
    fs::path home = dir_.path() / "eve";
    fs::create_directories(home / "shared");
    std::string path = (home / "client.json").string();
    std::ofstream(path) << Json{{"username", "eve"},
                                {"password", "eve-password"},
                                {"central_url", central_->url()},
                                {"central_ca", central_->ca_file()},
                                {"shared_dir", (home / "shared").string()},
                                {"download_dir", (home / "downloads").string()},
                                {"friends", friends}}
                               .dump(2);
    return path;
  }
  std::pair<int, std::string> Client(const std::string& config, const std::vector<std::string>& words) {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", config};
    argv.insert(argv.end(), words.begin(), words.end());
    return RunToEnd(argv, (dir_.path() / ("eve-" + std::to_string(++runs_) + ".log")).string());
  }
  // eve joins the network once while central is up: she then holds a
  // certificate, which is what friends and holders know her by while
  // central is away.
  void JoinOnce(const std::string& config) {
    auto [reg, reg_out] = Client(config, {"register"});
    ASSERT_TRUE(reg == 0 || reg_out.find("taken") != std::string::npos) << reg_out;
    auto [code, out] = Client(config, {"status"});
    ASSERT_EQ(code, 0) << out;
  }
  // A member as a test client.
  const PeerIdentity& Member(const std::string& name) {
    members_.push_back(std::make_unique<TestMember>(*central_, dir_.path(), name));
    EXPECT_TRUE(members_.back()->status().ok()) << members_.back()->status().ToString();
    return members_.back()->identity();
  }
  void StopCentral() {
    auto code = central_->Stop();
    ASSERT_TRUE(code.has_value());
  }

  std::vector<std::unique_ptr<TestMember>> members_;
  std::string far_;
  PeerServerProcess *a_ = nullptr, *b_ = nullptr, *c_ = nullptr, *d_ = nullptr;
  int runs_ = 0;
};

TEST_F(FriendsTest, CentralSuggestsTheFriendsThatJoinedJustBeforeAsARing) {
  std::vector<PeerServerProcess*> ring;
  for (const char* name : {"p1", "p2", "p3", "p4"}) ring.push_back(&StartPeer(name));
  // Each peer's friends: the two that joined just before it, wrapping
  // around; the heartbeats bring the early ones theirs as others join.
  auto expected = [&](size_t i) {
    return std::vector<std::string>{Address(*ring[(i + 3) % 4]), Address(*ring[(i + 2) % 4])};
  };
  for (size_t i = 0; i < ring.size(); ++i) {
    fs::path saved = ring[i]->shared_dir() / ".p2pshare/friends";
    EXPECT_TRUE(WaitUntil([&] { return Lines(saved) == expected(i); }, std::chrono::seconds(10)))
        << ring[i]->username() << " keeps " << ::testing::PrintToString(Lines(saved));
  }
  // A login hears them too (the newest two before it).
  auto client = central_->Client();
  auto login = RegisterAndLogin(*client, "p5");
  ASSERT_TRUE(login.ok()) << login.status().message();
  EXPECT_EQ(login->friends, (std::vector<std::string>{Address(*ring[3]), Address(*ring[2])}));

  // The friends stay on disk: a restart with central stopped still knows them.
  StopCentral();
  ring[0]->Signal(SIGTERM);
  ASSERT_TRUE(ring[0]->Wait(std::chrono::seconds(10)).has_value());
  EXPECT_EQ(Lines(ring[0]->shared_dir() / ".p2pshare/friends"), expected(0));
}

TEST_F(FriendsTest, LocateAnswersThroughCentralWhileItIsUp) {
  StartChain();
  PeerTestClient a(a_->port(), Member("zed"), "abe");
  v1::LocateRequest req;
  req.set_query("FAR");
  v1::LocateReply reply;
  ASSERT_TRUE(a.Locate(req, &reply).ok());
  ASSERT_EQ(reply.results_size(), 1);
  EXPECT_EQ(reply.results(0).source(), v1::Located::DIRECTORY);
  EXPECT_EQ(reply.results(0).file().name(), "music/far.bin");
  EXPECT_EQ(reply.results(0).file().sha256(), Sha256Hex(far_));
  ASSERT_EQ(reply.results(0).holders_size(), 1);
  EXPECT_EQ(reply.results(0).holders(0).username(), "cat");
  EXPECT_EQ(reply.results(0).holders(0).port(), c_->port());
  EXPECT_TRUE(reply.visited().empty()) << "no flood while central answers";
}

TEST_F(FriendsTest, WithCentralStoppedAClientFindsAndDownloadsAFileTwoHopsAway) {
  StartChain();
  std::string config = ClientConfig({Address(*a_)});
  // Someone who never joined has no certificate: friends refuse to search
  // for it while central is away.
  fs::path stranger_home = dir_.path() / "stranger";
  fs::create_directories(stranger_home / "shared");
  std::string stranger = (stranger_home / "client.json").string();
  std::ofstream(stranger) << Json{{"username", "stranger"},
                                  {"password", "stranger-password"},
                                  {"central_url", central_->url()},
                                  {"central_ca", central_->ca_file()},
                                  {"shared_dir", (stranger_home / "shared").string()},
                                  {"download_dir", (stranger_home / "downloads").string()},
                                  {"friends", {Address(*a_)}}}
                                 .dump(2);
  JoinOnce(config);
  StopCentral();
  auto [refused, refused_out] = Client(stranger, {"search", "far"});
  EXPECT_NE(refused, 0) << refused_out;

  auto [found, found_out] = Client(config, {"--json", "search", "far"});
  ASSERT_EQ(found, 0) << found_out;
  EXPECT_NE(found_out.find("central is unreachable"), std::string::npos) << found_out;
  size_t brace = found_out.find('{');
  ASSERT_NE(brace, std::string::npos) << found_out;
  Json page = Json::parse(found_out.substr(brace));
  ASSERT_EQ(page["results"].size(), 1u) << found_out;
  EXPECT_EQ(page["results"][0]["name"], "music/far.bin");
  EXPECT_EQ(page["results"][0]["source"], "flood");
  EXPECT_EQ(page["results"][0]["holders"][0]["username"], "cat");
  EXPECT_EQ(page["via"], Address(*a_));

  auto [got, got_out] = Client(config, {"download", "far.bin"});
  ASSERT_EQ(got, 0) << got_out;
  EXPECT_NE(got_out.find("from cat"), std::string::npos) << got_out;
  EXPECT_EQ(ReadFile(dir_.path() / "eve/downloads/music/far.bin"), far_);
  // Uploads need central to name the target: not while it is away.
  fs::path local = dir_.path() / "eve/up.txt";
  WriteFile(local, "up");
  auto [up, up_out] = Client(config, {"upload", local.string(), "--to", "cat"});
  EXPECT_NE(up, 0) << up_out;
}

TEST_F(FriendsTest, WithCentralStoppedHoldersServeValidCertificatesOnlyNoneOrExpiredAreUnauthenticated) {
  StartChain();
  const PeerIdentity& zed = Member("zed");  // joined while central was up
  // A certificate of this very network's CA, but expired two minutes ago:
  // what a member that left holds once its last renewal runs out.
  TestNetwork network(fs::path(central_->ca_file()).parent_path().string());
  PeerIdentity late = network.Member("yan", -120);
  auto ca = ReadSmallFile(central_->ca_file());
  ASSERT_TRUE(ca.ok());
  StopCentral();

  // cat holds far.bin; nobody can ask central about anyone now.
  PeerTestClient as_zed(c_->port(), zed, "cat");
  auto got = as_zed.Download("music/far.bin");
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.data, far_);

  auto refused = [&](PeerTestClient client, const std::string& why) {
    auto d = client.Download("music/far.bin");
    EXPECT_EQ(d.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << why << ": " << d.status.error_message();
    EXPECT_TRUE(d.data.empty()) << why;
    v1::LocateRequest req;
    req.set_query("far");
    req.set_flood(true);
    req.set_query_id("from-" + why);
    req.set_ttl(2);
    v1::LocateReply reply;
    EXPECT_EQ(client.Locate(req, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED) << why;
    EXPECT_EQ(reply.results_size(), 0) << why;
    EXPECT_EQ(client.Upload("dropped.bin", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED) << why;
    return d.status.error_message();
  };
  EXPECT_NE(refused(PeerTestClient::WithoutCertificate(c_->port(), *ca), "no-certificate").find("no client certificate"),
            std::string::npos);
  EXPECT_NE(refused(PeerTestClient(c_->port(), late, "cat"), "expired").find("expired"), std::string::npos);
  EXPECT_FALSE(fs::exists(c_->shared_dir() / "dropped.bin"));
  EXPECT_TRUE(c_->running()) << c_->log();
}

TEST_F(FriendsTest, FloodStopsAtTheTtl) {
  StartChain();
  PeerTestClient a(a_->port(), Member("zed"), "abe");
  auto flood = [&](int ttl, const std::string& id) {
    v1::LocateRequest req;
    req.set_query("e");  // matches end.txt (dan) only
    req.set_flood(true);
    req.set_query_id(id);
    req.set_ttl(ttl);
    v1::LocateReply reply;
    grpc::Status s = a.Locate(req, &reply);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reply;
  };
  v1::LocateReply two = flood(2, "ttl-two");
  EXPECT_EQ(Visited(two), (std::vector<std::string>{"abe", "bea", "cat"}));
  EXPECT_EQ(two.results_size(), 0) << "dan, three hops away, is past a ttl of 2";
  v1::LocateReply three = flood(3, "ttl-three");
  EXPECT_EQ(Visited(three), (std::vector<std::string>{"abe", "bea", "cat", "dan"}));
  ASSERT_EQ(three.results_size(), 1);
  EXPECT_EQ(three.results(0).file().name(), "end.txt");
  EXPECT_EQ(three.results(0).source(), v1::Located::FLOOD);
  EXPECT_EQ(three.results(0).holders(0).port(), d_->port());
  // The same id again is declined at once, by the first peer.
  v1::LocateReply again = flood(3, "ttl-three");
  EXPECT_TRUE(again.visited().empty());
  EXPECT_EQ(again.declined(), 1);
}

TEST_F(FriendsTest, FloodNeverVisitsAPeerTwiceForOneQuery) {
  // Four peers whose friends (central's ring) reach each other by several
  // paths: every peer is read once, the other arrivals are declined.
  std::vector<PeerServerProcess*> ring;
  for (const char* name : {"p1", "p2", "p3", "p4"}) {
    ring.push_back(&StartPeer(name, [&](const fs::path& dir) {
      WriteFile(dir / (std::string(name) + "-song.ogg"), name);
    }));
  }
  for (auto* p : ring) {
    ASSERT_TRUE(WaitUntil([&] { return Lines(p->shared_dir() / ".p2pshare/friends").size() == 2; },
                          std::chrono::seconds(10)));
  }
  const PeerIdentity& zed = Member("zed");
  StopCentral();
  PeerTestClient p4(ring[3]->port(), zed, "p4");
  v1::LocateRequest req;
  req.set_query("song");  // a client's query: central is away, so it floods (ttl 3)
  v1::LocateReply reply;
  ASSERT_TRUE(p4.Locate(req, &reply).ok());
  std::vector<std::string> visited = Visited(reply);
  EXPECT_EQ(std::set<std::string>(visited.begin(), visited.end()),
            (std::set<std::string>{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(visited.size(), 4u) << ::testing::PrintToString(visited);
  EXPECT_GT(reply.declined(), 0) << "the ring offers more than one path to some peers";
  ASSERT_EQ(reply.results_size(), 4);
  for (const auto& r : reply.results()) EXPECT_EQ(r.source(), v1::Located::FLOOD);
}

TEST_F(FriendsTest, WithThePrimaryFriendDownTheBackupAnswers) {
  StartChain();
  PeerServerProcess& gone = StartPeer("gus");
  std::string dead = Address(gone);
  gone.Signal(SIGTERM);
  ASSERT_TRUE(gone.Wait(std::chrono::seconds(10)).has_value());
  std::string config = ClientConfig({dead, Address(*b_)});
  JoinOnce(config);
  StopCentral();

  auto [found, out] = Client(config, {"search", "far"});
  ASSERT_EQ(found, 0) << out;
  EXPECT_NE(out.find("primary friend " + dead), std::string::npos) << out;
  EXPECT_NE(out.find("asking the backup friend " + Address(*b_)), std::string::npos) << out;
  EXPECT_NE(out.find("music/far.bin"), std::string::npos) << out;
  EXPECT_NE(out.find("flood"), std::string::npos) << out;

  // Both friends down: a clear error, not a hang.
  std::string config2 = ClientConfig({dead, dead});
  auto [none, none_out] = Client(config2, {"search", "far"});
  EXPECT_NE(none, 0);
  EXPECT_NE(none_out.find("no friend peer answered"), std::string::npos) << none_out;
}

TEST_F(FriendsTest, ViaFriendAsksFriendsEvenWhileCentralIsUp) {
  StartChain();
  std::string config = ClientConfig({Address(*a_)});
  auto [found, out] = Client(config, {"register"});
  ASSERT_EQ(found, 0) << out;
  auto [code, text] = Client(config, {"search", "far", "--via", "friend"});
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("music/far.bin"), std::string::npos) << text;
  EXPECT_NE(text.find("directory"), std::string::npos) << "abe asked central for eve: " << text;
  EXPECT_NE(text.find("asked through friend peer " + Address(*a_)), std::string::npos) << text;
  auto [dl, dl_out] = Client(config, {"download", "far.bin", "--via", "friend"});
  ASSERT_EQ(dl, 0) << dl_out;
  EXPECT_EQ(ReadFile(dir_.path() / "eve/downloads/music/far.bin"), far_);
  auto [bad, bad_out] = Client(config, {"search", "far", "--via", "pigeon"});
  EXPECT_NE(bad, 0);
  EXPECT_NE(bad_out.find("--via takes 'friend'"), std::string::npos) << bad_out;
}

}  // namespace
}  // namespace p2pshare::testing
