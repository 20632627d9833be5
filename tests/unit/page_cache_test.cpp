// PageCache: answers only for the generation a value was made at; bounded
// in entries and bytes, least recently used out first.
#include "central/page_cache.h"

#include <gtest/gtest.h>

namespace p2pshare::central {
namespace {

TEST(PageCacheTest, AnswersOnlyForTheGenerationItWasMadeAt) {
  PageCache cache(4, 1 << 20);
  cache.Put("q", 7, "reply at 7");
  EXPECT_EQ(cache.Get("q", 7).value_or(""), "reply at 7");
  EXPECT_FALSE(cache.Get("q", 8).has_value());  // the data changed since
  EXPECT_FALSE(cache.Get("q", 7).has_value());  // and the stale one is gone
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_FALSE(cache.Get("other", 7).has_value());
  cache.Put("q", 8, "reply at 8");
  cache.Put("q", 9, "reply at 9");  // a newer one replaces it
  EXPECT_EQ(cache.Get("q", 9).value_or(""), "reply at 9");
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(PageCacheTest, BoundedInEntriesAndBytesLeastRecentlyUsedOutFirst) {
  PageCache cache(3, 1000);
  cache.Put("a", 1, "1");
  cache.Put("b", 1, "2");
  cache.Put("c", 1, "3");
  ASSERT_TRUE(cache.Get("a", 1).has_value());  // a is now the most recent
  cache.Put("d", 1, "4");                      // b goes
  EXPECT_FALSE(cache.Get("b", 1).has_value());
  EXPECT_TRUE(cache.Get("a", 1).has_value());
  EXPECT_EQ(cache.entries(), 3u);
  cache.Put("big", 1, std::string(200, 'x'));  // over an eighth of the bytes: not kept
  EXPECT_FALSE(cache.Get("big", 1).has_value());
  for (int i = 0; i < 20; ++i) cache.Put("k" + std::to_string(i), 1, std::string(100, 'y'));
  EXPECT_LE(cache.bytes(), 1000u);
  EXPECT_LE(cache.entries(), 3u);
  PageCache off(0, 1000);  // no room: nothing kept
  off.Put("a", 1, "1");
  EXPECT_FALSE(off.Get("a", 1).has_value());
}

}  // namespace
}  // namespace p2pshare::central
