#include "common/names.h"

#include <gtest/gtest.h>

namespace p2pshare {
namespace {

TEST(FileNameTest, AcceptsRelativePaths) {
  for (const char* ok : {"a", "song.mp3", "Music/The Beatles/Help!.mp3", ".hidden", "a..b",
                         "x/.y", "ñandú/日本語.txt", "with space", "a\\b"}) {
    EXPECT_TRUE(CheckFileName(ok).ok()) << ok << ": " << CheckFileName(ok).message();
  }
}

TEST(FileNameTest, RejectsEscapesAndOddShapes) {
  for (const char* bad : {"", "/etc/passwd", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
                          "a//b", "a/", "/"}) {
    Status s = CheckFileName(bad);
    EXPECT_FALSE(s.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
  }
}

TEST(FileNameTest, RejectsControlCharactersAndNul) {
  EXPECT_FALSE(CheckFileName(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CheckFileName("a\nb").ok());
  EXPECT_FALSE(CheckFileName("a\x7f").ok());
  EXPECT_FALSE(CheckFileName("tab\there").ok());
}

TEST(FileNameTest, RejectsInvalidUtf8) {
  EXPECT_FALSE(CheckFileName("\xff").ok());
  EXPECT_FALSE(CheckFileName("\xc3").ok());          // truncated
  EXPECT_FALSE(CheckFileName("\xc0\xaf").ok());      // overlong '/'
  EXPECT_FALSE(CheckFileName("\xed\xa0\x80").ok());  // surrogate
}

TEST(FileNameTest, EnforcesLengthLimits) {
  EXPECT_TRUE(CheckFileName(std::string(255, 'a')).ok());
  EXPECT_FALSE(CheckFileName(std::string(256, 'a')).ok());
  std::string long_path;
  while (long_path.size() < 1024) long_path += std::string(100, 'b') + "/";
  long_path.pop_back();
  EXPECT_GT(long_path.size(), 1024u);
  EXPECT_FALSE(CheckFileName(long_path).ok());
  EXPECT_TRUE(CheckFileName(long_path.substr(0, 1000)).ok());
}

TEST(UsernameTest, Rules) {
  EXPECT_TRUE(CheckUsername("alice").ok());
  EXPECT_TRUE(CheckUsername("peer-1.b_2").ok());
  EXPECT_FALSE(CheckUsername("").ok());
  EXPECT_FALSE(CheckUsername("-alice").ok());
  EXPECT_FALSE(CheckUsername("al ice").ok());
  EXPECT_FALSE(CheckUsername("al/ice").ok());
  EXPECT_FALSE(CheckUsername(std::string(33, 'a')).ok());
}

TEST(Sha256HexTest, OnlyLowercaseHexOfLength64) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace p2pshare
