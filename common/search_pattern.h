// A search query as a pattern (GET /search's `q`, Locate's `query`;
// docs/protocol.md, "Names and values"): it matches anywhere in a name;
// '*' is any run, '?' one UTF-8 character; every other byte is literal,
// ASCII case-insensitive. Central's search index and the
// peers' flood search (their own catalogs) match with this one class.
#pragma once

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
  bool matches_everything() const { return tokens_.size() == 1; }
  // The maximal runs of literal bytes, lowercased (what an index can look up).
  const std::vector<std::string>& literal_runs() const { return literal_runs_; }

 private:
  static constexpr int kStar = -1;
  static constexpr int kOne = -2;
  // Whether tokens_[p..] matches all of s[i..].
  bool MatchFrom(size_t p, std::string_view s, size_t i) const;

  std::vector<int> tokens_;  // kStar, then a lowercased byte, kStar or kOne each
  bool anchored_ = false;
  std::vector<std::string> literal_runs_;
};

}  // namespace p2pshare
