// Small files written whole (common/small_files.h) when peer-server and
// peer-client of one peer write the same certificate and key at once: a
// reader sees one whole version, never a mix or half, and of two processes
// making the key exactly one wins.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/small_files.h"
#include "common/x509.h"
#include "unit/test_dir.h"

namespace p2pshare {
namespace {

TEST(SmallFilesTest, WritersAtOnceLeaveOneWholeVersionForEveryReader) {
  testing::TestDir dir;
  const std::string path = dir / "peer.pem";
  std::vector<std::string> versions;
  for (char c = 'a'; c < 'e'; ++c) versions.push_back(std::string(48 * 1024, c));
  ASSERT_TRUE(WriteFileAtomically(path, versions[0], 0644).ok());

  std::atomic<int> failed_writes{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (const std::string& version : versions) {
    writers.emplace_back([&, version] {
      for (int i = 0; i < 150; ++i) {
        if (!WriteFileAtomically(path, version, 0644).ok()) ++failed_writes;
      }
    });
  }
  int reads = 0, torn = 0;
  std::thread reader([&] {
    while (!done.load()) {
      auto text = ReadSmallFile(path);
      ++reads;
      if (!text.ok() || std::find(versions.begin(), versions.end(), *text) == versions.end()) ++torn;
    }
  });
  for (std::thread& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failed_writes.load(), 0) << "a writer was told its write failed";
  EXPECT_EQ(torn, 0) << "of " << reads << " reads, some saw no file or a mix of versions";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  size_t left = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++left;
  }
  EXPECT_EQ(left, 1u) << "no temp file is left behind";
}

TEST(SmallFilesTest, ProcessesMakingTheKeyAtOnceAllGetTheOneThatWon) {
  testing::TestDir dir;
  for (int round = 0; round < 10; ++round) {
    const std::string path = dir / ("peer" + std::to_string(round) + ".key");
    std::atomic<int> ready{0};
    std::vector<Result<std::string>> keys(6, Internal("not run"));
    std::vector<std::thread> makers;
    for (size_t i = 0; i < keys.size(); ++i) {
      makers.emplace_back([&, i] {
        ++ready;
        while (ready.load() < static_cast<int>(keys.size())) std::this_thread::yield();
        keys[i] = LoadOrCreatePrivateKey(path);
      });
    }
    for (std::thread& t : makers) t.join();
    std::set<std::string> distinct;
    for (const auto& key : keys) {
      ASSERT_TRUE(key.ok()) << "round " << round << ": " << key.status().message();
      distinct.insert(*key);
    }
    EXPECT_EQ(distinct.size(), 1u) << "round " << round << ": the makers hold different keys";
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
}

}  // namespace
}  // namespace p2pshare
