#include "common/search_pattern.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace p2pshare {
namespace {

constexpr int kOne = -1;  // '?': one UTF-8 character
// A state set is at most this many words: a query is at most 1024 bytes.
constexpr size_t kMaxWords = (1024 + 1 + 63) / 64;

bool Continues(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

SearchPattern::SearchPattern(std::string_view query) {
  // Tokens without the stars, and after which of them a star stands (the
  // pattern matches anywhere: a star before the first and after the last).
  std::vector<int> tokens;
  std::vector<bool> star_after{true};
  std::string run;
  auto flush = [&] {
    if (!run.empty()) literal_runs_.push_back(run);
    run.clear();
  };
  for (unsigned char c : query.substr(0, std::min<size_t>(query.size(), 1024))) {
    if (c == '*') {
      flush();
      star_after.back() = true;
    } else if (c == '?') {
      flush();
      tokens.push_back(kOne);
      star_after.push_back(false);
    } else {
      tokens.push_back(AsciiLower(c));
      star_after.push_back(false);
      run.push_back(static_cast<char>(AsciiLower(c)));
    }
  }
  flush();
  star_after.back() = true;
  tokens_ = tokens.size();
  words_ = (tokens_ + 1 + 63) / 64;
  // A query that begins with '*' has one class (docs/protocol.md).
  anchored_ = !query.starts_with('*') && !tokens.empty() && tokens[0] >= 0 &&
              IsWordByte(static_cast<unsigned char>(tokens[0]));
  first_literal_ = !tokens.empty() && tokens[0] >= 0;
  first_ = first_literal_ ? static_cast<unsigned char>(tokens[0]) : 0;

  // Byte classes: one per distinct literal byte, then "another byte that
  // starts a character" and "another byte that continues one".
  std::vector<int> byte_class(256, -1);
  std::vector<unsigned char> class_byte;  // a byte of each class
  for (int t : tokens) {
    if (t >= 0 && byte_class[static_cast<size_t>(t)] < 0) {
      byte_class[static_cast<size_t>(t)] = static_cast<int>(class_byte.size());
      class_byte.push_back(static_cast<unsigned char>(t));
    }
  }
  const auto other_start = static_cast<int>(class_byte.size());
  class_byte.push_back('\0');
  const auto other_continue = static_cast<int>(class_byte.size());
  class_byte.push_back(0x80);
  for (int c = 0; c < 256; ++c) {
    const int lower = AsciiLower(static_cast<unsigned char>(c));
    int k = byte_class[static_cast<size_t>(lower)];
    if (k < 0) k = Continues(static_cast<unsigned char>(c)) ? other_continue : other_start;
    class_of_[c] = static_cast<uint16_t>(k);
  }
  advance_.assign(class_byte.size() * words_, 0);
  stay_.assign(class_byte.size() * words_, 0);
  auto set = [&](std::vector<uint64_t>& masks, size_t k, size_t bit) {
    masks[k * words_ + bit / 64] |= uint64_t{1} << (bit % 64);
  };
  for (size_t k = 0; k < class_byte.size(); ++k) {
    const unsigned char b = class_byte[k];
    const bool continues = Continues(b);
    for (size_t j = 0; j <= tokens_; ++j) {
      const int t = j == 0 ? 0 : tokens[j - 1];
      if (j > 0 && ((t == kOne && !continues) || (t >= 0 && static_cast<unsigned char>(t) == b))) {
        set(advance_, k, j);
      }
      if (star_after[j] || (j > 0 && t == kOne && continues)) set(stay_, k, j);
    }
  }
}

bool SearchPattern::Matches(std::string_view s) const {
  if (tokens_ == 0) return true;
  return (Run(s, false) & 1) != 0;
}

int SearchPattern::MatchClass(std::string_view s) const {
  if (tokens_ == 0) return 0;
  if (!anchored_) return (Run(s, false) & 1) != 0 ? 0 : -1;
  const int r = Run(s, true);
  if ((r & 2) != 0) return 0;
  return (r & 1) != 0 ? 1 : -1;
}

int SearchPattern::Run(std::string_view s, bool want_class) const {
  if (words_ == 1) return RunWords<1>(s, want_class);
  return RunWords<0>(s, want_class);
}

// W: the words of a state set, or 0 for words_ of them (up to kMaxWords).
template <size_t W>
int SearchPattern::RunWords(std::string_view s, bool want_class) const {
  const size_t words = W == 0 ? words_ : W;
  const size_t last_word = tokens_ / 64;
  const uint64_t last_bit = uint64_t{1} << (tokens_ % 64);
  std::array<uint64_t, W == 0 ? kMaxWords : W> any{}, at_start{};  // all matches; word-start ones
  any[0] = at_start[0] = 1;
  const auto* data = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  int result = 0;
  auto idle = [&] {
    for (size_t w = 0; w < words; ++w) {
      if (any[w] != (w == 0 ? 1u : 0u)) return false;
    }
    return true;  // only the leading star: nothing begun
  };
  for (size_t i = 0; i < n; ++i) {
    if (first_literal_ && idle()) {
      // Nothing begins before the first token's byte: jump to it.
      const void* lower = std::memchr(data + i, first_, n - i);
      size_t next = lower != nullptr ? static_cast<size_t>(static_cast<const unsigned char*>(lower) - data) : n;
      if (first_ >= 'a' && first_ <= 'z') {
        const void* upper = std::memchr(data + i, first_ - ('a' - 'A'), next - i);
        if (upper != nullptr) next = static_cast<size_t>(static_cast<const unsigned char*>(upper) - data);
      }
      if (next >= n) break;
      i = next;
    }
    const unsigned char c = data[i];
    const size_t k = class_of_[c];
    const uint64_t* adv = &advance_[k * words];
    const uint64_t* stay = &stay_[k * words];
    const bool word_start = i == 0 || !IsWordByte(data[i - 1]);
    uint64_t carry_any = 0, carry_start = 0;
    for (size_t w = 0; w < words; ++w) {
      const uint64_t a = any[w], b = at_start[w];
      uint64_t shifted_b = (b << 1) | carry_start;
      if (w == 0 && !word_start) shifted_b &= ~uint64_t{2};  // the first token only at a word start
      any[w] = (((a << 1) | carry_any) & adv[w]) | (a & stay[w]);
      at_start[w] = (shifted_b & adv[w]) | (b & stay[w]);
      carry_any = a >> 63;
      carry_start = b >> 63;
    }
    any[0] |= 1;
    at_start[0] |= 1;
    if ((at_start[last_word] & last_bit) != 0) return 3;
    if ((any[last_word] & last_bit) != 0) {
      result = 1;
      if (!want_class) return 1;
    }
  }
  return result;
}

}  // namespace p2pshare
