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

class SearchPattern {
 public:
  explicit SearchPattern(std::string_view query);

  bool Matches(std::string_view name) const;
  // The maximal runs of literal bytes, lowercased (what an index can look up).
  const std::vector<std::string>& literal_runs() const { return literal_runs_; }

 private:
  static constexpr int kStar = -1;
  static constexpr int kOne = -2;
  std::vector<int> tokens_;  // a lowercased byte, kStar or kOne
  std::vector<std::string> literal_runs_;
};

}  // namespace p2pshare
