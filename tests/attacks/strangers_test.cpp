// Strangers with free accounts (label `attacks`; docs/protocol.md, "Limits",
// "Accounts are free"): each test does what one free account, or a handful
// from one address, did to everyone else, beside an honest peer, and
// asserts what the honest user would notice: their calls still answered and
// fast, their downloads complete and byte-identical, their memory bounded,
// nothing raw on their terminal. Every attack is bounded in count and
// time, stops by itself and targets loopback only (127.0.0.1, and
// 127.0.0.2/3 standing for other machines).
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "attacks/attack_support.h"
#include "common/sha256.h"
#include "integration/hostile_peer.h"
#include "integration/network_test.h"
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

class StrangerTest : public ProcessTest {
 protected:
  // A peer-client config for `user` (password user + "-password").
  std::string ClientConfig(const std::string& user, Json extra = Json::object()) {
    std::string path = WriteClientConfig(dir_.path(), user, *central_);
    Json config = Json::parse(ReadFile(path));
    for (auto it = extra.begin(); it != extra.end(); ++it) config[it.key()] = it.value();
    WriteFile(path, config.dump(2));
    return path;
  }
  // peer-client with `words` (one-shot), or reading `script` as its input.
  std::pair<int, std::string> Client(const std::string& config, const std::vector<std::string>& words,
                                     const std::string& script = "") {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", config};
    argv.insert(argv.end(), words.begin(), words.end());
    std::string input = "/dev/null";
    if (!script.empty()) {
      input = (dir_.path() / ("script-" + std::to_string(++runs_))).string();
      WriteFile(input, script);
    }
    return RunToEnd(argv, (dir_.path() / ("client-" + std::to_string(++runs_) + ".log")).string(), input);
  }
  int runs_ = 0;
};

// Whether `text` holds a C1 control as UTF-8 (C2 80-9F) or a raw byte
// 0x80-0x9F that is not part of a UTF-8 character: what a terminal may
// obey (U+009B is the 8-bit CSI).
bool HasRawC1(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0) {  // a byte that starts no character
      if (c <= 0x9F) return true;
      ++i;
      continue;
    }
    if (n == 2 && c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F) return true;
    i += n;
  }
  return false;
}

// --- central ---------------------------------------------------------------

TEST_F(StrangerTest, AHeaderBlockEndingInABareLineFeedHoldsNoWorker) {
  // The header block ends "\r\n\n": the gate took it for a whole request,
  // cpp-httplib did not and kept reading; a bare LF now and then held a
  // worker until the request deadline. 100 of them took every worker.
  StartCentral({{"tls", false}});
  HonestPeer honest(*central_, dir_.path());
  ASSERT_TRUE(honest.status().ok()) << honest.status().ToString();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 100; ++i) {
    held.push_back(std::make_unique<RawConnection>(central_->port(), "127.0.0.2"));
    ASSERT_TRUE(held.back()->ok());
    held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\n");
  }
  honest.Start();
  for (int tick = 0; tick < 20; ++tick) {
    for (auto& c : held) c->Send("\n");
    std::this_thread::sleep_for(milliseconds(250));  // the attacker's own pace
  }
  honest.Stop();
  honest.ExpectUnharmed();
  // Each was refused in plain words and closed, not left waiting.
  int refused = 0;
  for (auto& c : held) {
    std::string reply = c->ReadUntilClosed(seconds(5));
    if (StatusOf(reply) == 400 && reply.find("bare LF") != std::string::npos) refused++;
  }
  EXPECT_EQ(refused, 100);
  // A bare LF anywhere in the header is refused the same way, at once.
  std::string reply = Exchange(central_->port(), "GET /healthz HTTP/1.1\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(reply), 400) << reply;
  EXPECT_TRUE(central_->Client()->Health().ok());
}

TEST_F(StrangerTest, DeeplyNestedJsonIsRefusedBeforeItIsBuilt) {
  // A 1 MiB body of '[' to the unauthenticated /register, eight at once:
  // central went from 36 to ~570 MiB and stayed there.
  StartCentral({{"tls", false}});
  HonestPeer honest(*central_, dir_.path());
  ASSERT_TRUE(honest.status().ok()) << honest.status().ToString();
  const int64_t before = PeakRssBytes(central_->pid());
  honest.Start();
  const std::string nested(1 << 20, '[');
  std::vector<std::thread> attackers;
  std::atomic<int> sent{0}, refused{0};
  for (int i = 0; i < 8; ++i) {
    attackers.emplace_back([&] {
      // Three each at least, and on until the honest peer has made 20
      // rounds of calls beside them.
      for (int round = 0; round < 3 || honest.rounds() < 20; ++round) {
        sent++;
        std::string r = Exchange(central_->port(), Post("/api/v1/register", nested), "127.0.0.2");
        if (StatusOf(r) == 400 && r.find("nested") != std::string::npos) refused++;
      }
    });
  }
  for (auto& t : attackers) t.join();
  honest.Stop();
  honest.ExpectUnharmed();
  std::printf("%d nested bodies sent, %d refused\n", sent.load(), refused.load());
  EXPECT_EQ(refused.load(), sent.load());
  const int64_t peak = PeakRssBytes(central_->pid());
  std::printf("central's peak memory: %lld MiB before, %lld MiB after the attack\n",
              static_cast<long long>(before >> 20), static_cast<long long>(peak >> 20));
  EXPECT_LT(peak - before, int64_t{64} << 20) << "bytes central grew by";
}

TEST_F(StrangerTest, AnotherUserOfTheMachineCannotReadTheAccountDatabase) {
  // central.db holds password and token hashes; it was created 0644, and
  // its WAL with it.
  ::umask(022);  // the usual umask: what a new file would get
  StartCentral({{"tls", false}});
  ASSERT_TRUE(RegisterAndLogin(*central_->Client(), "alice").ok());
  for (const char* name : {"central.db", "central.db-wal", "central.db-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_.path() / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0077, 0u) << name << " is readable by others: mode " << std::oct << (st.st_mode & 0777);
  }
}

// --- peers -----------------------------------------------------------------

TEST_F(StrangerTest, COneControlsInRemoteNamesNeverReachTheTerminalRaw) {
  // U+009B is the 8-bit CSI: "\u009b2J" clears many terminals' screens as
  // ESC [ 2 J does. Only C0 controls and DEL were escaped.
  StartCentral();
  const std::string csi = "\xc2\x9b";
  auto& alice = StartPeer("alice", [&](const fs::path& d) { WriteFile(d / "notes.txt", "notes\n"); });
  TestMember mallory(*central_, dir_.path(), "mallory");
  ASSERT_TRUE(mallory.status().ok());
  // In central's index, in mallory's own listing, and uploaded to alice.
  const std::string evil = "evil" + csi + "2J" + csi + "31mred.txt";
  ASSERT_TRUE(mallory.client().ReplaceIndex({{evil, 5, Sha256Hex("hello")}}).ok());
  HostilePeer hostile;
  v1::ListFilesReply files;
  auto* f = files.add_files();
  f->set_name("docs/" + evil);
  f->set_size(5);
  f->set_sha256(Sha256Hex("hello"));
  hostile.list_answer = files;
  auto server = ServeAs(&hostile, mallory.identity(), mallory.login().port);
  EXPECT_TRUE(PeerTestClient(alice.port(), mallory.identity(), "alice").Upload("up-" + evil, "hello").ok());

  std::string config = ClientConfig("carol");
  ASSERT_EQ(Client(config, {"register"}).first, 0);
  auto [search_code, search_out] = Client(config, {"search", "evil"});
  EXPECT_EQ(search_code, 0) << search_out;
  EXPECT_NE(search_out.find("\\u009b2J"), std::string::npos) << search_out;
  auto [json_code, json_out] = Client(config, {"--json", "search", "evil"});
  auto [script_code, script_out] = Client(config, {}, "search evil\nbrowse mallory\nfiles mallory\ndownload evil\n");
  for (const auto& [what, out] : std::vector<std::pair<std::string, std::string>>{
           {"one-shot search", search_out}, {"REPL", script_out}, {"alice's log", alice.log()},
           {"central's log", central_->log()}}) {
    EXPECT_FALSE(HasRawC1(out)) << what << " printed a C1 control raw:\n" << out;
  }
  EXPECT_NE(script_out.find("\\u009b"), std::string::npos) << "the names are shown, escaped:\n" << script_out;
  (void)json_code;
  EXPECT_TRUE(alice.running());
}

}  // namespace
}  // namespace p2pshare::testing
