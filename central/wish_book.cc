#include "central/wish_book.h"

#include <algorithm>

#include "common/hex.h"

namespace p2pshare::central {
namespace {

// The key of a word's first `n` (2 or 3) bytes, lowercased in ASCII.
uint32_t HeadKey(std::string_view word, size_t n) {
  uint32_t key = static_cast<uint32_t>(n) << 24;
  for (size_t i = 0; i < n; ++i) key |= uint32_t{p2pshare::AsciiLower(static_cast<unsigned char>(word[i]))} << (8 * (2 - i));
  return key;
}

// The word a wish is filed under: its longest word that begins with a word
// byte and has two of them at least; nullptr when none does.
const NameQuery::Term* FilingTerm(const NameQuery& query) {
  const NameQuery::Term* best = nullptr;
  size_t best_length = 0;
  for (const NameQuery::Term& t : query.terms()) {
    if (!t.pattern.anchored()) continue;
    const std::string& run = t.pattern.literal_runs().front();
    size_t n = 0;
    while (n < run.size() && IsWordByte(static_cast<unsigned char>(run[n]))) ++n;
    if (n >= 2 && n > best_length) {
      best = &t;
      best_length = n;
    }
  }
  return best;
}

uint32_t FilingKey(const NameQuery::Term& t) {
  const std::string& run = t.pattern.literal_runs().front();
  size_t n = 0;
  while (n < run.size() && n < 3 && IsWordByte(static_cast<unsigned char>(run[n]))) ++n;
  return HeadKey(run, n);
}

}  // namespace

Status CheckWishQuery(const NameQuery& query) {
  if (FilingTerm(query) == nullptr) {
    return InvalidArgument("a wish needs a word of two letters or digits or more to watch for (such as 'beatles')",
                           "bad_wish");
  }
  return Status::Ok();
}

uint64_t SeenKey(const std::string& sha256_hex) {
  uint64_t v = 0;
  for (size_t i = 0; i < 16 && i < sha256_hex.size(); ++i) {
    const char c = sha256_hex[i];
    v = (v << 4) | static_cast<uint64_t>(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return v;
}

void WishBook::Put(WishRecord wish) {
  auto parsed = NameQuery::Parse(wish.query);
  if (!parsed.ok() || !CheckWishQuery(*parsed).ok()) return;  // the store holds only good ones
  MutexLock lock(mu_);
  RemoveLocked(wish.id);
  auto filed = std::make_unique<Filed>(Filed{std::move(wish), std::move(*parsed), 0});
  filed->head = FilingKey(*FilingTerm(filed->query));
  by_head_[filed->head].push_back(filed->record.id);
  const int64_t id = filed->record.id;
  wishes_[id] = std::move(filed);
}

void WishBook::Remove(int64_t id) {
  MutexLock lock(mu_);
  RemoveLocked(id);
}

void WishBook::RemoveLocked(int64_t id) {
  auto it = wishes_.find(id);
  if (it == wishes_.end()) return;
  auto& bucket = by_head_[it->second->head];
  bucket.erase(std::remove(bucket.begin(), bucket.end(), id), bucket.end());
  if (bucket.empty()) by_head_.erase(it->second->head);
  wishes_.erase(it);
}

void WishBook::ReplaceAccount(const std::string& username, std::vector<WishRecord> wishes) {
  std::vector<int64_t> old;
  {
    MutexLock lock(mu_);
    for (const auto& [id, w] : wishes_) {
      if (w->record.username == username) old.push_back(id);
    }
    for (int64_t id : old) RemoveLocked(id);
  }
  for (WishRecord& w : wishes) Put(std::move(w));
}

std::vector<WishRecord> WishBook::Of(const std::string& username) const {
  MutexLock lock(mu_);
  std::vector<WishRecord> out;
  for (const auto& [id, w] : wishes_) {
    if (w->record.username == username) out.push_back(w->record);
  }
  return out;
}

size_t WishBook::size() const {
  MutexLock lock(mu_);
  return wishes_.size();
}

std::vector<uint64_t> WishBook::SeenOf(int64_t id) const {
  MutexLock lock(mu_);
  auto it = wishes_.find(id);
  return it == wishes_.end() ? std::vector<uint64_t>{} : it->second->record.seen;
}

std::vector<WishFound> WishBook::Match(const FileEntry& file, const std::string& holder,
                                       const std::function<int64_t()>& holders) {
  int64_t holder_count = -1;  // asked once, when a wish needs it
  const std::string folded = FoldName(file.name);
  const uint64_t seen_key = SeenKey(file.sha256);
  std::vector<WishFound> found;
  std::vector<uint32_t> checked;  // heads looked up (a wish is filed under one)
  MutexLock lock(mu_);
  if (wishes_.empty()) return found;
  auto check = [&](uint32_t key) {
    mu_.AssertHeld();  // the caller's lock, held throughout
    if (std::find(checked.begin(), checked.end(), key) != checked.end()) return;
    checked.push_back(key);
    auto it = by_head_.find(key);
    if (it == by_head_.end()) return;
    const std::vector<int64_t>& bucket = it->second;
    for (const int64_t id : bucket) {
      Filed& w = *wishes_.at(id);
      if (w.record.username == holder) continue;
      auto& seen = w.record.seen;
      if (std::find(seen.begin(), seen.end(), seen_key) != seen.end()) continue;
      if (!w.query.holders().all() && holder_count < 0) holder_count = holders();
      if (!w.query.Admits(file.size, holder_count < 0 ? 1 : holder_count, file.name) || w.query.Rank(folded) < 0) {
        continue;
      }
      seen.push_back(seen_key);
      if (seen.size() > kWishSeen) seen.erase(seen.begin());
      found.push_back(WishFound{id, w.record.username, w.record.query, file, holder});
    }
  };
  for (size_t i = 0; i < folded.size(); ++i) {
    const auto c = static_cast<unsigned char>(folded[i]);
    if (!IsWordByte(c) || (i > 0 && IsWordByte(static_cast<unsigned char>(folded[i - 1])))) continue;
    size_t n = 0;
    while (i + n < folded.size() && n < 3 && IsWordByte(static_cast<unsigned char>(folded[i + n]))) ++n;
    if (n >= 2) check(HeadKey(std::string_view(folded).substr(i), 2));
    if (n >= 3) check(HeadKey(std::string_view(folded).substr(i), 3));
  }
  return found;
}

}  // namespace p2pshare::central
