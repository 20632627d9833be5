// SearchIndex: the in-memory index of every online peer's shared files,
// answering search and look-ups by hash without touching SQLite.
//
// One entry per distinct content (name, sha256) with the peers holding it.
// Entries are numbered in the order the index first saw them; posting
// lists map keys to entry ids, ascending, as varint deltas:
//   - each distinct 3-byte sequence of the ASCII-lowercased name (trigram);
//   - each word's first 1, 2 and 3 bytes, lowercased (word-start keys; a
//     word is a maximal run of ASCII letters and digits and non-ASCII
//     bytes).
// Entries that ever had two or more holders (since the last compaction)
// are listed again, under the same keys, in small "multi" lists.
//
// Ranking (docs/protocol.md, "GET /search"): matches whose first literal
// begins a word (whole word or prefix) come before matches inside words;
// within each, more holders first; then the older entry first. A page is
// produced lazily: the multi lists give every multi-holder match (few,
// sorted by holders); the single-holder matches come from one posting list
// walked in id order, which already is their rank order, so the walk stops
// once the page and the count (kCountTo) are filled. The list walked is the
// shortest that every match must be in: a trigram of the query, a
// word-start key the query implies, or, for the word-start class, the
// first word's key. Queries with neither walk all entries until the page is
// filled. No search examines more than kSearchBudget entries; past it, the
// page holds what was found and `total` is a lower bound.
//
// A cache of recent pages (by query, limit, offset) answers repeated
// searches; any change of the index empties it (a generation counter), so
// it never answers from an index that has changed.
//
// Entries whose last holder left stay as tombstones and are revived if the
// same content comes back; Compact() renumbers (keeping the order) when
// tombstones outnumber live entries.
//
// Query language (as the REST API documents): `q` matches anywhere in the
// name, ASCII case-insensitive; `*` is any run, `?` one character; other
// characters are literal.
//
// Thread-safe: searches share a lock, updates take it alone.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/directory_types.h"

namespace p2pshare::central {

struct IndexHit {
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::vector<std::string> holders;  // usernames, sorted
};

struct IndexPage {
  int64_t total = 0;         // matches; a lower bound when !total_exact
  bool total_exact = true;
  std::vector<IndexHit> hits;
  int64_t examined = 0;      // entries checked against the query (the work done)
  bool budget_spent = false; // the search stopped at its budget
};

// How deep pages go: offset + limit at most this.
inline constexpr int64_t kSearchWindow = 10000;
// Matches counted past the page before `total` becomes a lower bound.
inline constexpr int64_t kCountTo = 1000;
// Entries one search checks at most.
inline constexpr int64_t kSearchBudget = 200000;
// Pages the cache keeps, and hits in all of them.
inline constexpr size_t kCachePages = 4096;
inline constexpr size_t kCacheHits = 100000;

class SearchIndex {
 public:
  SearchIndex();
  ~SearchIndex();

  // `user` now holds exactly `files` (names unique, hashes valid hex).
  void Replace(const std::string& user, const std::vector<FileEntry>& files);
  // Adds or replaces `added` and drops `removed` (unknown names ignored).
  void Patch(const std::string& user, const std::vector<FileEntry>& added,
             const std::vector<std::string>& removed);
  // `user` left: it holds nothing.
  void RemoveUser(const std::string& user);
  // How many files `user` would hold after Patch(user, added, removed)
  // (names in `added` unique).
  int64_t CountAfterPatch(const std::string& user, const std::vector<FileEntry>& added,
                          const std::vector<std::string>& removed) const;
  // Files `user` holds now.
  int64_t FilesOf(const std::string& user) const;

  // The page [offset, offset + limit) of the ranked matches (see above);
  // served from the cache when the index has not changed since.
  // At most `budget` entries are checked.
  IndexPage Search(std::string_view query, int64_t limit, int64_t offset,
                   int64_t budget = kSearchBudget) const;
  // The same, always computed (benchmarks and tests of the work done).
  IndexPage SearchUncached(std::string_view query, int64_t limit, int64_t offset,
                           int64_t budget = kSearchBudget) const;
  // The entry with that content, under the lowest name, with every holder
  // under any name; nullopt when no one holds it.
  std::optional<IndexHit> FindByHash(std::string_view sha256_hex) const;

  // Distinct contents held, and (user, file) pairs held.
  int64_t unique_files() const;
  int64_t held_files() const;
  struct Totals {
    int64_t held_files = 0;    // (user, file) pairs
    int64_t unique_files = 0;  // distinct (name, sha256) held
    int64_t held_bytes = 0;    // each pair counted at its content's size
  };
  Totals totals() const;
  // Renumbers entries without tombstones (done by updates when they
  // outnumber the live ones).
  void Compact();

 private:
  using Sha = std::array<uint8_t, 32>;
  struct Entry {
    std::string name;
    Sha sha{};
    int64_t size = 0;
    std::vector<uint32_t> holders;  // user ids, sorted; empty: a tombstone
    bool in_multi = false;          // listed in multi_ (had 2+ holders)
  };
  struct Posting {
    std::string deltas;  // varint(id - previous id), ids ascending
    uint32_t last = 0;
    uint32_t count = 0;
  };
  // An insert-only open-addressing table of entry ids by a 32-bit hash,
  // several ids per hash allowed (callers check the entry). 8 bytes a slot.
  class IdTable {
   public:
    void Insert(uint32_t hash, uint32_t id);
    template <typename F>
    void ForEach(uint32_t hash, F&& fn) const {
      if (slots_.empty()) return;
      for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.id == kEmpty) return;
        if (s.hash == hash) fn(s.id);
      }
    }
    void Clear() { slots_.clear(); mask_ = 0; count_ = 0; }

   private:
    static constexpr uint32_t kEmpty = UINT32_MAX;
    struct Slot {
      uint32_t hash = 0;
      uint32_t id = kEmpty;
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
  };

  // REQUIRES: mu_ held. Whether `user` holds a file named `name`.
  bool Holds(uint32_t user, std::string_view name) const;
  struct User {
    std::string name;
    // name hash -> entry ids of this user's files (verified by name).
    std::unordered_multimap<uint64_t, uint32_t> files;
  };

  // REQUIRES: mu_ held exclusively.
  uint32_t UserId(const std::string& user);
  void Add(uint32_t user, const FileEntry& file);
  void Drop(uint32_t user, std::string_view name);
  void DropAll(uint32_t user);
  uint32_t EntryFor(const std::string& name, const Sha& sha, int64_t size);
  void Unhold(uint32_t entry, uint32_t user);
  void Index(uint32_t entry);
  void IndexMulti(uint32_t entry);
  void Changed() { generation_.fetch_add(1, std::memory_order_relaxed); }
  void MaybeCompact();
  void CompactLocked();

  IndexHit HitFor(uint32_t entry) const;  // REQUIRES: mu_ held

  struct CachedPage {
    std::string key;
    uint64_t generation = 0;
    IndexPage page;
  };
  std::optional<IndexPage> Cached(const std::string& key) const;
  void Cache(std::string key, uint64_t generation, const IndexPage& page) const;

  mutable std::shared_mutex mu_;
  std::vector<Entry> entries_;
  IdTable by_key_;  // hash(name, sha) -> entry
  IdTable by_sha_;  // sha -> entry
  std::unordered_map<uint32_t, Posting> postings_;      // key -> entries
  std::unordered_map<uint32_t, std::vector<uint32_t>> multi_;  // key -> multi entries
  std::vector<uint32_t> multi_ids_;                     // every multi entry
  std::vector<User> users_;
  std::unordered_map<std::string, uint32_t> user_ids_;
  int64_t live_entries_ = 0;
  int64_t held_ = 0;
  int64_t held_bytes_ = 0;  // sum over entries of size x holders
  std::atomic<uint64_t> generation_{0};  // bumped by every change

  mutable std::mutex cache_mu_;
  mutable std::list<CachedPage> cache_;  // most recently used first
  mutable std::unordered_map<std::string_view, std::list<CachedPage>::iterator> cache_index_;
  mutable size_t cache_hits_held_ = 0;
};

}  // namespace p2pshare::central
