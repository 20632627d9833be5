// The real `peer-client` against a real central and real peer-servers:
// every command in one-shot mode, stdin mode, JSON, failover, resume, and
// verification that lets nothing unverified into place.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/part_record.h"
#include "common/sha256.h"
#include "common/x509.h"
#include "integration/network_test.h"
#include "unit/file_util.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

class PeerClientTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    big_ = RandomBytes(24 * 1024 * 1024, 11);
    alice_ = &StartPeer("alice", [&](const fs::path& d) {
      WriteFile(d / "notes.txt", "alice's notes\n");
      WriteFile(d / "big.bin", big_);
    });
    bob_ = &StartPeer("bob", [&](const fs::path& d) {
      WriteFile(d / "copies/big.bin", big_);
      WriteFile(d / "bobs-song.mp3", RandomBytes(300000, 12));
    });
    auto directory = central_->Client();
    if (::testing::UnitTest::GetInstance()->current_test_info()->name() !=
        std::string("EveryCommandWorksInOneShotMode")) {
      ASSERT_TRUE(directory->Register("carol", "carol-password").ok());  // a client-only peer
    }
    ASSERT_TRUE(WaitUntil([&] { return directory->Search("big.bin")->total == 2; },
                          std::chrono::seconds(5)));
  }
  fs::path Downloads(const std::string& user) { return dir_.path() / user / "downloads"; }
  // The config file of a peer-client for `user`.
  std::string ClientConfig(const std::string& user) { return WriteClientConfig(dir_.path(), user, *central_); }
  std::vector<std::string> Argv(const std::string& user, const std::vector<std::string>& words) {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", ClientConfig(user)};
    argv.insert(argv.end(), words.begin(), words.end());
    return argv;
  }
  // Runs one command; returns {exit code, stdout + stderr}.
  std::pair<int, std::string> Client(const std::string& user, const std::vector<std::string>& words,
                                     const std::string& stdin_path = "/dev/null") {
    std::string log = (dir_.path() / user / ("client-" + std::to_string(++runs_) + ".log")).string();
    return RunToEnd(Argv(user, words), log, stdin_path);
  }
  static int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }
  // The REPL of `user` on a terminal of its own, its HOME in the test's folder.
  std::unique_ptr<PtyProcess> Repl(const std::string& user) {
    fs::create_directories(dir_.path() / user / "home");
    auto repl = std::make_unique<PtyProcess>(std::vector<std::string>{PCLIENT_BIN, "--config", ClientConfig(user)},
                                             std::map<std::string, std::string>{{"HOME", (dir_.path() / user / "home").string()}});
    EXPECT_TRUE(AtPrompt(*repl, user));
    return repl;
  }
  // Waits until the line editor echoes a key, then takes it back: keys
  // typed while it is still setting the terminal up can be lost (CI saw a
  // whole line go), as a person, who types later, never notices.
  static bool Echoing(PtyProcess& repl) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      repl.Type("~");
      if (repl.WaitFor("~", std::chrono::milliseconds(500))) {
        repl.Type("\x7f");  // Backspace
        return true;
      }
    }
    return false;
  }
  // Waits for `user`'s prompt with the line editor reading keys.
  static ::testing::AssertionResult AtPrompt(PtyProcess& repl, const std::string& user) {
    if (!repl.WaitFor(user + "> ", std::chrono::seconds(10))) {
      return ::testing::AssertionFailure() << "no prompt:\n" << repl.output();
    }
    if (!repl.WaitForLineEditor(std::chrono::seconds(5)) || !Echoing(repl)) {
      return ::testing::AssertionFailure() << "the line editor never read keys:\n" << repl.output();
    }
    return ::testing::AssertionSuccess();
  }
  fs::path History(const std::string& user) { return dir_.path() / user / "home" / ".p2pshare" / ("history-" + user); }

  PeerServerProcess* alice_ = nullptr;
  PeerServerProcess* bob_ = nullptr;
  std::string big_;
  int runs_ = 0;
};

TEST_F(PeerClientTest, EveryCommandWorksInOneShotMode) {
  auto [reg, reg_out] = Client("carol", {"register"});
  EXPECT_EQ(reg, 0) << reg_out;
  EXPECT_NE(reg_out.find("registered account carol"), std::string::npos) << reg_out;

  auto [login, login_out] = Client("carol", {"login"});
  EXPECT_EQ(login, 0) << login_out;
  EXPECT_NE(login_out.find("logged in as carol"), std::string::npos);

  auto [status, status_out] = Client("carol", {"status"});
  EXPECT_EQ(status, 0) << status_out;
  EXPECT_NE(status_out.find("account      carol"), std::string::npos) << status_out;
  EXPECT_NE(status_out.find("session      active"), std::string::npos) << status_out;
  EXPECT_NE(status_out.find("peer-server  not running"), std::string::npos) << status_out;

  auto [peers, peers_out] = Client("carol", {"peers"});
  EXPECT_EQ(peers, 0);
  for (const char* who : {"alice", "bob"}) EXPECT_NE(peers_out.find(who), std::string::npos);
  // A client alone is not a peer online: no port, no row, no login event
  // (and so no eviction when it goes).
  EXPECT_EQ(peers_out.find("carol"), std::string::npos) << peers_out;
  EXPECT_NE(status_out.find("peer-server  not running: no peer-server runs for carol"), std::string::npos)
      << status_out;
  EXPECT_NE(status_out.find("peer-server --config "), std::string::npos) << status_out;

  auto [search, search_out] = Client("carol", {"search", "big"});
  EXPECT_EQ(search, 0);
  EXPECT_NE(search_out.find("24.0 MiB"), std::string::npos) << search_out;
  EXPECT_NE(search_out.find("copies/big.bin"), std::string::npos);

  auto [files, files_out] = Client("carol", {"files", "alice"});
  EXPECT_EQ(files, 0) << files_out;
  EXPECT_NE(files_out.find("notes.txt"), std::string::npos);
  auto [own, own_out] = Client("carol", {"files"});
  EXPECT_EQ(own, 1);  // carol runs no peer-server: a clear one-line error
  EXPECT_NE(own_out.find("no peer-server runs for carol"), std::string::npos) << own_out;

  // --verify-only fetches and checks, and writes nothing.
  auto [check, check_out] = Client("carol", {"download", "notes.txt", "--verify-only"});
  EXPECT_EQ(check, 0) << check_out;
  EXPECT_NE(check_out.find("verified (not saved: --verify-only)"), std::string::npos) << check_out;
  EXPECT_FALSE(fs::exists(Downloads("carol") / "notes.txt"));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "notes.txt.part"));

  auto [dl, dl_out] = Client("carol", {"download", "notes.txt"});
  EXPECT_EQ(dl, 0) << dl_out;
  EXPECT_NE(dl_out.find("verified"), std::string::npos);
  EXPECT_EQ(ReadFile(Downloads("carol") / "notes.txt"), "alice's notes\n");

  WriteFile(dir_.path() / "gift.txt", "for bob");
  auto [up, up_out] = Client("carol", {"upload", (dir_.path() / "gift.txt").string(), "--to", "bob"});
  EXPECT_EQ(up, 0) << up_out;
  EXPECT_EQ(ReadFile(bob_->shared_dir() / "gift.txt"), "for bob");
  WriteFile(dir_.path() / "anywhere.txt", "to whoever has room");
  auto [up2, up2_out] = Client("carol", {"upload", (dir_.path() / "anywhere.txt").string()});
  EXPECT_EQ(up2, 0) << up2_out;
  EXPECT_TRUE(fs::exists(alice_->shared_dir() / "anywhere.txt") ||
              fs::exists(bob_->shared_dir() / "anywhere.txt"));

  auto [ping, ping_out] = Client("carol", {"ping", "alice"});
  EXPECT_EQ(ping, 0) << ping_out;
  EXPECT_NE(ping_out.find("pong from alice"), std::string::npos);

  auto [help, help_out] = Client("carol", {"help"});
  EXPECT_EQ(help, 0);
  for (const char* cmd : {"download", "upload", "search", "logout", "ping"}) {
    EXPECT_NE(help_out.find(cmd), std::string::npos) << cmd;
  }
  auto [help1, help1_out] = Client("carol", {"help", "download"});
  EXPECT_NE(help1_out.find("usage: download"), std::string::npos);

  auto [out, out_out] = Client("carol", {"logout"});
  EXPECT_EQ(out, 0) << out_out;
  auto [peers2, peers2_out] = Client("alice", {"peers"});
  EXPECT_EQ(peers2_out.find("carol"), std::string::npos) << peers2_out;

  auto [quit, quit_out] = Client("carol", {"quit"});
  EXPECT_EQ(quit, 0) << quit_out;
}

TEST_F(PeerClientTest, ErrorsAreOneLineWithMeaningfulExitCodes) {
  auto [unknown, unknown_out] = Client("carol", {"downlaod", "x"});
  EXPECT_EQ(unknown, 2);
  EXPECT_EQ(Lines(unknown_out), 1) << unknown_out;
  EXPECT_EQ(unknown_out.rfind("peer-client: unknown command 'downlaod'", 0), 0u) << unknown_out;
  auto [missing, missing_out] = Client("carol", {"download", "no-such-file.bin"});
  EXPECT_EQ(missing, 1);
  EXPECT_EQ(Lines(missing_out), 1) << missing_out;
  auto [bad_key, bad_key_out] = RunToEnd({PCLIENT_BIN, "--config", ClientConfig("carol"),
                                          "--log-level", "loud", "peers"},
                                         (dir_.path() / "bad.log").string());
  EXPECT_EQ(bad_key, 2);
  EXPECT_NE(bad_key_out.find("--log-level"), std::string::npos) << bad_key_out;
}

TEST_F(PeerClientTest, JsonOutputIsOneDocumentPerCommand) {
  // --json is a program flag: it goes before the command
  auto [code2, out2] = Client("carol", {"--json", "search", "notes"});
  ASSERT_EQ(code2, 0) << out2;
  Json j = Json::parse(out2, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out2;
  EXPECT_EQ(j["total"], 1);
  EXPECT_EQ(j["results"][0]["holders"][0]["username"], "alice");
  auto [code3, out3] = Client("carol", {"--json", "download", "notes.txt"});
  ASSERT_EQ(code3, 0) << out3;
  Json d = Json::parse(out3, nullptr, false);
  ASSERT_FALSE(d.is_discarded()) << out3;
  EXPECT_EQ(d["sha256"], Sha256Hex("alice's notes\n"));
  EXPECT_EQ(d["from"][0], "alice");
}

// A search matching thousands: the REPL shows central's order and says the
// count is an estimate.
TEST_F(PeerClientTest, JsonAnywhereOnTheLineAndErrorsAsJsonWithTheSameExitCodes) {
  auto [code, out] = Client("carol", {"search", "notes", "--json"});
  ASSERT_EQ(code, 0) << out;
  Json j = Json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["total"], 1);
  // A failing command: one JSON object (stdout and stderr share the log
  // here, and stdout is empty), exit 1 as without --json.
  auto [missing, missing_out] = Client("carol", {"download", "no-such-file.bin", "--json"});
  EXPECT_EQ(missing, 1);
  Json e = Json::parse(missing_out, nullptr, false);
  ASSERT_FALSE(e.is_discarded()) << missing_out;
  EXPECT_NE(e["error"]["message"].get<std::string>().find("no-such-file.bin"), std::string::npos);
  EXPECT_EQ(e["error"]["exit_code"], 1);
  auto [usage, usage_out] = Client("carol", {"--json", "downlaod", "x"});
  EXPECT_EQ(usage, 2);
  Json u = Json::parse(usage_out, nullptr, false);
  ASSERT_FALSE(u.is_discarded()) << usage_out;
  EXPECT_EQ(u["error"]["exit_code"], 2);
}

TEST_F(PeerClientTest, TheThreeProgramsShareTheirExitCodes) {
  // An unknown flag: 2 and one line saying what and where to look, from each.
  int run = 0;
  for (const char* bin : {CENTRAL_BIN, PSERVER_BIN, PCLIENT_BIN}) {
    auto [code, out] = RunToEnd({bin, "--no-such-flag"}, (dir_.path() / ("flag-" + std::to_string(++run) + ".log")).string());
    EXPECT_EQ(code, 2) << bin << ": " << out;
    EXPECT_EQ(Lines(out), 1) << bin << ": " << out;
    EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << out;
    EXPECT_NE(out.find("see --help"), std::string::npos) << out;
    auto [help, help_out] = RunToEnd({bin, "--help"}, (dir_.path() / ("help-" + std::to_string(run) + ".log")).string());
    EXPECT_EQ(help, 0) << bin << ": " << help_out;
  }
  // A config that does not check: 2 from the servers too.
  const std::string bad = (dir_.path() / "bad.json").string();
  std::ofstream(bad) << "{\"log_level\": \"loud\"}";
  for (const char* bin : {CENTRAL_BIN, PSERVER_BIN}) {
    auto [code, out] = RunToEnd({bin, "--config", bad}, (dir_.path() / ("config-" + std::to_string(++run) + ".log")).string());
    EXPECT_EQ(code, 2) << bin << ": " << out;
  }
}

TEST_F(PeerClientTest, HelpNeedsNoConfig) {
  auto [code, out] = RunToEnd({PCLIENT_BIN, "help"}, (dir_.path() / "help-alone.log").string());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("download"), std::string::npos) << out;
  EXPECT_EQ(out.find("is required"), std::string::npos) << out;
  auto [one, one_out] = RunToEnd({PCLIENT_BIN, "help", "download"}, (dir_.path() / "help-one.log").string());
  EXPECT_EQ(one, 0) << one_out;
  EXPECT_NE(one_out.find("--limit-rate RATE"), std::string::npos) << one_out;
}

TEST_F(PeerClientTest, ABroadSearchSaysItsCountIsAnEstimate) {
  auto bulk = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*bulk, "dave").ok());
  std::vector<FileEntry> files;
  for (int i = 0; i < 1500; ++i) {
    std::string name = "mix/track " + std::to_string(i) + ".ogg";
    files.push_back({name, i, Sha256Hex(name), ""});
  }
  ASSERT_TRUE(bulk->ReplaceIndex(files).ok());
  auto [code, out] = Client("carol", {"search", "track"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("(about 1500 matches; showing the first 100)"), std::string::npos) << out;
  EXPECT_LT(out.find("mix/track 0.ogg"), out.find("mix/track 1.ogg"));  // older first
  auto [jcode, jout] = Client("carol", {"--json", "search", "track"});
  ASSERT_EQ(jcode, 0) << jout;
  Json j = Json::parse(jout, nullptr, false);
  EXPECT_EQ(j["total"], 1500);
  EXPECT_EQ(j["total_exact"], false);
  auto [exact, exact_out] = Client("carol", {"search", "track 14?.ogg"});  // 140..149: all shown
  EXPECT_NE(exact_out.find("mix/track 149.ogg"), std::string::npos) << exact_out;
  EXPECT_EQ(exact_out.find("matches;"), std::string::npos) << exact_out;
}

TEST_F(PeerClientTest, StdinModeRunsOneCommandPerLine) {
  std::string script = (dir_.path() / "script.txt").string();
  std::ofstream(script) << "# fetch alice's notes\nsearch notes\ndownload #1\nbogus\npeers\n";
  auto [code, out] = Client("carol", {}, script);
  EXPECT_EQ(code, 1) << out;  // one line failed
  EXPECT_NE(out.find("downloaded notes.txt"), std::string::npos) << out;
  EXPECT_NE(out.find("line 4: unknown command 'bogus'"), std::string::npos) << out;
  EXPECT_NE(out.find("bob"), std::string::npos) << out;  // the line after the failure ran
  EXPECT_EQ(ReadFile(Downloads("carol") / "notes.txt"), "alice's notes\n");
}

TEST_F(PeerClientTest, TheShortHashATableShowsNamesTheFileForDownload) {
  const std::string sha = Sha256Hex("alice's notes\n");
  std::string script = (dir_.path() / "short.txt").string();
  std::ofstream(script) << "search notes\ndownload " << sha.substr(0, 12) << "\n";
  auto [code, out] = Client("carol", {}, script);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("downloaded notes.txt"), std::string::npos) << out;
  EXPECT_EQ(ReadFile(Downloads("carol") / "notes.txt"), "alice's notes\n");
  // With nothing shown yet: a clear way forward, not a search for the hash.
  const std::string song = Sha256Hex(RandomBytes(300000, 12));
  auto [code2, out2] = Client("carol", {"download", song.substr(0, 12)});
  EXPECT_EQ(code2, 1) << out2;
  EXPECT_NE(out2.find("give all 64 hex digits"), std::string::npos) << out2;
  EXPECT_EQ(out2.find("try 'search " + song.substr(0, 12)), std::string::npos) << out2;
  // A table one command printed names the file for the next command of a
  // script (another process).
  auto [searched, search_out] = Client("carol", {"search", "bobs-song"});
  ASSERT_EQ(searched, 0) << search_out;
  EXPECT_NE(search_out.find(song.substr(0, 12)), std::string::npos) << search_out;
  auto [code3, out3] = Client("carol", {"download", song.substr(0, 12)});
  EXPECT_EQ(code3, 0) << out3;
  EXPECT_NE(out3.find("downloaded bobs-song.mp3"), std::string::npos) << out3;
}

TEST_F(PeerClientTest, AFileThisPeerSharesAlreadyIsNotFetchedAgain) {
  // alice shares notes.txt; bob shares big.bin under copies/ and alice
  // under its own name: neither is fetched, nothing lands in downloads.
  for (const char* what : {"notes.txt", "big.bin"}) {
    auto [code, out] = Client("alice", {"download", what});
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("is shared by this peer already (same sha256); nothing fetched"), std::string::npos) << out;
  }
  auto [code, out] = Client("bob", {"download", "big.bin"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("shared by this peer already"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(Downloads("alice") / "notes.txt"));
  EXPECT_FALSE(fs::exists(Downloads("alice") / "big.bin"));
  EXPECT_FALSE(fs::exists(Downloads("bob") / "big.bin"));
}

TEST_F(PeerClientTest, ADownloadWhoseHolderIsKilledCompletesFromTheNext) {
  // Slowed down so the holder can be killed half way.
  Process download(Argv("carol", {"download", "big.bin", "--limit-rate", "6M"}),
                   (dir_.path() / "carol-download.log").string());
  fs::path part = Downloads("carol") / "big.bin.part";
  ASSERT_TRUE(WaitUntil(
      [&] {
        struct stat st;  // the .part is sparse: the blocks written count
        return ::stat(part.c_str(), &st) == 0 && st.st_blocks * 512 > 3 * 1024 * 1024;
      },
      std::chrono::seconds(20)))
      << download.Log();
  alice_->Signal(SIGKILL);  // alice and bob both serve pieces: alice's go to bob
  auto code = download.Wait(std::chrono::seconds(60));
  std::string out = download.Log();
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("holder alice dropped"), std::string::npos) << out;
  EXPECT_NE(out.find("from alice "), std::string::npos) << out;  // what each sent, then why one was dropped
  EXPECT_NE(out.find(", bob "), std::string::npos) << out;
  EXPECT_NE(out.find("; dropped: alice ("), std::string::npos) << out;
  EXPECT_EQ(Sha256File((Downloads("carol") / "big.bin").string()).value(), Sha256Hex(big_));
  EXPECT_FALSE(fs::exists(part));
}

// A file only alice holds, put in her folder while she runs (24 MiB: a
// download at 4 MiB/s is still going when she is killed).
class HolderAwayTest : public PeerClientTest {
 protected:
  void SetUp() override {
    PeerClientTest::SetUp();
    lecture_ = RandomBytes(24 * 1024 * 1024, 31);
    WriteFile(alice_->shared_dir() / "Cours de maths" / "lecture.mp4", lecture_);
    auto directory = central_->Client();
    ASSERT_TRUE(WaitUntil([&] { return directory->Search("lecture.mp4")->total == 1; }, std::chrono::seconds(10)));
  }
  fs::path Part(const std::string& user) { return Downloads(user) / "Cours de maths" / "lecture.mp4.part"; }
  // The bytes its .part keeps verified (the record of verified pieces).
  int64_t Kept(const std::string& user) { return KeptIn(Part(user)); }
  int64_t KeptIn(const fs::path& part) { return VerifiedInPart(part.string(), static_cast<int64_t>(lecture_.size())); }
  // Waits until the .part holds at least 3 MiB verified, then kills alice.
  ::testing::AssertionResult KillAliceMidway(const fs::path& part) {
    if (!WaitUntil([&] { return KeptIn(part) >= 3 * 1024 * 1024; }, std::chrono::seconds(30))) {
      return ::testing::AssertionFailure() << "the download never got 3 MiB verified";
    }
    alice_->Signal(SIGKILL);
    alice_->Wait(std::chrono::seconds(10));
    return ::testing::AssertionSuccess();
  }
  // What a person reads must be in our words, never the transport's.
  static void ExpectPlainWords(const std::string& out) {
    for (const char* raw : {"UNAVAILABLE", "failed to connect to all addresses", "ipv4:", "Socket closed",
                            "Connection refused", "UNKNOWN:", "of 25165824 bytes"}) {
      EXPECT_EQ(out.find(raw), std::string::npos) << "'" << raw << "' reached the person:\n" << out;
    }
  }
  std::string lecture_;
};

TEST_F(HolderAwayTest, AOneShotDownloadWhoseOnlyHolderDiesKeepsEveryVerifiedByteThroughRetriesUntilItIsBack) {
  const std::string sha = Sha256Hex(lecture_);
  const fs::path to = dir_.path() / "carol" / "for class";  // not the configured folder
  const fs::path part = to / "Cours de maths" / "lecture.mp4.part";
  Process download(Argv("carol", {"download", "lecture.mp4", "--limit-rate", "4M", "--to", to.string()}),
                   (dir_.path() / "carol-download.log").string());
  ASSERT_TRUE(KillAliceMidway(part)) << download.Log();
  EXPECT_NE(download.Wait(std::chrono::seconds(60)), 0);
  const std::string out = download.Log();
  const int64_t kept = KeptIn(part);
  ASSERT_GE(kept, 3 * 1024 * 1024) << "verified bytes were thrown away:\n" << out;
  EXPECT_NE(out.find("alice went offline"), std::string::npos) << out;
  EXPECT_NE(out.find(" of 24.0 MiB verified are kept"), std::string::npos) << out;
  // The hint resumes it where it was, with the folder it was going to.
  EXPECT_NE(out.find("'download " + sha + " --to '" + to.string() + "''"), std::string::npos) << out;
  EXPECT_NE(out.find("resumes it when a holder is back"), std::string::npos) << out;
  ExpectPlainWords(out);
  // Again, with alice still away (central still lists her): nothing lost.
  for (int i = 0; i < 2; ++i) {
    auto [code, again] = Client("carol", {"download", sha, "--to", to.string()});
    EXPECT_NE(code, 0) << again;
    EXPECT_GE(KeptIn(part), kept) << "a retry cut the .part:\n" << again;
    // Central may list her still (then: what is kept), or have let her go
    // (then: that the .part stays): either way in plain words.
    EXPECT_TRUE(again.find("verified are kept") != std::string::npos ||
                again.find("stays in its .part") != std::string::npos)
        << again;
    ExpectPlainWords(again);
  }
  // She comes back: the next try fetches only the rest, at once.
  ASSERT_TRUE(alice_->Start().ok());
  auto [code, done] = Client("carol", {"--json", "download", sha, "--to", to.string()});
  ASSERT_EQ(code, 0) << done;
  Json j = Json::parse(done.substr(done.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << done;
  EXPECT_GE(j["resumed_at"].get<int64_t>(), kept) << done;
  EXPECT_EQ(ReadFile(to / "Cours de maths" / "lecture.mp4"), lecture_);
  EXPECT_FALSE(fs::exists(part));
}

TEST_F(HolderAwayTest, ABackgroundDownloadWhoseHolderDiesWaitsForItAndCompletesByItselfWhenItIsBack) {
  auto repl = Repl("carol");
  repl->Type("download lecture.mp4 --limit-rate 4M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(KillAliceMidway(Part("carol"))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("waiting for a holder: it resumes by itself", std::chrono::seconds(60))) << repl->output();
  const int64_t kept = Kept("carol");
  EXPECT_GE(kept, 3 * 1024 * 1024) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("waiting for a holder", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // Nobody types 'retry': alice's return is enough.
  ASSERT_TRUE(alice_->Start().ok());
  ASSERT_TRUE(repl->WaitFor("[#1] downloaded Cours de maths/lecture.mp4", std::chrono::seconds(90)))
      << repl->output();
  EXPECT_TRUE(repl->WaitFor("were here already", std::chrono::seconds(1))) << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "Cours de maths" / "lecture.mp4"), lecture_);
  ExpectPlainWords(repl->output());
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(HolderAwayTest, AFolderDownloadWhoseHolderDiesKeepsWhatEachFileVerified) {
  auto repl = Repl("carol");
  repl->Type("browse alice\r");
  ASSERT_TRUE(repl->WaitFor("Cours de maths/", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("download #1 --limit-rate 4M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(KillAliceMidway(Part("carol"))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("waiting for a holder", std::chrono::seconds(60))) << repl->output();
  EXPECT_GE(Kept("carol"), 3 * 1024 * 1024) << repl->output();
  ExpectPlainWords(repl->output());
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  ASSERT_TRUE(repl->WaitFor("transfer is still queued or running", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
  EXPECT_GE(Kept("carol"), 3 * 1024 * 1024);
}

TEST_F(PeerClientTest, UploadingAFolderSaysWhatToDoInstead) {
  fs::create_directories(dir_.path() / "carol" / "Cours de maths");
  auto [code, out] = Client("carol", {"upload", (dir_.path() / "carol" / "Cours de maths").string()});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("is a folder: upload sends one file"), std::string::npos) << out;
  auto [missing, missing_out] = Client("carol", {"upload", (dir_.path() / "carol" / "nothing.pdf").string()});
  EXPECT_NE(missing_out.find("no file " + (dir_.path() / "carol" / "nothing.pdf").string() + " here"),
            std::string::npos)
      << missing_out;
}

TEST_F(HolderAwayTest, BrowseTakesAFolderWithSpacesUnquotedOrByItsRowNumberAndHelpFollowsAnyCommand) {
  auto [code, out] = Client("carol", {"browse", "alice", "Cours", "de", "maths"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("lecture.mp4"), std::string::npos) << out;
  auto [help_code, help] = Client("carol", {"download", "--help"});
  EXPECT_EQ(help_code, 0) << help;
  EXPECT_NE(help.find("download <"), std::string::npos) << help;
  EXPECT_EQ(help.find("has no option"), std::string::npos) << help;
  auto repl = Repl("carol");
  repl->Type("browse alice\r");
  ASSERT_TRUE(repl->WaitFor("1  Cours de maths/", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("browse alice #1\r");
  ASSERT_TRUE(repl->WaitFor("lecture.mp4", std::chrono::seconds(10))) << repl->output();
  EXPECT_EQ(repl->output().find("shares no folder"), std::string::npos) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(HolderAwayTest, TransfersShowsWhatOthersDownloadFromThisPeerAndItsPeerServerLogsIt) {
  // carol fetches the lecture from alice, slowly; alice looks.
  Process download(Argv("carol", {"download", "lecture.mp4", "--limit-rate", "2M"}),
                   (dir_.path() / "carol-download.log").string());
  ASSERT_TRUE(WaitUntil([&] { return Kept("carol") >= 1 << 20; }, std::chrono::seconds(30))) << download.Log();
  auto [code, out] = Client("alice", {"--json", "transfers"});
  ASSERT_EQ(code, 0) << out;
  Json j = Json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  ASSERT_EQ(j["serving"].size(), 1u) << out;
  EXPECT_EQ(j["serving"][0]["to"], "carol") << out;
  EXPECT_EQ(j["serving"][0]["name"], "Cours de maths/lecture.mp4") << out;
  EXPECT_GT(j["serving"][0]["bytes"].get<int64_t>(), 0) << out;
  auto [text_code, text] = Client("alice", {"transfers"});
  EXPECT_NE(text.find("downloading from alice:"), std::string::npos) << text;
  EXPECT_NE(text.find("carol"), std::string::npos) << text;
  // The dashboard's data: alice serves carol, and that is a transfer.
  std::string peers;
  EXPECT_TRUE(WaitUntil([&] {
    auto reply = central_->Http()->Get("/api/v1/peers");
    if (!reply) return false;
    peers = reply->body;
    const Json j = Json::parse(peers, nullptr, false);
    for (const Json& p : j["peers"]) {
      if (p["username"] == "alice" && !p["serving"].empty() && p["serving"][0]["to"] == "carol") {
        return p["active_transfers"].get<int64_t>() >= 1;
      }
    }
    return false;
  }, std::chrono::seconds(15))) << peers;
  ASSERT_EQ(download.Wait(std::chrono::seconds(60)), 0) << download.Log();
  // alice's log says it served the download, once, at its end.
  EXPECT_TRUE(WaitUntil([&] { return alice_->log().find("served 'Cours de maths/lecture.mp4' to carol: 24.0 MiB") !=
                                     std::string::npos; },
                        std::chrono::seconds(30)))
      << alice_->log();
  EXPECT_NE(alice_->log().find("serving 'Cours de maths/lecture.mp4' (24.0 MiB) to carol"), std::string::npos);
}

TEST_F(PeerClientTest, AWrongPasswordIsNamedWithWhereItCameFromAndSearchingStillWorks) {
  // carol's password file holds an old password.
  const fs::path pw = dir_.path() / "carol" / "password";
  WriteFile(pw, "an-old-password\n");
  ::chmod(pw.c_str(), 0600);
  Json config = Json::parse(ReadFile(ClientConfig("carol")));
  config.erase("password");
  config["password_file"] = pw.string();
  const fs::path path = dir_.path() / "carol" / "stale.json";
  WriteFile(path, config.dump(2));
  auto run = [&](const std::vector<std::string>& words) {
    std::vector<std::string> argv = {PCLIENT_BIN, "--config", path.string()};
    argv.insert(argv.end(), words.begin(), words.end());
    return RunToEnd(argv, (dir_.path() / ("stale-" + std::to_string(++runs_) + ".log")).string(), "/dev/null");
  };
  auto [code, out] = run({"search", "big.bin"});
  EXPECT_EQ(code, 0) << "searching needs no login:\n" << out;
  EXPECT_NE(out.find("big.bin"), std::string::npos) << out;
  EXPECT_NE(out.find("central refused the password of carol (from the password file " + pw.string() + ")"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("an-old-password"), std::string::npos) << "the password was printed";
  auto [status_code, status] = run({"status"});
  EXPECT_EQ(status_code, 0) << status;
  EXPECT_NE(status.find("not logged in: central refused the password"), std::string::npos) << status;
  auto [download_code, download] = run({"download", "notes.txt"});
  EXPECT_NE(download_code, 0) << download;
  EXPECT_NE(download.find("refused the password"), std::string::npos) << download;
  // At the REPL, 'login' asks for the password instead (dave: an account
  // whose failed logins are not throttled yet by the ones above).
  ASSERT_TRUE(central_->Client()->Register("dave", "dave-password").ok());
  config["username"] = "dave";
  const fs::path dave = dir_.path() / "carol" / "dave.json";
  WriteFile(dave, config.dump(2));
  auto repl = std::make_unique<PtyProcess>(std::vector<std::string>{PCLIENT_BIN, "--config", dave.string()},
                                           std::map<std::string, std::string>{{"HOME", (dir_.path() / "carol").string()}});
  ASSERT_TRUE(AtPrompt(*repl, "dave"));
  repl->Type("login\r");
  ASSERT_TRUE(repl->WaitFor("password for dave: ", std::chrono::seconds(10))) << repl->output();
  repl->Type("dave-password\r");
  ASSERT_TRUE(repl->WaitFor("logged in as dave", std::chrono::seconds(10))) << repl->output();
  EXPECT_EQ(repl->output().find("dave-password"), std::string::npos) << "echoed:\n" << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "dave"));
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(HolderAwayTest, ALinkFromOnePeerFetchesTheFileFromAnyHolderElsewhere) {
  auto [code, out] = Client("alice", {"--json", "link", "lecture.mp4"});
  ASSERT_EQ(code, 0) << out;
  Json j = Json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  const std::string link = j["link"];
  EXPECT_TRUE(link.starts_with("p2pshare:?sha256=" + Sha256Hex(lecture_) + "&size=25165824&root=")) << link;
  EXPECT_NE(link.find("&name=Cours%20de%20maths/lecture.mp4"), std::string::npos) << link;
  // carol, given the link in a chat, fetches it (its name from the link).
  auto [got, got_out] = Client("carol", {"download", link});
  ASSERT_EQ(got, 0) << got_out;
  EXPECT_EQ(ReadFile(Downloads("carol") / "Cours de maths" / "lecture.mp4"), lecture_);
  // A link claiming another size names no version anyone holds.
  std::string other = link;
  other.replace(other.find("size=25165824"), 13, "size=25165825");
  auto [none, none_out] = Client("carol", {"download", other});
  EXPECT_NE(none, 0) << none_out;
  EXPECT_NE(none_out.find("no peer online holds"), std::string::npos) << none_out;
  // A hostile name in a link saves nothing anywhere.
  auto [bad, bad_out] = Client("carol", {"--json", "download",
                                         "p2pshare:?sha256=" + Sha256Hex(lecture_) + "&size=25165824&name=..%2Fescape"});
  EXPECT_NE(bad, 0) << bad_out;
  EXPECT_NE(bad_out.find("\"reason\":\"bad_link\""), std::string::npos) << bad_out;
  EXPECT_FALSE(fs::exists(dir_.path() / "carol" / "escape"));
}

TEST_F(PeerClientTest, AStreamServesVerifiedBytesWithRangesBeforeTheDownloadCompletes) {
  // A real media file (4 s of noise video and a tone, ~20 MiB), shared by alice.
  const fs::path movie = alice_->shared_dir() / "movie.mp4";
  auto [made, made_log] = RunToEnd({"/usr/bin/ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                                    "testsrc=duration=4:size=640x360:rate=25,noise=alls=100:allf=t", "-f", "lavfi",
                                    "-i", "sine=duration=4", "-c:v", "mpeg4", "-q:v", "2", "-c:a", "aac", "-movflags",
                                    "+faststart", movie.string()},
                                   (dir_.path() / "ffmpeg.log").string());
  ASSERT_EQ(made, 0) << made_log;
  const std::string bytes = ReadFile(movie);
  ASSERT_GT(bytes.size(), 8u << 20);
  auto directory = central_->Client();
  ASSERT_TRUE(WaitUntil([&] { return directory->Search("movie.mp4")->total == 1; }, std::chrono::seconds(10)));
  Process stream(Argv("carol", {"stream", "movie.mp4", "--limit-rate", "3M"}),
                 (dir_.path() / "carol-stream.log").string());
  std::string url;
  ASSERT_TRUE(WaitUntil([&] {
    const std::string log = stream.Log();
    const size_t at = log.find("open http://127.0.0.1:");
    if (at == std::string::npos) return false;
    url = log.substr(at + 5, log.find(' ', at + 5) - at - 5);
    return true;
  }, std::chrono::seconds(20))) << stream.Log();
  auto curl = [&](const std::string& range) {
    const std::string out = (dir_.path() / "range.bin").string();
    auto [code, log] = RunToEnd({"/usr/bin/curl", "-sS", "--max-time", "60", "--range", range, "-o", out, "-w",
                                 "%{http_code}", url},
                                (dir_.path() / "curl.log").string());
    return std::make_pair(log, ReadFile(out));
  };
  // The first bytes, while most of the file is still to come.
  auto [status, head] = curl("0-65535");
  EXPECT_EQ(status.substr(0, 3), "206") << status;
  EXPECT_EQ(head, bytes.substr(0, 65536));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "movie.mp4")) << "the download was over already";
  // A jump near the end (a player seeking): those pieces come first now.
  const size_t tail = bytes.size() - 100000;
  auto [seek_status, seek] = curl(std::to_string(tail) + "-");
  EXPECT_EQ(seek_status.substr(0, 3), "206") << seek_status;
  EXPECT_EQ(seek, bytes.substr(tail));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "movie.mp4")) << "the seek waited for the whole download";
  // A player's probe reads the container over the URL.
  auto [probe, probe_out] = RunToEnd({"/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                      "csv=p=0", url},
                                     (dir_.path() / "ffprobe.log").string());
  EXPECT_EQ(probe, 0) << probe_out;
  EXPECT_NE(probe_out.find("4.0"), std::string::npos) << probe_out;
  // It completes, verified, and the URL then serves the file in place.
  ASSERT_TRUE(WaitUntil([&] { return stream.Log().find("downloaded movie.mp4") != std::string::npos; },
                        std::chrono::seconds(60)))
      << stream.Log();
  EXPECT_EQ(ReadFile(Downloads("carol") / "movie.mp4"), bytes);
  auto [all_status, all] = curl("0-");
  EXPECT_EQ(all, bytes);
  stream.Signal(SIGINT);
  stream.Wait(std::chrono::seconds(10));
}

TEST_F(PeerClientTest, AnExistingPartIsResumed) {
  WriteFile(Downloads("carol") / "big.bin.part", big_.substr(0, 5 * 1024 * 1024));
  auto [code, out] = Client("carol", {"--json", "download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  size_t brace = out.find('{');
  ASSERT_NE(brace, std::string::npos) << out;
  Json j = Json::parse(out.substr(brace), nullptr, false);
  EXPECT_EQ(j["resumed_at"], 5 * 1024 * 1024) << out;
  EXPECT_EQ(Sha256File((Downloads("carol") / "big.bin").string()).value(), Sha256Hex(big_));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin.part"));
  auto [again, again_out] = Client("carol", {"download", "big.bin"});
  EXPECT_EQ(again, 0);
  EXPECT_NE(again_out.find("already at"), std::string::npos) << again_out;
}

TEST_F(PeerClientTest, AFolderWithoutRoomForTheFileIsSaidBeforeAnyByteMoves) {
  // carol's downloads go to a 5 MiB tmpfs (mounting needs root, which CI
  // has); big.bin is 24 MiB.
  fs::path dl = Downloads("carol");
  auto disk = ScopedTmpfs::Mount(dl, "5m");
  if (!disk.ok()) GTEST_SKIP() << disk.status().message();
  auto [code, out] = Client("carol", {"download", "big.bin"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("big.bin needs 24.0 MiB, only 5.0 MiB free in " + dl.string()), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dl / "big.bin.part")) << "it filled the disk first";
  auto [json_code, json] = Client("carol", {"--json", "download", "big.bin"});
  EXPECT_NE(json.find("\"reason\":\"disk_full\""), std::string::npos) << json;
  // A folder nobody may write in (read-only even for root): its own reason.
  auto ro = ScopedTmpfs::Mount(dir_.path() / "carol" / "cdrom", "1m", MS_RDONLY);
  ASSERT_TRUE(ro.ok()) << ro.status().message();
  auto [ro_code, ro_out] = Client("carol", {"--json", "download", "notes.txt", "--to",
                                            (dir_.path() / "carol" / "cdrom").string()});
  EXPECT_NE(ro_code, 0) << ro_out;
  EXPECT_NE(ro_out.find("\"reason\":\"not_writable\""), std::string::npos) << ro_out;
  EXPECT_NE(ro_out.find("cannot write in"), std::string::npos) << ro_out;
}

TEST_F(PeerClientTest, ADiskThatFillsDuringADownloadIsAClearErrorAndTheRestResumesLater) {
  // Room at the start (30 MiB for 24), then another program takes it. The
  // bytes are written by a thread beside the one receiving them: its
  // failure must end the download, not hang it.
  fs::path dl = Downloads("carol");
  auto disk = ScopedTmpfs::Mount(dl, "30m");
  if (!disk.ok()) GTEST_SKIP() << disk.status().message();
  Process download(Argv("carol", {"download", "big.bin", "--limit-rate", "4M"}),
                   (dir_.path() / "carol-download.log").string());
  ASSERT_TRUE(WaitUntil([&] { return VerifiedInPart((dl / "big.bin.part").string(), big_.size()) >= 2 << 20; },
                        std::chrono::seconds(30)))
      << download.Log();
  {
    std::ofstream filler(dl / "someone-elses.iso", std::ios::binary);
    const std::string mib(1 << 20, 'x');
    for (int i = 0; i < 40 && filler.write(mib.data(), mib.size()); ++i) {
    }
  }
  EXPECT_NE(download.Wait(std::chrono::seconds(60)), 0);
  const std::string out = download.Log();
  EXPECT_NE(out.find("the disk is full"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dl / "big.bin")) << "an incomplete file in place";
  // The pieces that fitted stay in the .part with the record of them: room
  // made, the download fetches only the rest and completes.
  const int64_t kept = VerifiedInPart((dl / "big.bin.part").string(), big_.size());
  EXPECT_GE(kept, 2 << 20) << out;
  fs::remove(dl / "someone-elses.iso");
  auto [again, again_out] = Client("carol", {"--json", "download", "big.bin"});
  ASSERT_EQ(again, 0) << again_out;
  Json j = Json::parse(again_out.substr(again_out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << again_out;
  EXPECT_GE(j["resumed_at"].get<int64_t>(), kept) << again_out;
  EXPECT_EQ(j["fetched"].get<int64_t>() + j["resumed_at"].get<int64_t>(), static_cast<int64_t>(big_.size()))
      << "bytes fetched twice: " << again_out;
  EXPECT_EQ(Sha256File((dl / "big.bin").string()).value(), Sha256Hex(big_));
}

TEST_F(PeerClientTest, APartThatIsNotAPrefixIsCheckedPieceByPieceAndNothingOfItIsKept) {
  // 5 MiB of other bytes, then 1 MiB of the file's own 6th MiB.
  std::string part = RandomBytes(5 * 1024 * 1024, 99) + big_.substr(5 * 1024 * 1024, 1024 * 1024);
  WriteFile(Downloads("carol") / "big.bin.part", part);
  auto [code, out] = Client("carol", {"--json", "download", "big.bin"});
  ASSERT_EQ(code, 0) << out;
  Json j = Json::parse(out.substr(out.find('{')), nullptr, false);
  EXPECT_EQ(j["resumed_at"], 0) << "pieces after the first bad one are fetched again: " << out;
  EXPECT_EQ(j["fetched"], static_cast<int64_t>(big_.size())) << out;
  EXPECT_EQ(Sha256File((Downloads("carol") / "big.bin").string()).value(), Sha256Hex(big_));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin.part"));
}

TEST_F(PeerClientTest, AHolderWhoseFileChangedAfterIndexingIsCaught) {
  fs::path f = alice_->shared_dir() / "notes.txt";
  struct stat before;
  ASSERT_EQ(::stat(f.c_str(), &before), 0);
  WriteFile(f, "ALICE'S NOTES\n");  // same size, other bytes
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);  // and the old mtime: the index is fooled
  auto [code, out] = Client("carol", {"download", "notes.txt"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("holder alice dropped: sent bad data for piece 0"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(Downloads("carol") / "notes.txt"));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "notes.txt.part"));
}

}  // namespace
}  // namespace p2pshare::testing

namespace p2pshare::testing {
namespace {

TEST_F(PeerClientTest, CtrlCAtThePromptClearsTheLineAndTheReplGoesOn) {
  auto repl = Repl("carol");
  repl->Type("search notes");
  repl->Type("\x03");
  // Generous: once (1 run in hundreds) the prompt took over 5 s to come back
  // while the 4 GiB swarm test filled both cores and the disk beside it.
  ASSERT_TRUE(repl->WaitFor("carol> ", std::chrono::seconds(20))) << repl->output();
  EXPECT_TRUE(repl->running()) << "Ctrl-C at the prompt ended the REPL:\n" << repl->output();
  ASSERT_TRUE(repl->WaitForLineEditor(std::chrono::seconds(10)));
  // The half-typed line was dropped, not run.
  EXPECT_EQ(repl->output().find("notes.txt"), std::string::npos) << repl->output();
  repl->Type("status\r");
  ASSERT_TRUE(repl->WaitFor("session", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("\x04");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(PeerClientTest, EachLineReachesTheHistoryAsItIsEnteredSoAKillLosesNothing) {
  auto repl = Repl("carol");
  repl->Type("status\r");
  ASSERT_TRUE(repl->WaitFor("session", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // Letters beyond ASCII reach the command whatever the locale (here: none set).
  repl->Type("download \"caf\xc3\xa9 \xe2\x99\xab.txt\"\r");
  ASSERT_TRUE(repl->WaitFor("no file named 'caf\xc3\xa9 \xe2\x99\xab.txt'", std::chrono::seconds(5))) << repl->output();
  ::kill(repl->pid(), SIGKILL);
  repl->Wait(std::chrono::seconds(5));
  EXPECT_NE(ReadFile(History("carol")).find("status"), std::string::npos);
  EXPECT_NE(ReadFile(History("carol")).find("download"), std::string::npos);
  // The next session starts with it: Up brings it back.
  auto again = Repl("carol");
  again->Type("\x1b[A\r");  // the last line entered, letters beyond ASCII intact
  EXPECT_TRUE(again->WaitFor("no file named 'caf\xc3\xa9 \xe2\x99\xab.txt'", std::chrono::seconds(5)))
      << again->output();
}

TEST_F(PeerClientTest, CtrlCDuringADownloadStopsItKeepsWhatIsVerifiedAndTheNextOneResumes) {
  auto repl = Repl("carol");
  // 24 MiB at 1 MiB/s: a person has time to change their mind.
  repl->Type("download big.bin --limit-rate 1M --wait\r");
  ASSERT_TRUE(repl->WaitFor("ETA", std::chrono::seconds(10))) << repl->output();
  repl->Type("\x03");
  ASSERT_TRUE(repl->WaitFor("stopped; ", std::chrono::seconds(5))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("verified are kept; 'download ", std::chrono::seconds(1))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("carol> ", std::chrono::seconds(5))) << repl->output();
  // A stop the person asked for is not an error.
  EXPECT_EQ(repl->output().find("error: stopped"), std::string::npos) << repl->output();
  EXPECT_TRUE(repl->running());
  ASSERT_TRUE(repl->WaitForLineEditor(std::chrono::seconds(5)));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin"));
  EXPECT_TRUE(fs::exists(Downloads("carol") / "big.bin.part"));
  repl->Type("download big.bin --wait\r");
  ASSERT_TRUE(repl->WaitFor("resuming big.bin: ", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("are here already", std::chrono::seconds(1))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("downloaded big.bin", std::chrono::seconds(30))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("were here already", std::chrono::seconds(1))) << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "big.bin"), big_);
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(PeerClientTest, TabCompletesPeerNamesWhereAPeerGoes) {
  auto repl = Repl("carol");
  repl->Type("ping al\t");
  ASSERT_TRUE(repl->WaitFor("ice", std::chrono::seconds(5))) << repl->output();
  repl->Type("\r");
  EXPECT_TRUE(repl->WaitFor("pong from alice", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("download notes.txt --from b\t");
  ASSERT_TRUE(repl->WaitFor("ob", std::chrono::seconds(5))) << repl->output();
  repl->Type("\r");
  EXPECT_TRUE(repl->WaitFor("bob does not hold notes.txt", std::chrono::seconds(10))) << repl->output();
}

TEST_F(PeerClientTest, TabNeverReplacesWhatWasTypedWithALoneQuote) {
  // Two names with spaces whose base names start alike but whose full
  // names differ right after the opening quote.
  WriteFile(alice_->shared_dir() / "Music/Hello World.mp3", "h");
  WriteFile(alice_->shared_dir() / "Docs/Help me.txt", "m");
  auto directory = central_->Client();
  ASSERT_TRUE(WaitUntil([&] { return directory->Search("Hel")->total == 2; }, std::chrono::seconds(5)));
  auto repl = Repl("carol");
  repl->Type("search Hel\r");
  ASSERT_TRUE(repl->WaitFor("Help me.txt", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("download Hel\t\r");
  // The line ran as typed (a lone '"' would be an unclosed quote instead).
  EXPECT_TRUE(repl->WaitFor("no file named 'Hel'", std::chrono::seconds(10))) << repl->output();
}

TEST_F(PeerClientTest, ADownloadRunsInTheBackgroundWhileThePromptTakesOtherCommands) {
  auto repl = Repl("carol");
  // 24 MiB at 4 MiB/s: about six seconds in the background.
  repl->Type("download big.bin --limit-rate 4M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued: download big.bin (24.0 MiB)", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // The prompt is back while the bytes move: a search answers meanwhile.
  repl->Type("search notes\r");
  ASSERT_TRUE(repl->WaitFor("notes.txt", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("download big.bin", std::chrono::seconds(5))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("running", std::chrono::seconds(1))) << repl->output();
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin"));
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // Idle at the prompt, the end is announced on a line of its own.
  ASSERT_TRUE(repl->WaitFor("[#1] downloaded big.bin (24.0 MiB)", std::chrono::seconds(30))) << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "big.bin"), big_);
  ASSERT_TRUE(AtPrompt(*repl, "carol"));  // drawn again below it
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("done", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // The same content again is not queued twice while it runs; here it is done.
  repl->Type("quit\r");
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
}

TEST_F(PeerClientTest, ABackgroundDownloadIsCancelledKeepingItsPiecesAndRetriedFromThere) {
  auto repl = Repl("carol");
  repl->Type("download big.bin --limit-rate 1M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // The same file again while it runs: refused, naming the one running.
  repl->Type("download big.bin\r");
  ASSERT_TRUE(repl->WaitFor("already, as #1", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(Downloads("carol") / "big.bin.part") &&
                                     fs::file_size(Downloads("carol") / "big.bin.part") > 0; },
                        std::chrono::seconds(10)));
  repl->Type("cancel 1\r");
  ASSERT_TRUE(repl->WaitFor("stopping #1", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("[#1] download of big.bin stopped: ", std::chrono::seconds(10))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("verified are kept", std::chrono::seconds(1))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("'retry 1' resumes it", std::chrono::seconds(1))) << repl->output();
  EXPECT_TRUE(fs::exists(Downloads("carol") / "big.bin.part"));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin"));
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("stopped", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("cancel 1\r");
  ASSERT_TRUE(repl->WaitFor("has ended already (stopped)", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("cancel 7\r");
  ASSERT_TRUE(repl->WaitFor("no transfer #7", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("retry 1\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued again", std::chrono::seconds(5))) << repl->output();
  // It resumes: the summary says what was here, and the file is whole.
  ASSERT_TRUE(repl->WaitFor("[#1] downloaded big.bin", std::chrono::seconds(30))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("were here already", std::chrono::seconds(1))) << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "big.bin"), big_);
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("retry 1\r");
  ASSERT_TRUE(repl->WaitFor("is done; only a failed or stopped one is retried", std::chrono::seconds(5)))
      << repl->output();
}

TEST_F(PeerClientTest, QuitWithATransferRunningWarnsFirstThenStopsItKeepingWhatIsVerified) {
  auto repl = Repl("carol");
  repl->Type("download big.bin --limit-rate 1M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("quit\r");
  ASSERT_TRUE(repl->WaitFor("1 transfer is still queued or running", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  EXPECT_TRUE(repl->running());
  repl->Type("quit\r");
  ASSERT_TRUE(repl->WaitFor("[#1] download of big.bin stopped: ", std::chrono::seconds(10))) << repl->output();
  // Leaving: what resumes it in a later session, not this session's 'retry'.
  EXPECT_TRUE(repl->WaitFor("'download " + Sha256Hex(big_) + "' in a later session resumes it",
                            std::chrono::seconds(2)))
      << repl->output();
  EXPECT_EQ(repl->output().find("'retry 1'"), std::string::npos) << repl->output();
  EXPECT_EQ(repl->Wait(std::chrono::seconds(10)), 0) << repl->output();
  EXPECT_TRUE(fs::exists(Downloads("carol") / "big.bin.part"));
  // A later session resumes it.
  auto [code, out] = Client("carol", {"download", "big.bin"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("were here already"), std::string::npos) << out;
  EXPECT_EQ(ReadFile(Downloads("carol") / "big.bin"), big_);
}

TEST_F(PeerClientTest, AnUploadRunsInTheBackgroundAndAFailedOneSaysWhyAndRetries) {
  WriteFile(dir_.path() / "carol" / "report.pdf", RandomBytes(200000, 21));
  auto repl = Repl("carol");
  repl->Type("upload " + (dir_.path() / "carol" / "report.pdf").string() + " --to alice\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued: upload report.pdf", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("[#1] uploaded report.pdf (195.3 KiB) to alice", std::chrono::seconds(20)))
      << repl->output();
  EXPECT_TRUE(WaitUntil([&] { return fs::exists(alice_->shared_dir() / "report.pdf"); }, std::chrono::seconds(5)));
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // Another file of that name fails there (alice has one) and says why.
  WriteFile(dir_.path() / "carol" / "report.pdf", RandomBytes(1000, 22));
  repl->Type("upload " + (dir_.path() / "carol" / "report.pdf").string() + " --to alice\r");
  ASSERT_TRUE(repl->WaitFor("[#2] upload of report.pdf failed: ", std::chrono::seconds(20))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("'retry 2' tries again", std::chrono::seconds(1))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("failed", std::chrono::seconds(5))) << repl->output();
}

TEST_F(PeerClientTest, AReplWithoutAPeerServerSaysSoAndLoggingInAgainPutsNoPortOnline) {
  auto repl = Repl("carol");
  EXPECT_NE(repl->output().find("no peer-server runs for carol, so other peers cannot download from it; "
                                "start one in another terminal: peer-server --config "),
            std::string::npos)
      << repl->output();
  repl->Type("logout\r");
  ASSERT_TRUE(repl->WaitFor("carol is logged out (no peer-server of it was running)", std::chrono::seconds(10)))
      << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("status\r");
  ASSERT_TRUE(repl->WaitFor("session      not logged in", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("login\r");
  ASSERT_TRUE(repl->WaitFor("logged in as carol", std::chrono::seconds(40))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("no peer-server runs for carol", std::chrono::seconds(1))) << repl->output();
  auto peers = central_->Client()->Peers();
  ASSERT_TRUE(peers.ok());
  for (const auto& p : *peers) EXPECT_NE(p.username, "carol") << "a client alone was put online with a port";
}

TEST_F(PeerClientTest, LogoutFromTheReplStopsThePeerServerOfTheAccountAndSaysSo) {
  auto repl = Repl("alice");
  EXPECT_EQ(repl->output().find("no peer-server runs"), std::string::npos) << repl->output();
  repl->Type("status\r");
  ASSERT_TRUE(repl->WaitFor("peer-server  running at 127.0.0.1:" + std::to_string(alice_->port()),
                            std::chrono::seconds(10)))
      << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "alice"));
  repl->Type("logout\r");
  ASSERT_TRUE(repl->WaitFor("stops at its next heartbeat", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("alice is off the network; its peer-server at 127.0.0.1:" +
                                std::to_string(alice_->port()) + " stopped",
                            std::chrono::seconds(20)))
      << repl->output();
  EXPECT_TRUE(alice_->Wait(std::chrono::seconds(5)).has_value()) << "alice's peer-server still runs";
  EXPECT_NE(alice_->log().find("logged out"), std::string::npos) << alice_->log();
}

TEST_F(PeerClientTest, BrowseShowsAPeersShareAsATreeAndDownloadsAWholeFolderFromIt) {
  WriteFile(alice_->shared_dir() / "albums/jazz/take five.mp3", RandomBytes(300000, 31));
  WriteFile(alice_->shared_dir() / "albums/jazz/so what.mp3", RandomBytes(200000, 32));
  WriteFile(alice_->shared_dir() / "albums/rock/riff.mp3", RandomBytes(100000, 33));
  auto directory = central_->Client();
  ASSERT_TRUE(WaitUntil([&] { return directory->Search("riff")->total == 1; }, std::chrono::seconds(10)));
  auto repl = Repl("carol");
  repl->Type("browse alice\r");
  ASSERT_TRUE(repl->WaitFor("alice:/  (5 files", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("albums/", std::chrono::seconds(1))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("3 files", std::chrono::seconds(1))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("notes.txt", std::chrono::seconds(1))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("browse alice albums/\r");
  ASSERT_TRUE(repl->WaitFor("alice:/albums/  (3 files", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(repl->WaitFor("1  jazz/", std::chrono::seconds(1))) << repl->output();
  EXPECT_TRUE(repl->WaitFor("2  rock/", std::chrono::seconds(1))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("browse alice albums/blues\r");
  ASSERT_TRUE(repl->WaitFor("alice shares no folder 'albums/blues'", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("browse alice albums\r");
  ASSERT_TRUE(repl->WaitFor("jazz/", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("download #1\r");  // the whole of jazz/
  ASSERT_TRUE(repl->WaitFor("#1 queued: download albums/jazz/ (2 files)", std::chrono::seconds(10)))
      << repl->output();
  ASSERT_TRUE(repl->WaitFor("[#1] downloaded folder albums/jazz/: 2 files", std::chrono::seconds(30)))
      << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "albums/jazz/take five.mp3"),
            ReadFile(alice_->shared_dir() / "albums/jazz/take five.mp3"));
  EXPECT_EQ(ReadFile(Downloads("carol") / "albums/jazz/so what.mp3"),
            ReadFile(alice_->shared_dir() / "albums/jazz/so what.mp3"));
  EXPECT_FALSE(fs::exists(Downloads("carol") / "albums/rock"));
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  // A file row downloads that file; the same folder again finds it all here.
  repl->Type("browse alice albums/rock\r");
  ASSERT_TRUE(repl->WaitFor("riff.mp3", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("download #1 --wait\r");
  ASSERT_TRUE(repl->WaitFor("downloaded albums/rock/riff.mp3", std::chrono::seconds(30))) << repl->output();
  EXPECT_EQ(ReadFile(Downloads("carol") / "albums/rock/riff.mp3"),
            ReadFile(alice_->shared_dir() / "albums/rock/riff.mp3"));
}

TEST_F(PeerClientTest, InitWritesAConfigWithThePasswordOutOfItPinsCentralAndSaysWhatToRunNext) {
  const fs::path home = dir_.path() / "dave-home";
  fs::create_directories(home);
  const fs::path config = home / "peer.json";
  WriteFile(dir_.path() / "typed", "dave's secret\n");  // standard input, not a flag
  auto [code, out] = RunToEnd({PCLIENT_BIN, "--config", config.string(), "init", "--central-url", central_->url(),
                               "--username", "dave", "--register"},
                              (dir_.path() / "init.log").string(), (dir_.path() / "typed").string());
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("registered account dave"), std::string::npos) << out;
  EXPECT_NE(out.find("peer-server --config " + config.string()), std::string::npos) << out;
  EXPECT_NE(out.find("peer-client --config " + config.string()), std::string::npos) << out;
  // The password is in a file only its owner reads, never in the config.
  const std::string written = ReadFile(config);
  EXPECT_EQ(written.find("secret"), std::string::npos) << written;
  struct stat st {};
  ASSERT_EQ(::stat((home / "peer.password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(home / "peer.password"), "dave's secret\n");
  // Central's CA is pinned, and its fingerprint written for later runs.
  auto ca = ReadCertificate(ReadFile(central_->ca_file()));
  ASSERT_TRUE(ca.ok());
  EXPECT_NE(written.find(ca->fingerprint), std::string::npos) << written;
  EXPECT_NE(out.find("sha256 " + ca->fingerprint), std::string::npos) << out;
  EXPECT_TRUE(fs::is_directory(home / "shared"));
  EXPECT_TRUE(fs::is_directory(home / "downloads"));
  // It works as it stands, from any working directory.
  auto [dl, dl_out] = RunToEnd({PCLIENT_BIN, "--config", config.string(), "download", "notes.txt"},
                               (dir_.path() / "dl.log").string());
  EXPECT_EQ(dl, 0) << dl_out;
  EXPECT_EQ(ReadFile(home / "downloads" / "notes.txt"), "alice's notes\n");
  // Run again, it keeps what is there.
  auto [again, again_out] = RunToEnd({PCLIENT_BIN, "--config", config.string(), "init", "--username", "dave"},
                                     (dir_.path() / "init2.log").string(), (dir_.path() / "typed").string());
  EXPECT_EQ(again, 1);
  EXPECT_NE(again_out.find("exists already"), std::string::npos) << again_out;
  EXPECT_EQ(ReadFile(config), written);
  // A password file others may read is refused, saying the fix.
  ::chmod((home / "peer.password").c_str(), 0644);
  auto [loose, loose_out] = RunToEnd({PCLIENT_BIN, "--config", config.string(), "status"},
                                     (dir_.path() / "loose.log").string());
  EXPECT_EQ(loose, 2) << loose_out;
  EXPECT_NE(loose_out.find("can be read by others (mode 0644); run: chmod 600"), std::string::npos) << loose_out;
}

TEST_F(PeerClientTest, InitAsksWhatItNeedsOnATerminalWithoutEchoingThePassword) {
  const fs::path home = dir_.path() / "erin-home";
  fs::create_directories(home);
  PtyProcess init({PCLIENT_BIN, "--config", (home / "erin.json").string(), "init", "--register"});
  ASSERT_TRUE(init.WaitFor("central's URL [https://127.0.0.1:8080]: ", std::chrono::seconds(10))) << init.output();
  init.Type(central_->url() + "\r");
  ASSERT_TRUE(init.WaitFor("account", std::chrono::seconds(5))) << init.output();
  init.Type("erin\r");
  ASSERT_TRUE(init.WaitFor("folder to share [shared]: ", std::chrono::seconds(5))) << init.output();
  init.Type("\r");
  ASSERT_TRUE(init.WaitFor("folder for downloads [downloads]: ", std::chrono::seconds(5))) << init.output();
  init.Type("\r");
  ASSERT_TRUE(init.WaitFor("new password for erin: ", std::chrono::seconds(5))) << init.output();
  init.Type("erin's long password\r");
  ASSERT_TRUE(init.WaitFor("again: ", std::chrono::seconds(5))) << init.output();
  init.Type("erin's long password\r");
  // First contact: central's CA is shown, and agreed to, before the password goes.
  const std::string fingerprint = ReadCertificate(ReadFile(central_->ca_file()))->fingerprint;
  ASSERT_TRUE(init.WaitFor("sha256 " + fingerprint, std::chrono::seconds(10))) << init.output();
  ASSERT_TRUE(init.WaitFor("[y/N] ", std::chrono::seconds(5))) << init.output();
  init.Type("y\r");
  ASSERT_TRUE(init.WaitFor("next, in two terminals:", std::chrono::seconds(15))) << init.output();
  EXPECT_EQ(init.Wait(std::chrono::seconds(10)), 0) << init.output();
  EXPECT_EQ(init.output().find("long password"), std::string::npos) << "the password was echoed:\n" << init.output();
  EXPECT_EQ(ReadFile(home / "erin.json").find("long password"), std::string::npos);
  EXPECT_EQ(ReadFile(home / "erin.password"), "erin's long password\n");
  auto [code, out] = RunToEnd({PCLIENT_BIN, "--config", (home / "erin.json").string(), "status"},
                              (dir_.path() / "erin-status.log").string());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("session      active"), std::string::npos) << out;
}

TEST_F(PeerClientTest, HelpFitsEightyColumnsShowsDefaultsAndEachProgramItsOwnFlags) {
  int run = 0;
  auto lines_over_80 = [](const std::string& text) {
    std::istringstream in(text);
    std::string line, over;
    while (std::getline(in, line)) {
      if (line.size() > 80) over += line + "\n";
    }
    return over;
  };
  for (const char* bin : {CENTRAL_BIN, PSERVER_BIN, PCLIENT_BIN}) {
    auto [code, out] = RunToEnd({bin, "--help"}, (dir_.path() / ("help-" + std::to_string(++run) + ".log")).string());
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(lines_over_80(out), "") << bin;
    EXPECT_NE(out.find("(default: "), std::string::npos) << out;
    // A password is never a flag: `ps` shows every command line.
    EXPECT_EQ(out.find("--password "), std::string::npos) << bin << "\n" << out;
  }
  auto [code, out] = RunToEnd({PCLIENT_BIN, "--help"}, (dir_.path() / "help-client.log").string());
  EXPECT_NE(out.find("Usage: peer-client [OPTIONS] [COMMAND [ARGS]]"), std::string::npos) << out;
  EXPECT_NE(out.find("--central-url URL           base URL of central"), std::string::npos) << out;
  EXPECT_NE(out.find("(default: https://127.0.0.1:8080)"), std::string::npos) << out;
  for (const char* server_only : {"--listen-host", "--upload-slots", "--metrics-listen", "--stall-timeout-s"}) {
    EXPECT_EQ(out.find(server_only), std::string::npos) << server_only << " in peer-client --help";
  }
  for (const char* server_only : {"--advertise-host", "--max-storage-bytes"}) {
    EXPECT_EQ(out.find(server_only), std::string::npos) << server_only << " in peer-client --help";
  }
  auto [ccode, cout_] = RunToEnd({CENTRAL_BIN, "--help"}, (dir_.path() / "help-central.log").string());
  const size_t ca_dir = cout_.find("--ca-dir");
  ASSERT_NE(ca_dir, std::string::npos) << cout_;
  const std::string ca_help = cout_.substr(ca_dir, cout_.find("\n  --", ca_dir + 1) - ca_dir);
  EXPECT_EQ(ca_help.find("(default:"), ca_help.rfind("(default:")) << "two defaults:\n" << ca_help;
  auto [icode, iout] = RunToEnd({PCLIENT_BIN, "init", "--help"}, (dir_.path() / "help-init.log").string());
  EXPECT_EQ(icode, 0) << iout;
  EXPECT_EQ(lines_over_80(iout), "") << iout;
  auto [pcode, pout] = RunToEnd({PSERVER_BIN, "--help"}, (dir_.path() / "help-server.log").string());
  EXPECT_NE(pout.find("--upload-slots N"), std::string::npos) << pout;
  EXPECT_NE(pout.find("(default: 4)"), std::string::npos) << pout;
  // The REPL's command list too.
  auto [hcode, hout] = Client("carol", {"help"});
  EXPECT_EQ(hcode, 0) << hout;
  EXPECT_EQ(lines_over_80(hout), "") << hout;
  EXPECT_NE(hout.find("download <name|#n|sha256|p2pshare:link> [options]"), std::string::npos) << hout;
  EXPECT_NE(hout.find("link <name|#n|sha256>"), std::string::npos) << hout;
  auto [dcode, dout] = Client("carol", {"help", "download"});
  EXPECT_EQ(lines_over_80(dout), "") << dout;
  EXPECT_NE(dout.find("--limit-rate RATE"), std::string::npos) << dout;
}

TEST_F(PeerClientTest, CancelStopsADownloadThatGoesOneHolderAtATimeToo) {
  // --verify-only goes one holder at a time (not the swarm): cancel stops it as well.
  auto repl = Repl("carol");
  repl->Type("download big.bin --verify-only --limit-rate 1M\r");
  ASSERT_TRUE(repl->WaitFor("#1 queued", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("transfers\r");
  ASSERT_TRUE(repl->WaitFor("running", std::chrono::seconds(5))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "carol"));
  repl->Type("cancel 1\r");
  ASSERT_TRUE(repl->WaitFor("[#1] download of big.bin stopped: nothing was saved (--verify-only)",
                            std::chrono::seconds(10)))
      << repl->output();
  EXPECT_FALSE(fs::exists(Downloads("carol") / "big.bin"));
}


// Searches as a person types them, on every surface: REST, one-shot and
// the REPL. Accents and case fold, words match in any order anywhere in the
// path, filters narrow, a sort orders, and a typo gets a suggestion that
// --fuzzy searches.
TEST_F(PeerClientTest, SearchForgivesAccentsWordOrderAndTyposAndTakesFilters) {
  StartPeer("dave", [&](const fs::path& d) {
    WriteFile(d / "Zoë Müller.txt", "zoe\n");
    WriteFile(d / "Classe/élèves 2024.pdf", "eleves\n");
    WriteFile(d / "Photos été 2024/IMG_0001.jpg", RandomBytes(3 << 19, 31));
    WriteFile(d / "photos/img-small.png", "png\n");
    WriteFile(d / "The Beatles/Let It Be.ogg", RandomBytes(4000, 32));
  });
  auto directory = central_->Client();
  ASSERT_TRUE(WaitUntil([&] { return directory->Search("beatles")->total == 1; }, std::chrono::seconds(10)));
  auto names = [](const SearchPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.results) out.push_back(r.name);
    return out;
  };
  // REST.
  EXPECT_EQ(names(*directory->Search("zoe")), (std::vector<std::string>{"Zoë Müller.txt"}));
  EXPECT_EQ(names(*directory->Search("ZOË")), (std::vector<std::string>{"Zoë Müller.txt"}));
  EXPECT_EQ(names(*directory->Search("eleves")), (std::vector<std::string>{"Classe/élèves 2024.pdf"}));
  EXPECT_EQ(names(*directory->Search("img photos")),
            (std::vector<std::string>{"Photos été 2024/IMG_0001.jpg", "photos/img-small.png"}));
  EXPECT_EQ(names(*directory->Search("size>1M type:image")),
            (std::vector<std::string>{"Photos été 2024/IMG_0001.jpg"}));
  EXPECT_EQ(names(*directory->Search("photos", 50, 0, SearchOptions{.sort = "size"})).front(),
            "Photos été 2024/IMG_0001.jpg");
  auto typo = directory->Search("beatels");
  ASSERT_TRUE(typo.ok());
  EXPECT_EQ(typo->total, 0);
  EXPECT_EQ(typo->suggestion, "beatles");
  auto fuzzy = directory->Search("beatels", 50, 0, SearchOptions{.fuzzy = true});
  EXPECT_EQ(names(*fuzzy), (std::vector<std::string>{"The Beatles/Let It Be.ogg"}));
  EXPECT_EQ(fuzzy->searched, "beatles");
  auto bad = central_->Http()->Get("/api/v1/search?q=size%3Eten");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("a size is a number"), std::string::npos) << bad->body;
  bad = central_->Http()->Get("/api/v1/search?q=x&sort=newest");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  // One-shot.
  auto [code, out] = Client("carol", {"search", "zoe"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("Zoë Müller.txt"), std::string::npos) << out;
  std::tie(code, out) = Client("carol", {"search", "photos", "img", "size>1M"});
  EXPECT_NE(out.find("IMG_0001.jpg"), std::string::npos) << out;
  EXPECT_EQ(out.find("img-small.png"), std::string::npos) << out;
  std::tie(code, out) = Client("carol", {"search", "beatels"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("did you mean 'beatles'?"), std::string::npos) << out;
  std::tie(code, out) = Client("carol", {"search", "--fuzzy", "beatels"});
  EXPECT_NE(out.find("showing 'beatles' instead"), std::string::npos) << out;
  EXPECT_NE(out.find("Let It Be.ogg"), std::string::npos) << out;
  std::tie(code, out) = Client("carol", {"search", "it let", "beatles"});  // a quoted word is a phrase
  EXPECT_NE(out.find("no files match"), std::string::npos) << out;
  std::tie(code, out) = Client("carol", {"search", "size>ten"});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("a size is a number"), std::string::npos) << out;

  // The REPL.
  auto repl = Repl("carol");
  repl->Type("search ete\r");
  ASSERT_TRUE(repl->WaitFor("IMG_0001.jpg", std::chrono::seconds(10))) << repl->output();
  repl->Type("search beatels\r");
  ASSERT_TRUE(repl->WaitFor("did you mean 'beatles'?", std::chrono::seconds(10))) << repl->output();
  repl->Type("search photos --sort name\r");
  ASSERT_TRUE(repl->WaitFor("img-small.png", std::chrono::seconds(10))) << repl->output();
  repl->Type("quit\r");
}


// A wish made in the REPL is told there, once, when a matching file is
// shared later: central matches it, tells alice's peer-server over its
// channel, and the REPL prints it above the prompt by itself.
TEST_F(PeerClientTest, AWishComesTrueInTheReplOnceWhenAMatchingFileIsShared) {
  auto repl = Repl("alice");
  repl->Type("wish beatles type:audio\r");
  ASSERT_TRUE(repl->WaitFor("nothing matches it yet", std::chrono::seconds(10))) << repl->output();
  ASSERT_TRUE(AtPrompt(*repl, "alice"));
  auto directory = central_->Client();
  const auto listed = [&](const std::string& q, int64_t n) {
    return WaitUntil([&] { return directory->Search(q)->total == n; }, std::chrono::seconds(10));
  };
  // bob shares a matching song: the line comes by itself.
  const auto written = std::chrono::steady_clock::now();
  WriteFile(bob_->shared_dir() / "The Beatles" / "Help.ogg", RandomBytes(5000, 41));
  ASSERT_TRUE(listed("help", 1));
  const auto indexed = std::chrono::steady_clock::now();
  ASSERT_TRUE(repl->WaitFor("wish 'beatles type:audio' came true: The Beatles/Help.ogg", std::chrono::seconds(10)))
      << repl->output();
  std::cout << "wish told "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - indexed).count()
            << " ms after central listed the file, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - written).count()
            << " ms after the file was written into bob's folder\n";
  // Not told: a copy of the same song, a file that is no audio, and alice's own.
  WriteFile(bob_->shared_dir() / "copies" / "beatles help.ogg", ReadFile(bob_->shared_dir() / "The Beatles" / "Help.ogg"));
  WriteFile(bob_->shared_dir() / "beatles poster.jpg", "jpg");
  WriteFile(alice_->shared_dir() / "my beatles.ogg", "mine");
  ASSERT_TRUE(listed("beatles", 4));
  // Another song is told: the line after it shows nothing came in between.
  WriteFile(bob_->shared_dir() / "The Beatles" / "Yesterday.ogg", RandomBytes(3000, 42));
  ASSERT_TRUE(repl->WaitFor("came true: The Beatles/Yesterday.ogg", std::chrono::seconds(10))) << repl->output();
  const std::string out = repl->output();
  size_t told = 0;
  for (size_t at = out.find("came true"); at != std::string::npos; at = out.find("came true", at + 1)) ++told;
  EXPECT_EQ(told, 2u) << out;
  // The short hash it printed downloads the file.
  repl->Type("wishes\r");
  ASSERT_TRUE(repl->WaitFor("beatles type:audio", std::chrono::seconds(10))) << repl->output();
  repl->Type("quit\r");
  // One-shot: listed, removed.
  auto [code, listing] = Client("alice", {"wishes"});
  EXPECT_EQ(code, 0) << listing;
  EXPECT_NE(listing.find("beatles type:audio"), std::string::npos) << listing;
  std::tie(code, listing) = Client("alice", {"--json", "wishes"});
  const Json wishes = Json::parse(listing);
  ASSERT_EQ(wishes["wishes"].size(), 1u) << listing;
  const int64_t id = wishes["wishes"][0]["id"].get<int64_t>();
  std::tie(code, listing) = Client("alice", {"wish", "--remove", std::to_string(id)});
  EXPECT_EQ(code, 0) << listing;
  std::tie(code, listing) = Client("alice", {"wishes"});
  EXPECT_NE(listing.find("no wishes"), std::string::npos) << listing;
  std::tie(code, listing) = Client("alice", {"wish", "type:audio"});
  EXPECT_NE(code, 0);
  EXPECT_NE(listing.find("a wish needs a word"), std::string::npos) << listing;
  // carol runs no peer-server: her wish is kept, and she is told how to hear of it.
  std::tie(code, listing) = Client("carol", {"wish", "holiday"});
  EXPECT_EQ(code, 0) << listing;
  EXPECT_NE(listing.find("No peer-server of carol runs"), std::string::npos) << listing;
  // alice's peer-server logged each wish that came true.
  EXPECT_NE(alice_->log().find("a wish came true: 'beatles type:audio'"), std::string::npos);
}

}  // namespace
}  // namespace p2pshare::testing
