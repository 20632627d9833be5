// SearchIndex: the in-memory search, checked on its own and against the
// SQL of SqliteStore (GLOB over lowercased names) as the reference.
#include "central/search_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "central/store/directory_store.h"
#include "common/names.h"
#include "common/sha256.h"
#include "unit/test_dir.h"

namespace p2pshare::central {
namespace {

FileEntry File(const std::string& name, int64_t size = 1, char hash = 'a') {
  return FileEntry{name, size, std::string(64, hash)};
}

std::vector<std::string> Names(const IndexPage& page) {
  std::vector<std::string> out;
  for (const auto& h : page.hits) out.push_back(h.name);
  return out;
}

TEST(SearchIndexTest, SubstringsWildcardsCaseAndOrder) {
  SearchIndex index;
  index.Replace("alice", {File("Music/Beat It.mp3"), File("music/beat-box.ogg", 2, 'b'),
                          File("docs/readme.txt", 3, 'c')});
  index.Replace("bob", {File("Music/Beat It.mp3"), File("x/BEATLES.flac", 4, 'd')});
  EXPECT_EQ(Names(index.Search("beat", 50, 0)),
            (std::vector<std::string>{"Music/Beat It.mp3", "music/beat-box.ogg", "x/BEATLES.flac"}));
  auto page = index.Search("beat it", 50, 0);
  ASSERT_EQ(page.total, 1);
  EXPECT_EQ(page.hits[0].holders, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(page.hits[0].sha256, std::string(64, 'a'));
  EXPECT_EQ(index.Search("b?at*.ogg", 50, 0).total, 1);
  EXPECT_EQ(index.Search("*.mp3", 50, 0).total, 1);
  EXPECT_EQ(index.Search("", 50, 0).total, 4);   // everything
  EXPECT_EQ(index.Search("zz", 50, 0).total, 0);  // no trigram: a scan
  EXPECT_EQ(index.Search("qqqq", 50, 0).total, 0);
  // Pages.
  EXPECT_EQ(Names(index.Search("", 2, 1)),
            (std::vector<std::string>{"docs/readme.txt", "music/beat-box.ogg"}));
  EXPECT_EQ(index.Search("", 2, 10).hits.size(), 0u);
  EXPECT_EQ(index.unique_files(), 4);
  EXPECT_EQ(index.held_files(), 5);
}

TEST(SearchIndexTest, UpdatesAndDeparturesAreSeenAtOnce) {
  SearchIndex index;
  index.Replace("alice", {File("a/one.txt"), File("a/two.txt", 1, 'b')});
  index.Patch("alice", {File("a/three.txt", 1, 'c'), File("a/one.txt", 5, 'e')}, {"a/two.txt"});
  EXPECT_EQ(Names(index.Search("a/", 50, 0)), (std::vector<std::string>{"a/one.txt", "a/three.txt"}));
  EXPECT_EQ(index.Search("one", 50, 0).hits[0].sha256, std::string(64, 'e'));  // replaced content
  EXPECT_FALSE(index.FindByHash(std::string(64, 'a')).has_value());
  index.Replace("bob", {File("b/copy-of-three.txt", 1, 'c')});
  auto found = index.FindByHash(std::string(64, 'c'));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "a/three.txt");  // the lowest name, every holder
  EXPECT_EQ(found->holders, (std::vector<std::string>{"alice", "bob"}));
  index.RemoveUser("alice");
  EXPECT_EQ(index.Search("a/", 50, 0).total, 0);
  EXPECT_EQ(index.FindByHash(std::string(64, 'c'))->name, "b/copy-of-three.txt");
  // A content that comes back is found again (a revived tombstone).
  index.Replace("alice", {File("a/one.txt", 5, 'e')});
  EXPECT_EQ(index.Search("one", 50, 0).total, 1);
}

TEST(SearchIndexTest, CompactionKeepsEverythingFindable) {
  SearchIndex index;
  for (int round = 0; round < 3; ++round) {
    std::vector<FileEntry> files;
    for (int i = 0; i < 5000; ++i) {
      files.push_back(FileEntry{"r" + std::to_string(round) + "/file-" + std::to_string(i),
                                i, Sha256Hex(std::to_string(round * 10000 + i))});
    }
    index.Replace("alice", files);  // the previous round's 5000 become tombstones
  }
  index.Replace("bob", {File("bob/keep.txt")});
  EXPECT_EQ(index.unique_files(), 5001);
  EXPECT_EQ(index.Search("r2/file-4999", 50, 0).total, 1);
  EXPECT_EQ(index.Search("r1/", 50, 0).total, 0);
  index.Compact();
  EXPECT_EQ(index.Search("r2/file-1234", 50, 0).hits.at(0).name, "r2/file-1234");
  EXPECT_EQ(index.Search("keep", 50, 0).hits.at(0).holders, (std::vector<std::string>{"bob"}));
  index.Patch("alice", {}, {"r2/file-1234"});
  EXPECT_EQ(index.Search("r2/file-1234", 50, 0).total, 0);
  EXPECT_EQ(index.held_files(), 5000);
}

// Random indexes and queries: the index must answer exactly as SQL does.
TEST(SearchIndexTest, AnswersAsTheSqlReferenceDoes) {
  testing::TestDir dir;
  auto opened = DirectoryStore::Open((dir.path() / "ref.db").string());
  ASSERT_TRUE(opened.ok());
  auto store = std::move(opened).value();
  SearchIndex index;
  std::mt19937 rng(7);
  const std::vector<std::string> parts = {"ab", "Ab", "abc", "b", "c?", "é", "x-y", "[a]", "/",
                                          "beat", "BE", "t", ".mp3", "日本", " "};
  auto random_name = [&] {
    std::string n = "d" + std::to_string(rng() % 3) + "/";
    int k = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < k; ++i) n += parts[rng() % parts.size()];
    while (n.back() == '/' || n.back() == ' ') n.pop_back();
    return n;
  };
  std::vector<std::string> users = {"u0", "u1", "u2", "u3"};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(store->CreateAccount({users[i], "h"}).ok());
    ASSERT_TRUE(store->AddPeer({users[i], "127.0.0.1", 50000 + i}).ok());
  }
  for (int step = 0; step < 60; ++step) {
    const std::string& u = users[rng() % users.size()];
    std::map<std::string, FileEntry> files;
    for (int i = 0; i < 30; ++i) {
      std::string name = random_name();
      if (CheckFileName(name).ok()) {
        // One content, one size (peers that disagree on a size are lying;
        // the index then keeps the largest it has seen).
        int content = static_cast<int>(rng() % 8);
        files[name] = FileEntry{name, content * 10, Sha256Hex(std::to_string(content))};
      }
    }
    std::vector<FileEntry> list;
    for (auto& [n, f] : files) list.push_back(f);
    if (step % 3 == 0) {
      ASSERT_TRUE(store->ReplaceIndex(u, list).ok());
      index.Replace(u, list);
    } else {
      std::vector<std::string> removed = {random_name(), list.empty() ? "x" : list[0].name};
      for (auto it = removed.begin(); it != removed.end();) {
        it = CheckFileName(*it).ok() ? it + 1 : removed.erase(it);
      }
      std::vector<FileEntry> added(list.begin() + (list.empty() ? 0 : 1), list.end());
      ASSERT_TRUE(store->PatchIndex(u, added, removed).ok());
      index.Patch(u, added, removed);
    }
  }
  const std::vector<std::string> queries = {"", "a", "ab", "abc", "AB", "b?c", "*", "?", "é", "日本",
                                            "d1/", "be*t", "[a]", "a]", "x-y", ".mp3", "?b", "b*c?",
                                            "tb", "abab", "d2/?e", "zzz", "d0/*3"};
  for (const auto& q : queries) {
    for (auto [limit, offset] : {std::pair<int64_t, int64_t>{50, 0}, {3, 2}}) {
      auto want = store->Search(SearchQuery{q, limit, offset});
      ASSERT_TRUE(want.ok());
      auto got = index.Search(q, limit, offset);
      ASSERT_EQ(got.total, want->total) << "q=" << q;
      ASSERT_EQ(got.hits.size(), want->results.size()) << "q=" << q;
      for (size_t i = 0; i < got.hits.size(); ++i) {
        EXPECT_EQ(got.hits[i].name, want->results[i].name) << "q=" << q;
        EXPECT_EQ(got.hits[i].sha256, want->results[i].sha256) << "q=" << q;
        EXPECT_EQ(got.hits[i].size, want->results[i].size) << "q=" << q;
        std::vector<std::string> holders;
        for (const auto& h : want->results[i].holders) holders.push_back(h.username);
        EXPECT_EQ(got.hits[i].holders, holders) << "q=" << q;
      }
    }
  }
  for (int i = 0; i < 8; ++i) {
    std::string sha = Sha256Hex(std::to_string(i));
    auto want = store->FindByHash(sha);
    ASSERT_TRUE(want.ok());
    auto got = index.FindByHash(sha);
    ASSERT_EQ(got.has_value(), want->has_value());
    if (got) {
      EXPECT_EQ(got->name, (*want)->name);
      EXPECT_EQ(got->holders.size(), (*want)->holders.size());
    }
  }
}

}  // namespace
}  // namespace p2pshare::central
