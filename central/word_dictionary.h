// WordDictionary: the words of the indexed names, for "did you mean"
// (docs/protocol.md, "GET /search", `suggestion`).
//
// A word is a maximal run of word bytes (common/search_pattern.h) of a
// folded name (ASCII lowercased here), without digits, of kMinWord to kMaxWord bytes; each counts
// the live entries whose name has it. At most kMaxDictionaryWords words
// are kept (past that, new words are not learned), so memory is bounded
// whatever accounts plant, and so is Closest's cost: it reads only the
// words within two bytes of the word's length that begin or end with the
// same byte as the word (a typo seldom changes both ends), rules most out
// by a 32-bit mask of the letters they use (two edits change at most four
// bits), and runs the edit distance on the rest.
//
// Not thread-safe: SearchIndex calls it under its lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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
  // entries, with the same first or last byte: at most 1 edit away for
  // words of up to 4 bytes, 2 beyond; the nearest, then the most held, then
  // the first in byte order. Empty when there is none.
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
  // The id of `word`, or UINT32_MAX.
  uint32_t Find(std::string_view word) const;
  void InsertSlot(uint32_t id);

  // An open-addressing table of word ids by their text's hash (load under
  // 1/2): a look-up reads one slot and one word, never a node.
  std::vector<uint32_t> slots_;
  std::vector<Word> words_;
  // By text length and first byte, and by length and last byte: each
  // word's letter mask and id, side by side, so Closest reads one
  // contiguous array of the few words that could be meant.
  struct Bucket {
    std::vector<uint32_t> masks;
    std::vector<uint32_t> ids;
  };
  static constexpr size_t kBuckets = (kMaxWord + 1) * 256;  // [length * 256 + byte]
  std::vector<Bucket> by_first_, by_last_;  // kBuckets each once a word is kept
};

}  // namespace p2pshare::central
