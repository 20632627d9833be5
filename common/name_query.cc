#include "common/name_query.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>

namespace p2pshare {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(AsciiLower(static_cast<unsigned char>(c)));
  return out;
}

// Extensions of each type, lowercase.
struct TypeExtensions {
  unsigned type;
  std::array<std::string_view, 18> extensions;
};
constexpr TypeExtensions kTypes[] = {
    {kTypeAudio, {"mp3", "flac", "ogg", "opus", "m4a", "aac", "wav", "wma", "aiff", "aif", "alac", "ape", "mid", "midi"}},
    {kTypeVideo, {"mp4", "mkv", "avi", "mov", "webm", "wmv", "flv", "m4v", "mpg", "mpeg", "ts", "3gp", "ogv", "vob"}},
    {kTypeImage, {"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "heic", "svg", "raw", "cr2", "nef", "ico"}},
    {kTypeDocument, {"pdf", "doc", "docx", "odt", "txt", "rtf", "md", "epub", "mobi", "xls", "xlsx", "ods", "ppt",
                     "pptx", "odp", "tex", "csv", "djvu"}},
    {kTypeArchive, {"zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "xz", "zst", "iso", "dmg", "lz", "lzma", "cab"}},
};
constexpr std::pair<std::string_view, unsigned> kTypeNames[] = {
    {"audio", kTypeAudio}, {"video", kTypeVideo}, {"image", kTypeImage},
    {"document", kTypeDocument}, {"archive", kTypeArchive},
};

// "10", "1.5", then K/M/G/T (powers of 1024), then an optional "B" or
// "iB"; nullopt-like -1 when it is not a size.
int64_t ParseSize(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && ((s[digits] >= '0' && s[digits] <= '9') || s[digits] == '.')) ++digits;
  if (digits == 0 || digits > 20) return -1;
  double number = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, number);
  if (ec != std::errc() || end != s.data() + digits) return -1;
  std::string unit = AsciiLowered(s.substr(digits));
  double scale = 1;
  if (!unit.empty() && std::strchr("kmgt", unit[0]) != nullptr) {
    scale = unit[0] == 'k' ? 0x1p10 : unit[0] == 'm' ? 0x1p20 : unit[0] == 'g' ? 0x1p30 : 0x1p40;
    unit.erase(0, 1);
    if (unit == "i") return -1;
    if (unit.starts_with('i')) unit.erase(0, 1);
  }
  if (!unit.empty() && unit != "b") return -1;
  const double bytes = number * scale;
  if (!(bytes >= 0) || bytes > 0x1p62) return -1;
  return static_cast<int64_t>(bytes);
}

// Narrows `range` by "op value" ("<", "<=", ">", ">=", "="); false when
// `op` is none of them.
bool Narrow(ValueRange& range, std::string_view op, int64_t value) {
  if (op == "<") {
    range.hi = std::min(range.hi, value == INT64_MIN ? value : value - 1);
  } else if (op == "<=") {
    range.hi = std::min(range.hi, value);
  } else if (op == ">") {
    range.lo = std::max(range.lo, value == INT64_MAX ? value : value + 1);
  } else if (op == ">=") {
    range.lo = std::max(range.lo, value);
  } else if (op == "=") {
    range.lo = std::max(range.lo, value);
    range.hi = std::min(range.hi, value);
  } else {
    return false;
  }
  return true;
}

// Splits "size>=10M" after `key` into the operator and the value.
std::pair<std::string_view, std::string_view> SplitOperator(std::string_view rest) {
  size_t n = 0;
  while (n < rest.size() && n < 2 && (rest[n] == '<' || rest[n] == '>' || rest[n] == '=')) ++n;
  return {rest.substr(0, n), rest.substr(n)};
}

// Whether a word byte run of a name at `at` (a word start) begins with `term`,
// ASCII case-insensitive (a folded name is lowercase already).
bool WordBeginsWith(std::string_view name, size_t at, std::string_view term) {
  if (name.size() - at < term.size()) return false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (AsciiLower(static_cast<unsigned char>(name[at + i])) != static_cast<unsigned char>(term[i])) return false;
  }
  return true;
}

}  // namespace

bool HasNonAscii(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string FoldName(std::string_view text) {
  if (!HasNonAscii(text)) return AsciiLowered(text);
  constexpr auto kOptions = static_cast<utf8proc_option_t>(UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                                                           UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const auto length = static_cast<utf8proc_ssize_t>(text.size());
  thread_local std::vector<utf8proc_int32_t> points;
  if (points.size() < text.size() + 16) points.resize(text.size() + 16);
  utf8proc_ssize_t n = utf8proc_decompose(bytes, length, points.data(), static_cast<utf8proc_ssize_t>(points.size()), kOptions);
  if (n > static_cast<utf8proc_ssize_t>(points.size())) {  // NFKD can expand a character many times
    points.resize(static_cast<size_t>(n));
    n = utf8proc_decompose(bytes, length, points.data(), n, kOptions);
  }
  if (n < 0) return AsciiLowered(text);  // not UTF-8
  std::string out;
  out.reserve(static_cast<size_t>(n) + 4);
  utf8proc_uint8_t encoded[4];
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    const utf8proc_ssize_t w = utf8proc_encode_char(points[static_cast<size_t>(i)], encoded);
    out.append(reinterpret_cast<const char*>(encoded), static_cast<size_t>(w));
  }
  return out;
}

namespace {

// An extension of up to 5 bytes, lowercased, as one number.
uint64_t ExtensionKey(std::string_view ext) {
  uint64_t key = ext.size();
  for (char c : ext) key = key << 8 | AsciiLower(static_cast<unsigned char>(c));
  return key;
}

}  // namespace

unsigned TypeOfName(std::string_view name) {
  // (key, type) of every extension, sorted by key, made once.
  static const std::vector<std::pair<uint64_t, unsigned>> kByKey = [] {
    std::vector<std::pair<uint64_t, unsigned>> v;
    for (const auto& t : kTypes) {
      for (std::string_view e : t.extensions) {
        if (!e.empty()) v.emplace_back(ExtensionKey(e), t.type);
      }
    }
    std::sort(v.begin(), v.end());
    return v;
  }();
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || name.size() - dot - 1 > 5 || dot + 1 == name.size()) return 0;
  const std::string_view ext = name.substr(dot + 1);
  if (ext.find('/') != std::string_view::npos || dot == 0 || name[dot - 1] == '/') return 0;  // a folder's dot, or ".hidden"
  const uint64_t key = ExtensionKey(ext);
  auto it = std::lower_bound(kByKey.begin(), kByKey.end(), std::make_pair(key, 0u));
  return it != kByKey.end() && it->first == key ? it->second : 0;
}

std::optional<Status> NameQuery::ParseFilter(std::string_view token) {
  const std::string lower = AsciiLowered(token);
  if (lower.starts_with("type:")) {
    unsigned types = 0;
    std::string_view list = std::string_view(lower).substr(5);
    while (!list.empty()) {
      const size_t bar = list.find_first_of("|,");
      const std::string_view name = list.substr(0, bar);
      auto it = std::find_if(std::begin(kTypeNames), std::end(kTypeNames),
                             [&](const auto& t) { return t.first == name; });
      if (it == std::end(kTypeNames)) {
        return InvalidArgument("'" + std::string(token) + "': a type is audio, video, image, document or archive (type:audio|video for either)");
      }
      types |= it->second;
      list = bar == std::string_view::npos ? std::string_view() : list.substr(bar + 1);
    }
    if (types == 0) return InvalidArgument("'" + std::string(token) + "': name a type, such as type:audio");
    types_ = types_ == 0 ? types : (types_ & types);
    if (types_ == 0) types_ = ~0u << 5;  // two types asked for together: nothing is both
    filters_.push_back(lower);
    return Status::Ok();
  }
  for (const std::string_view key : {std::string_view("size"), std::string_view("holders")}) {
    if (!lower.starts_with(key) || lower.size() == key.size() || std::strchr("<>=", lower[key.size()]) == nullptr) continue;
    const auto [op, value] = SplitOperator(std::string_view(lower).substr(key.size()));
    int64_t v = -1;
    if (key == "size") {
      v = ParseSize(value);
    } else if (!value.empty() && value.size() <= 9 && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      v = std::stoll(std::string(value));
    }
    if (v < 0) {
      return InvalidArgument(key == "size" ? "'" + std::string(token) + "': a size is a number with K, M, G or T (such as size>10M or size<1.5G)"
                                           : "'" + std::string(token) + "': holders compare with a whole number (such as holders>=2)");
    }
    if (!Narrow(key == "size" ? size_ : holders_, op, v)) {
      return InvalidArgument("'" + std::string(token) + "': compare with <, <=, >, >= or =");
    }
    filters_.push_back(lower);
    return Status::Ok();
  }
  return std::nullopt;  // not a filter: a word
}

Result<NameQuery> NameQuery::Parse(std::string_view text) {
  NameQuery q;
  auto add_term = [&](std::string_view raw, bool phrase) -> Status {
    std::string folded = FoldName(raw);
    if (folded.empty()) return Status::Ok();
    if (q.terms_.size() >= kMaxQueryWords) {
      return InvalidArgument("a search has at most " + std::to_string(kMaxQueryWords) +
                             " words; leave out the least telling ones");
    }
    const bool plain = !phrase && std::all_of(folded.begin(), folded.end(), [](char c) {
      return IsWordByte(static_cast<unsigned char>(c));
    });
    SearchPattern pattern(folded);
    q.terms_.push_back(Term{std::move(folded), std::move(pattern), plain});
    q.phrase_.push_back(phrase);
    return Status::Ok();
  };
  size_t i = 0;
  while (i < text.size()) {
    if (IsSpace(text[i])) {
      ++i;
      continue;
    }
    if (text[i] == '"') {
      const size_t close = text.find('"', i + 1);
      const std::string_view phrase = text.substr(i + 1, (close == std::string_view::npos ? text.size() : close) - i - 1);
      RETURN_IF_ERROR(add_term(phrase, true));
      i = close == std::string_view::npos ? text.size() : close + 1;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !IsSpace(text[end]) && text[end] != '"') ++end;
    const std::string_view token = text.substr(i, end - i);
    i = end;
    if (auto filtered = q.ParseFilter(token)) {
      RETURN_IF_ERROR(*filtered);
      continue;
    }
    RETURN_IF_ERROR(add_term(token, false));
  }
  q.adjacency_ = q.terms_.size() >= 2 &&
                 std::all_of(q.terms_.begin(), q.terms_.end(), [](const Term& t) { return t.plain; });
  return q;
}

int NameQuery::Rank(std::string_view folded) const {
  if (adjacency_) return RankPlain(folded);
  bool all_at_start = true;
  for (const Term& t : terms_) {
    const int c = t.pattern.MatchClass(folded);
    if (c < 0) return -1;
    all_at_start = all_at_start && c == 0;
  }
  if (terms_.size() <= 1) return all_at_start ? 0 : 2;
  if (!all_at_start) return 2;
  return adjacency_ && Adjacent(folded) ? 0 : 1;
}

// Several plain words: one pass over the name's word starts tells which
// words begin a word of it and whether they do so adjacent and in order;
// only a word that begins none is looked for inside words (its pattern).
// Each comparison at a word start stops within that word, so the pass
// costs at most the name's length per word, as the patterns would.
int NameQuery::RankPlain(std::string_view name) const {
  const size_t n = terms_.size();
  uint64_t at_start = 0;  // bit j: term j begins a word of the name (n <= kMaxQueryWords)
  bool adjacent = false;
  auto word_byte = [&](size_t i) { return IsWordByte(static_cast<unsigned char>(name[i])); };
  auto next_start = [&](size_t at) {
    while (at < name.size() && word_byte(at)) ++at;
    while (at < name.size() && !word_byte(at)) ++at;
    return at;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    if (!word_byte(i) || (i > 0 && word_byte(i - 1))) continue;
    for (size_t j = 0; j < n; ++j) {
      if (WordBeginsWith(name, i, terms_[j].text)) at_start |= uint64_t{1} << j;
    }
    if (!adjacent && (at_start & 1) != 0 && WordBeginsWith(name, i, terms_[0].text)) {
      size_t at = next_start(i), j = 1;
      while (j < n && at < name.size() && WordBeginsWith(name, at, terms_[j].text)) {
        ++j;
        at = next_start(at);
      }
      adjacent = j == n;
    }
  }
  const uint64_t all = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  if (at_start == all) return adjacent ? 0 : 1;
  for (size_t j = 0; j < n; ++j) {
    if ((at_start & (uint64_t{1} << j)) == 0 && !terms_[j].pattern.Matches(name)) return -1;
  }
  return 2;
}

// Whether the words begin consecutive words of the name, in order: from
// each word start of the name, as many words on as the query has.
bool NameQuery::Adjacent(std::string_view name) const {
  auto word_byte = [&](size_t i) { return IsWordByte(static_cast<unsigned char>(name[i])); };
  auto next_start = [&](size_t at) {  // the first word start after the word at `at`
    while (at < name.size() && word_byte(at)) ++at;
    while (at < name.size() && !word_byte(at)) ++at;
    return at;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    if (!word_byte(i) || (i > 0 && word_byte(i - 1))) continue;
    size_t at = i, j = 0;
    while (j < terms_.size() && at < name.size() && WordBeginsWith(name, at, terms_[j].text)) {
      ++j;
      at = next_start(at);
    }
    if (j == terms_.size()) return true;
  }
  return false;
}

int64_t NameQuery::Cost(size_t bytes) const {
  int64_t cost = adjacency_ ? static_cast<int64_t>(bytes) : 0;
  for (const Term& t : terms_) cost += t.pattern.Cost(bytes);
  return std::max<int64_t>(cost, 1);
}

std::string NameQuery::Text() const {
  std::vector<std::string> words;
  for (const Term& t : terms_) words.push_back(t.text);
  return TextWith(words);
}

std::string NameQuery::TextWith(const std::vector<std::string>& words) const {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (!out.empty()) out += ' ';
    const bool quote = i < phrase_.size() && phrase_[i];
    out += quote ? '"' + words[i] + '"' : words[i];
  }
  for (const std::string& f : filters_) {
    if (!out.empty()) out += ' ';
    out += f;
  }
  return out;
}

}  // namespace p2pshare
