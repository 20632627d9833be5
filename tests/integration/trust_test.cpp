// Attacks on trust, against the real binaries (label `robustness`): a
// hostile holder collecting what downloaders send it, an observer on the
// wire, an impostor at a holder's address, a lying friend, a peer claiming
// absurd room, bad login hosts, a replaced CA, a central killed with -9.
// Each asserts what the honest user would notice: their secrets never
// seen, their download still completing, nothing printed raw.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/sha256.h"
#include "common/small_files.h"
#include "common/transfer_tuning.h"
#include "common/x509.h"
#include "integration/hostile_peer.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"
#include "unit/test_network.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

// Everything that crosses the loopback interface while it runs: an
// on-path observer (a packet socket; needs root, which CI has).
class LoopbackCapture {
 public:
  LoopbackCapture() {
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd_ < 0) return;
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int big = 64 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    thread_ = std::thread([this] {
      std::vector<char> buf(1 << 17);
      while (!stop_) {
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n <= 0) continue;
        std::lock_guard<std::mutex> lock(mu_);
        if (bytes_.size() < (size_t{512} << 20)) bytes_.append(buf.data(), static_cast<size_t>(n));
      }
    });
  }
  ~LoopbackCapture() { Stop(); }
  bool ok() const { return fd_ >= 0; }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool Saw(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_.find(needle) != std::string::npos;
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string bytes_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

class TrustTest : public NetworkTest {
 protected:
  // A peer-client config of `user` (password user-password), trusting
  // central's CA, with `extra` keys.
  std::string ClientConfig(const std::string& user, Json extra = Json::object()) {
    fs::path home = dir_.path() / user;
    fs::create_directories(home / "shared");
    Json config{{"username", user},
                {"password", user + "-password"},
                {"central_url", central_->url()},
                {"central_ca", central_->ca_file()},
                {"shared_dir", (home / "shared").string()},
                {"download_dir", (home / "downloads").string()}};
    for (auto it = extra.begin(); it != extra.end(); ++it) config[it.key()] = it.value();
    std::string path = (home / "client.json").string();
    std::ofstream(path) << config.dump(2);
    return path;
  }
  std::pair<int, std::string> Client(const std::string& config,
                                     const std::vector<std::string>& words) {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", config};
    argv.insert(argv.end(), words.begin(), words.end());
    return RunToEnd(argv, (dir_.path() / ("client-" + std::to_string(++runs_) + ".log")).string());
  }
  // Central again, in the same folder (the same CA), with `overrides`.
  void RestartCentral(Json overrides) {
    ASSERT_TRUE(central_->Stop().has_value());
    overrides["port_range"] = {range_.first, range_.second};
    central_ = std::make_unique<CentralProcess>(dir_.path(), std::move(overrides));
    ASSERT_TRUE(central_->Start().ok());
  }
  // Kills `peer`'s process (central lists it until its TTL) and serves
  // `service` at its address with `as`'s certificate.
  std::unique_ptr<grpc::Server> KillAndServeInstead(PeerServerProcess& peer, grpc::Service* service,
                                                    const TestMember& as) {
    const int port = peer.port();
    peer.Signal(SIGKILL);
    peer.Wait(std::chrono::seconds(5));
    return ServeAs(service, as.identity(), port);
  }
  TestMember& Member(const std::string& name) {
    members_.push_back(std::make_unique<TestMember>(*central_, dir_.path(), name));
    EXPECT_TRUE(members_.back()->status().ok()) << members_.back()->status().ToString();
    return *members_.back();
  }

  std::vector<std::unique_ptr<TestMember>> members_;
  int runs_ = 0;
};

TEST_F(TrustTest, AHostileHolderCollectsNothingThatWorksAtCentral) {
  const std::string song = RandomBytes(2 * 1024 * 1024, 77);
  const std::string sha = Sha256Hex(song);
  StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "hit.mp3", song); });
  // mallory lists the popular hash without holding it, and serves a
  // service that records everything it is sent.
  TestMember& mallory = Member("mallory");
  ASSERT_TRUE(mallory.client().ReplaceIndex({{"hit.mp3", static_cast<int64_t>(song.size()), sha, ""}}).ok());
  HostilePeer hostile;
  auto server = ServeAs(&hostile, mallory.identity(), mallory.login().port);

  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  auto [forced, forced_out] = Client(config, {"download", sha, "--from", "mallory"});
  EXPECT_NE(forced, 0) << forced_out;
  auto [code, out] = Client(config, {"download", sha});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(ReadFile(dir_.path() / "carol/downloads/hit.mp3"), song);
  ASSERT_GT(hostile.calls(), 0) << "the hostile holder was never asked";

  // Nothing mallory collected is a credential at central.
  auto collected = hostile.Collected();
  for (const std::string& item : collected) {
    EXPECT_EQ(item.find("authorization"), std::string::npos) << "a credential header reached a peer";
    EXPECT_EQ(item.find("carol-password"), std::string::npos);
    for (const std::string& token : {item, item.size() > 7 ? item.substr(7) : item}) {
      auto replay = central_->Client();
      replay->set_token(token);
      // No session (401), or not even a header central takes (400: a
      // collected request's bytes can hold a bare line feed).
      auto refused = [](Code code) { return code == Code::kUnauthenticated || code == Code::kInvalidArgument; };
      EXPECT_TRUE(refused(replay->Heartbeat().status().code()));
      EXPECT_TRUE(refused(replay->ReplaceIndex({}).status().code()));
      EXPECT_TRUE(refused(replay->Logout().code()));
    }
  }
}

TEST_F(TrustTest, AnObserverOnTheWireSeesNoPasswordTokenOrFileBytes) {
  LoopbackCapture capture;
  if (!capture.ok()) GTEST_SKIP() << "no packet socket here (needs root)";
  const std::string marker = "FILE-MARKER-" + Sha256Hex("inside the file");
  const std::string upload_marker = "UPLOAD-MARKER-" + Sha256Hex("inside the upload");
  auto& alice = StartPeer("alice", [&](const fs::path& d) {
    WriteFile(d / "letter.txt", RandomBytes(100000, 3) + marker + RandomBytes(100000, 4));
  });
  StartPeer("bob");
  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  EXPECT_EQ(Client(config, {"search", "letter"}).first, 0);
  auto [got, got_out] = Client(config, {"download", "letter.txt"});
  ASSERT_EQ(got, 0) << got_out;
  fs::path up = dir_.path() / "carol/up.txt";
  WriteFile(up, RandomBytes(5000, 9) + upload_marker);
  auto [sent, sent_out] = Client(config, {"upload", up.string(), "--to", "alice"});
  ASSERT_EQ(sent, 0) << sent_out;
  // A session of the test's own, whose token is known.
  TestMember& dave = Member("dave");
  ASSERT_TRUE(dave.client().Search("letter").ok());
  // The control: plain bytes on loopback are seen.
  const std::string control = "CONTROL-" + Sha256Hex("plain");
  {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);  // discard
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, control.data(), control.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
  }
  ASSERT_TRUE(WaitUntil([&] { return capture.Saw(control); }, std::chrono::seconds(5)))
      << "the observer sees nothing at all: the test would prove nothing";
  capture.Stop();
  EXPECT_TRUE(fs::exists(alice.shared_dir() / "up.txt"));
  for (const std::string& secret :
       {std::string("carol-password"), std::string("dave-password"), std::string("alice-password"),
        dave.login().token, marker, upload_marker}) {
    EXPECT_FALSE(capture.Saw(secret)) << "seen on the wire: " << secret.substr(0, 20);
  }
}

TEST_F(TrustTest, AnImpostorAtAHoldersAddressIsRefusedAndTheNextHolderServes) {
  // A TTL long enough that central still lists a dead holder throughout.
  RestartCentral(Json{{"session_ttl_s", 60}});
  const std::string song = RandomBytes(1024 * 1024, 12);
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "song.bin", song); });
  StartPeer("bob", [&](const fs::path& d) { WriteFile(d / "song.bin", song); });
  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  ASSERT_TRUE(WaitUntil([&] { return central_->Client()->FindFile(Sha256Hex(song))->has_value() &&
                                     (*central_->Client()->FindFile(Sha256Hex(song)))->holders.size() == 2; },
                        std::chrono::seconds(5)));
  // alice's peer-server dies; central still lists her until the TTL, and
  // mallory answers at her address with his own (valid) certificate.
  TestMember& mallory = Member("mallory");
  HostilePeer hostile;
  const int alice_port = alice.port();
  auto server = KillAndServeInstead(alice, &hostile, mallory);
  auto [code, out] = Client(config, {"download", "song.bin"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("holder alice dropped"), std::string::npos) << out;
  EXPECT_NE(out.find("mallory's, not alice's"), std::string::npos) << out;
  EXPECT_NE(out.find("from bob"), std::string::npos) << out;
  EXPECT_EQ(hostile.calls(), 0) << "a request reached the impostor";
  EXPECT_EQ(ReadFile(dir_.path() / "carol/downloads/song.bin"), song);
  server->Shutdown(std::chrono::system_clock::now());
  server.reset();

  // A certificate from no CA of this network: refused the same way.
  TestNetwork elsewhere;
  PeerIdentity forged = elsewhere.Member("alice");  // calls itself alice
  HostilePeer forger;
  auto forged_server = ServeAs(&forger, forged, alice_port);
  fs::remove(dir_.path() / "carol/downloads/song.bin");
  auto [again, again_out] = Client(config, {"download", "song.bin"});
  ASSERT_EQ(again, 0) << again_out;
  EXPECT_NE(again_out.find("holder alice dropped"), std::string::npos) << again_out;
  EXPECT_NE(again_out.find("from bob"), std::string::npos) << again_out;
  EXPECT_EQ(forger.calls(), 0);
}

TEST_F(TrustTest, AStrangerAnsweringAtTheJoinedAddressCannotKeepThePeerServerFromStarting) {
  // One peer-server per account: a restarted one that joins its still-live
  // session first asks whoever answers at the session's address whether it
  // is this account. A stranger there must not pass for it.
  RestartCentral(Json{{"session_ttl_s", 60}});
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  TestMember& mallory = Member("mallory");
  HostilePeer hostile;
  const int old_port = alice.port();
  auto server = KillAndServeInstead(alice, &hostile, mallory);
  ASSERT_TRUE(server);

  ASSERT_TRUE(alice.Start().ok()) << alice.log();
  EXPECT_TRUE(alice.running()) << alice.log();
  EXPECT_EQ(alice.log().find("already running"), std::string::npos) << alice.log();
  EXPECT_NE(alice.port(), old_port) << "mallory still holds that port";
  EXPECT_EQ(hostile.calls(), 0) << "a call of alice's reached the stranger";
  // Central lists alice at the port she serves now, and her files work.
  auto directory = central_->Client();
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto f = directory->FindFile(Sha256Hex("a"));
        return f.ok() && f->has_value() && (*f)->holders.size() == 1 && (*f)->holders[0].port == alice.port();
      },
      std::chrono::seconds(5)))
      << "central does not list alice's a.txt at her new port";
  PeerTestClient as_mallory(alice.port(), mallory.identity(), "alice");
  EXPECT_EQ(as_mallory.Download("a.txt").data, "a");
}

// A holder that streams garbage as fast as it can, in the largest chunks a
// downloader accepts, at the right offsets, for the whole announced size.
class GarbageHolder final : public v1::PeerService::Service {
 public:
  explicit GarbageHolder(int64_t size) : size_(size) {}
  grpc::Status Download(grpc::ServerContext*, const v1::DownloadRequest* req,
                        grpc::ServerWriter<v1::Chunk>* writer) override {
    v1::Chunk chunk;
    chunk.mutable_info()->set_name("hit.iso");
    chunk.mutable_info()->set_size(size_);
    chunk.mutable_info()->set_sha256(req->sha256());
    const int64_t max = kMaxPeerMessageBytes - 4096;  // the data, with room for the framing
    for (int64_t pos = req->offset(); pos < size_;) {
      chunk.set_offset(pos);
      chunk.set_data(std::string(static_cast<size_t>(std::min(max, size_ - pos)), 'x'));
      if (!writer->Write(chunk)) break;
      pos += static_cast<int64_t>(chunk.data().size());
      chunk.clear_info();
    }
    return grpc::Status::OK;
  }

 private:
  const int64_t size_;
};

TEST_F(TrustTest, AHolderSendingTheLargestChunksOfGarbageCostsBoundedMemoryAndSavesNothing) {
  // 512 MiB announced under a hash it cannot match, sent in ~8 MiB chunks
  // as fast as the downloader takes them: the downloader holds at most
  // gRPC's window and four chunks (docs/protocol.md, Limits), and keeps
  // nothing.
  const int64_t size = int64_t{512} << 20;
  const std::string sha = Sha256Hex("not what it sends");
  TestMember& mallory = Member("mallory");
  ASSERT_TRUE(mallory.client().ReplaceIndex({{"hit.iso", size, sha, ""}}).ok());
  GarbageHolder garbage(size);
  auto server = ServeAs(&garbage, mallory.identity(), mallory.login().port);
  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  Process carol({PCLIENT_BIN, "--config", config, "download", sha},
                (dir_.path() / "carol-download.log").string());
  int64_t peak = 0;
  ASSERT_TRUE(WaitUntil([&] {
    peak = std::max(peak, PeakRssBytes(carol.pid()));
    return !carol.running();
  }, std::chrono::seconds(120))) << carol.Log();
  EXPECT_EQ(carol.Wait(std::chrono::seconds(1)), 1) << carol.Log();
  EXPECT_NE(carol.Log().find("nothing was saved"), std::string::npos) << carol.Log();
  EXPECT_FALSE(fs::exists(dir_.path() / "carol/downloads/hit.iso"));
  EXPECT_FALSE(fs::exists(dir_.path() / "carol/downloads/hit.iso.part"));
  std::printf("peer-client peak RSS taking 512 MiB of 8 MiB garbage chunks: %.1f MiB\n",
              static_cast<double>(peak) / 1048576.0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)peak;  // shadow memory makes RSS meaningless under sanitizers
#else
  EXPECT_LT(peak, int64_t{128} << 20) << "the downloader's memory follows the sender's pace";
#endif
}

TEST_F(TrustTest, ALyingFriendsRepliesAreCheckedAndNothingPrintsRaw) {
  const std::string song = RandomBytes(300000, 5);
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "far.bin", song); });
  TestMember& mallory = Member("mallory");
  HostilePeer friendly;
  // Its answer: a name with a terminal escape, and a real file whose holder
  // it says is "cat" at alice's address.
  v1::Located* evil = friendly.locate_answer.add_results();
  evil->mutable_file()->set_name("song\x1b[2J\x1b[31m.mp3");
  evil->mutable_file()->set_size(10);
  evil->mutable_file()->set_sha256(std::string(64, 'a'));
  auto* h = evil->add_holders();
  h->set_username("mallory");
  h->set_host("127.0.0.1");
  h->set_port(1);
  v1::Located* wrong = friendly.locate_answer.add_results();
  wrong->mutable_file()->set_name("far.bin");
  wrong->mutable_file()->set_size(static_cast<int64_t>(song.size()));
  wrong->mutable_file()->set_sha256(Sha256Hex(song));
  auto* w = wrong->add_holders();
  w->set_username("cat");
  w->set_host("127.0.0.1");
  w->set_port(alice.port());
  friendly.locate_answer.add_visited("mallory\x1b]0;pwned\x07");
  friendly.locate_answer.set_total(2);
  auto server = ServeAs(&friendly, mallory.identity(), mallory.login().port);

  std::string config =
      ClientConfig("eve", Json{{"friends", {"127.0.0.1:" + std::to_string(mallory.login().port)}}});
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  ASSERT_EQ(Client(config, {"status"}).first, 0);  // joins once: a certificate
  auto [found, found_out] = Client(config, {"search", "song", "--via", "friend"});
  EXPECT_EQ(found_out.find('\x1b'), std::string::npos) << "an escape reached the terminal";
  EXPECT_EQ(found_out.find('\x07'), std::string::npos);
  EXPECT_NE(found_out.find("malformed"), std::string::npos) << found_out;
  auto [got, got_out] = Client(config, {"download", "far.bin", "--via", "friend"});
  EXPECT_NE(got, 0) << got_out;
  EXPECT_NE(got_out.find("alice's, not cat's"), std::string::npos) << got_out;
  EXPECT_FALSE(fs::exists(dir_.path() / "eve/downloads/far.bin"));
}

TEST_F(TrustTest, LocateIsForMembersOnly) {
  RestartCentral(Json{{"public_read", false}});
  auto& alice = StartPeer("alice", [](const fs::path& d) { WriteFile(d / "a.txt", "a"); });
  v1::LocateRequest req;
  req.set_query("a");
  v1::LocateReply reply;
  auto anonymous = PeerTestClient::WithoutCertificate(alice.port(), *ReadSmallFile(central_->ca_file()));
  EXPECT_EQ(anonymous.Locate(req, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(reply.results_size(), 0);
  // A flood from a stranger is refused the same way.
  req.set_flood(true);
  req.set_query_id("x");
  EXPECT_EQ(anonymous.Locate(req, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A member asks and is answered.
  TestMember& bob = Member("bob");
  req.set_flood(false);
  req.set_query_id("");
  ASSERT_TRUE(PeerTestClient(alice.port(), bob.identity(), "alice").Locate(req, &reply).ok());
  EXPECT_EQ(reply.results_size(), 1);
}

TEST_F(TrustTest, LoginHostMustBeAnAddressOrAName) {
  auto http = central_->Http();
  ASSERT_TRUE(central_->Client()->Register("alice", "alice-password").ok());
  auto login = [&](const std::string& host) {
    Json body{{"username", "alice"}, {"password", "alice-password"}, {"host", host}};
    auto res = http->Post("/api/v1/login", body.dump(), "application/json");
    if (res && res->status == 200) {
      auto token = Json::parse(res->body)["token"].get<std::string>();
      httplib::Headers auth{{"Authorization", "Bearer " + token}};
      http->Post("/api/v1/logout", auth, "", "application/json");
    }
    return res ? std::make_pair(res->status, res->body) : std::make_pair(0, std::string());
  };
  for (const std::string& bad : {std::string("a:1"), std::string("ipv4:127.0.0.1:18999,127.0.0.1"),
                                 std::string("1.2.3.4,5.6.7.8"), std::string("a\nb"),
                                 std::string("\x1b[31mred"), std::string(300, 'a'),
                                 std::string("-leading.example"), std::string("")}) {
    auto [status, body] = login(bad);
    EXPECT_EQ(status, 400) << ::testing::PrintToString(bad) << " " << body;
    EXPECT_NE(body.find("host"), std::string::npos) << body;
  }
  for (const char* good : {"::1", "2001:db8::5", "10.1.2.3", "peer-7.lab.example.edu"}) {
    auto [status, body] = login(good);
    EXPECT_EQ(status, 200) << good << " " << body;
  }
}

TEST_F(TrustTest, APeerClaimingAbsurdRoomGetsAFairShareOfUploads) {
  TestMember& uploader = Member("uploader");
  std::vector<TestMember*> honest;
  for (const char* name : {"h1", "h2", "h3", "h4"}) {
    honest.push_back(&Member(name));
    HeartbeatRequest hb;
    hb.free_bytes = int64_t{1} << 30;
    hb.active_transfers = 0;
    ASSERT_TRUE(honest.back()->client().Heartbeat(hb).ok());
  }
  TestMember& liar = Member("liar");
  HeartbeatRequest lie;
  lie.free_bytes = INT64_MAX;
  lie.active_transfers = 0;
  ASSERT_TRUE(liar.client().Heartbeat(lie).ok());
  int to_liar = 0;
  for (int i = 0; i < 100; ++i) {
    auto target = uploader.client().UploadTarget("x.bin", 1000);
    ASSERT_TRUE(target.ok()) << target.status().ToString();
    to_liar += target->username == "liar";
  }
  EXPECT_LE(to_liar, 40) << "a fair share is 20 of 100 among five idle peers";
}

TEST_F(TrustTest, StalledTlsHandshakesAreCutOffAndDoNotDelayOthers) {
  RestartCentral(Json{{"request_timeout_s", 2}});
  // 100 connections that never say hello, 100 that stop mid-ClientHello.
  std::vector<int> stalled;
  for (int i = 0; i < 200; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(central_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (i % 2 == 1) {
      const char partial_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
      ASSERT_EQ(::send(fd, partial_hello, sizeof partial_hello, MSG_NOSIGNAL), 6);
    }
    stalled.push_back(fd);
  }
  // A normal client meanwhile: every request answered.
  auto http = central_->Http();
  http->set_connection_timeout(std::chrono::seconds(2));
  http->set_read_timeout(std::chrono::seconds(2));
  for (int i = 0; i < 30; ++i) {
    auto res = http->Get("/healthz");
    ASSERT_TRUE(res) << "request " << i << " failed while handshakes stalled";
    EXPECT_EQ(res->status, 200);
  }
  // Each stalled connection is closed by central after request_timeout.
  int closed = 0;
  for (int fd : stalled) {
    timeval tv{8, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    closed += n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    ::close(fd);
  }
  EXPECT_EQ(closed, 200) << "stalled handshakes must not hold connections open";
}

TEST_F(TrustTest, AnonymousReadersDoNotSeeWhatOthersUpload) {
  TestMember& alice = Member("alice");
  Member("bob");
  ASSERT_TRUE(alice.client().UploadTarget("diary-of-alice.txt", 100).ok());
  auto anonymous = central_->Http();
  auto events = anonymous->Get("/api/v1/events");
  ASSERT_TRUE(events);
  EXPECT_NE(events->body.find("\"upload\""), std::string::npos) << events->body;
  EXPECT_EQ(events->body.find("diary-of-alice"), std::string::npos) << events->body;
  httplib::Headers auth{{"Authorization", "Bearer " + alice.login().token}};
  auto member = anonymous->Get("/api/v1/events", auth);
  ASSERT_TRUE(member);
  EXPECT_NE(member->body.find("diary-of-alice"), std::string::npos) << member->body;
}

TEST_F(TrustTest, TheCaSurvivesKillNineAndAnotherCaIsRefusedInOneLine) {
  auto fingerprint = [&] { return ReadCertificate(*ReadSmallFile(central_->ca_file()))->fingerprint; };
  const std::string first = fingerprint();
  // A peer that pins what it sees on first use.
  std::string config = ClientConfig("carol", Json{{"central_ca", ""}});
  auto [pinned, pinned_out] = Client(config, {"register"});
  ASSERT_EQ(pinned, 0) << pinned_out;
  EXPECT_NE(pinned_out.find("trusting central's CA sha256 " + first), std::string::npos)
      << pinned_out;
  auto [again, again_out] = Client(config, {"status"});
  EXPECT_EQ(again, 0) << again_out;
  EXPECT_EQ(again_out.find("trusting"), std::string::npos) << "pinned once, not again";

  central_->Kill9();
  ASSERT_TRUE(central_->Start().ok());
  EXPECT_EQ(fingerprint(), first) << "kill -9 lost the CA";
  EXPECT_EQ(Client(config, {"status"}).first, 0) << "the pinned peer no longer trusts central";

  // Central's CA replaced (its folder lost): the pinned peer refuses it.
  central_->Stop();
  fs::remove_all(dir_.path() / "ca");
  ASSERT_TRUE(central_->Start().ok());
  ASSERT_NE(fingerprint(), first);
  auto [refused, refused_out] = Client(config, {"peers"});
  EXPECT_NE(refused, 0);
  size_t lines = 0;
  for (char c : refused_out) lines += c == '\n';
  EXPECT_EQ(lines, 1u) << refused_out;
  EXPECT_NE(refused_out.find("not from the trusted CA"), std::string::npos) << refused_out;
  EXPECT_NE(refused_out.find("central-ca.pem"), std::string::npos) << refused_out;
  // A pin given as a fingerprint that does not match: refused too.
  std::string strict = ClientConfig(
      "dave", Json{{"central_ca", ""}, {"central_ca_sha256", std::string(64, '0')}});
  auto [strict_code, strict_out] = Client(strict, {"peers"});
  EXPECT_NE(strict_code, 0);
  EXPECT_NE(strict_out.find("central_ca_sha256"), std::string::npos) << strict_out;
  // ... saying what to do about it.
  EXPECT_NE(strict_out.find("copy it from the 'CA sha256' line central logs"), std::string::npos) << strict_out;
}

TEST_F(TrustTest, AHostileShareBrowsedCannotWriteOutsideTheDownloadsNorPaintTheTerminal) {
  // mallory's share, as his "peer-server" describes it: names that climb
  // out of a folder, one with a terminal escape, and one honest file.
  TestMember& mallory = Member("mallory");
  HostilePeer hostile;
  v1::ListFilesReply files;
  for (const std::string name : {"../../outside.txt", "docs/../../../up.txt", "docs/\x1b[2Jwipe.txt",
                                 "/etc/cron.d/evil", "docs/fine.txt"}) {
    auto* f = files.add_files();
    f->set_name(name);
    f->set_size(5);
    f->set_sha256(Sha256Hex("hello"));
  }
  hostile.list_answer = files;
  auto server = ServeAs(&hostile, mallory.identity(), mallory.login().port);
  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  // browse, then fetch the whole folder it shows, in one run (stdin mode).
  WriteFile(dir_.path() / "script", "browse mallory\ndownload #1\n");
  auto [code, out] = RunToEnd({PCLIENT_BIN, "--config", config}, (dir_.path() / "browse.log").string(),
                              (dir_.path() / "script").string());
  EXPECT_NE(out.find("mallory:/  (1 file"), std::string::npos) << out;  // the honest one only
  EXPECT_NE(out.find("docs/"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "an escape reached the terminal:\n" << out;
  EXPECT_EQ(out.find("outside"), std::string::npos) << out;
  EXPECT_EQ(out.find("cron"), std::string::npos) << out;
  // Its Download fails (a hostile holder), and nothing lands anywhere.
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("1 of 1 file of docs/ failed"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_.path() / "outside.txt"));
  EXPECT_FALSE(fs::exists(dir_.path() / "carol" / "outside.txt"));
  EXPECT_FALSE(fs::exists(dir_.path() / "up.txt"));
  EXPECT_FALSE(fs::exists(dir_.path() / "carol" / "downloads" / "docs" / "fine.txt"));
}

}  // namespace
}  // namespace p2pshare::testing
