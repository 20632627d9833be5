#include "common/search_pattern.h"

#include <algorithm>
#include <cstring>

namespace p2pshare {

SearchPattern::SearchPattern(std::string_view query) {
  tokens_.push_back(kStar);
  std::string run;
  auto flush = [&] {
    if (!run.empty()) literal_runs_.push_back(run);
    run.clear();
  };
  for (unsigned char c : query) {
    if (c == '*' || c == '?') {
      flush();
      if (c == '?' || tokens_.back() != kStar) tokens_.push_back(c == '*' ? kStar : kOne);
    } else {
      tokens_.push_back(AsciiLower(c));
      run.push_back(static_cast<char>(AsciiLower(c)));
    }
  }
  flush();
  if (tokens_.back() != kStar) tokens_.push_back(kStar);
  anchored_ = tokens_.size() > 1 && tokens_[1] >= 0 && IsWordByte(static_cast<unsigned char>(tokens_[1]));
}

bool SearchPattern::Matches(std::string_view s) const { return MatchFrom(0, s, 0); }

int SearchPattern::MatchClass(std::string_view s) const {
  if (!anchored_) return Matches(s) ? 0 : -1;
  // The first literal run: tokens_[1 .. 1 + n).
  const std::string& first = literal_runs_.front();
  const size_t n = first.size();
  const auto f0 = static_cast<unsigned char>(first[0]);
  bool inside = false;
  // One pass over the name (a memchr per candidate, in both cases, scanned
  // its rest again and again: the most of a search's time).
  for (size_t i = 0; i + n <= s.size(); ++i) {
    if (AsciiLower(static_cast<unsigned char>(s[i])) != f0) continue;
    const bool word_start = i == 0 || !IsWordByte(static_cast<unsigned char>(s[i - 1]));
    if (inside && !word_start) continue;  // only a word start can do better
    size_t k = 1;
    while (k < n && AsciiLower(static_cast<unsigned char>(s[i + k])) == static_cast<unsigned char>(first[k])) {
      ++k;
    }
    if (k < n || !MatchFrom(1 + n, s, i + n)) continue;
    if (word_start) return 0;
    inside = true;
  }
  return inside ? 1 : -1;
}

bool SearchPattern::MatchFrom(size_t p, std::string_view s, size_t i) const {
  size_t star_p = std::string::npos, star_i = 0;
  while (i < s.size()) {
    if (p < tokens_.size()) {
      int t = tokens_[p];
      if (t == kStar) {
        star_p = p++;
        star_i = i;
        continue;
      }
      if (t == kOne) {
        i = std::min(s.size(), i + Utf8Length(static_cast<unsigned char>(s[i])));
        ++p;
        continue;
      }
      if (AsciiLower(static_cast<unsigned char>(s[i])) == t) {
        ++i;
        ++p;
        continue;
      }
    }
    if (star_p == std::string::npos) return false;
    p = star_p + 1;
    star_i = std::min(s.size(), star_i + Utf8Length(static_cast<unsigned char>(s[star_i])));
    i = star_i;
  }
  while (p < tokens_.size() && tokens_[p] == kStar) ++p;
  return p == tokens_.size();
}

}  // namespace p2pshare
