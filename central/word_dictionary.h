// WordDictionary: the words of the indexed names, for "did you mean"
// (docs/protocol.md, "GET /search", `suggestion`).
//
// A word is a maximal run of word bytes (common/search_pattern.h) of a
// folded name (ASCII lowercased here), without digits, of kMinWord to kMaxWord bytes; each counts
// the live entries whose name has it. At most kMaxDictionaryWords words
// are kept (past that, new words are not learned), so memory is bounded
// whatever accounts plant, and so is Closest's cost: it reads only the
// words within two bytes of the word's length, rules most out by a 32-bit
// mask of the letters they use (two edits change at most four bits), and
// runs the edit distance on the rest.
//
// Not thread-safe: SearchIndex calls it under its lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace p2pshare::central {

inline constexpr size_t kMinWord = 3;
inline constexpr size_t kMaxWord = 32;
inline constexpr size_t kMaxDictionaryWords = size_t{1} << 18;

// The optimal string alignment distance (insertions, deletions,
// substitutions and transpositions of two neighbours), or `limit` + 1 when
// it is over `limit`.
int EditDistance(std::string_view a, std::string_view b, int limit);

class WordDictionary {
 public:
  // The words of a folded name, each once, count one more (Add) or less.
  void Add(std::string_view folded_name);
  void Remove(std::string_view folded_name);
  void Clear();

  // Live entries whose name has `word` (folded).
  int64_t CountOf(std::string_view word) const;
  // The word closest to `word` (folded) held by more than `more_than`
  // entries: at most 1 edit away for words of up to 4 bytes, 2 beyond; the
  // nearest, then the most held, then the first in byte order. Empty when
  // there is none.
  std::string Closest(std::string_view word, int64_t more_than) const;
  size_t size() const { return words_.size(); }

 private:
  struct Word {
    std::string text;
    uint32_t mask = 0;   // letters a-z used (bit 26: any other byte)
    int64_t count = 0;
  };
  template <class F>
  void ForEachWord(std::string_view folded_name, F&& fn) const;
  // Looks words up by string_view, without making a string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ids_;
  std::vector<Word> words_;
  std::vector<uint32_t> by_length_[kMaxWord + 1];  // ids by text length
};

}  // namespace p2pshare::central
