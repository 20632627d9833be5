// SearchIndex: the in-memory search, checked on its own and against the
// SQL of SqliteStore (GLOB over lowercased names) as the reference.
#include "central/search_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "central/store/directory_store.h"
#include "common/names.h"
#include "common/search_pattern.h"
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
  // Two holders first, then the older entry first.
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
  // Pages (of: Beat It with two holders, then the others oldest first).
  EXPECT_EQ(Names(index.Search("", 2, 1)),
            (std::vector<std::string>{"music/beat-box.ogg", "docs/readme.txt"}));
  EXPECT_EQ(index.Search("", 2, 10).hits.size(), 0u);
  EXPECT_EQ(index.unique_files(), 4);
  EXPECT_EQ(index.held_files(), 5);
}

TEST(SearchIndexTest, ContentsCountEachSha256OnceWhateverItsNames) {
  SearchIndex index;
  // One song under three names at two peers, a copy of it, and one other file.
  index.Replace("alice", {File("song.mp3"), File("copies/song.mp3"), File("notes.txt", 1, 'b')});
  index.Replace("bob", {File("Song (1).mp3"), File("downloads/song.mp3")});
  EXPECT_EQ(index.totals().contents, 2);
  EXPECT_EQ(index.totals().unique_files, 5);
  index.RemoveUser("alice");  // bob's copies still hold the song
  EXPECT_EQ(index.totals().contents, 1);
  index.Replace("bob", {File("other.bin", 1, 'c')});
  EXPECT_EQ(index.totals().contents, 1);
  index.Replace("carol", {File("song.mp3")});  // a name's tombstone comes back
  EXPECT_EQ(index.totals().contents, 2);
  index.RemoveUser("bob");
  index.RemoveUser("carol");
  EXPECT_EQ(index.totals().contents, 0);
}

TEST(SearchIndexTest, UpdatesAndDeparturesAreSeenAtOnce) {
  SearchIndex index;
  index.Replace("alice", {File("a/one.txt"), File("a/two.txt", 1, 'b')});
  index.Patch("alice", {File("a/three.txt", 1, 'c'), File("a/one.txt", 5, 'e')}, {"a/two.txt"});
  // a/one.txt's new content is a newer entry than a/three.txt.
  EXPECT_EQ(Names(index.Search("a/", 50, 0)), (std::vector<std::string>{"a/three.txt", "a/one.txt"}));
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

TEST(SearchIndexTest, EachHolderIsListedWithTheTreeRootItReports) {
  SearchIndex index;
  const std::string sha(64, 'c'), honest(64, '1'), lie(64, '2');
  index.Replace("alice", {FileEntry{"song.mp3", 9, sha, honest}});
  index.Replace("bob", {FileEntry{"song.mp3", 9, sha, honest}});
  index.Replace("mallory", {FileEntry{"song.mp3", 9, sha, lie}});
  index.Replace("old", {FileEntry{"song.mp3", 9, sha, ""}});  // reported none
  auto found = index.FindByHash(sha);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->holders, (std::vector<std::string>{"alice", "bob", "mallory", "old"}));
  EXPECT_EQ(found->roots, (std::vector<std::string>{honest, honest, lie, ""}));
  // A root that changes (the holder's tree is rebuilt) replaces the old one.
  index.Patch("mallory", {FileEntry{"song.mp3", 9, sha, honest}}, {});
  EXPECT_EQ(index.FindByHash(sha)->roots, (std::vector<std::string>{honest, honest, honest, ""}));
  EXPECT_EQ(index.held_files(), 4);
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
                                            "tb", "abab", "d2/?e", "zzz", "d0/*3", "E", "ab beat",
                                            "beat ab", "t be", "\"x-y\"", "mp3 d1", "size>20 ab",
                                            "holders>=2", "holders>=2 b", "type:audio", "size<=10 type:audio be"};
  // The same matches as the definition's (every file SQL lists, those whose
  // folded name the query ranks, within its filters), in the index's rank
  // order: the classes, then more holders, then older.
  auto key = [](const std::string& name, const std::string& sha) { return name + '\0' + sha; };
  auto all = store->Search(SearchQuery{"", 10000, 0});
  ASSERT_TRUE(all.ok());
  for (const auto& q : queries) {
    const NameQuery query = NameQuery::Parse(q).value();
    SearchPage want_page;
    for (const FileResult& r : all->results) {
      if (query.Rank(FoldName(r.name)) >= 0 &&
          query.Admits(r.size, static_cast<int64_t>(r.holders.size()), r.name)) {
        want_page.results.push_back(r);
      }
    }
    want_page.total = static_cast<int64_t>(want_page.results.size());
    const SearchPage* want = &want_page;
    auto got = index.Search(q, 1000, 0);
    ASSERT_EQ(got.total, want->total) << "q=" << q;
    ASSERT_TRUE(got.total_exact) << "q=" << q;
    ASSERT_EQ(got.hits.size(), want->results.size()) << "q=" << q;
    std::map<std::string, const FileResult*> by_key;
    for (const auto& r : want->results) by_key[key(r.name, r.sha256)] = &r;
    for (size_t i = 0; i < got.hits.size(); ++i) {
      const IndexHit& h = got.hits[i];
      auto it = by_key.find(key(h.name, h.sha256));
      ASSERT_NE(it, by_key.end()) << "q=" << q << " " << h.name;
      EXPECT_EQ(h.size, it->second->size) << "q=" << q;
      std::vector<std::string> holders;
      for (const auto& r : it->second->holders) holders.push_back(r.username);
      EXPECT_EQ(h.holders_total, static_cast<int64_t>(holders.size())) << "q=" << q;
      holders.resize(std::min(holders.size(), kSearchHolders));  // the first few, by name
      EXPECT_EQ(h.holders, holders) << "q=" << q;
      by_key.erase(it);
      if (i == 0) continue;
      const IndexHit& prev = got.hits[i - 1];
      const int c0 = query.Rank(FoldName(prev.name)), c1 = query.Rank(FoldName(h.name));
      EXPECT_LE(c0, c1) << "q=" << q << ": " << prev.name << " before " << h.name;
      if (c0 == c1) {
        EXPECT_GE(prev.holders_total, h.holders_total) << "q=" << q;
      }
    }
    // A page is a slice of the whole ranking; its total is exact, or an
    // estimate that says so.
    auto page = index.Search(q, 3, 2);
    if (page.total_exact) {
      EXPECT_EQ(page.total, got.total) << "q=" << q;
    } else {
      EXPECT_GE(page.total, static_cast<int64_t>(page.hits.size()) + 2) << "q=" << q;
    }
    for (size_t i = 0; i < page.hits.size(); ++i) {
      EXPECT_EQ(page.hits[i].name, got.hits[i + 2].name) << "q=" << q;
      EXPECT_EQ(page.hits[i].sha256, got.hits[i + 2].sha256) << "q=" << q;
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

// Small examples pin the order a user sees.
TEST(SearchIndexTest, WordStartsFirstThenMoreHoldersThenOlder) {
  SearchIndex index;
  index.Replace("alice", {File("songs/Alive.mp3", 1, '1'), File("live/Concert.ogg", 1, '2'),
                          File("Deliver Us.flac", 1, '3'), File("docs/live notes.txt", 1, '4'),
                          File("olive oil.jpg", 1, '5'), File("lively.mp3", 1, '6')});
  index.Replace("bob", {File("docs/live notes.txt", 1, '4'), File("Deliver Us.flac", 1, '3')});
  index.Replace("carol", {File("docs/live notes.txt", 1, '4')});
  // Word starts (whole word or prefix): notes (3 holders), then the others
  // oldest first; then inside words: Deliver (2 holders), Alive, olive.
  EXPECT_EQ(Names(index.Search("live", 50, 0)),
            (std::vector<std::string>{"docs/live notes.txt", "live/Concert.ogg", "lively.mp3",
                                      "Deliver Us.flac", "songs/Alive.mp3", "olive oil.jpg"}));
  // The first literal decides the class, wildcards and all.
  EXPECT_EQ(Names(index.Search("liv*.mp3", 50, 0)),
            (std::vector<std::string>{"lively.mp3", "songs/Alive.mp3"}));
  // A query that begins with a wildcard or a non-word byte has one class:
  // more holders, then older.
  EXPECT_EQ(Names(index.Search("*e", 50, 0)).front(), "docs/live notes.txt");
  EXPECT_EQ(Names(index.Search(".mp3", 50, 0)),
            (std::vector<std::string>{"songs/Alive.mp3", "lively.mp3"}));
  // Two words: each anywhere, in any order.
  EXPECT_EQ(Names(index.Search("olive o", 50, 0)), (std::vector<std::string>{"olive oil.jpg"}));
  EXPECT_EQ(Names(index.Search("i olive", 50, 0)), (std::vector<std::string>{"olive oil.jpg"}));
  EXPECT_EQ(index.Search("olive x", 50, 0).total, 0);
  // Holders change the order at once.
  index.Replace("dave", {File("lively.mp3", 1, '6')});
  EXPECT_EQ(Names(index.Search("live", 2, 1)),
            (std::vector<std::string>{"lively.mp3", "live/Concert.ogg"}));
  index.RemoveUser("carol");
  index.RemoveUser("bob");
  EXPECT_EQ(Names(index.Search("live", 3, 0)),
            (std::vector<std::string>{"lively.mp3", "live/Concert.ogg", "docs/live notes.txt"}));
}

// Holder counts across bands (2-3, 4-7, 8-15, 16-31) rank exactly, and
// a file that loses holders drops back at once.
TEST(SearchIndexTest, MoreHoldersFirstAcrossEveryBand) {
  SearchIndex index;
  const std::vector<std::pair<std::string, int>> files = {
      {"song 3", 3}, {"song 17", 17}, {"song 1", 1}, {"song 5", 5}, {"song 2", 2}, {"song 9", 9},
      {"song 4", 4}, {"song 16", 16}, {"song 7", 7}, {"song 1b", 1}};
  for (int user = 0; user < 17; ++user) {
    std::vector<FileEntry> held;
    for (const auto& [name, holders] : files) {
      if (user < holders) held.push_back(FileEntry{name, 1, Sha256Hex(name)});
    }
    index.Replace("u" + std::to_string(user), held);
  }
  EXPECT_EQ(Names(index.Search("song", 50, 0)),
            (std::vector<std::string>{"song 17", "song 16", "song 9", "song 7", "song 5", "song 4",
                                      "song 3", "song 2", "song 1", "song 1b"}));
  // A result lists the first kSearchHolders holders by name and counts all;
  // the look-up by hash lists every one.
  IndexHit top = index.Search("song 17", 1, 0).hits.at(0);
  EXPECT_EQ(top.holders.size(), kSearchHolders);
  EXPECT_EQ(top.holders.front(), "u0");
  EXPECT_EQ(top.holders_total, 17);
  EXPECT_EQ(index.FindByHash(Sha256Hex("song 17"))->holders.size(), 17u);
  // u1..u16 leave: only u0's files are left, all with one holder, oldest first.
  for (int user = 1; user < 17; ++user) index.RemoveUser("u" + std::to_string(user));
  EXPECT_EQ(Names(index.Search("song", 50, 0)),
            (std::vector<std::string>{"song 3", "song 17", "song 1", "song 5", "song 2", "song 9",
                                      "song 4", "song 16", "song 7", "song 1b"}));
  EXPECT_EQ(index.Search("song", 50, 0).total, 10);
}

// 100 000 files share a word: the first page costs about what a query with
// 100 matches costs, not 100 000 checks, and the total is a fair estimate.
TEST(SearchIndexTest, AQueryMatchingEverythingStopsAtItsPage) {
  SearchIndex index;
  for (int peer = 0; peer < 100; ++peer) {
    std::vector<FileEntry> files;
    for (int i = 0; i < 1000; ++i) {
      std::string name = "Music/Track " + std::to_string(i) + " by artist" + std::to_string(peer) +
                         (peer == 7 && i < 100 ? " rare" : "") + ".ogg";
      files.push_back(FileEntry{name, i, Sha256Hex(name)});
    }
    index.Replace("peer" + std::to_string(peer), files);
  }
  // Some files held twice rank first.
  index.Replace("twin", {FileEntry{"Music/Track 5 by artist9.ogg", 5, Sha256Hex("Music/Track 5 by artist9.ogg")}});
  for (const char* q : {"track", "TRACK", "music", "ogg", ".ogg", "", "*", "?", "t", "tr", "by a"}) {
    IndexPage page = index.Search(q, 50, 0);
    EXPECT_EQ(page.hits.size(), 50u) << q;
    EXPECT_LE(page.examined, 200) << q;  // of 100 000 entries
    EXPECT_GE(page.total, 50000) << q;      // every one matches, most at a word start
    EXPECT_LE(page.total, 100001) << q;
  }
  EXPECT_EQ(index.Search("track", 50, 0).hits.at(0).name, "Music/Track 5 by artist9.ogg");
  IndexPage rare = index.Search("rare", 100, 0);  // a page for all of them
  EXPECT_EQ(rare.total, 100);
  EXPECT_TRUE(rare.total_exact);
  EXPECT_LE(rare.examined, 200);
  IndexPage half = index.Search("rare", 50, 0);  // half of them: the rest estimated
  EXPECT_FALSE(half.total_exact);
  EXPECT_NEAR(half.total, 100, 10);
  // Deeper pages cost their depth, still not every match.
  IndexPage deep = index.Search("track", 50, 5000);
  EXPECT_EQ(deep.hits.size(), 50u);
  EXPECT_LE(deep.examined, 5050 + 100);
}

// `total` is exact when the lists were walked to their end, else an
// estimate that says so.
TEST(SearchIndexTest, TotalIsExactOrMarkedAnEstimate) {
  SearchIndex index;
  std::vector<FileEntry> files;
  for (int i = 0; i < 3000; ++i) {
    std::string name = "photos/IMG_" + std::to_string(i) + (i % 3 == 0 ? " beach" : "") + ".jpg";
    files.push_back(FileEntry{name, i, Sha256Hex(name)});
  }
  index.Replace("alice", files);
  IndexPage beach = index.Search("beach", 20, 0);  // 1000 of them
  EXPECT_FALSE(beach.total_exact);
  EXPECT_NEAR(beach.total, 1000, 100);
  EXPECT_LE(beach.examined, 40);
  IndexPage img = index.Search("img", 20, 0);  // all 3000
  EXPECT_FALSE(img.total_exact);
  EXPECT_NEAR(img.total, 3000, 300);
  IndexPage few = index.Search("beach", 2000, 0);  // the page asks for them all
  EXPECT_TRUE(few.total_exact);
  EXPECT_EQ(few.total, 1000);
  IndexPage all = index.Search("", 20, 0);  // everything: the count is at hand
  EXPECT_TRUE(all.total_exact);
  EXPECT_EQ(all.total, 3000);
  // IMG_2990..IMG_2999, but for 2991, 2994, 2997 (" beach" before .jpg).
  IndexPage some = index.Search("IMG_299?.jpg", 20, 0);
  EXPECT_TRUE(some.total_exact);
  EXPECT_EQ(some.total, 7);
  IndexPage none = index.Search("IMG_x", 20, 0);
  EXPECT_TRUE(none.total_exact);
  EXPECT_EQ(none.total, 0);
  // A page never goes past the window.
  EXPECT_TRUE(index.Search("img", 50, kSearchWindow).hits.empty());
}

// Files held by several peers fill the first page on their own; the
// count still covers the thousands held by one peer (a sample of them).
TEST(SearchIndexTest, APageFilledByPopularFilesStillEstimatesTheRest) {
  SearchIndex index;
  std::vector<FileEntry> popular;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "hits/Popular Song " + std::to_string(i) + ".mp3";
    popular.push_back(FileEntry{name, i, Sha256Hex(name)});
  }
  for (int peer = 0; peer < 4; ++peer) {
    std::vector<FileEntry> files = popular;
    for (int i = 0; i < 1000; ++i) {
      const std::string name = "peer" + std::to_string(peer) + "/Song " + std::to_string(i) +
                               (i % 2 == 0 ? ".mp3" : ".ogg");
      files.push_back(FileEntry{name, i, Sha256Hex(name)});
    }
    index.Replace("peer" + std::to_string(peer), files);
  }
  for (const char* q : {"song", "song*.mp3"}) {
    IndexPage page = index.Search(q, 20, 0);
    ASSERT_EQ(page.hits.size(), 20u) << q;
    EXPECT_EQ(page.hits.front().holders_total, 4) << q;  // the popular ones first
    EXPECT_FALSE(page.total_exact) << q;
    EXPECT_LE(page.examined, 200) << q;
  }
  EXPECT_NEAR(index.Search("song", 20, 0).total, 4030, 400);
  EXPECT_NEAR(index.Search("song*.mp3", 20, 0).total, 2030, 400);
}

// Short fragments no key narrows stop at the budget: a lower bound, never
// a scan of every entry.
TEST(SearchIndexTest, ShortRareFragmentsStopAtTheBudget) {
  SearchIndex index;
  for (int peer = 0; peer < 30; ++peer) {
    std::vector<FileEntry> files;
    for (int i = 0; i < 10000; ++i) {
      std::string name = "d/file" + std::to_string(peer * 10000 + i) + (i == 9999 ? "qz" : "");
      files.push_back(FileEntry{name, i, Sha256Hex(name)});
    }
    index.Replace("p" + std::to_string(peer), files);
  }
  IndexPage page = index.Search("qz", 50, 0);  // inside words, in the 300 000th
  EXPECT_EQ(page.examined, kSearchBudget);
  EXPECT_TRUE(page.budget_spent);
  EXPECT_FALSE(page.total_exact);
  EXPECT_LE(page.total, 30);
  IndexPage quick = index.Search("qz", 50, 0, 1000);
  EXPECT_EQ(quick.examined, 1000);
  EXPECT_TRUE(quick.budget_spent);
}

// Every change of what searches find bumps the generation (central's reply
// cache keeps a reply only while it stays the same); searches do not.
TEST(SearchIndexTest, EveryChangeBumpsTheGeneration) {
  SearchIndex index;
  uint64_t g = index.generation();
  auto changed = [&] {
    const uint64_t now = index.generation();
    const bool bumped = now != g;
    g = now;
    return bumped;
  };
  index.Replace("alice", {File("song one.mp3", 1, 'a')});
  EXPECT_TRUE(changed());
  index.Search("song", 10, 0);
  index.FindByHash(std::string(64, 'a'));
  EXPECT_FALSE(changed());
  index.Patch("alice", {File("song two.mp3", 1, 'b')}, {});
  EXPECT_TRUE(changed());
  index.Replace("bob", {File("song two.mp3", 1, 'b')});
  EXPECT_TRUE(changed());
  index.RemoveUser("bob");
  EXPECT_TRUE(changed());
  index.Compact();
  EXPECT_TRUE(changed());
}

}  // namespace
}  // namespace p2pshare::central
