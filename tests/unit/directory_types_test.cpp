#include "common/directory_types.h"

#include <gtest/gtest.h>

#include <random>

namespace p2pshare {
namespace {

const std::string kHash(64, 'c');

TEST(DirectoryTypesTest, FileEntryRoundTrips) {
  FileEntry f{"a/b.txt", 12, kHash};
  auto back = FileEntryFromJson(ToJson(f), "f");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, f);
}

TEST(DirectoryTypesTest, FileEntryErrorsNameTheField) {
  Json files = Json::array({Json{{"name", "ok"}, {"size", 1}, {"sha256", kHash}},
                            Json{{"name", "../x"}, {"size", 1}, {"sha256", kHash}}});
  auto r = FileEntriesFromJson(files, "files");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("files[1].name"), std::string::npos) << r.status().message();

  auto size = FileEntryFromJson(Json{{"name", "x"}, {"size", -1}, {"sha256", kHash}}, "f");
  EXPECT_NE(size.status().message().find("f.size"), std::string::npos);
  auto type = FileEntryFromJson(Json{{"name", "x"}, {"size", "1"}, {"sha256", kHash}}, "f");
  EXPECT_NE(type.status().message().find("f.size"), std::string::npos);
  auto hash = FileEntryFromJson(Json{{"name", "x"}, {"size", 1}, {"sha256", "ABC"}}, "f");
  EXPECT_NE(hash.status().message().find("f.sha256"), std::string::npos);
  // A root that is not 64 lowercase hex digits (a peer's terminal escapes,
  // an oversized string) is refused, not stored and shown to others.
  for (Json root : {Json("\x1b[2J"), Json(std::string(65, 'a')), Json(5)}) {
    auto bad = FileEntryFromJson(Json{{"name", "x"}, {"size", 1}, {"sha256", kHash}, {"root", root}}, "f");
    EXPECT_NE(bad.status().message().find("f.root"), std::string::npos) << root.dump();
  }
  FileEntry rooted{"x", 1, kHash, std::string(64, '7')};
  EXPECT_EQ(*FileEntryFromJson(ToJson(rooted), "f"), rooted);
}

TEST(DirectoryTypesTest, HostilePartialAnnouncementsAreRefusedAndNamed) {
  const std::string sha(64, 'a'), root(64, 'e');
  auto entry = [&](Json extra) {
    Json e{{"name", "f.bin"}, {"size", 100}, {"sha256", sha}, {"root", root}, {"have", 50}};
    for (auto it = extra.begin(); it != extra.end(); ++it) e[it.key()] = it.value();
    return e;
  };
  auto ok = HeartbeatRequestFromJson(Json{{"partials", Json::array({entry({})})}});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->partials->at(0).have, 50);
  EXPECT_EQ(HeartbeatRequestFromJson(ToJson(*ok))->partials, ok->partials) << "round trip";
  const std::vector<std::pair<Json, std::string>> bad = {
      {Json::array({entry({{"have", 101}})}), "have"},
      {Json::array({entry({{"have", -1}})}), "have"},
      {Json::array({entry({{"root", ""}})}), "root"},
      {Json::array({entry({{"name", "../etc/passwd"}})}), "name"},
      {Json::array({entry({{"name", "a\x1b[2Jb"}})}), "name"},
      {Json::array({entry({}), entry({})}), "sha256"},
      {Json::array({entry({{"have", "all"}})}), "have"},
      {Json("many"), "partials"},
  };
  for (const auto& [list, field] : bad) {
    auto r = HeartbeatRequestFromJson(Json{{"partials", list}});
    ASSERT_FALSE(r.ok()) << list.dump();
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
  Json many = Json::array();
  for (int i = 0; i < 65; ++i) {
    std::string s = std::string(62, 'a') + std::to_string(10 + i);
    many.push_back(entry({{"sha256", s}}));
  }
  auto r = HeartbeatRequestFromJson(Json{{"partials", many}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at most 64"), std::string::npos) << r.status().message();
}

TEST(DirectoryTypesTest, WhatAPeerSaysItServesIsBoundedAndNamesAccountsOnly) {
  auto ok = HeartbeatRequestFromJson(Json{{"serving", Json::array({Json{{"to", "carol"}, {"rate", 1048576}}})}});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_TRUE(ok->serving && ok->serving->size() == 1);
  EXPECT_EQ((*ok->serving)[0].to, "carol");
  EXPECT_EQ(HeartbeatRequestFromJson(ToJson(*ok))->serving->at(0).rate, 1048576) << "round trip";
  Json many = Json::array();
  for (int i = 0; i < 65; ++i) many.push_back(Json{{"to", "x" + std::to_string(i)}, {"rate", 1}});
  const std::pair<Json, std::string> bad[] = {
      {many, "at most 64"},
      {Json::array({Json{{"to", "<script>"}, {"rate", 1}}}), "serving[0].to"},
      {Json::array({Json{{"to", "carol"}, {"rate", -5}}}), "serving[0].rate"},
      {Json::array({Json{{"to", "carol"}}}), "serving[0].rate"},
  };
  for (const auto& [list, field] : bad) {
    auto r = HeartbeatRequestFromJson(Json{{"serving", list}});
    ASSERT_FALSE(r.ok()) << list.dump();
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
}

TEST(DirectoryTypesTest, LoginRequestChecksTypes) {
  EXPECT_TRUE(LoginRequestFromJson(Json{{"username", "a"}, {"password", "b"}}).ok());
  auto r = LoginRequestFromJson(Json{{"username", "a"}, {"password", 5}});
  EXPECT_NE(r.status().message().find("password"), std::string::npos);
  auto p = LoginRequestFromJson(Json{{"username", "a"}, {"password", "b"}, {"preferred_port", 70000}});
  EXPECT_NE(p.status().message().find("preferred_port"), std::string::npos);
}

TEST(DirectoryTypesTest, SearchPageRoundTrips) {
  SearchPage page{1000, false, {FileResult{"x", 1, kHash, {Holder{"alice", "127.0.0.1", 50051}}}}};
  auto back = SearchPageFromJson(ToJson(page));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->total, 1000);
  EXPECT_FALSE(back->total_exact);  // a lower bound stays one
  EXPECT_EQ(back->results[0].holders_total, 1);  // at least the holders listed
  // A reply without the field (an older central) is exact.
  Json old = ToJson(page);
  old.erase("total_exact");
  EXPECT_TRUE(SearchPageFromJson(old)->total_exact);
  ASSERT_EQ(back->results.size(), 1u);
  EXPECT_EQ(back->results[0].holders[0], (Holder{"alice", "127.0.0.1", 50051}));
}

// The reply central writes directly has the very bytes of the JSON tree's
// dump, whatever the strings hold: quotes, control bytes, non-ASCII, bytes
// that are not UTF-8, empty pages, large numbers.
TEST(DirectoryTypesTest, SearchRepliesAreWrittenAsTheJsonTreeWouldBe) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"a", "Song", " ", "\"", "\\", "\n", "\t", std::string(1, '\0'),
                                           "\x7f", "\x1b[31m", "caf\xc3\xa9", "\xe2\x82\xac", "\xff",
                                           "\xc3", "\xed\xa0\x80", "/", "\u00e9t\u00e9", "{}", "\x01"};
  auto text = [&] {
    std::string s;
    for (int n = static_cast<int>(rng() % 6); n > 0; --n) s += pieces[rng() % pieces.size()];
    return s;
  };
  for (int round = 0; round < 500; ++round) {
    SearchPage page;
    page.total = round % 3 == 0 ? INT64_MAX : static_cast<int64_t>(rng() % 100000);
    page.total_exact = round % 2 == 0;
    for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
      FileResult r{text(), static_cast<int64_t>(rng()) - 1000, text(), {}, static_cast<int64_t>(rng() % 50)};
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
        r.holders.push_back(Holder{text(), text(), static_cast<int>(rng() % 65536)});
      }
      page.results.push_back(r);
    }
    ASSERT_EQ(DumpSearchPage(page), ToJson(page).dump(-1, ' ', false, Json::error_handler_t::replace))
        << "round " << round;
  }
}

}  // namespace
}  // namespace p2pshare
