#include "pserver/catalog.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/sha256.h"
#include "unit/file_util.h"
#include "unit/test_dir.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "share";
    fs::create_directories(root_);
    Reopen();
  }
  void Reopen() {
    catalog_.reset();
    folder_ = std::move(SharedFolder::Open(root_.string())).value();
    catalog_ = std::make_unique<Catalog>(folder_.get());
  }
  CatalogDelta Refresh() {
    auto d = catalog_->Refresh();
    EXPECT_TRUE(d.ok()) << d.status().message();
    return d.ok() ? *d : CatalogDelta{};
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    for (const auto& f : catalog_->Files()) out.push_back(f.name);
    return out;
  }
  static std::vector<std::string> Names(const std::vector<FileEntry>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.name);
    return out;
  }

  testing::TestDir tmp_;
  fs::path root_;
  std::unique_ptr<SharedFolder> folder_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, SharesRegularFilesRecursivelyAndNothingElse) {
  testing::WriteFile(root_ / "a.txt", "a");
  testing::WriteFile(root_ / "deep/er/b.bin", "bb");
  testing::WriteFile(root_ / "movie.mkv.part", "partial");
  testing::WriteFile(tmp_.path() / "outside.txt", "secret");
  fs::create_symlink("../outside.txt", root_ / "escape.txt");
  fs::create_symlink("a.txt", root_ / "alias.txt");
  fs::create_directory_symlink(tmp_.path(), root_ / "loop");
  ::mkfifo((root_ / "fifo").c_str(), 0644);
  testing::WriteFile(root_ / "bad\x01name", "x");
  CatalogDelta d = Refresh();
  EXPECT_EQ(Names(), (std::vector<std::string>{"a.txt", "alias.txt", "deep/er/b.bin"}));
  EXPECT_EQ(d.added.size(), 3u);
  auto a = catalog_->Find("a.txt");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sha256, Sha256Hex("a"));
  EXPECT_EQ(catalog_->TotalBytes(), 4);
  EXPECT_EQ(catalog_->FindByHash(Sha256Hex("bb"))->name, "deep/er/b.bin");
}

TEST_F(CatalogTest, DeltasFollowAddModifyDeleteRename) {
  testing::WriteFile(root_ / "keep.txt", "k");
  testing::WriteFile(root_ / "edit.txt", "v1");
  testing::WriteFile(root_ / "gone.txt", "g");
  testing::WriteFile(root_ / "old-name.txt", "r");
  Refresh();
  EXPECT_TRUE(Refresh().empty());  // nothing changed, nothing to send

  testing::WriteFile(root_ / "edit.txt", "version 2");
  fs::remove(root_ / "gone.txt");
  fs::rename(root_ / "old-name.txt", root_ / "new-name.txt");
  testing::WriteFile(root_ / "fresh.txt", "f");
  CatalogDelta d = Refresh();
  EXPECT_EQ(Names(d.added), (std::vector<std::string>{"edit.txt", "fresh.txt", "new-name.txt"}));
  EXPECT_EQ(d.removed, (std::vector<std::string>{"gone.txt", "old-name.txt"}));
  EXPECT_EQ(catalog_->Find("edit.txt")->sha256, Sha256Hex("version 2"));
}

TEST_F(CatalogTest, RestartOverUnchangedFilesHashesNothing) {
  for (int i = 0; i < 50; ++i) testing::WriteFile(root_ / ("f" + std::to_string(i)), std::to_string(i));
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 50);
  Reopen();
  CatalogDelta d = Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 0);
  EXPECT_EQ(d.added.size(), 50u);  // a new process announces them all
  EXPECT_EQ(catalog_->Find("f7")->sha256, Sha256Hex("7"));

  testing::WriteFile(root_ / "f7", "seven, changed");
  Reopen();
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 1);
  EXPECT_EQ(catalog_->Find("f7")->sha256, Sha256Hex("seven, changed"));
}

TEST_F(CatalogTest, AdoptedUploadsAreNotHashedAgain) {
  testing::WriteFile(root_ / "up.bin", "uploaded");
  struct stat st;
  ASSERT_EQ(::stat((root_ / "up.bin").c_str(), &st), 0);
  catalog_->Adopt("up.bin", st.st_size, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
                  Sha256Hex("uploaded"));
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 0);
  EXPECT_EQ(catalog_->Find("up.bin")->sha256, Sha256Hex("uploaded"));
}

TEST_F(CatalogTest, CorruptCacheIsIgnored) {
  testing::WriteFile(root_ / "a.txt", "a");
  testing::WriteFile(root_ / ".p2pshare/hashes.tsv", "garbage\nzz\t1\t2\ta.txt\n");
  Reopen();
  Refresh();
  EXPECT_EQ(catalog_->Find("a.txt")->sha256, Sha256Hex("a"));
}

}  // namespace
}  // namespace p2pshare::pserver
