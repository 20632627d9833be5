// p2pshare: links: what `link` prints, `download` reads back; a link from
// anyone is a claim, checked like any other.
#include "pclient/share_link.h"

#include <gtest/gtest.h>

namespace p2pshare::pclient {
namespace {

const std::string kSha(64, 'a');
const std::string kRoot(64, 'b');

TEST(ShareLinkTest, WhatIsPrintedReadsBackWithNamesOfAnyKind) {
  for (const std::string name : {"notes.txt", "Cours de maths/leçon 1 & 2 (100%).pdf", "a+b=c?.txt"}) {
    ShareLink link{kSha, 123456, kRoot, name};
    const std::string text = FormatLink(link);
    EXPECT_TRUE(text.starts_with("p2pshare:?sha256=" + kSha + "&size=123456&root=" + kRoot + "&name="));
    EXPECT_EQ(text.find(' '), std::string::npos) << "one word to paste: " << text;
    auto back = ParseLink(text);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->name, name);
    EXPECT_EQ(back->size, 123456);
    EXPECT_EQ(back->root, kRoot);
  }
  auto bare = ParseLink("p2pshare:?sha256=" + kSha + "&size=0");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->root.empty() && bare->name.empty());
  EXPECT_TRUE(ParseLink("p2pshare:?size=5&sha256=" + kSha + "&later-key=x").ok()) << "unknown keys are ignored";
}

TEST(ShareLinkTest, ABadOrHostileLinkIsRefusedSayingWhy) {
  const std::pair<std::string, std::string> bad[] = {
      {"magnet:?xt=urn:btih:" + kSha, "p2pshare:"},
      {"p2pshare:?size=5", "no sha256"},
      {"p2pshare:?sha256=" + kSha, "no size"},
      {"p2pshare:?sha256=abc&size=5", "64 hex"},
      {"p2pshare:?sha256=" + kSha + "&size=-1", "size"},
      {"p2pshare:?sha256=" + kSha + "&size=5x", "size"},
      {"p2pshare:?sha256=" + kSha + "&size=5&root=zz", "root"},
      {"p2pshare:?sha256=" + kSha + "&size=5&name=..%2F..%2Fetc%2Fpasswd", "name"},
      {"p2pshare:?sha256=" + kSha + "&size=5&name=a%2", "%"},
      {"p2pshare:?sha256=" + kSha + "&size=5&name=" + std::string(10000, 'x'), "longer"},
  };
  for (const auto& [text, why] : bad) {
    auto r = ParseLink(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().reason(), "bad_link");
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace p2pshare::pclient
