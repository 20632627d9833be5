#include "pserver/catalog.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/hex.h"
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
  HashTreeBuilder tree(8);
  tree.Update("uploaded", 8);
  FileHashes hashes = std::move(tree.Finish()).value();
  catalog_->Adopt("up.bin", st.st_size, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, hashes);
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 0);
  EXPECT_EQ(catalog_->Find("up.bin")->sha256, Sha256Hex("uploaded"));
  EXPECT_EQ(catalog_->Find("up.bin")->root, HexEncode(hashes.root.data(), 32));
  EXPECT_EQ(catalog_->Pieces(hashes.sha256).value(), hashes.pieces);
}

TEST_F(CatalogTest, CorruptCacheIsIgnored) {
  testing::WriteFile(root_ / "a.txt", "a");
  testing::WriteFile(root_ / ".p2pshare/hashes.tsv", "garbage\nzz\t1\t2\ta.txt\n");
  Reopen();
  Refresh();
  EXPECT_EQ(catalog_->Find("a.txt")->sha256, Sha256Hex("a"));
}

TEST_F(CatalogTest, TreeRootsAndPieceLayersComeFromTheSameReadAndSurviveARestart) {
  std::string big((1 << 20) + 5, '\0');  // 5 pieces
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 256);
  testing::WriteFile(root_ / "big.bin", big);
  CatalogDelta d = Refresh();
  ASSERT_EQ(d.added.size(), 1u);
  auto hashes = HashFile((root_ / "big.bin").string());
  ASSERT_TRUE(hashes.ok());
  EXPECT_EQ(d.added[0].root, HexEncode(hashes->root.data(), 32));  // what central is told
  EXPECT_EQ(catalog_->files_hashed(), 1);
  Reopen();
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 0);
  EXPECT_EQ(catalog_->Find("big.bin")->root, HexEncode(hashes->root.data(), 32));
  EXPECT_EQ(catalog_->Pieces(hashes->sha256).value(), hashes->pieces);
  EXPECT_EQ(catalog_->Pieces(Sha256Hex("not here")).status().code(), Code::kNotFound);
}

TEST_F(CatalogTest, ADamagedPieceCacheIsRebuiltFromTheFile) {
  std::string data(600 << 10, 'x');  // 3 pieces
  testing::WriteFile(root_ / "f.bin", data);
  Refresh();
  const std::string sha = Sha256Hex(data);
  const auto want = HashFile((root_ / "f.bin").string())->pieces;
  // Someone with access to the folder rewrites the cached layer: it no
  // longer matches the root, so it is never served; the file is read again.
  testing::WriteFile(root_ / ".p2pshare/pieces" / sha, std::string(96, 'z'));
  EXPECT_EQ(catalog_->Pieces(sha).value(), want);
  fs::remove(root_ / ".p2pshare/pieces" / sha);
  EXPECT_EQ(catalog_->Pieces(sha).value(), want);
  EXPECT_TRUE(fs::exists(root_ / ".p2pshare/pieces" / sha));
  fs::remove(root_ / "f.bin");  // gone from the folder: its layer goes too
  Refresh();
  EXPECT_FALSE(fs::exists(root_ / ".p2pshare/pieces" / sha));
}

TEST_F(CatalogTest, ACacheWithoutRootsIsReadAgainOnce) {
  testing::WriteFile(root_ / "a.txt", "a");
  struct stat st;
  ASSERT_EQ(::stat((root_ / "a.txt").c_str(), &st), 0);
  // The line an older peer-server wrote: sha256, size, mtime, name.
  testing::WriteFile(root_ / ".p2pshare/hashes.tsv",
                     Sha256Hex("a") + "\t1\t" + std::to_string(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec) +
                         "\ta.txt\n");
  Reopen();
  Refresh();
  EXPECT_EQ(catalog_->files_hashed(), 1);
  EXPECT_EQ(catalog_->Find("a.txt")->root.size(), 64u);
}

}  // namespace
}  // namespace p2pshare::pserver
