// A search query as a pattern (GET /search's `q`, Locate's `query`;
// docs/protocol.md, "Names and values"): it matches anywhere in a name;
// '*' is any run, '?' one UTF-8 character; every other byte is literal,
// ASCII case-insensitive. Central's search index and the
// peers' flood search (their own catalogs) match with this one class.
//
// DESIGN: matching is linear in the name whatever the name and the
// pattern hold. The pattern compiles to a bit-parallel NFA (shift-and with
// self-loops, as agrep does): state j is "the first j non-star tokens are
// matched"; one step per byte of the name updates every state at once, a
// 64-bit word per 64 tokens. A backtracking glob, or one restarted at each
// occurrence of the first literal, costs the square of a name built for
// it (a few hundred planted names made one query take seconds); this
// costs Cost(name) = bytes x words, which callers budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace p2pshare {

inline unsigned char AsciiLower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

// Bytes of the UTF-8 character starting with `lead` (1 for stray bytes).
inline size_t Utf8Length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 1;
}

// A word byte: an ASCII letter or digit, or any byte of a non-ASCII UTF-8
// character. Words are the maximal runs of them.
inline bool IsWordByte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

class SearchPattern {
 public:
  explicit SearchPattern(std::string_view query);

  bool Matches(std::string_view name) const;
  // How `name` matches, for ranking: -1 not at all; 0 at a word start (the
  // pattern's first literal begins where a word of the name begins), or
  // anyhow when the pattern does not begin with a word byte; 1 only inside
  // words.
  int MatchClass(std::string_view name) const;
  // Whether the pattern begins with a literal word byte (then matches have
  // two classes).
  bool anchored() const { return anchored_; }
  // Whether every name matches ('', '*': no literal and no '?').
  bool matches_everything() const { return tokens_ == 0; }
  // The maximal runs of literal bytes, lowercased (what an index can look up).
  const std::vector<std::string>& literal_runs() const { return literal_runs_; }
  // The work of matching a name of `bytes` bytes: one step per byte and
  // 64 tokens, at most.
  int64_t Cost(size_t bytes) const { return static_cast<int64_t>(bytes) * static_cast<int64_t>(words_); }

 private:
  // Runs the NFA over `name`: bit 0 of the result says whether it matched
  // at all, bit 1 whether it matched with its first token at a word start.
  // `want_class`: keep going after a match until the word-start one is
  // settled.
  int Run(std::string_view name, bool want_class) const;
  template <size_t W>
  int RunWords(std::string_view name, bool want_class) const;

  size_t tokens_ = 0;  // non-star tokens: NFA states 1..tokens_
  size_t words_ = 1;   // 64-bit words of a state set: (tokens_ + 1 + 63) / 64
  // Per byte (lowercased), an index into the masks below.
  uint16_t class_of_[256] = {};
  // Per byte class, words_ words each: `advance` has bit j when token j
  // takes the byte; `stay` when state j keeps through it (a '*' follows
  // token j, or token j is '?' and the byte continues its character).
  std::vector<uint64_t> advance_, stay_;
  unsigned char first_ = 0;  // the first token's byte, when it is a literal
  bool first_literal_ = false;
  bool anchored_ = false;
  std::vector<std::string> literal_runs_;
};

}  // namespace p2pshare
