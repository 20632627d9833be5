// Swarm downloads with the real binaries: three peer-servers hold one
// 24 MiB file, carol's peer-client fetches pieces from all of them at once.
// What each holder served is read from its /metrics.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>

#include "common/hash_tree.h"
#include "common/hex.h"
#include "common/part_record.h"
#include "common/sha256.h"
#include "common/unique_fd.h"
#include "integration/network_test.h"
#include "unit/file_util.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

// Holders of one file with /metrics; downloaders as peer-client processes.
class SwarmFixture : public NetworkTest {
 protected:
  // Starts `names` as holders of file_, each with `extra` config keys, and
  // waits until central lists them all.
  void StartHolders(const std::vector<std::string>& names, const Json& extra = Json::object()) {
    for (const std::string& name : names) {
      const int port = FreePort();
      metrics_[name] = port;
      Json config = extra;
      config["metrics_listen"] = "127.0.0.1:" + std::to_string(port);
      holders_[name] = &StartPeer(name, [&](const fs::path& d) { WriteFile(d / "film.bin", file_); }, config);
    }
    ASSERT_TRUE(WaitUntil([&] {
      auto found = central_->Client()->FindFile(Sha256Hex(file_));
      return found.ok() && found->has_value() && (*found)->holders.size() == names.size();
    }, std::chrono::seconds(10)));
  }
  // A series of `holder`'s /metrics (-1 when it cannot be read).
  int64_t Metric(const std::string& holder, const std::string& name) {
    httplib::Client c("127.0.0.1", metrics_[holder]);
    auto res = c.Get("/metrics");
    if (!res || res->status != 200) return -1;
    std::istringstream in(res->body);
    const std::string series = name + " ";
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(series, 0) == 0) return static_cast<int64_t>(std::stod(line.substr(series.size())));
    }
    return -1;
  }
  // Bytes `holder` has sent by Download.
  int64_t Served(const std::string& holder) { return Metric(holder, "p2pshare_peer_bytes_served_total"); }
  fs::path Downloads(const std::string& user = "carol") { return dir_.path() / user / "downloads"; }
  // peer-client of `user` (registered on first use) running `words`.
  std::vector<std::string> Argv(const std::string& user, const std::vector<std::string>& words) {
    if (!fs::exists(dir_.path() / user / "shared")) {
      EXPECT_TRUE(central_->Client()->Register(user, user + "-password").ok());
    }
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", WriteClientConfig(dir_.path(), user, *central_)};
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
  }
  std::vector<std::string> Argv(const std::vector<std::string>& words) { return Argv("carol", words); }
  // The --json reply in a download's output (null when there is none).
  static Json ReplyIn(const std::string& out) {
    const size_t at = out.find("{\"");
    if (at == std::string::npos) return Json();
    return Json::parse(out.substr(at), nullptr, false);
  }
  // Runs a --json download; its reply (null when it failed) and the output.
  std::pair<Json, std::string> DownloadJson(const std::vector<std::string>& extra = {},
                                            const std::string& user = "carol") {
    std::vector<std::string> words = {"--json", "download", "film.bin"};
    words.insert(words.end(), extra.begin(), extra.end());
    auto [code, out] = RunToEnd(Argv(user, words), (dir_.path() / ("run-" + std::to_string(++runs_) + ".log")).string());
    if (code != 0) return {Json(), out};
    return {ReplyIn(out), out};
  }

  std::string file_;
  std::map<std::string, int> metrics_;
  std::map<std::string, PeerServerProcess*> holders_;
  int runs_ = 0;
};

class SwarmTest : public SwarmFixture {
 protected:
  void SetUp() override {
    SwarmFixture::SetUp();
    file_ = RandomBytes(24 * 1024 * 1024, 21);
    StartHolders({"alice", "bob", "dave"});
  }
  int64_t ServedByAll() { return Served("alice") + Served("bob") + Served("dave"); }
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
  // byte in every 256 KiB piece. Whatever piece she is asked for is bad.
  fs::path f = holders_["alice"]->shared_dir() / "film.bin";
  struct stat before;
  ASSERT_EQ(::stat(f.c_str(), &before), 0);
  std::string bad = file_;
  for (size_t at = 100; at < bad.size(); at += 256 * 1024) bad[at] ^= 0x5a;
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

TEST_F(SwarmTest, AHolderKilledMidDownloadLeavesItsPiecesToTheOthersAndNothingVerifiedIsFetchedAgain) {
  Process client(Argv({"--json", "download", "film.bin", "--limit-rate", "8M"}), (dir_.path() / "client.log").string());
  const fs::path part = Downloads() / "film.bin.part";
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;
        return ::stat(part.c_str(), &st) == 0 && st.st_blocks * 512 > 8 * 1024 * 1024;
      },
      std::chrono::seconds(30)))
      << client.Log();
  holders_["dave"]->Signal(SIGKILL);
  ASSERT_EQ(client.Wait(std::chrono::seconds(60)), 0) << client.Log();
  Json j = ReplyIn(client.Log());
  ASSERT_TRUE(j.is_object()) << client.Log();
  EXPECT_EQ(ReadFile(Downloads() / "film.bin"), file_);
  ASSERT_EQ(j["dropped"].size(), 1u) << client.Log();
  EXPECT_EQ(j["dropped"][0]["holder"], "dave");
  // alice and bob sent the rest: what dave had delivered verified was not asked again
  // (beyond the endgame's race for the last pieces).
  const int64_t from_dave = j["bytes_from"].value("dave", int64_t{0});
  const int64_t rest = static_cast<int64_t>(file_.size()) - from_dave;
  EXPECT_GE(Served("alice") + Served("bob"), rest);
  EXPECT_LE(Served("alice") + Served("bob"), rest + 3 * 256 * 1024) << client.Log();
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

namespace p2pshare::testing {
namespace {

// Three holders each capped at R by max_upload_rate: one download gets
// nearly 3 R, every holder sending its share. Under TSan the client's own
// hashing and TLS are slower than 3 R (2.4 R measured), so there the rate is
// only printed, as the 100 Mbit/s link test does; each holder's share is
// still checked.
TEST_F(SwarmFixture, ThreeHoldersLimitedToREachGiveOneDownloadNearlyThreeR) {
  constexpr int64_t kRate = 4 << 20;
  file_ = RandomBytes(32 * 1024 * 1024, 22);
  StartHolders({"alice", "bob", "dave"}, Json{{"max_upload_rate", "4M"}});
  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(ReadFile(Downloads() / "film.bin"), file_);
  const double rate = j["fetched"].get<double>() / j["seconds"].get<double>();
#ifndef P2P_SANITIZE_THREAD
  EXPECT_GE(rate, 2.7 * kRate) << "overall " << rate / kRate << " R: " << out;
#endif
  std::printf("three holders at R each: %.2f R overall\n", rate / kRate);
  for (const char* name : {"alice", "bob", "dave"}) {
    // Each sent at least a fifth of the file (a third when all are equal).
    EXPECT_GE(Served(name), static_cast<int64_t>(file_.size()) / 5) << name << ": " << out;
  }
}

// One holder rate-limited alone: a download from it takes at least size / R
// (the limit is kept), and the client's rate shows it.
TEST_F(SwarmFixture, OneHolderNeverSendsFasterThanItsUploadRate) {
  constexpr int64_t kRate = 2 << 20;
  file_ = RandomBytes(6 * 1024 * 1024, 23);
  StartHolders({"alice"}, Json{{"max_upload_rate", kRate}});
  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(ReadFile(Downloads() / "film.bin"), file_);
  // The pacer lets one chunk (R/8) go at once, then R a second.
  const double floor_s = (static_cast<double>(file_.size()) - kRate / 8.0) / kRate;
  EXPECT_GE(j["seconds"].get<double>(), floor_s) << out;
}

// Two upload slots: a third downloader is queued, told its place, and
// served once a slot is free.
TEST_F(SwarmFixture, WithTwoSlotsAThirdDownloaderIsQueuedToldItsPlaceAndServedAfter) {
  file_ = RandomBytes(8 * 1024 * 1024, 24);
  StartHolders({"alice"}, Json{{"upload_slots", 2}, {"max_upload_rate", "4M"}});
  Process bob(Argv("bob", {"download", "film.bin"}), (dir_.path() / "bob.log").string());
  Process carol(Argv("carol", {"download", "film.bin"}), (dir_.path() / "carol.log").string());
  ASSERT_TRUE(WaitUntil([&] { return Metric("alice", "p2pshare_peer_upload_slots_busy") == 2; },
                        std::chrono::seconds(20)))
      << bob.Log() << carol.Log();
  Process erin(Argv("erin", {"--json", "download", "film.bin"}), (dir_.path() / "erin.log").string());
  ASSERT_TRUE(WaitUntil([&] { return Metric("alice", "p2pshare_peer_upload_queue") == 1; },
                        std::chrono::seconds(20)))
      << erin.Log();
  auto code = erin.Wait(std::chrono::seconds(60));
  ASSERT_EQ(code, 0) << erin.Log();
  // erin got a slot only after bob's or carol's download ended.
  EXPECT_TRUE(!bob.running() || !carol.running()) << bob.Log() << carol.Log();
  EXPECT_NE(erin.Log().find("queued at alice: number 1 for an upload slot"), std::string::npos) << erin.Log();
  Json j = ReplyIn(erin.Log());
  ASSERT_TRUE(j.is_object()) << erin.Log();
  EXPECT_EQ(j["queued_at"].value("alice", 0), 1) << erin.Log();
  EXPECT_EQ(ReadFile(Downloads("erin") / "film.bin"), file_);
  EXPECT_EQ(bob.Wait(std::chrono::seconds(60)), 0) << bob.Log();
  EXPECT_EQ(carol.Wait(std::chrono::seconds(60)), 0) << carol.Log();
  EXPECT_EQ(ReadFile(Downloads("bob") / "film.bin"), file_);
  EXPECT_EQ(ReadFile(Downloads("carol") / "film.bin"), file_);
}

// Flash crowd: one seed at R, four downloaders (each with its peer-server)
// starting together. Alone from the seed they would need 4 size / R; as
// they serve each other the pieces they verified, each finishes within
// 2 size / R, and the seed sends far less than four copies.
TEST_F(SwarmFixture, FlashCrowdOfFourFromOneSeedFinishesWithinTwiceSizeOverR) {
  constexpr int64_t kRate = 4 << 20;
  file_ = RandomBytes(16 * 1024 * 1024, 25);
  StartHolders({"alice"}, Json{{"max_upload_rate", "4M"}});
  const std::vector<std::string> crowd = {"bob", "carol", "erin", "frank"};
  for (const std::string& name : crowd) StartPeer(name);
  std::vector<std::unique_ptr<Process>> clients;
  for (const std::string& name : crowd) {
    clients.push_back(std::make_unique<Process>(Argv(name, {"--json", "download", "film.bin"}),
                                                (dir_.path() / (name + ".log")).string()));
  }
  const double size_over_rate = static_cast<double>(file_.size()) / kRate;
  int64_t from_peers = 0;
  for (size_t i = 0; i < crowd.size(); ++i) {
    ASSERT_EQ(clients[i]->Wait(std::chrono::seconds(120)), 0) << crowd[i] << ": " << clients[i]->Log();
    Json j = ReplyIn(clients[i]->Log());
    ASSERT_TRUE(j.is_object()) << clients[i]->Log();
    EXPECT_EQ(ReadFile(Downloads(crowd[i]) / "film.bin"), file_) << crowd[i];
    EXPECT_LE(j["seconds"].get<double>(), 2 * size_over_rate) << crowd[i] << ": " << clients[i]->Log();
    std::printf("%s: %.2f size/R, %s\n", crowd[i].c_str(), j["seconds"].get<double>() / size_over_rate,
                j["bytes_from"].dump().c_str());
    for (const auto& [holder, bytes] : j["bytes_from"].items()) {
      if (holder != "alice") from_peers += bytes.get<int64_t>();
    }
  }
  EXPECT_GT(from_peers, static_cast<int64_t>(file_.size())) << "the downloaders shared little with each other";
  EXPECT_LT(Served("alice"), static_cast<int64_t>(3 * file_.size())) << "the seed sent nearly a copy to each";
}

// A hostile partial holder: mallory's peer-server announces a download of
// the file with every piece "verified", but its .part holds other bytes.
// She is asked, sends bad pieces, is dropped and named; nothing of hers lands.
TEST_F(SwarmFixture, APartialHolderLyingAboutItsPiecesIsDroppedAndNothingOfItsLands) {
  file_ = RandomBytes(8 * 1024 * 1024, 26);
  StartHolders({"alice"}, Json{{"max_upload_rate", "8M"}});
  auto& mallory = StartPeer("mallory");
  WriteFile(dir_.path() / "real.bin", file_);
  auto hashes = HashFile((dir_.path() / "real.bin").string());
  ASSERT_TRUE(hashes.ok());
  const FileEntry entry{"film.bin", static_cast<int64_t>(file_.size()), hashes->sha256,
                        HexEncode(hashes->root.data(), hashes->root.size())};
  ASSERT_TRUE(WritePartialFile(PartialDir(mallory.shared_dir().string()), entry, hashes->pieces).ok());
  const fs::path part = dir_.path() / "mallory" / "downloads" / "film.bin.part";
  WriteFile(part, RandomBytes(file_.size() + 2 * kPartSlotBytes, 27));
  {
    UniqueFd fd(::open(part.c_str(), O_RDWR));
    PartRecord all;
    all.seq = 1;
    for (int64_t i = 0; i < PieceCount(entry.size); ++i) all.Set(i);
    ASSERT_TRUE(WritePartRecord(fd.get(), entry.size, hashes->root, PieceCount(entry.size), all).ok());
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto found = central_->Client()->FindFile(entry.sha256);
    return found.ok() && found->has_value() && (*found)->holders.size() == 2 && (*found)->holders[1].partial;
  }, std::chrono::seconds(10)));

  auto [j, out] = DownloadJson();
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(ReadFile(Downloads() / "film.bin"), file_);
  EXPECT_EQ(j["bytes_from"].value("mallory", int64_t{0}), 0) << out;
  ASSERT_EQ(j["dropped"].size(), 1u) << out;
  EXPECT_EQ(j["dropped"][0]["holder"], "mallory") << out;
  EXPECT_NE(j["dropped"][0]["why"].get<std::string>().find("sent bad data for piece"), std::string::npos) << out;
}

// Memory: a 4 GiB download (P2PSHARE_TEST_BIG_MIB to change it) from three
// holders keeps peer-client under 64 MiB (its peak resident set, from the
// kernel once it has exited). Under a sanitizer the download is a quarter of
// that (the client has RunToEnd's 30 s either way) and RSS is not checked.
TEST_F(SwarmFixture, AFourGibDownloadFromThreeHoldersKeepsTheClientUnder64Mib) {
  const char* env = std::getenv("P2PSHARE_TEST_BIG_MIB");
  const int64_t mib = env != nullptr ? std::atoll(env) : 4096 / kSanitizerSlowdown;
  const fs::path big = dir_.path() / "big.bin";
  {
    // 16 MiB of random bytes repeated, each MiB stamped with its number.
    std::string block = RandomBytes(16 << 20, 28);
    std::ofstream out(big, std::ios::binary);
    for (int64_t m = 0; m < mib; m += 16) {
      for (int64_t k = 0; k < 16; ++k) {
        const int64_t n = m + k;
        std::memcpy(block.data() + (static_cast<size_t>(k) << 20), &n, sizeof n);
      }
      out.write(block.data(), static_cast<std::streamsize>(std::min<int64_t>(16, mib - m) << 20));
    }
    ASSERT_TRUE(out.good());
  }
  auto want = Sha256File(big.string());
  ASSERT_TRUE(want.ok());
  // One inode shared by all three (hashed by each when it starts).
  for (const char* name : {"alice", "bob", "dave"}) {
    StartPeer(name, [&](const fs::path& d) { fs::create_hard_link(big, d / "big.bin"); });
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto found = central_->Client()->FindFile(*want);
    return found.ok() && found->has_value() && (*found)->holders.size() == 3;
  }, std::chrono::seconds(120)));
  // Up to 120 s (RunToEnd gives 30): 4 GiB through TLS and SHA-256 on a
  // loaded 2-core machine (ctest -j2 runs other tests beside it) took 16 s
  // to over 30 s. Time is not what this test measures.
  Process client(Argv({"--json", "download", *want}), (dir_.path() / "big.log").string());
  const int code = client.Wait(std::chrono::seconds(120)).value_or(-1);
  const std::string out = client.Log();
  ASSERT_EQ(code, 0) << out;
  Json j = ReplyIn(out);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["sources"], 3) << out;
  EXPECT_EQ(j["bytes_from"].size(), 3u) << out;
  EXPECT_EQ(Sha256File((Downloads() / "big.bin").string()).value(), *want);
  fs::remove(Downloads() / "big.bin");
  struct rusage children;
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &children), 0);
  const int64_t peak = static_cast<int64_t>(children.ru_maxrss) * 1024;  // the largest exited child: the client
  std::printf("peer-client peak RSS for a %lld MiB download from three holders: %.1f MiB\n",
              static_cast<long long>(mib), peak / 1048576.0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)peak;  // shadow memory makes RSS meaningless under sanitizers
#else
  EXPECT_LT(peak, int64_t{64} << 20) << out;
#endif
}

}  // namespace
}  // namespace p2pshare::testing
