#include "central/word_dictionary.h"

#include <algorithm>
#include <array>
#include <bit>

#include "common/search_pattern.h"

namespace p2pshare::central {
namespace {

constexpr uint32_t kNoWord = UINT32_MAX;

size_t HashOf(std::string_view word) { return std::hash<std::string_view>{}(word); }

// Bits set in `x` (inline: a call to libgcc's popcount per word costs more
// than the test).
inline int Bits(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return static_cast<int>((((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24);
}

uint32_t MaskOf(std::string_view word) {
  uint32_t mask = 0;
  for (char ch : word) {
    const auto c = static_cast<unsigned char>(ch);
    mask |= c >= 'a' && c <= 'z' ? uint32_t{1} << (c - 'a') : uint32_t{1} << 26;
  }
  return mask;
}

}  // namespace

int EditDistance(std::string_view a, std::string_view b, int limit) {
  const size_t n = a.size(), m = b.size();
  if (n > kMaxWord + 2 || m > kMaxWord + 2) return limit + 1;
  if (static_cast<int>(n > m ? n - m : m - n) > limit) return limit + 1;
  // Three rows of the table: i-2, i-1, i.
  std::array<int, kMaxWord + 3> rows[3];
  for (size_t j = 0; j <= m; ++j) rows[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    auto& row = rows[i % 3];
    const auto& up = rows[(i - 1) % 3];
    const auto& up2 = rows[(i + 1) % 3];  // i - 2
    row[0] = static_cast<int>(i);
    int best = row[0];
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int v = std::min({up[j] + 1, row[j - 1] + 1, up[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = std::min(v, up2[j - 2] + 1);
      row[j] = v;
      best = std::min(best, v);
    }
    if (best > limit) return limit + 1;
  }
  return std::min(rows[n % 3][m], limit + 1);
}

// Calls fn(word) once for each distinct word of `folded_name`, lowercased
// in ASCII (a view into a buffer of this thread's, valid during the call).
template <class F>
void WordDictionary::ForEachWord(std::string_view folded_name, F&& fn) const {
  thread_local std::string name;
  thread_local std::vector<std::string_view> seen;
  name.assign(folded_name);
  for (char& c : name) c = static_cast<char>(AsciiLower(static_cast<unsigned char>(c)));
  seen.clear();
  size_t i = 0;
  while (i < name.size()) {
    if (!IsWordByte(static_cast<unsigned char>(name[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    bool digit = false;
    while (end < name.size() && IsWordByte(static_cast<unsigned char>(name[end]))) {
      digit = digit || (name[end] >= '0' && name[end] <= '9');
      ++end;
    }
    const std::string_view word = std::string_view(name).substr(i, end - i);
    i = end;
    if (digit || word.size() < kMinWord || word.size() > kMaxWord) continue;
    if (std::find(seen.begin(), seen.end(), word) != seen.end()) continue;
    seen.push_back(word);
    fn(word);
  }
}

uint32_t WordDictionary::Find(std::string_view word) const {
  if (slots_.empty()) return kNoWord;
  const size_t mask = slots_.size() - 1;
  for (size_t i = HashOf(word) & mask;; i = (i + 1) & mask) {
    const uint32_t id = slots_[i];
    if (id == kNoWord || words_[id].text == word) return id;
  }
}

void WordDictionary::InsertSlot(uint32_t id) {
  if ((words_.size() + 1) * 2 > slots_.size()) {  // grow: keep the load under 1/2
    slots_.assign(std::max<size_t>(1024, slots_.size() * 2), kNoWord);
    for (uint32_t w = 0; w < id; ++w) InsertSlot(w);
  }
  const size_t mask = slots_.size() - 1;
  size_t i = HashOf(words_[id].text) & mask;
  while (slots_[i] != kNoWord) i = (i + 1) & mask;
  slots_[i] = id;
}

void WordDictionary::Add(std::string_view folded_name) {
  ForEachWord(folded_name, [&](std::string_view word) {
    uint32_t id = Find(word);
    if (id == kNoWord) {
      if (words_.size() >= kMaxDictionaryWords) return;
      id = static_cast<uint32_t>(words_.size());
      words_.push_back(Word{std::string(word), MaskOf(word), 0});
      InsertSlot(id);
      if (by_first_.empty()) {
        by_first_.resize(kBuckets);
        by_last_.resize(kBuckets);
      }
      for (Bucket* b : {&by_first_[word.size() * 256 + static_cast<unsigned char>(word.front())],
                        &by_last_[word.size() * 256 + static_cast<unsigned char>(word.back())]}) {
        b->masks.push_back(words_[id].mask);
        b->ids.push_back(id);
      }
    }
    words_[id].count++;
  });
}

void WordDictionary::Remove(std::string_view folded_name) {
  ForEachWord(folded_name, [&](std::string_view word) {
    const uint32_t id = Find(word);
    if (id != kNoWord && words_[id].count > 0) words_[id].count--;
  });
}

void WordDictionary::Clear() {
  slots_.clear();
  words_.clear();
  by_first_.clear();
  by_last_.clear();
}

int64_t WordDictionary::CountOf(std::string_view word) const {
  const uint32_t id = Find(word);
  return id == kNoWord ? 0 : words_[id].count;
}

std::string WordDictionary::Closest(std::string_view word, int64_t more_than) const {
  if (word.size() < kMinWord || word.size() > kMaxWord || by_first_.empty()) return "";
  const int limit = word.size() <= 4 ? 1 : 2;
  const uint32_t mask = MaskOf(word);
  const Word* best = nullptr;
  int best_distance = limit + 1;
  const size_t lo = word.size() - std::min<size_t>(word.size(), static_cast<size_t>(limit));
  const size_t hi = std::min(kMaxWord, word.size() + static_cast<size_t>(limit));
  for (size_t length = std::max(lo, kMinWord); length <= hi; ++length) {
    const auto first = static_cast<unsigned char>(word.front()), last = static_cast<unsigned char>(word.back());
    const Bucket* by_last = &by_last_[length * 256 + last];
    for (const Bucket* b : {&by_first_[length * 256 + first], by_last}) {
      for (size_t k = 0; k < b->masks.size(); ++k) {
        if (Bits(b->masks[k] ^ mask) > 2 * limit) continue;
        const Word& w = words_[b->ids[k]];
        if (w.count <= more_than) continue;
        // In both lists: checked in the first only.
        if (b == by_last && static_cast<unsigned char>(w.text.front()) == first) continue;
        const int d = EditDistance(word, w.text, std::min(limit, best_distance));
        if (d > limit || d == 0) continue;
        if (best == nullptr || d < best_distance ||
            (d == best_distance && (w.count > best->count || (w.count == best->count && w.text < best->text)))) {
          best = &w;
          best_distance = d;
        }
      }
    }
  }
  return best == nullptr ? "" : best->text;
}

}  // namespace p2pshare::central
