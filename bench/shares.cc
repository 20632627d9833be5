#include "bench/shares.h"

#include "common/name_query.h"

#include <algorithm>
#include <set>

#include "common/sha256.h"

namespace p2pshare::bench {
namespace {

// The most common words of real shares' names, ranked first.
const char* const kCommon[] = {
    "the",   "of",    "a",     "live",  "love",   "remix", "feat",  "mix",    "i",     "you",
    "in",    "my",    "me",    "me",    "on",     "de",    "la",    "best",   "night", "version",
    "edit",  "one",   "to",    "and",   "world",  "dance", "new",   "song",   "vol",   "part",
    "original", "acoustic", "radio", "blue", "time", "day", "heart", "life", "girl", "man",
    "all",   "for",   "is",    "it",    "your",   "light", "home",  "dream",  "fire",  "rain",
    "summer", "final", "report", "notes", "draft", "invoice", "trip", "party", "family", "beach"};
// Words with non-ASCII letters, mixed into the vocabulary.
const char* const kNonAscii[] = {"café", "über", "niño", "ölstykke", "naïve", "señor", "garçon",
                                 "fjörd", "日本", "東京", "音楽", "москва", "любовь", "ελλάδα",
                                 "señorita", "crème", "brûlée", "mañana", "straße", "zürich"};
const char* const kSyllables[] = {"ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "da", "po",
                                  "re", "xi", "bu", "fa", "go", "he", "ju", "qu", "wa", "ze",
                                  "an", "el", "in", "or", "us", "tri", "ston", "bel", "mar", "ven"};

std::vector<double> ZipfCdf(size_t n) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (size_t r = 0; r < n; ++r) cdf[r] = (sum += 1.0 / static_cast<double>(r + 1));
  for (double& c : cdf) c /= sum;
  return cdf;
}

size_t Draw(const std::vector<double>& cdf, std::mt19937_64& rng) {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return std::min(cdf.size() - 1,
                  static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin()));
}

std::string TitleCase(std::string w) {
  if (!w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
  return w;
}

std::string Upper(std::string w) {
  for (char& c : w) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return w;
}

std::string Pad(int n, int width) {
  std::string s = std::to_string(n);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

// The first `chars` characters of UTF-8 `w` (never half a character).
std::string Utf8Prefix(const std::string& w, size_t chars) {
  size_t at = 0;
  for (size_t n = 0; n < chars && at < w.size(); ++n) {
    do ++at;
    while (at < w.size() && (static_cast<unsigned char>(w[at]) & 0xC0) == 0x80);
  }
  return w.substr(0, at);
}

template <typename T, size_t N>
const T& Pick(const T (&list)[N], std::mt19937_64& rng) {
  return list[rng() % N];
}

}  // namespace

Shares::Shares(uint64_t seed) : seed_(seed) {
  std::mt19937_64 rng(seed);
  std::set<std::string> seen;
  for (const char* w : kCommon) {
    if (seen.insert(w).second) words_.push_back(w);
  }
  const auto common = static_cast<std::ptrdiff_t>(words_.size());
  while (words_.size() < kVocabulary) {
    std::string w;
    if (rng() % 100 == 0) {
      w = Pick(kNonAscii, rng);
      if (rng() % 2) w += Pick(kSyllables, rng);
    } else {
      const int k = 2 + static_cast<int>(rng() % 3);
      for (int j = 0; j < k; ++j) w += Pick(kSyllables, rng);
    }
    if (seen.insert(w).second) words_.push_back(w);
  }
  // Made-up words in a random order of frequency, the common ones on top.
  std::shuffle(words_.begin() + common, words_.end(), rng);
  word_cdf_ = ZipfCdf(words_.size());
  track_cdf_ = ZipfCdf(kCatalogueTracks);
}

const std::vector<std::pair<std::string, double>>& Shares::Mix() {
  static const std::vector<std::pair<std::string, double>> mix = {
      {"word", 0.30},   {"two-words", 0.15}, {"prefix", 0.10},     {"glob", 0.05},
      {"title", 0.05},  {"miss", 0.10},      {"one-letter", 0.04}, {"two-letters", 0.04},
      {"folded", 0.05}, {"any-order", 0.05}, {"filtered", 0.05},   {"typo", 0.02}};
  return mix;
}

const std::string& Shares::Word(std::mt19937_64& rng) const { return words_[Draw(word_cdf_, rng)]; }

std::string Shares::Words(std::mt19937_64& rng, int n, bool title_case) const {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ' ';
    out += title_case ? TitleCase(Word(rng)) : Word(rng);
  }
  return out;
}

Shares::Track Shares::CatalogueTrack(int t) const {
  std::mt19937_64 rng(seed_ * 1000003 + static_cast<uint64_t>(t) * 7919 + 1);
  // Artists and albums are shared by many tracks: derived from the track's
  // neighbourhood in the catalogue.
  std::mt19937_64 artist_rng(seed_ * 31 + static_cast<uint64_t>(t / 40) + 17);
  std::mt19937_64 album_rng(seed_ * 37 + static_cast<uint64_t>(t / 12) + 19);
  Track track;
  track.artist = Words(artist_rng, 1 + static_cast<int>(artist_rng() % 3), true);
  if (artist_rng() % 5 == 0) track.artist = "The " + track.artist;
  const std::string album = Words(album_rng, 1 + static_cast<int>(album_rng() % 4), true);
  const int year = 1960 + static_cast<int>(album_rng() % 65);
  track.title = Words(rng, 1 + static_cast<int>(rng() % 4), true);
  if (rng() % 8 == 0) track.title += " (Live)";
  if (rng() % 10 == 0) track.title += " (feat. " + Words(rng, 2, true) + ")";
  static const char* const kExt[] = {".mp3", ".mp3", ".mp3", ".flac", ".ogg", ".m4a"};
  const char* ext = Pick(kExt, rng);
  track.name = "Music/" + track.artist + "/" + album + " (" + std::to_string(year) + ")/" +
               Pad(1 + t % 12, 2) + " - " + track.title + ext;
  if (rng() % 10 == 0) track.name = Upper(track.name);
  track.size = 2000000 + static_cast<int64_t>(rng() % 10000000);
  track.sha256 = Sha256Hex("catalogue track " + std::to_string(t));
  return track;
}

int Shares::PopularTrack(std::mt19937_64& rng) const { return static_cast<int>(Draw(track_cdf_, rng)); }

std::string Shares::OwnFile(std::mt19937_64& rng, int n, int64_t* size) const {
  const int year = 1995 + static_cast<int>(rng() % 31);
  *size = 1000 + static_cast<int64_t>(rng() % 100000000);
  switch (rng() % 10) {
    case 0:
    case 1:
    case 2: {  // own rips and recordings
      static const char* const kExt[] = {".mp3", ".flac", ".ogg", ".wav"};
      return "Music/" + Words(rng, 1 + static_cast<int>(rng() % 2), true) + "/" +
             Pad(1 + n % 20, 2) + " " + Words(rng, 1 + static_cast<int>(rng() % 4), rng() % 2) +
             Pick(kExt, rng);
    }
    case 3:
    case 4: {  // documents
      static const char* const kExt[] = {".pdf", ".docx", ".txt", ".odt", ".xlsx", ".md"};
      static const char* const kSuffix[] = {"", "", "", " (final)", " v2", "_draft", " - copy"};
      const bool snake = rng() % 3 == 0;
      std::string w = Words(rng, 1 + static_cast<int>(rng() % 4), !snake);
      if (snake) std::replace(w.begin(), w.end(), ' ', '_');
      return "Documents/" + std::to_string(year) + "/" + w + Pick(kSuffix, rng) + Pick(kExt, rng);
    }
    case 5:
    case 6:
    case 7: {  // photos
      static const char* const kPrefix[] = {"IMG_", "IMG_", "DSC", "PXL_", "Photo "};
      std::string dir = "Photos/" + std::to_string(year) + "/" + Words(rng, 1 + static_cast<int>(rng() % 2), true);
      return dir + "/" + Pick(kPrefix, rng) + Pad(static_cast<int>(rng() % 10000), 4) +
             (rng() % 2 ? ".JPG" : ".jpg");
    }
    case 8: {  // videos
      static const char* const kQuality[] = {"720p", "1080p", "2160p", "DVDRip"};
      static const char* const kExt[] = {".mkv", ".mp4", ".avi"};
      *size *= 20;
      return "Videos/" + Words(rng, 1 + static_cast<int>(rng() % 4), true) + " (" + std::to_string(year) +
             ") " + Pick(kQuality, rng) + Pick(kExt, rng);
    }
    default: {  // downloads
      static const char* const kExt[] = {".zip", ".tar.gz", ".iso", ".exe", ".deb"};
      return "Downloads/" + Word(rng) + "-" + std::to_string(rng() % 10) + "." + std::to_string(rng() % 20) +
             Pick(kExt, rng);
    }
  }
}

std::vector<FileEntry> Shares::PeerFiles(int peer, int count) const {
  std::mt19937_64 rng(seed_ * 7 + static_cast<uint64_t>(peer) * 104729 + 3);
  std::vector<FileEntry> files;
  std::set<std::string> names;
  for (int n = 0; static_cast<int>(files.size()) < count; ++n) {
    FileEntry f;
    if (rng() % 10 < 3) {  // a popular track of the catalogue
      Track t = CatalogueTrack(PopularTrack(rng));
      f = FileEntry{t.name, t.size, t.sha256};
    } else {
      f.name = OwnFile(rng, n, &f.size);
      f.sha256 = Sha256Hex(std::to_string(peer) + "/" + f.name);
    }
    if (names.insert(f.name).second) files.push_back(std::move(f));
  }
  return files;
}

Query Shares::MakeQuery(std::mt19937_64& rng, const std::string& kind) const {
  Query q{kind, ""};
  if (kind == "word") {
    q.text = Word(rng);
  } else if (kind == "two-words") {
    Track t = CatalogueTrack(PopularTrack(rng));
    q.text = rng() % 2 ? t.artist : Words(rng, 2, false);
  } else if (kind == "prefix") {
    std::string w;
    do w = Word(rng);
    while (w.size() < 5);
    q.text = Utf8Prefix(w, 3 + rng() % 3);
  } else if (kind == "glob") {
    static const char* const kForms[] = {"*.flac", "%*.mp3", "IMG_1*", "% * %", "%*(Live)*", "*.iso"};
    q.text = Pick(kForms, rng);
    for (size_t at; (at = q.text.find('%')) != std::string::npos;) q.text.replace(at, 1, Word(rng));
  } else if (kind == "title") {
    q.text = CatalogueTrack(PopularTrack(rng)).title;
  } else if (kind == "miss") {
    q.text = Word(rng) + (rng() % 2 ? "xq" : " zzkv");
  } else if (kind == "folded") {
    // A word with accents typed without them, in any case ("creme" for
    // "crème", "STRASSE" for "straße").
    std::string w;
    do w = Pick(kNonAscii, rng);
    while (static_cast<unsigned char>(w[0]) >= 0xE0);  // letters with accents, not CJK or Cyrillic
    q.text = FoldName(w);
    if (rng() % 3 == 0) q.text = Upper(q.text);
  } else if (kind == "any-order") {
    // Two words of a popular track, title before artist.
    Track t = CatalogueTrack(PopularTrack(rng));
    auto first_word = [](const std::string& s) { return s.substr(0, s.find(' ')); };
    q.text = first_word(t.title) + " " + first_word(t.artist);
  } else if (kind == "filtered") {
    static const char* const kFilters[] = {" type:audio", " size>1M", " holders>=2", " type:image size<10M",
                                           " type:document", " size>100M type:video"};
    q.text = Word(rng) + Pick(kFilters, rng);
  } else if (kind == "typo") {
    // A word of five letters or more with two neighbours swapped.
    std::string w;
    do w = Word(rng);
    while (w.size() < 5 || static_cast<unsigned char>(w[0]) >= 0x80 || w[2] == w[3]);
    std::swap(w[2], w[3]);
    q.text = w;
  } else if (kind == "one-letter") {
    q.text = std::string(1, static_cast<char>('a' + rng() % 26));
  } else {  // two-letters
    q.text = Utf8Prefix(Word(rng), 2);
  }
  if (rng() % 5 == 0) q.text = TitleCase(q.text);
  return q;
}

std::vector<Query> Shares::Queries(int count) const {
  std::mt19937_64 rng(seed_ * 13 + 5);
  std::vector<double> cdf;
  double sum = 0;
  for (const auto& [kind, share] : Mix()) cdf.push_back(sum += share);
  std::vector<Query> out;
  for (int i = 0; i < count; ++i) {
    const double u = std::uniform_real_distribution<double>(0, sum)(rng);
    size_t k = static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    out.push_back(MakeQuery(rng, Mix()[std::min(k, cdf.size() - 1)].first));
  }
  return out;
}

std::vector<Query> Shares::Queries(const std::string& kind, int count) const {
  uint64_t h = 1469598103934665603u;  // FNV-1a of the kind: the same on every machine
  for (unsigned char c : kind) h = (h ^ c) * 1099511628211u;
  std::mt19937_64 rng(seed_ * 17 + h);
  std::vector<Query> out;
  for (int i = 0; i < count; ++i) out.push_back(MakeQuery(rng, kind));
  return out;
}

}  // namespace p2pshare::bench
