#include "common/search_pattern.h"

#include <algorithm>

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
}

bool SearchPattern::Matches(std::string_view s) const {
  size_t p = 0, i = 0;
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
