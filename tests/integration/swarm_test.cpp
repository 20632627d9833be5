// Swarm downloads with the real binaries: three peer-servers hold one
// 24 MiB file, carol's peer-client fetches pieces from all of them at once.
// What each holder served is read from its /metrics.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/sha256.h"
#include "integration/network_test.h"
#include "unit/file_util.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

class SwarmTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    file_ = RandomBytes(24 * 1024 * 1024, 21);
    for (const char* name : {"alice", "bob", "dave"}) {
      const int port = FreePort();
      metrics_[name] = port;
      holders_[name] = &StartPeer(
          name, [&](const fs::path& d) { WriteFile(d / "film.bin", file_); },
          Json{{"metrics_listen", "127.0.0.1:" + std::to_string(port)}});
    }
    ASSERT_TRUE(central_->Client()->Register("carol", "carol-password").ok());
    ASSERT_TRUE(WaitUntil([&] {
      auto found = central_->Client()->FindFile(Sha256Hex(file_));
      return found.ok() && found->has_value() && (*found)->holders.size() == 3;
    }, std::chrono::seconds(10)));
  }
  // Bytes `holder` has sent by Download, from its /metrics.
  int64_t Served(const std::string& holder) {
    httplib::Client c("127.0.0.1", metrics_[holder]);
    auto res = c.Get("/metrics");
    if (!res || res->status != 200) return -1;
    std::istringstream in(res->body);
    const std::string series = "p2pshare_peer_bytes_served_total ";
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(series, 0) == 0) return static_cast<int64_t>(std::stod(line.substr(series.size())));
    }
    return -1;
  }
  int64_t ServedByAll() { return Served("alice") + Served("bob") + Served("dave"); }
  fs::path Downloads() { return dir_.path() / "carol" / "downloads"; }
  std::vector<std::string> Argv(const std::vector<std::string>& words) {
    fs::create_directories(dir_.path() / "carol" / "shared");
    std::string config = (dir_.path() / "carol" / "client.json").string();
    std::ofstream(config) << Json{{"username", "carol"},
                                  {"password", "carol-password"},
                                  {"central_url", central_->url()},
                                  {"central_ca", central_->ca_file()},
                                  {"shared_dir", (dir_.path() / "carol" / "shared").string()},
                                  {"download_dir", Downloads().string()}}
                                 .dump(2);
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", config};
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
  }
  // Runs a --json download; its reply (null when it failed) and the output.
  std::pair<Json, std::string> DownloadJson(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> words = {"--json", "download", "film.bin"};
    words.insert(words.end(), extra.begin(), extra.end());
    auto [code, out] = RunToEnd(Argv(words), (dir_.path() / ("run-" + std::to_string(++runs_) + ".log")).string());
    if (code != 0) return {Json(), out};
    return {Json::parse(out.substr(out.find('{')), nullptr, false), out};
  }

  std::string file_;
  std::map<std::string, int> metrics_;
  std::map<std::string, PeerServerProcess*> holders_;
  int runs_ = 0;
};

TEST_F(SwarmTest, EveryHolderServesPartOfOneDownloadAndTheFileIsExact) {
  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["sources"], 3) << out;
  for (const char* name : {"alice", "bob", "dave"}) {
    EXPECT_GT(j["bytes_from"].value(name, int64_t{0}), 0) << name << " sent nothing: " << out;
    EXPECT_GT(Served(name), 0) << name;
  }
  EXPECT_EQ(j["fetched"], static_cast<int64_t>(file_.size())) << out;
  // Nothing was fetched twice beyond the endgame's race for the last pieces.
  EXPECT_LE(ServedByAll(), static_cast<int64_t>(file_.size()) + 3 * 256 * 1024) << out;
  EXPECT_EQ(Sha256File((Downloads() / "film.bin").string()).value(), Sha256Hex(file_));
  EXPECT_FALSE(fs::exists(Downloads() / "film.bin.part"));
}

TEST_F(SwarmTest, AHolderSendingBadPiecesIsNamedAndDroppedAndItsBytesNeverLand) {
  // alice's copy is changed behind her index (same size and mtime): one
  // byte in every MiB. Whatever pieces she is asked for include a bad one.
  fs::path f = holders_["alice"]->shared_dir() / "film.bin";
  struct stat before;
  ASSERT_EQ(::stat(f.c_str(), &before), 0);
  std::string bad = file_;
  for (size_t at = 100; at < bad.size(); at += 1024 * 1024) bad[at] ^= 0x5a;
  WriteFile(f, bad);
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);

  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  ASSERT_EQ(j["dropped"].size(), 1u) << out;
  EXPECT_EQ(j["dropped"][0]["holder"], "alice") << out;
  EXPECT_NE(j["dropped"][0]["why"].get<std::string>().find("sent bad data for piece"), std::string::npos) << out;
  EXPECT_EQ(j["bytes_from"].value("alice", int64_t{0}), 0) << "a bad holder's piece was kept: " << out;
  EXPECT_EQ(ReadFile(Downloads() / "film.bin"), file_);
}

TEST_F(SwarmTest, AClientKilledHalfWayFetchesOnlyWhatIsMissingNextTime) {
  Process first(Argv({"download", "film.bin", "--limit-rate", "8M"}), (dir_.path() / "first.log").string());
  const fs::path part = Downloads() / "film.bin.part";
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;
        return ::stat(part.c_str(), &st) == 0 && st.st_blocks * 512 > 12 * 1024 * 1024;
      },
      std::chrono::seconds(30)))
      << first.Log();
  first.Signal(SIGKILL);
  first.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(fs::exists(part));
  const int64_t served_before = ServedByAll();

  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  const int64_t kept = j["resumed_at"];
  EXPECT_GT(kept, 4 * 1024 * 1024) << "the verified pieces were not kept: " << out;
  EXPECT_EQ(j["fetched"].get<int64_t>() + kept, static_cast<int64_t>(file_.size())) << out;
  // The holders sent only what was missing (and at most the last pieces' race).
  const int64_t served_now = ServedByAll() - served_before;
  EXPECT_GE(served_now, static_cast<int64_t>(file_.size()) - kept);
  EXPECT_LE(served_now, static_cast<int64_t>(file_.size()) - kept + 3 * 256 * 1024) << out;
  EXPECT_EQ(Sha256File((Downloads() / "film.bin").string()).value(), Sha256Hex(file_));
}

}  // namespace
}  // namespace p2pshare::testing
