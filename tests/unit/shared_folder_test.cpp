#include "pserver/shared_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "unit/file_util.h"
#include "unit/test_dir.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;

class SharedFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(tmp_.path() / "share/a.txt", "inside");
    testing::WriteFile(tmp_.path() / "share/sub/b.txt", "deeper");
    testing::WriteFile(tmp_.path() / "secret.txt", "outside");
    fs::create_symlink("../secret.txt", tmp_.path() / "share/escape.txt");
    fs::create_symlink(tmp_.path() / "secret.txt", tmp_.path() / "share/absolute-escape.txt");
    fs::create_symlink("sub/b.txt", tmp_.path() / "share/alias.txt");
    fs::create_directory_symlink(tmp_.path(), tmp_.path() / "share/up");
    auto f = SharedFolder::Open((tmp_.path() / "share").string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    folder_ = std::move(f).value();
  }
  std::string Read(const std::string& name, Code* code = nullptr) {
    auto fd = folder_->OpenForRead(name);
    if (code) *code = fd.ok() ? Code::kOk : fd.status().code();
    if (!fd.ok()) return "";
    char buf[64];
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    return std::string(buf, n > 0 ? n : 0);
  }
  testing::TestDir tmp_;
  std::unique_ptr<SharedFolder> folder_;
};

TEST_F(SharedFolderTest, ReadsFilesInside) {
  EXPECT_EQ(Read("a.txt"), "inside");
  EXPECT_EQ(Read("sub/b.txt"), "deeper");
  EXPECT_EQ(Read("alias.txt"), "deeper");  // a symlink that stays inside
}

TEST_F(SharedFolderTest, NothingOutsideIsEverRead) {
  Code code;
  for (const char* name : {"escape.txt", "absolute-escape.txt", "up/secret.txt"}) {
    EXPECT_EQ(Read(name, &code), "") << name;
    EXPECT_EQ(code, Code::kPermissionDenied) << name;
  }
  for (const char* name : {"../secret.txt", "/etc/passwd", "sub/../../secret.txt", ""}) {
    EXPECT_EQ(Read(name, &code), "") << name;
    EXPECT_EQ(code, Code::kInvalidArgument) << name;
  }
  EXPECT_EQ(Read(std::string("a.txt\0/x", 8), &code), "");
  EXPECT_EQ(code, Code::kInvalidArgument);
}

TEST_F(SharedFolderTest, InternalFilesAndPartialDownloadsAreNotShared) {
  testing::WriteFile(tmp_.path() / "share/movie.mkv.part", "half");
  Code code;
  EXPECT_EQ(Read(".p2pshare/port", &code), "");
  EXPECT_EQ(code, Code::kPermissionDenied);
  EXPECT_EQ(Read("movie.mkv.part", &code), "");
  EXPECT_EQ(code, Code::kPermissionDenied);
  EXPECT_EQ(Read("missing.txt", &code), "");
  EXPECT_EQ(code, Code::kNotFound);
  EXPECT_EQ(Read("sub", &code), "");
  EXPECT_EQ(code, Code::kNotFound);  // a folder is not a file
}

TEST_F(SharedFolderTest, CommitPlacesTempFilesWithoutReplacing) {
  auto t = folder_->CreateTemp();
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(::write(t->fd.get(), "new", 3), 3);
  ASSERT_TRUE(folder_->Commit(t->name, "music/2024/new.txt").ok());
  EXPECT_EQ(testing::ReadFile(tmp_.path() / "share/music/2024/new.txt"), "new");

  auto t2 = folder_->CreateTemp();
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(folder_->Commit(t2->name, "a.txt").code(), Code::kAlreadyExists);
  EXPECT_EQ(testing::ReadFile(tmp_.path() / "share/a.txt"), "inside");
  folder_->RemoveTemp(t2->name);
  EXPECT_TRUE(fs::is_empty(tmp_.path() / "share/.p2pshare/tmp"));
}

TEST_F(SharedFolderTest, CommitNeverWritesThroughASymlinkedFolder) {
  auto t = folder_->CreateTemp();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(folder_->Commit(t->name, "up/planted.txt").code(), Code::kPermissionDenied);
  EXPECT_FALSE(fs::exists(tmp_.path() / "planted.txt"));
  EXPECT_EQ(folder_->Commit(t->name, "../planted.txt").code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace p2pshare::pserver
