#include "common/search_pattern.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

namespace p2pshare {
namespace {

// The meaning, written plainly (exponential at worst; for short inputs):
// does pattern p[pi..] match all of s[si..] (valid UTF-8 both), '*' any run
// of characters, '?' one character, other bytes ASCII case-insensitive.
bool Reference(std::string_view p, size_t pi, std::string_view s, size_t si) {
  if (pi == p.size()) return si == s.size();
  if (p[pi] == '*') {  // any run of whole characters
    for (size_t k = si;; k = std::min(s.size(), k + Utf8Length(static_cast<unsigned char>(s[k])))) {
      if (Reference(p, pi + 1, s, k)) return true;
      if (k == s.size()) return false;
    }
  }
  if (si == s.size()) return false;
  if (p[pi] == '?') {
    return Reference(p, pi + 1, s, std::min(s.size(), si + Utf8Length(static_cast<unsigned char>(s[si]))));
  }
  return AsciiLower(static_cast<unsigned char>(p[pi])) == AsciiLower(static_cast<unsigned char>(s[si])) &&
         Reference(p, pi + 1, s, si + 1);
}

// The class by the definition: 0 when some match puts the first literal
// at a word start.
int ReferenceClass(const std::string& q, const std::string& s) {
  if (!Reference("*" + q + "*", 0, s, 0)) return -1;
  const SearchPattern pattern(q);
  if (!pattern.anchored()) return 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && IsWordByte(static_cast<unsigned char>(s[i - 1]))) continue;
    if (Reference(q + "*", 0, s, i)) return 0;
  }
  return 1;
}

TEST(SearchPatternTest, MatchesAnywhereIgnoringAsciiCase) {
  EXPECT_TRUE(SearchPattern("beat*mp3").Matches("The Beatles - Help.MP3"));
  EXPECT_FALSE(SearchPattern("beat*mp3").Matches("mp3 beat"));
  EXPECT_TRUE(SearchPattern("").Matches("anything"));
  EXPECT_TRUE(SearchPattern("**").Matches(""));
  EXPECT_TRUE(SearchPattern("caf?").Matches("café"));
  EXPECT_FALSE(SearchPattern("caf??").Matches("café"));
  EXPECT_TRUE(SearchPattern("?").Matches("日"));
  EXPECT_EQ(SearchPattern("live").MatchClass("Live Concert"), 0);
  EXPECT_EQ(SearchPattern("live").MatchClass("Alive"), 1);
  EXPECT_EQ(SearchPattern("live").MatchClass("alive and lively"), 0);
  EXPECT_EQ(SearchPattern("live").MatchClass("dead"), -1);
  EXPECT_EQ(SearchPattern("*live").MatchClass("Alive"), 0) << "one class only";
}

TEST(SearchPatternTest, AgreesWithTheDefinitionOnRandomInput) {
  std::mt19937 random(33);
  const std::vector<std::string> pattern_parts = {"a", "b", "*", "?", ".", "A", "é"};
  const std::vector<std::string> name_parts = {"a", "b", "A", ".", " ", "é", "日", "x"};
  for (int round = 0; round < 20000; ++round) {
    std::string q, s;
    for (int i = std::uniform_int_distribution<int>(0, 6)(random); i > 0; --i) {
      q += pattern_parts[random() % pattern_parts.size()];
    }
    for (int i = std::uniform_int_distribution<int>(0, 10)(random); i > 0; --i) {
      s += name_parts[random() % name_parts.size()];
    }
    const SearchPattern pattern(q);
    ASSERT_EQ(pattern.Matches(s), Reference("*" + q + "*", 0, s, 0)) << "q='" << q << "' s='" << s << "'";
    ASSERT_EQ(pattern.MatchClass(s), ReferenceClass(q, s)) << "q='" << q << "' s='" << s << "'";
  }
}

TEST(SearchPatternTest, LongPatternsSpanSeveralWords) {
  std::string q(200, 'a');
  EXPECT_TRUE(SearchPattern(q).Matches("x" + std::string(250, 'a')));
  EXPECT_FALSE(SearchPattern(q).Matches(std::string(199, 'a') + "b" + std::string(100, 'a')));
  EXPECT_TRUE(SearchPattern(std::string(100, 'a') + "*b" + std::string(100, '?') + "c")
                  .Matches(std::string(100, 'a') + "b" + std::string(100, 'z') + "c"));
  EXPECT_EQ(SearchPattern(q).MatchClass("x " + std::string(200, 'A')), 0);
}

TEST(SearchPatternTest, ANameBuiltToBeSlowCostsItsLengthTimesThePatternsWords) {
  // The attack: a name of one letter, a pattern that needs a long run of
  // it and then something the name lacks. A backtracking matcher does
  // bytes x pattern work at every one of the name's 1000 starts.
  const std::string name = "aaX" + std::string(1018, 'a');
  const SearchPattern pattern("a*" + std::string(500, 'a') + "X");
  EXPECT_EQ(pattern.Cost(name.size()), 1021 * 8);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(pattern.MatchClass(name), -1);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("1000 matches of a 1021-byte planted name: %.1f ms\n", ms);
}

}  // namespace
}  // namespace p2pshare
