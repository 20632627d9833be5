// NameQuery: a search as a person types it (GET /search's `q`, Locate's
// `query`, a wish; docs/protocol.md, "Search queries").
//
//   - Names and queries are compared folded (FoldName): Unicode NFKD,
//     case folding, combining marks dropped, so `zoe`, `Zoë` and `ZOË`
//     are one word; the name shown stays the one shared.
//   - Words separated by spaces match in any order, anywhere in the name
//     (path included); each word is a SearchPattern (`*` any run, `?` one
//     character). "Quoted words" are one phrase, matched as written.
//   - Filters: `size>10M`, `size<=1G` (K, M, G, T: powers of 1024; an
//     optional B or iB), `holders>=2`, `type:audio|video|image|document|
//     archive` (by extension). Operators: < <= > >= =.
//
// Rank classes (lower first): 0 the words at word starts, adjacent and in
// the order typed (only words of letters and digits, two or more); 1 every
// word at a word start; 2 otherwise. A one-word query has classes 0 and 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/search_pattern.h"
#include "common/status.h"

namespace p2pshare {

// NFKD, Unicode case folding and combining marks stripped (utf8proc), so
// that names and queries compare as people read them. ASCII text is only
// lowercased. Invalid UTF-8 (never a valid name) is lowercased in ASCII.
std::string FoldName(std::string_view text);
// Whether `text` has a byte FoldName may change other than ASCII case.
bool HasNonAscii(std::string_view text);

// File types by extension, as bits.
enum FileTypeBits : unsigned {
  kTypeAudio = 1,
  kTypeVideo = 2,
  kTypeImage = 4,
  kTypeDocument = 8,
  kTypeArchive = 16,
};
// The type of a file by its name's extension (0: none of the above).
unsigned TypeOfName(std::string_view name);

struct ValueRange {
  int64_t lo = INT64_MIN;
  int64_t hi = INT64_MAX;
  bool Has(int64_t v) const { return v >= lo && v <= hi; }
  bool all() const { return lo == INT64_MIN && hi == INT64_MAX; }
};

// Words a query may have at most.
inline constexpr size_t kMaxQueryWords = 16;

class NameQuery {
 public:
  struct Term {
    std::string text;       // folded, as the pattern was made from
    SearchPattern pattern;  // over folded names
    bool plain = false;     // letters and digits only (no wildcard, no phrase)
  };

  // InvalidArgument, in plain words, for a filter that is not one.
  static Result<NameQuery> Parse(std::string_view text);

  const std::vector<Term>& terms() const { return terms_; }
  // No words: every name matches (filters may still refuse it).
  bool matches_everything() const { return terms_.empty(); }
  bool has_filters() const { return types_ != 0 || !size_.all() || !holders_.all(); }
  // The rank class of a folded name (see above), or -1 when it does not
  // match. Filters are not checked here (Admits).
  int Rank(std::string_view folded) const;
  // Whether the filters admit a file of this size, holder count and name.
  bool Admits(int64_t size, int64_t holders, std::string_view name) const {
    return size_.Has(size) && holders_.Has(holders) && (types_ == 0 || (TypeOfName(name) & types_) != 0);
  }
  const ValueRange& holders() const { return holders_; }
  // The matching work of a name of `bytes` bytes (SearchPattern::Cost summed).
  int64_t Cost(size_t bytes) const;
  // The query as one line: its words (phrases quoted), then its filters.
  // Two queries that mean the same have the same text.
  std::string Text() const;
  // Text() with the words replaced by `words` (as many), filters kept.
  std::string TextWith(const std::vector<std::string>& words) const;

 private:
  bool Adjacent(std::string_view folded) const;
  // Rank for two or more plain words.
  int RankPlain(std::string_view folded) const;
  // Takes `token` as a filter (size, holders, type): OK, or what is wrong
  // with it; nullopt when it is no filter (a word).
  std::optional<Status> ParseFilter(std::string_view token);

  std::vector<Term> terms_;
  std::vector<bool> phrase_;           // by term: typed in quotes
  std::vector<std::string> filters_;   // as typed, lowercased
  ValueRange size_, holders_;
  unsigned types_ = 0;
  bool adjacency_ = false;  // two or more terms, all plain
};

}  // namespace p2pshare
