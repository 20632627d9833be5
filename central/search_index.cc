#include "central/search_index.h"

#include <algorithm>
#include <unordered_set>
#include <functional>
#include <mutex>

#include "common/hex.h"
#include "common/search_pattern.h"

namespace p2pshare::central {
namespace {

constexpr uint32_t kNone = UINT32_MAX;


uint64_t HashOf(std::string_view s) { return std::hash<std::string_view>{}(s); }

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

// The distinct trigrams of `name`'s lowercased bytes.
std::vector<uint32_t> TrigramsOf(std::string_view name) {
  std::vector<uint32_t> out;
  if (name.size() < 3) return out;
  out.reserve(name.size() - 2);
  for (size_t i = 0; i + 2 < name.size(); ++i) {
    out.push_back(Trigram(name[i], name[i + 1], name[i + 2]));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Calls fn(id) for each id of a posting list, ascending.
template <typename Posting, typename F>
void DecodeInto(const Posting& p, F&& fn) {
  const auto* d = reinterpret_cast<const uint8_t*>(p.deltas.data());
  uint32_t id = 0;
  for (uint32_t n = 0; n < p.count; ++n) {
    uint32_t v = 0;
    int shift = 0;
    for (;;) {
      uint8_t b = *d++;
      v |= uint32_t{b & 0x7Fu} << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    id = n == 0 ? v : id + v;
    fn(id);
  }
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

SearchIndex::SearchIndex() = default;
SearchIndex::~SearchIndex() = default;

uint32_t SearchIndex::UserId(const std::string& user) {
  auto [it, added] = user_ids_.try_emplace(user, static_cast<uint32_t>(users_.size()));
  if (added) users_.push_back(User{user, {}});
  return it->second;
}

void SearchIndex::Index(uint32_t entry) {
  for (uint32_t t : TrigramsOf(entries_[entry].name)) {
    Posting& p = postings_[t];
    AppendVarint(p.deltas, p.count == 0 ? entry : entry - p.last);
    p.last = entry;
    p.count++;
  }
}

uint32_t SearchIndex::EntryFor(const std::string& name, const Sha& sha, int64_t size) {
  const uint32_t key = KeyOf(name, sha);
  uint32_t found = kNone;
  by_key_.ForEach(key, [&](uint32_t id) {
    if (found == kNone && entries_[id].sha == sha && entries_[id].name == name) found = id;
  });
  if (found != kNone) {
    Entry& e = entries_[found];
    if (e.holders.empty()) {
      e.size = size;  // a tombstone comes back
      live_entries_++;
    } else if (size > e.size) {  // the present holders count at the larger size too
      held_bytes_ += (size - e.size) * static_cast<int64_t>(e.holders.size());
      e.size = size;
    }
    return found;
  }
  const auto id = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{name, sha, size, {}});
  by_key_.Insert(key, id);
  by_sha_.Insert(ShaKey(sha), id);
  Index(id);
  live_entries_++;
  return id;
}

void SearchIndex::Unhold(uint32_t entry, uint32_t user) {
  auto& h = entries_[entry].holders;
  auto it = std::lower_bound(h.begin(), h.end(), user);
  if (it == h.end() || *it != user) return;
  h.erase(it);
  held_bytes_ -= entries_[entry].size;
  if (h.empty()) {
    h.shrink_to_fit();
    live_entries_--;
  }
}

void SearchIndex::Add(uint32_t user, const FileEntry& file) {
  Sha sha;
  if (!HexDecode(file.sha256, sha)) return;  // the API checked it already
  Drop(user, file.name);
  uint32_t entry = EntryFor(file.name, sha, file.size);
  auto& h = entries_[entry].holders;
  h.insert(std::lower_bound(h.begin(), h.end(), user), user);
  users_[user].files.emplace(HashOf(file.name), entry);
  held_++;
  held_bytes_ += entries_[entry].size;
}

void SearchIndex::Drop(uint32_t user, std::string_view name) {
  auto& files = users_[user].files;
  auto range = files.equal_range(HashOf(name));
  for (auto it = range.first; it != range.second; ++it) {
    if (entries_[it->second].name == name) {
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
  std::unique_lock<std::shared_mutex> lock(mu_);
  uint32_t u = UserId(user);
  DropAll(u);
  users_[u].files.reserve(files.size());
  for (const auto& f : files) Add(u, f);
  MaybeCompact();
}

void SearchIndex::Patch(const std::string& user, const std::vector<FileEntry>& added,
                        const std::vector<std::string>& removed) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  uint32_t u = UserId(user);
  for (const auto& name : removed) Drop(u, name);
  for (const auto& f : added) Add(u, f);
  MaybeCompact();
}

bool SearchIndex::Holds(uint32_t user, std::string_view name) const {
  const auto& files = users_[user].files;
  auto range = files.equal_range(HashOf(name));
  for (auto it = range.first; it != range.second; ++it) {
    if (entries_[it->second].name == name) return true;
  }
  return false;
}

int64_t SearchIndex::FilesOf(const std::string& user) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = user_ids_.find(user);
  return it == user_ids_.end() ? 0 : static_cast<int64_t>(users_[it->second].files.size());
}

int64_t SearchIndex::CountAfterPatch(const std::string& user, const std::vector<FileEntry>& added,
                                     const std::vector<std::string>& removed) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
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
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = user_ids_.find(user);
  if (it == user_ids_.end()) return;
  DropAll(it->second);
  MaybeCompact();
}

IndexHit SearchIndex::HitFor(uint32_t entry) const {
  const Entry& e = entries_[entry];
  IndexHit hit{e.name, e.size, HexEncode(e.sha), {}};
  for (uint32_t u : e.holders) hit.holders.push_back(users_[u].name);
  std::sort(hit.holders.begin(), hit.holders.end());
  return hit;
}

int64_t SearchIndex::Cost(std::string_view query) const {
  const SearchPattern pattern(query);
  std::shared_lock<std::shared_mutex> lock(mu_);
  int64_t cost = static_cast<int64_t>(entries_.size());
  for (const std::string& run : pattern.literal_runs()) {
    for (size_t i = 0; i + 2 < run.size(); ++i) {
      auto it = postings_.find(Trigram(run[i], run[i + 1], run[i + 2]));
      if (it == postings_.end()) return 0;
      cost = std::min<int64_t>(cost, it->second.count);
    }
  }
  return cost;
}

IndexPage SearchIndex::Search(std::string_view query, int64_t limit, int64_t offset) const {
  const SearchPattern pattern(query);
  std::shared_lock<std::shared_mutex> lock(mu_);
  // The query's trigrams, rarest first: the rarest list gives the
  // candidates, the next ones narrow them while that is cheaper than
  // checking each candidate against the pattern.
  std::vector<const Posting*> lists;
  for (const std::string& run : pattern.literal_runs()) {
    for (size_t i = 0; i + 2 < run.size(); ++i) {
      auto it = postings_.find(Trigram(run[i], run[i + 1], run[i + 2]));
      if (it == postings_.end()) return IndexPage{};  // no name contains it
      lists.push_back(&it->second);
    }
  }
  std::sort(lists.begin(), lists.end(),
            [](const Posting* a, const Posting* b) { return a->count < b->count; });
  lists.erase(std::unique(lists.begin(), lists.end()), lists.end());

  std::vector<uint32_t> candidates;
  if (!lists.empty()) {
    candidates.reserve(lists[0]->count);
    DecodeInto(*lists[0], [&](uint32_t id) { candidates.push_back(id); });
    for (size_t l = 1; l < lists.size() && candidates.size() > 16; ++l) {
      if (lists[l]->count > 32 * candidates.size()) break;  // checking is cheaper now
      size_t keep = 0, at = 0;
      DecodeInto(*lists[l], [&](uint32_t id) {
        while (at < candidates.size() && candidates[at] < id) ++at;
        if (at < candidates.size() && candidates[at] == id) candidates[keep++] = candidates[at++];
      });
      candidates.resize(keep);
    }
  }
  std::vector<uint32_t> matches;
  auto consider = [&](uint32_t id) {
    const Entry& e = entries_[id];
    if (!e.holders.empty() && pattern.Matches(e.name)) matches.push_back(id);
  };
  if (!lists.empty()) {
    for (uint32_t id : candidates) consider(id);
  } else {
    for (uint32_t id = 0; id < entries_.size(); ++id) consider(id);
  }

  IndexPage page;
  page.total = static_cast<int64_t>(matches.size());
  const auto first = static_cast<size_t>(std::min<int64_t>(offset, page.total));
  const auto last = static_cast<size_t>(std::min<int64_t>(page.total, offset + limit));
  auto by_name = [&](uint32_t a, uint32_t b) {
    const Entry& x = entries_[a];
    const Entry& y = entries_[b];
    int c = x.name.compare(y.name);
    return c != 0 ? c < 0 : x.sha < y.sha;
  };
  std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(last),
                    matches.end(), by_name);
  for (size_t i = first; i < last; ++i) page.hits.push_back(HitFor(matches[i]));
  return page;
}

std::optional<IndexHit> SearchIndex::FindByHash(std::string_view sha256_hex) const {
  Sha sha;
  if (!HexDecode(sha256_hex, sha)) return std::nullopt;
  std::shared_lock<std::shared_mutex> lock(mu_);
  uint32_t best = kNone;
  std::vector<uint32_t> holders;
  by_sha_.ForEach(ShaKey(sha), [&](uint32_t id) {
    const Entry& e = entries_[id];
    if (e.sha != sha || e.holders.empty()) return;
    if (best == kNone || e.name < entries_[best].name) best = id;
    holders.insert(holders.end(), e.holders.begin(), e.holders.end());
  });
  if (best == kNone) return std::nullopt;
  IndexHit hit = HitFor(best);
  std::sort(holders.begin(), holders.end());
  holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
  hit.holders.clear();
  for (uint32_t u : holders) hit.holders.push_back(users_[u].name);
  std::sort(hit.holders.begin(), hit.holders.end());
  return hit;
}

int64_t SearchIndex::unique_files() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return live_entries_;
}

int64_t SearchIndex::held_files() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return held_;
}

SearchIndex::Totals SearchIndex::totals() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return Totals{held_, live_entries_, held_bytes_};
}

void SearchIndex::Compact() {
  std::unique_lock<std::shared_mutex> lock(mu_);
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
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    if (entries_[id].holders.empty()) continue;
    renumber[id] = static_cast<uint32_t>(kept.size());
    kept.push_back(std::move(entries_[id]));
  }
  entries_ = std::move(kept);
  by_key_.Clear();
  by_sha_.Clear();
  postings_.clear();
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    by_key_.Insert(KeyOf(entries_[id].name, entries_[id].sha), id);
    by_sha_.Insert(ShaKey(entries_[id].sha), id);
    Index(id);
  }
  for (User& u : users_) {
    for (auto& [hash, entry] : u.files) entry = renumber[entry];
  }
}

}  // namespace p2pshare::central
