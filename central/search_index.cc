#include "central/search_index.h"

#include <algorithm>
#include <bit>
#include <unordered_set>
#include <functional>
#include <cstring>
#include <mutex>

#include "common/hex.h"
#include <optional>
#include "common/search_pattern.h"

namespace p2pshare::central {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
// Entries of its list a walk sees at least, when it stops early, to
// estimate the rest from.
constexpr int64_t kEstimateSample = 32;
// Rank classes (common/name_query.h).
constexpr int kClasses = 3;
// Entries a walk checks for adjacent matches (class 0) before a page full
// of word-start matches ends it.
constexpr int64_t kAdjacencySample = 128;
// A word more names have than this is taken as meant: no suggestion for it.
constexpr int64_t kTypoHolders = 2;
// Lists that sieve a walk's ids before an entry is read (decoding an id
// costs a few nanoseconds, reading an entry a cache miss or two).
constexpr size_t kMaxSieves = 8;
constexpr uint64_t kSieveRatio = 4;  // their ids together, per id of the walked list
// How far ahead of its check a walk fetches an entry's signature.
constexpr size_t kAhead = 8;
const std::string kNoRun;


uint64_t HashOf(std::string_view s) { return std::hash<std::string_view>{}(s); }

std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(AsciiLower(static_cast<unsigned char>(c)));
  return out;
}

template <typename Sha>
uint64_t ShaPrefix(const Sha& sha) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | sha[i];
  return v;
}

template <typename Sha>
uint32_t KeyOf(std::string_view name, const Sha& sha) {
  uint64_t h = HashOf(name) * 1000003u ^ ShaPrefix(sha);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

template <typename Sha>
uint32_t ShaKey(const Sha& sha) {
  return static_cast<uint32_t>(ShaPrefix(sha));  // sha bytes are uniform already
}

inline uint32_t Trigram(unsigned char a, unsigned char b, unsigned char c) {
  return uint32_t{AsciiLower(a)} << 16 | uint32_t{AsciiLower(b)} << 8 | AsciiLower(c);
}

// The band of an entry with `holders` holders: 0 for one (or none), else
// floor(log2(holders)), 1 to 31.
int BandOf(size_t holders) {
  return holders < 2 ? 0 : 31 - __builtin_clz(static_cast<uint32_t>(std::min<size_t>(holders, UINT32_MAX)));
}

uint64_t BandKey(int band, uint32_t key) { return uint64_t{static_cast<uint32_t>(band)} << 32 | key; }

// The key of a word's first `n` (1..3) bytes, lowercased; apart from every
// trigram by its top bit.
uint32_t WordStartKey(std::string_view word, size_t n) {
  uint32_t key = 0x80000000u | static_cast<uint32_t>(n) << 24;
  for (size_t i = 0; i < n; ++i) {
    key |= uint32_t{AsciiLower(static_cast<unsigned char>(word[i]))} << (8 * (2 - i));
  }
  return key;
}

// The word beginning at `s[i]`, up to its first 3 bytes.
std::string_view WordHead(std::string_view s, size_t i) {
  size_t end = i;
  while (end < s.size() && end - i < 3 && IsWordByte(static_cast<unsigned char>(s[end]))) ++end;
  return s.substr(i, end - i);
}

// The keys of `name`: its trigrams and its words' heads, a key repeated
// as often as it occurs (callers skip the repeats).
std::vector<uint32_t> KeysOf(std::string_view name) {
  std::vector<uint32_t> out;
  out.reserve(name.size() + 8);
  for (size_t i = 0; i + 2 < name.size(); ++i) {
    out.push_back(Trigram(name[i], name[i + 1], name[i + 2]));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (!IsWordByte(c) || (i > 0 && IsWordByte(static_cast<unsigned char>(name[i - 1])))) continue;
    std::string_view head = WordHead(name, i);
    for (size_t n = 1; n <= head.size(); ++n) out.push_back(WordStartKey(head, n));
  }
  return out;
}

// What a query lets the index look up: the keys every match has (each
// word's), and the keys of each word's head that begins with a word byte
// (which matches of the word-start classes have).
struct QueryKeys {
  std::vector<uint32_t> all;
  std::vector<uint32_t> word_starts;
};

QueryKeys KeysOf(const NameQuery& query) {
  QueryKeys keys;
  for (const NameQuery::Term& term : query.terms()) {
    const SearchPattern& pattern = term.pattern;
    for (const std::string& run : pattern.literal_runs()) {
      for (size_t i = 0; i + 2 < run.size(); ++i) keys.all.push_back(Trigram(run[i], run[i + 1], run[i + 2]));
      // A word inside a run (after a non-word byte of the query) begins a
      // word of every matching name.
      for (size_t i = 1; i < run.size(); ++i) {
        if (IsWordByte(static_cast<unsigned char>(run[i])) &&
            !IsWordByte(static_cast<unsigned char>(run[i - 1]))) {
          std::string_view head = WordHead(run, i);
          keys.all.push_back(WordStartKey(head, head.size()));
        }
      }
    }
    if (pattern.anchored()) {
      std::string_view head = WordHead(pattern.literal_runs().front(), 0);
      keys.word_starts.push_back(WordStartKey(head, head.size()));
    }
  }
  std::sort(keys.all.begin(), keys.all.end());
  keys.all.erase(std::unique(keys.all.begin(), keys.all.end()), keys.all.end());
  return keys;
}

// Whether band `band` (holders 2^band to 2^(band+1) - 1) has holder counts
// in `range`.
bool BandIn(int band, const ValueRange& range) {
  const int64_t lo = int64_t{1} << band, hi = (int64_t{1} << (band + 1)) - 1;
  return range.lo <= hi && range.hi >= lo;
}

// One varint of a posting list, advancing `at` past it.
inline uint32_t ReadVarint(const uint8_t*& at) {
  uint32_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = *at++;
    v |= uint32_t{b & 0x7Fu} << shift;
    if (b < 0x80) return v;
  }
}

// Calls fn(id) for each id of a posting list, ascending, while it returns
// true.
template <typename Posting, typename F>
void DecodeWhile(const Posting& p, F&& fn) {
  const auto* d = reinterpret_cast<const uint8_t*>(p.deltas.data());
  uint32_t id = 0;
  for (uint32_t n = 0; n < p.count; ++n) {
    const uint32_t v = ReadVarint(d);
    id = n == 0 ? v : id + v;
    if (!fn(id)) return;
  }
}

// Reads a posting list forward, answering whether ids (asked in ascending
// order) are in it.
template <typename Posting>
class Cursor {
 public:
  explicit Cursor(const Posting& p)
      : at_(reinterpret_cast<const uint8_t*>(p.deltas.data())), left_(p.count) {}
  bool Has(uint32_t target) {
    while (left_ > 0 && (!started_ || id_ < target)) {
      const uint32_t v = ReadVarint(at_);
      id_ = started_ ? id_ + v : v;
      started_ = true;
      --left_;
    }
    return started_ && id_ == target;
  }

 private:
  const uint8_t* at_;
  uint32_t left_;
  uint32_t id_ = 0;
  bool started_ = false;
};

// Sets the bit of `key` in a 128-bit signature (a name's ~40 keys set
// about a quarter of the bits; a query of a few keys rules out most names).
template <typename Signature>
void AddToSignature(Signature& sig, uint32_t key) {
  const uint32_t bit = (key * 0x9E3779B1u) >> 25;  // 0..127
  sig[bit >> 6] |= uint64_t{1} << (bit & 63);
}

void AppendVarint(std::string& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

}  // namespace

void SearchIndex::IdTable::Insert(uint32_t hash, uint32_t id) {
  if ((count_ + 1) * 2 > slots_.size()) {  // keep the load under 1/2
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.id != kEmpty) Insert(s.hash, s.id);
    }
  }
  size_t i = hash & mask_;
  while (slots_[i].id != kEmpty) i = (i + 1) & mask_;
  slots_[i] = Slot{hash, id};
  count_++;
}

void SearchIndex::Holders::Insert(uint32_t user) {
  if (count_ == 0) {
    one_ = user;
  } else if (count_ == 1) {
    many_ = std::make_unique<std::vector<uint32_t>>(std::initializer_list<uint32_t>{std::min(one_, user), std::max(one_, user)});
  } else {
    many_->insert(std::lower_bound(many_->begin(), many_->end(), user), user);
  }
  ++count_;
}

bool SearchIndex::Holders::Erase(uint32_t user) {
  if (count_ <= 1) {
    if (count_ == 0 || one_ != user) return false;
    count_ = 0;
    return true;
  }
  auto it = std::lower_bound(many_->begin(), many_->end(), user);
  if (it == many_->end() || *it != user) return false;
  many_->erase(it);
  if (--count_ == 1) {
    one_ = many_->front();
    many_.reset();
  }
  return true;
}

uint32_t SearchIndex::NameArena::Store(std::string_view name) {
  if (kBlock - used_ < name.size()) {  // a longer name than any valid one gets a block of its own
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(std::max<size_t>(kBlock, name.size())));
    used_ = 0;
  }
  const auto at = static_cast<uint32_t>((blocks_.size() - 1) << kBlockBits) | used_;
  std::memcpy(blocks_.back().get() + used_, name.data(), name.size());
  used_ = static_cast<uint32_t>(std::min<size_t>(kBlock, used_ + name.size()));
  return at;
}

SearchIndex::SearchIndex() = default;
SearchIndex::~SearchIndex() = default;

uint32_t SearchIndex::UserId(const std::string& user) {
  auto [it, added] = user_ids_.try_emplace(user, static_cast<uint32_t>(users_.size()));
  if (added) users_.push_back(User{user, {}});
  return it->second;
}

void SearchIndex::Index(uint32_t entry) {
  if (signatures_.size() <= entry) signatures_.resize(entry + 1);
  Signature& sig = signatures_[entry];
  sig = Signature{};
  for (uint32_t k : KeysOf(FoldedOf(entries_[entry]))) {
    AddToSignature(sig, k);
    Posting& p = postings_[k];
    if (p.count > 0 && p.last == entry) continue;  // a repeated key
    AppendVarint(p.deltas, p.count == 0 ? entry : entry - p.last);
    p.last = entry;
    p.count++;
  }
}

void SearchIndex::IndexBand(uint32_t entry) {
  Entry& e = entries_[entry];
  const int band = BandOf(e.holders.size());
  if (band == 0 || (e.bands & (1u << band)) != 0) return;
  e.bands |= 1u << band;
  for (uint32_t k : KeysOf(FoldedOf(e))) {
    std::vector<uint32_t>& listed = bands_[BandKey(band, k)];
    if (listed.empty() || listed.back() != entry) listed.push_back(entry);  // once per key
  }
  band_ids_[band].push_back(entry);
}

uint32_t SearchIndex::EntryFor(const std::string& name, const Sha& sha, const Sha& root, int64_t size) {
  const uint32_t key = KeyOf(name, sha);
  uint32_t found = kNone;
  by_key_.ForEach(key, [&](uint32_t id) {
    const Entry& e = entries_[id];
    if (found == kNone && e.sha == sha && e.root == root && e.size == size && NameOf(e) == name) found = id;
  });
  if (found != kNone) {
    if (entries_[found].holders.empty()) {  // a tombstone comes back
      words_.Add(FoldedOf(entries_[found]));
      live_entries_++;
      if (!OtherHolderOfContent(found)) live_contents_++;
    }
    return found;
  }
  const auto id = static_cast<uint32_t>(entries_.size());
  Entry added;
  std::string folded = HasNonAscii(name) ? FoldName(name) : std::string();
  if (!folded.empty() && folded == AsciiLowered(name)) folded.clear();  // only ASCII case folds: matching ignores it
  added.name_at = folded.empty() ? names_.Store(name) : names_.Store(name + folded);
  added.name_size = static_cast<uint32_t>(name.size());
  added.folded_size = static_cast<uint32_t>(folded.size());
  added.size = size;
  added.sha = sha;
  added.root = root;
  entries_.push_back(std::move(added));
  by_key_.Insert(key, id);
  by_sha_.Insert(ShaKey(sha), id);
  Index(id);
  words_.Add(FoldedOf(entries_[id]));
  live_entries_++;
  if (!OtherHolderOfContent(id)) live_contents_++;
  return id;
}

bool SearchIndex::OtherHolderOfContent(uint32_t entry) const {
  const Sha& sha = entries_[entry].sha;
  bool found = false;
  by_sha_.ForEach(ShaKey(sha), [&](uint32_t id) {
    found = found || (id != entry && entries_[id].sha == sha && !entries_[id].holders.empty());
  });
  return found;
}

void SearchIndex::Unhold(uint32_t entry, uint32_t user) {
  Holders& h = entries_[entry].holders;
  if (!h.Erase(user)) return;
  IndexBand(entry);
  held_bytes_ -= entries_[entry].size;
  if (h.empty()) {
    words_.Remove(FoldedOf(entries_[entry]));
    live_entries_--;
    if (!OtherHolderOfContent(entry)) live_contents_--;
  }
}

void SearchIndex::Add(uint32_t user, const FileEntry& file) {
  Sha sha;
  if (!HexDecode(file.sha256, sha)) return;  // the API checked it already
  Sha root{};
  if (!file.root.empty() && !HexDecode(file.root, root)) return;
  Drop(user, file.name);
  uint32_t entry = EntryFor(file.name, sha, root, file.size);
  entries_[entry].holders.Insert(user);
  IndexBand(entry);
  users_[user].files.emplace(HashOf(file.name), entry);
  held_++;
  held_bytes_ += entries_[entry].size;
}

void SearchIndex::Drop(uint32_t user, std::string_view name) {
  auto& files = users_[user].files;
  auto range = files.equal_range(HashOf(name));
  for (auto it = range.first; it != range.second; ++it) {
    if (NameOf(entries_[it->second]) == name) {
      Unhold(it->second, user);
      files.erase(it);
      held_--;
      return;
    }
  }
}

void SearchIndex::DropAll(uint32_t user) {
  auto& files = users_[user].files;
  for (const auto& [hash, entry] : files) Unhold(entry, user);
  held_ -= static_cast<int64_t>(files.size());
  files.clear();
}

void SearchIndex::Replace(const std::string& user, const std::vector<FileEntry>& files) {
  WriterLock lock(mu_);
  uint32_t u = UserId(user);
  DropAll(u);
  users_[u].files.reserve(files.size());
  for (const auto& f : files) Add(u, f);
  MaybeCompact();
  Changed();
}

void SearchIndex::Patch(const std::string& user, const std::vector<FileEntry>& added,
                        const std::vector<std::string>& removed) {
  WriterLock lock(mu_);
  uint32_t u = UserId(user);
  for (const auto& name : removed) Drop(u, name);
  for (const auto& f : added) Add(u, f);
  MaybeCompact();
  Changed();
}

bool SearchIndex::Holds(uint32_t user, std::string_view name) const {
  const auto& files = users_[user].files;
  auto range = files.equal_range(HashOf(name));
  for (auto it = range.first; it != range.second; ++it) {
    if (NameOf(entries_[it->second]) == name) return true;
  }
  return false;
}

int64_t SearchIndex::FilesOf(const std::string& user) const {
  ReaderLock lock(mu_);
  auto it = user_ids_.find(user);
  return it == user_ids_.end() ? 0 : static_cast<int64_t>(users_[it->second].files.size());
}

int64_t SearchIndex::CountAfterPatch(const std::string& user, const std::vector<FileEntry>& added,
                                     const std::vector<std::string>& removed) const {
  ReaderLock lock(mu_);
  auto it = user_ids_.find(user);
  if (it == user_ids_.end()) return static_cast<int64_t>(added.size());
  const uint32_t u = it->second;
  std::unordered_set<std::string_view> gone;  // held names the patch drops or replaces
  for (const std::string& name : removed) {
    if (Holds(u, name)) gone.insert(name);
  }
  for (const FileEntry& f : added) {
    if (Holds(u, f.name)) gone.insert(f.name);
  }
  return static_cast<int64_t>(users_[u].files.size() - gone.size() + added.size());
}

void SearchIndex::RemoveUser(const std::string& user) {
  WriterLock lock(mu_);
  auto it = user_ids_.find(user);
  if (it == user_ids_.end()) return;
  DropAll(it->second);
  MaybeCompact();
  Changed();
}

IndexHit SearchIndex::HitFor(uint32_t entry, size_t max_holders) const {
  const Entry& e = entries_[entry];
  IndexHit hit{std::string(NameOf(e)), e.size, HexEncode(e.sha), {}, static_cast<int64_t>(e.holders.size())};
  std::vector<const std::string*> names;
  names.reserve(e.holders.size());
  for (uint32_t u : e.holders) names.push_back(&users_[u].name);
  const size_t shown = std::min(max_holders, names.size());
  std::partial_sort(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown), names.end(),
                    [](const std::string* a, const std::string* b) { return *a < *b; });
  for (size_t i = 0; i < shown; ++i) hit.holders.push_back(*names[i]);
  return hit;
}

namespace {

// A multi-holder match, for ranking.
struct Ranked {
  uint32_t id;
  uint32_t holders;
};

}  // namespace

// One search's walk over the index, under the index's reader lock: the
// budget it may spend, the matches it keeps in rank order and counts, and
// the walks over the band lists and the single-holder lists that find them.
class SearchIndex::Walk {
 public:
  Walk(const SearchIndex& index, const NameQuery& query, int64_t budget, size_t want)
      : ix_(index), query_(query), budget_(budget), work_budget_(budget * kWorkPerEntry), want_(want) {}

  // Finds the matches of the classes in `classes` (bit 1 << class) among
  // the entries in every list of `lookup` (every entry when none), until
  // `full()`; whether it saw them all. `known`: the lists alone prove the
  // (one) class asked for.
  template <class Full>
  bool Find(int classes, const std::vector<uint32_t>& lookup, bool known, const Full& full);
  int64_t counted() const { return counted_[0] + counted_[1] + counted_[2]; }
  int64_t counted(int cls) const { return counted_[cls]; }
  int64_t examined() const { return page_.examined; }
  // The page without its hits: the count (estimated unless `exact`) and
  // what the walk spent; `order` gets the matches kept, in rank order.
  IndexPage Finish(bool exact, std::vector<uint32_t>* order);

 private:
  // Counts `e` against the budget; false (and the walk cut) when it is spent.
  // The budget counts entries and the matching work they cost (a name's
  // bytes times the pattern's words, common/search_pattern.h): names planted
  // long for a long pattern spend it as fast as their work grows, so no
  // search costs more than budget x kWorkPerEntry steps, whatever the index
  // holds.
  bool Spend(const Entry& e);
  // Keeps a match of class `cls` (the first `want` of each), counts all.
  void Keep(int cls, uint32_t id);
  // For Find: `lookup`'s signature, and the class asked for.
  void Ask(int classes, const std::vector<uint32_t>& lookup, bool known);
  bool MayMatch(uint32_t id) const;
  // The class of `e`'s match when it is one asked for, else -1.
  int Match(const Entry& e) const;
  // Bands, most holders first; a band's matches sorted before they count.
  // False when the budget ran out.
  template <class Full>
  bool WalkBands(const std::vector<uint32_t>& lookup, const Full& full);
  // Single holders, in id order, from the shortest list (below).
  template <class Full>
  bool WalkSingles(const std::vector<uint32_t>& lookup, const Full& full);

  const SearchIndex& ix_;
  const NameQuery& query_;
  const int64_t budget_, work_budget_;
  const size_t want_;
  IndexPage page_;
  bool cut_ = false;  // the budget ran out
  // Matches of each class, in rank order: multi-holder ones by band, then
  // single-holder ones; the first `want_` kept, all counted.
  std::vector<uint32_t> ranked_[kClasses];
  int64_t counted_[kClasses] = {0, 0, 0};
  int64_t unseen_matches_ = 0;  // the estimate for what a stopped walk did not see
  Signature wanted_{};
  int classes_ = 0;
  bool known_ = false;
};

bool SearchIndex::Walk::Spend(const Entry& e) {
  if (page_.examined >= budget_ || page_.work >= work_budget_) {
    cut_ = true;
    return false;
  }
  ++page_.examined;
  page_.work += query_.Cost(ix_.FoldedOf(e).size());
  return true;
}

void SearchIndex::Walk::Keep(int cls, uint32_t id) {
  if (ranked_[cls].size() < want_) ranked_[cls].push_back(id);
  counted_[cls]++;
}

void SearchIndex::Walk::Ask(int classes, const std::vector<uint32_t>& lookup, bool known) {
  wanted_ = Signature{};
  for (uint32_t k : lookup) AddToSignature(wanted_, k);
  classes_ = classes;
  known_ = known;
}

bool SearchIndex::Walk::MayMatch(uint32_t id) const {
  const Signature& sig = ix_.signatures_[id];
  return (sig[0] & wanted_[0]) == wanted_[0] && (sig[1] & wanted_[1]) == wanted_[1];
}

int SearchIndex::Walk::Match(const Entry& e) const {
  if (!query_.Admits(e.size, static_cast<int64_t>(e.holders.size()), ix_.NameOf(e))) return -1;
  if (known_) return std::countr_zero(static_cast<unsigned>(classes_));
  const int c = query_.Rank(ix_.FoldedOf(e));
  return c >= 0 && (classes_ & (1 << c)) != 0 ? c : -1;
}

template <class Full>
bool SearchIndex::Walk::Find(int classes, const std::vector<uint32_t>& lookup, bool known, const Full& full) {
  Ask(classes, lookup, known);
  return WalkBands(lookup, full) && WalkSingles(lookup, full);
}

template <class Full>
bool SearchIndex::Walk::WalkBands(const std::vector<uint32_t>& lookup, const Full& full) {
  for (int band = 31; band >= 1; --band) {
    if (ix_.band_ids_[band].empty() || !BandIn(band, query_.holders())) continue;
    const std::vector<uint32_t>* list = &ix_.band_ids_[band];
    for (uint32_t k : lookup) {
      auto it = ix_.bands_.find(BandKey(band, k));
      if (it == ix_.bands_.end()) {
        list = nullptr;  // no entry of this band has the key
        break;
      }
      if (it->second.size() < list->size()) list = &it->second;
    }
    if (list == nullptr) continue;
    std::vector<Ranked> found[kClasses];
    for (size_t i = 0; i < list->size(); ++i) {
      const uint32_t id = (*list)[i];
      if (i + kAhead < list->size()) __builtin_prefetch(&ix_.signatures_[(*list)[i + kAhead]]);
      if (!MayMatch(id)) continue;
      const Entry& e = ix_.entries_[id];
      if (BandOf(e.holders.size()) != band) continue;  // a stale listing
      if (!Spend(e)) return false;
      const int c = Match(e);
      if (c >= 0) found[c].push_back(Ranked{id, static_cast<uint32_t>(e.holders.size())});
    }
    for (int c = 0; c < kClasses; ++c) {
      std::sort(found[c].begin(), found[c].end(), [](const Ranked& a, const Ranked& b) {
        return a.holders != b.holders ? a.holders > b.holders : a.id < b.id;
      });
      for (const Ranked& r : found[c]) Keep(c, r.id);
    }
    if (full()) break;  // the walk below only samples, for the estimate
  }
  return true;
}

// The next shortest lists sieve the walked list's ids (while all the sieves
// together are at most 4 times longer: each decodes its ids up to the
// walk's), then the signature, before any entry is read. The walk stops as
// soon as it is full and has seen enough of its list to estimate the rest
// (when the bands filled the page, that is all it does).
template <class Full>
bool SearchIndex::Walk::WalkSingles(const std::vector<uint32_t>& lookup, const Full& full) {
  if (!query_.holders().Has(1)) return true;  // a holders filter leaves no single holder in
  std::vector<const Posting*> lists;
  for (uint32_t k : lookup) {
    auto it = ix_.postings_.find(k);
    if (it == ix_.postings_.end()) return true;  // no entry has the key
    lists.push_back(&it->second);
  }
  std::sort(lists.begin(), lists.end(), [](const Posting* a, const Posting* b) { return a->count < b->count; });
  lists.erase(std::unique(lists.begin(), lists.end()), lists.end());
  std::vector<Cursor<Posting>> sieves;
  uint64_t sieved = 0;  // ids in the sieves
  for (size_t i = 1; i < lists.size() && sieves.size() < kMaxSieves; ++i) {
    sieved += lists[i]->count;
    if (sieved > kSieveRatio * uint64_t{lists[0]->count}) break;
    sieves.emplace_back(*lists[i]);
  }
  // Of the walked list, for the estimate: ids walked, those of multi-holder
  // entries (the bands counted them), single-holder matches.
  int64_t seen = 0, multi = 0, found = 0;
  auto visit = [&](uint32_t id) {
    for (auto& sieve : sieves) {
      if (!sieve.Has(id)) return ++seen, true;
    }
    if (!MayMatch(id)) return ++seen, true;
    const Entry& e = ix_.entries_[id];
    if (e.holders.size() != 1) return ++seen, ++multi, true;
    if ((full() && seen - multi >= kEstimateSample) || !Spend(e)) return false;
    ++seen;
    if (const int c = Match(e); c >= 0) {
      Keep(c, id);
      ++found;
    }
    return true;
  };
  bool ended = true;
  const int64_t length = lists.empty() ? static_cast<int64_t>(ix_.entries_.size()) : lists[0]->count;
  if (!lists.empty()) {
    // Each id's signature is fetched kAhead ids before it is checked: the
    // walk's cost is mostly cache misses, and these overlap.
    uint32_t ahead[kAhead];
    size_t decoded = 0;
    DecodeWhile(*lists[0], [&](uint32_t id) {
      __builtin_prefetch(&ix_.signatures_[id]);
      if (decoded >= kAhead && !(ended = visit(ahead[decoded % kAhead]))) return false;
      ahead[decoded++ % kAhead] = id;
      return true;
    });
    for (size_t i = decoded > kAhead ? decoded - kAhead : 0; ended && i < decoded; ++i) {
      ended = visit(ahead[i % kAhead]);
    }
  } else {
    for (uint32_t id = 0; id < ix_.entries_.size() && (ended = visit(id)); ++id) {
    }
  }
  // Stopped early: the rest of the list is taken to hold single-holder
  // matches as often as what was seen of it.
  if (!ended && seen > multi) unseen_matches_ += found * (length - seen) / (seen - multi);
  return ended;
}

IndexPage SearchIndex::Walk::Finish(bool exact, std::vector<uint32_t>* order) {
  IndexPage page = std::move(page_);
  page.total = counted() + (exact ? 0 : unseen_matches_);
  page.total_exact = exact && !cut_;
  if (query_.matches_everything() && !query_.has_filters()) {  // the count is at hand
    page.total = ix_.live_entries_;
    page.total_exact = true;
  }
  page.budget_spent = cut_;
  *order = std::move(ranked_[0]);
  for (int c = 1; c < kClasses; ++c) order->insert(order->end(), ranked_[c].begin(), ranked_[c].end());
  return page;
}

bool ParseSearchSort(std::string_view text, SearchSort* sort) {
  static constexpr std::pair<std::string_view, SearchSort> kSorts[] = {
      {"relevance", SearchSort::kRelevance}, {"holders", SearchSort::kHolders},
      {"size", SearchSort::kSize}, {"name", SearchSort::kName}};
  for (const auto& [name, value] : kSorts) {
    if (text == name) {
      *sort = value;
      return true;
    }
  }
  return false;
}

IndexPage SearchIndex::Search(std::string_view query, int64_t limit, int64_t offset, int64_t budget) const {
  auto parsed = NameQuery::Parse(query);
  if (!parsed.ok()) return IndexPage{};
  return Search(*parsed, SearchSort::kRelevance, limit, offset, budget);
}

IndexPage SearchIndex::Search(const NameQuery& query, SearchSort sort, int64_t limit, int64_t offset,
                              int64_t budget) const {
  const QueryKeys keys = KeysOf(query);
  offset = std::clamp<int64_t>(offset, 0, kSearchWindow);
  limit = std::clamp<int64_t>(limit, 0, kSearchWindow - offset);
  const bool sorted = sort != SearchSort::kRelevance;
  // A sorted page needs every match: the walk keeps all it finds.
  const auto want = sorted ? static_cast<size_t>(budget) : static_cast<size_t>(limit + offset);
  const auto count_to = static_cast<int64_t>(want);  // matches a walk needs before it stops
  ReaderLock lock(mu_);
  IndexPage page;
  std::vector<uint32_t> order;
  if (std::all_of(keys.all.begin(), keys.all.end(), [&](uint32_t k) { return postings_.contains(k); })) {
    page = Walked(query, keys.all, keys.word_starts, budget, want, count_to, &order);  // else a key in no name: no match
  }
  if (sorted) SortMatches(sort, &order);
  for (auto i = static_cast<size_t>(offset); i < std::min(order.size(), static_cast<size_t>(limit + offset)); ++i) {
    page.hits.push_back(HitFor(order[i], kSearchHolders));
  }
  if (page.total < kSuggestBelow) page.suggestion = SuggestLocked(query);
  return page;
}

IndexPage SearchIndex::Walked(const NameQuery& query, const std::vector<uint32_t>& all,
                              const std::vector<uint32_t>& word_starts, int64_t budget, size_t want,
                              int64_t count_to, std::vector<uint32_t>* order) const {
  const QueryKeys keys{all, word_starts};
  // A query of one word of one to three word bytes and nothing else ("a",
  // "mp", "the"): its word's list holds exactly its word-start matches.
  const auto& terms = query.terms();
  const bool short_word = terms.size() == 1 && !query.has_filters() && terms[0].plain &&
                          terms[0].text.size() <= 3;
  std::vector<uint32_t> word_keys = keys.all;
  word_keys.insert(word_keys.end(), keys.word_starts.begin(), keys.word_starts.end());
  // Whether the shortest word-start list is shorter than every list of keys.all.
  auto word_starts_shortest = [&] {
    uint32_t shortest = UINT32_MAX;
    for (uint32_t k : keys.word_starts) {
      auto it = postings_.find(k);
      if (it == postings_.end()) return true;  // no word starts so: the walk below is empty
      shortest = std::min(shortest, it->second.count);
    }
    return std::all_of(keys.all.begin(), keys.all.end(), [&](uint32_t k) { return postings_.at(k).count > shortest; });
  };
  Walk walk(*this, query, budget, want);
  auto all_counted = [&] { return walk.counted() >= count_to; };
  // The word-start classes are done when class 0 fills the page, or when
  // both fill it and kAdjacencySample entries were checked for adjacent ones.
  auto word_starts_counted = [&] {
    return walk.counted(0) >= count_to ||
           (walk.counted(0) + walk.counted(1) >= count_to && walk.examined() >= kAdjacencySample);
  };
  bool exact;
  if (keys.word_starts.empty()) {
    exact = walk.Find(7, keys.all, false, all_counted);  // no word-start classes to tell apart
  } else if (!word_starts_shortest()) {
    // The shortest list holds every class: one walk finds them all, and
    // ends once the word starts fill the page and the count (every match
    // inside a word ranks after them).
    exact = walk.Find(7, keys.all, false, word_starts_counted);
  } else {
    // Word starts from their own shorter list; then, if the page or the
    // count still need them, the matches inside words.
    exact = walk.Find(3, word_keys, short_word, word_starts_counted);
    if (exact) {
      exact = walk.Find(4, keys.all, false, all_counted);
    } else {
      // The page is full of word starts; for the count, a sample of the
      // matches inside words (32 entries checked) is extrapolated.
      const int64_t before = walk.examined();
      walk.Find(4, keys.all, false, [&] { return walk.examined() - before >= kEstimateSample; });
    }
  }
  return walk.Finish(exact, order);
}

void SearchIndex::SortMatches(SearchSort sort, std::vector<uint32_t>* order) const {
  auto by = [&](auto key) {
    std::stable_sort(order->begin(), order->end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
  };
  switch (sort) {
    case SearchSort::kHolders:
      by([&](uint32_t id) { return -static_cast<int64_t>(entries_[id].holders.size()); });
      break;
    case SearchSort::kSize:
      by([&](uint32_t id) { return -entries_[id].size; });
      break;
    case SearchSort::kName:
      std::stable_sort(order->begin(), order->end(), [&](uint32_t a, uint32_t b) {
        const std::string_view x = FoldedOf(entries_[a]), y = FoldedOf(entries_[b]);
        const auto lower = [](char c) { return AsciiLower(static_cast<unsigned char>(c)); };
        return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(),
                                            [&](char l, char r) { return lower(l) < lower(r); });
      });
      break;
    case SearchSort::kRelevance:
      break;
  }
}

std::string SearchIndex::Suggest(const NameQuery& query) const {
  ReaderLock lock(mu_);
  return SuggestLocked(query);
}

std::string SearchIndex::SuggestLocked(const NameQuery& query) const {
  std::vector<std::string> words;
  bool replaced = false;
  for (const NameQuery::Term& t : query.terms()) {
    std::string closest;
    // A word at most kTypoHolders names have (a word many have is meant),
    // next to one four times as common.
    const int64_t count = t.plain ? words_.CountOf(t.text) : kTypoHolders + 1;
    if (count <= kTypoHolders) closest = words_.Closest(t.text, 4 * count);
    replaced = replaced || !closest.empty();
    words.push_back(closest.empty() ? t.text : closest);
  }
  return replaced ? query.TextWith(words) : "";
}

std::optional<IndexHit> SearchIndex::FindByHash(std::string_view sha256_hex) const {
  Sha sha;
  if (!HexDecode(sha256_hex, sha)) return std::nullopt;
  ReaderLock lock(mu_);
  // What holders claim about this content: (size, root) each, with who
  // claims it. Only the hash names content; a size or root is a claim.
  struct Claim {
    int64_t size;
    const Sha* root;
    uint32_t first;  // its oldest entry: who claimed it first
    uint32_t named;  // its entry with the lowest name
    std::vector<uint32_t> users;
  };
  std::vector<Claim> claims;
  by_sha_.ForEach(ShaKey(sha), [&](uint32_t id) {
    const Entry& e = entries_[id];
    if (e.sha != sha || e.holders.empty()) return;
    auto it = std::find_if(claims.begin(), claims.end(),
                           [&](const Claim& c) { return c.size == e.size && *c.root == e.root; });
    if (it == claims.end()) it = claims.insert(claims.end(), Claim{e.size, &e.root, id, id, {}});
    it->first = std::min(it->first, id);
    if (NameOf(e) < NameOf(entries_[it->named])) it->named = id;
    it->users.insert(it->users.end(), e.holders.begin(), e.holders.end());
  });
  if (claims.empty()) return std::nullopt;
  for (Claim& c : claims) {
    std::sort(c.users.begin(), c.users.end());
    c.users.erase(std::unique(c.users.begin(), c.users.end()), c.users.end());
  }
  // The claim most accounts make stands for the content; of as many, the
  // one made first (free accounts can outvote one honest holder only by
  // lying before it). Each holder is listed once with its own claim (the
  // standing one when it makes several), so a liar's listing is told
  // apart instead of overriding the honest holders'.
  std::stable_sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    return a.users.size() != b.users.size() ? a.users.size() > b.users.size() : a.first < b.first;
  });
  IndexHit hit = HitFor(claims.front().named, 0);
  std::vector<std::pair<uint32_t, const Claim*>> holders;  // (user, its claim)
  for (const Claim& c : claims) {
    for (uint32_t u : c.users) {
      if (std::none_of(holders.begin(), holders.end(), [&](const auto& h) { return h.first == u; })) {
        holders.emplace_back(u, &c);
      }
    }
  }
  std::sort(holders.begin(), holders.end(),
            [&](const auto& a, const auto& b) { return users_[a.first].name < users_[b.first].name; });
  static const Sha kNoRoot{};
  for (const auto& [u, claim] : holders) {
    hit.holders.push_back(users_[u].name);
    hit.roots.push_back(*claim->root == kNoRoot ? "" : HexEncode(claim->root->data(), claim->root->size()));
    hit.sizes.push_back(claim->size);
  }
  hit.holders_total = static_cast<int64_t>(hit.holders.size());
  return hit;
}

int64_t SearchIndex::unique_files() const {
  ReaderLock lock(mu_);
  return live_entries_;
}

int64_t SearchIndex::held_files() const {
  ReaderLock lock(mu_);
  return held_;
}

SearchIndex::Totals SearchIndex::totals() const {
  ReaderLock lock(mu_);
  return Totals{held_, live_entries_, live_contents_, held_bytes_};
}

void SearchIndex::Compact() {
  WriterLock lock(mu_);
  CompactLocked();
}

void SearchIndex::MaybeCompact() {
  const int64_t dead = static_cast<int64_t>(entries_.size()) - live_entries_;
  if (dead > 4096 && dead > live_entries_) CompactLocked();
}

void SearchIndex::CompactLocked() {
  std::vector<uint32_t> renumber(entries_.size(), kNone);
  std::vector<Entry> kept;
  kept.reserve(static_cast<size_t>(live_entries_));
  NameArena names;  // the live names only
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    if (entries_[id].holders.empty()) continue;
    renumber[id] = static_cast<uint32_t>(kept.size());
    kept.push_back(std::move(entries_[id]));
    const Entry& e = kept.back();
    kept.back().name_at = names.Store(names_.View(e.name_at, e.name_size + e.folded_size));
  }
  entries_ = std::move(kept);
  names_ = std::move(names);
  by_key_.Clear();
  by_sha_.Clear();
  signatures_.clear();
  signatures_.reserve(entries_.size());
  postings_.clear();
  bands_.clear();
  for (auto& ids : band_ids_) ids.clear();
  words_.Clear();  // the words of tombstones go
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    words_.Add(FoldedOf(entries_[id]));
    by_key_.Insert(KeyOf(NameOf(entries_[id]), entries_[id].sha), id);
    by_sha_.Insert(ShaKey(entries_[id].sha), id);
    Index(id);
    entries_[id].bands = 0;
    IndexBand(id);
  }
  Changed();
  for (User& u : users_) {
    for (auto& [hash, entry] : u.files) entry = renumber[entry];
  }
}

}  // namespace p2pshare::central
