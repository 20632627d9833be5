// Searches as people type them: folding, words in any order, phrases,
// filters, sorts and "did you mean" (common/name_query.h, the index's use
// of it, and central/word_dictionary.h).
#include "common/name_query.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "central/search_index.h"
#include "central/word_dictionary.h"
#include "common/sha256.h"

namespace p2pshare {
namespace {

using central::IndexPage;
using central::SearchIndex;
using central::SearchSort;

FileEntry File(const std::string& name, int64_t size = 1) { return FileEntry{name, size, Sha256Hex(name)}; }

std::vector<std::string> Names(const IndexPage& page) {
  std::vector<std::string> out;
  for (const auto& h : page.hits) out.push_back(h.name);
  return out;
}

IndexPage Find(const SearchIndex& index, const std::string& q, SearchSort sort = SearchSort::kRelevance) {
  auto parsed = NameQuery::Parse(q);
  EXPECT_TRUE(parsed.ok()) << q << ": " << parsed.status().message();
  return index.Search(*parsed, sort, 50, 0);
}

TEST(FoldNameTest, CaseAccentsAndCompatibilityFormsFoldAway) {
  EXPECT_EQ(FoldName("Zoë Müller.txt"), "zoe muller.txt");
  EXPECT_EQ(FoldName("ÉLÈVES"), "eleves");
  EXPECT_EQ(FoldName("Été"), "ete");
  EXPECT_EQ(FoldName("Straße"), "strasse");    // case folding, not just lowercasing
  EXPECT_EQ(FoldName("ﬁle ①"), "file 1");      // compatibility forms (NFKD)
  EXPECT_EQ(FoldName("Zoe\xcc\x88"), "zoe");    // already decomposed: the same
  EXPECT_EQ(FoldName("日本"), "日本");          // nothing to fold
  EXPECT_EQ(FoldName("ABC.mp3"), "abc.mp3");
  EXPECT_EQ(FoldName("bad \xff utf8"), "bad \xff utf8");  // not UTF-8: ASCII case only
}

TEST(NameQueryTest, FiltersParseAndBadOnesSayWhatIsWanted) {
  auto q = NameQuery::Parse("size>10M size<1G type:audio|video holders>=2 beatles");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->terms().size(), 1u);
  EXPECT_TRUE(q->Admits(11 << 20, 2, "x.mp3"));
  EXPECT_TRUE(q->Admits(11 << 20, 2, "x.MKV"));
  EXPECT_FALSE(q->Admits(10 << 20, 2, "x.mp3"));          // not over 10 MiB
  EXPECT_FALSE(q->Admits(int64_t{1} << 30, 2, "x.mp3"));  // not under 1 GiB
  EXPECT_FALSE(q->Admits(11 << 20, 1, "x.mp3"));          // one holder
  EXPECT_FALSE(q->Admits(11 << 20, 2, "x.jpg"));          // an image
  EXPECT_EQ(q->Text(), "beatles size>10m size<1g type:audio|video holders>=2");
  EXPECT_TRUE(NameQuery::Parse("size>=1.5KiB")->Admits(1536, 1, "a"));
  EXPECT_FALSE(NameQuery::Parse("size>=1.5KiB")->Admits(1535, 1, "a"));
  for (const char* bad : {"size>ten", "size>10Q", "holders>=two", "type:music", "type:", "size=>1"}) {
    auto r = NameQuery::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += "w" + std::to_string(i) + " ";
  EXPECT_FALSE(NameQuery::Parse(many).ok());
  // Words that only look like filters stay words.
  EXPECT_EQ(NameQuery::Parse("sizes type")->terms().size(), 2u);
}

TEST(NameQueryTest, RankClassesAdjacentThenWordStartsThenInside) {
  auto q = NameQuery::Parse("let it be").value();
  EXPECT_EQ(q.Rank(FoldName("Beatles - Let It Be.mp3")), 0);
  EXPECT_EQ(q.Rank(FoldName("be it, let.mp3")), 1);  // every word starts a word, not in order
  EXPECT_EQ(q.Rank(FoldName("outlet kit bee")), 2);
  EXPECT_EQ(q.Rank(FoldName("let it go")), -1);
  auto phrase = NameQuery::Parse("\"let it\" be").value();
  EXPECT_EQ(phrase.terms().size(), 2u);
  EXPECT_EQ(phrase.Rank(FoldName("let it be")), 1);
  EXPECT_EQ(phrase.Rank(FoldName("let_it_be")), -1);  // a phrase is matched as written
}

TEST(NameQueryIndexTest, FoldedWordsInAnyOrderFindWhatAPersonMeans) {
  SearchIndex index;
  index.Replace("alice", {File("Zoë Müller.txt"), File("Classe/élèves 2024.pdf"), File("Photos été 2024/IMG_0001.jpg"),
                          File("ZOE.png"), File("photos/old/img.png"), File("Beatles - Let It Be.mp3"),
                          File("be it, let.mp3")});
  for (const char* q : {"zoe", "Zoë", "ZOE", "ZOË", "zoë"}) {
    EXPECT_EQ(Names(Find(index, q)), (std::vector<std::string>{"Zoë Müller.txt", "ZOE.png"})) << q;
  }
  EXPECT_EQ(Names(Find(index, "eleves")), (std::vector<std::string>{"Classe/élèves 2024.pdf"}));
  EXPECT_EQ(Names(Find(index, "ete")), (std::vector<std::string>{"Photos été 2024/IMG_0001.jpg"}));
  // Both words anywhere in the path, in any order.
  EXPECT_EQ(Names(Find(index, "photos img")),
            (std::vector<std::string>{"Photos été 2024/IMG_0001.jpg", "photos/old/img.png"}));
  EXPECT_EQ(Names(Find(index, "img photos")).size(), 2u);
  // Adjacent and in order first, whatever the order the index saw them in.
  EXPECT_EQ(Names(Find(index, "let it be")),
            (std::vector<std::string>{"Beatles - Let It Be.mp3", "be it, let.mp3"}));
  EXPECT_EQ(Names(Find(index, "\"let it be\"")), (std::vector<std::string>{"Beatles - Let It Be.mp3"}));
  // The name shown is the one shared, accents and case kept.
  EXPECT_EQ(Find(index, "muller").hits.at(0).name, "Zoë Müller.txt");
}

TEST(NameQueryIndexTest, FiltersAndSortsApplyInsideTheWalk) {
  SearchIndex index;
  index.Replace("alice", {File("holiday.jpg", 3 << 20), File("holiday.mp4", 700 << 20), File("holiday.txt", 2000),
                          File("Holiday Song.mp3", 5 << 20), File("a holiday.zip", 2 << 20)});
  index.Replace("bob", {File("holiday.txt", 2000), File("Holiday Song.mp3", 5 << 20)});
  index.Replace("carol", {File("Holiday Song.mp3", 5 << 20)});
  EXPECT_EQ(Names(Find(index, "size>1M type:image")), (std::vector<std::string>{"holiday.jpg"}));
  EXPECT_EQ(Names(Find(index, "holiday size>1M size<100M type:audio|image")),
            (std::vector<std::string>{"Holiday Song.mp3", "holiday.jpg"}));
  EXPECT_EQ(Names(Find(index, "holiday holders>=2")), (std::vector<std::string>{"Holiday Song.mp3", "holiday.txt"}));
  EXPECT_EQ(Names(Find(index, "holiday holders>=3")), (std::vector<std::string>{"Holiday Song.mp3"}));
  EXPECT_EQ(Find(index, "holiday type:archive").total, 1);
  EXPECT_EQ(Find(index, "type:video").total, 1);  // filters alone
  EXPECT_EQ(Names(Find(index, "holiday", SearchSort::kSize)),
            (std::vector<std::string>{"holiday.mp4", "Holiday Song.mp3", "holiday.jpg", "a holiday.zip",
                                      "holiday.txt"}));
  const auto by_name = Names(Find(index, "holiday", SearchSort::kName));
  EXPECT_EQ(by_name.front(), "a holiday.zip");
  EXPECT_TRUE(std::is_sorted(by_name.begin(), by_name.end(), [](const std::string& a, const std::string& b) {
    return FoldName(a) < FoldName(b);
  }));
  EXPECT_EQ(Names(Find(index, "holiday", SearchSort::kHolders)).front(), "Holiday Song.mp3");
  // A page past the first of a sorted search.
  auto parsed = NameQuery::Parse("holiday").value();
  EXPECT_EQ(Names(index.Search(parsed, SearchSort::kSize, 2, 1)),
            (std::vector<std::string>{"Holiday Song.mp3", "holiday.jpg"}));
}

TEST(NameQueryIndexTest, ATypoGetsTheClosestIndexedWord) {
  SearchIndex index;
  std::vector<FileEntry> files;
  for (int i = 0; i < 6; ++i) files.push_back(File("The Beatles/track " + std::to_string(i) + ".mp3"));
  files.push_back(File("beetles of the world.pdf"));
  files.push_back(File("Bach/Suite.flac"));
  index.Replace("alice", files);
  IndexPage page = Find(index, "beatels");
  EXPECT_EQ(page.total, 0);
  EXPECT_EQ(page.suggestion, "beatles");  // two edits from beetles too, but far more held
  EXPECT_EQ(Find(index, "beatels type:audio").suggestion, "beatles type:audio");
  EXPECT_EQ(Find(index, "suiet bach").suggestion, "suite bach");
  EXPECT_EQ(Find(index, "beatles").suggestion, "");   // found plenty
  EXPECT_EQ(Find(index, "xqzvw").suggestion, "");     // nothing close
  EXPECT_EQ(Find(index, "bahc").suggestion, "bach");  // a transposition is one edit
}

TEST(WordDictionaryTest, DistanceCountsAndBoundedMemory) {
  using central::EditDistance;
  EXPECT_EQ(EditDistance("beatels", "beatles", 2), 1);
  EXPECT_EQ(EditDistance("beatles", "beetles", 2), 1);
  EXPECT_EQ(EditDistance("kitten", "sitting", 2), 3);  // over the limit: limit + 1
  EXPECT_EQ(EditDistance("abc", "abc", 2), 0);
  central::WordDictionary words;
  words.Add("the beatles/the beatles - help.mp3");
  words.Add("beatles 1965.mp3");
  EXPECT_EQ(words.CountOf("beatles"), 2);  // once per name
  EXPECT_EQ(words.CountOf("1965"), 0);     // digits are not words to suggest
  words.Remove("beatles 1965.mp3");
  EXPECT_EQ(words.CountOf("beatles"), 1);
  // A flood of made-up words stops at the bound.
  for (size_t i = 0; i < central::kMaxDictionaryWords + 1000; ++i) {
    std::string w;
    for (size_t n = i; w.size() < 5; n /= 26) w += static_cast<char>('a' + n % 26);
    words.Add(w);
  }
  EXPECT_EQ(words.size(), central::kMaxDictionaryWords);
  EXPECT_EQ(words.Closest("beatlse", 0), "beatles");
  EXPECT_EQ(words.Closest("xeatles", 0), "beatles");  // the last letter kept
  EXPECT_EQ(words.Closest("xeatlez", 0), "");         // both ends changed: not looked for
}

}  // namespace
}  // namespace p2pshare
