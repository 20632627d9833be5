#include "common/directory_types.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace p2pshare
