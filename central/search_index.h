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
// Entries with two or more holders are listed again, under the same keys,
// in small lists per band of holders (band b: 2^b to 2^(b+1) - 1 holders),
// kept since the last compaction; listings whose entry moved to another
// band are skipped.
//
// Ranking (docs/protocol.md, "GET /search"): matches whose first literal
// begins a word (whole word or prefix) come before matches inside words;
// within each, more holders first; then the older entry first. A page is
// produced lazily, one class after the other: the bands, most holders
// first, each band's matches sorted by holders then id; then the
// single-holder matches from one posting list walked in id order, which
// already is their rank order, the next shortest lists sieving its ids.
// The walk stops once the page is full. The list walked is the shortest
// that every match must be in: a trigram of the query, a word-start key
// the query implies, or, for the word-start class, the first word's key;
// queries with neither walk all entries until the page is full.
//
// `total` is exact when every list was walked to its end (and for a query
// that matches everything); a walk that stopped early estimates the rest
// of its list from what it saw (matches per entry seen, at least 32
// entries seen, even when the bands alone filled the page), and
// `total_exact` is false. No search checks more than its budget of entries (kSearchBudget
// at most), nor spends more matching work than kWorkPerEntry per entry of
// it; past either, the page holds what was found.
//
// Every change bumps generation(): central's cache of search replies
// (page_cache.h) keeps a reply only while it is unchanged.
//
// Entries whose last holder left stay as tombstones and are revived if the
// same content comes back; Compact() renumbers (keeping the order) when
// tombstones outnumber live entries.
//
// Queries (common/name_query.h): names are indexed folded (NFKD, case
// folded, marks dropped), the folded form kept beside the name when it
// differs from the name lowercased; a query's words match in any order,
// each a pattern (`*` any run, `?` one character). The keys every match
// has are every word's; the word-start classes (0: adjacent in order, 1:
// every word at a word start) come from the lists of the words' heads,
// the rest (2) after. Filters (size, holders, type) are checked inside the
// walk, before an entry's name is read: a holders filter skips whole bands
// (and the single holders). A sort other than relevance keeps every match
// the budget lets the walk find, then sorts them.
//
// The dictionary of indexed words (word_dictionary.h) gives suggestions
// for a query that finds little.
//
// Thread-safe: searches share a lock, updates take it alone.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "central/word_dictionary.h"
#include "common/directory_types.h"
#include "common/name_query.h"
#include "common/mutex.h"

namespace p2pshare::central {

struct IndexHit {
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::vector<std::string> holders;  // usernames, sorted (in search: the first kSearchHolders)
  int64_t holders_total = 0;         // all of them
  // FindByHash only: the hash-tree root and the size each holder reported
  // (root hex; empty when it reported none), in the order of `holders`.
  // `size` above is the standing claim's (see FindByHash).
  std::vector<std::string> roots = {};
  std::vector<int64_t> sizes = {};
};

struct IndexPage {
  int64_t total = 0;         // matches; an estimate when !total_exact
  bool total_exact = true;
  std::vector<IndexHit> hits;
  int64_t examined = 0;      // entries checked against the query
  int64_t work = 0;          // their matching work (SearchPattern::Cost)
  bool budget_spent = false; // the search stopped at its budget
  // When the page holds fewer than kSuggestBelow matches: the query with
  // its words that few names have replaced by the closest indexed words
  // (empty when none is close, or none was replaced).
  std::string suggestion = {};
};

// How a page is ordered (GET /search's `sort`): relevance (the classes,
// then more holders, then older), most holders, largest, or by name
// (folded, then as shared).
enum class SearchSort { kRelevance, kHolders, kSize, kName };
// "relevance", "holders", "size", "name"; false for another word.
bool ParseSearchSort(std::string_view text, SearchSort* sort);

// A page with fewer matches than this gets a suggestion.
inline constexpr int64_t kSuggestBelow = 5;

// Holders a search result lists (its holders_total counts them all;
// GET /files/{sha256} lists every one).
inline constexpr size_t kSearchHolders = 3;
// How deep pages go: offset + limit at most this.
inline constexpr int64_t kSearchWindow = 10000;
// Entries one search checks at most.
inline constexpr int64_t kSearchBudget = 200000;
// The matching work a search may spend per entry of its budget: 128 steps
// (a 128-byte name, or a 64-byte one against a pattern of 65 to 128
// tokens). The full budget is then ~26M steps, some 30-80 ms of one core.
inline constexpr int64_t kWorkPerEntry = 128;

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

  // The page [offset, offset + limit) of the ranked matches (see above),
  // checking at most `budget` entries.
  IndexPage Search(const NameQuery& query, SearchSort sort, int64_t limit, int64_t offset,
                   int64_t budget = kSearchBudget) const;
  // The same, for a query in text (a query that does not parse finds nothing).
  IndexPage Search(std::string_view query, int64_t limit, int64_t offset,
                   int64_t budget = kSearchBudget) const;
  // The query with its words that fewer names have than a close indexed
  // word replaced by it (WordDictionary::Closest); empty when none is.
  std::string Suggest(const NameQuery& query) const;
  // Bumped by every change of what searches find.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The content with that hash, with every holder under any name; nullopt
  // when no one holds it. Holders may claim different sizes or roots for
  // it: the claim made by the most accounts (of as many, the one made
  // first) stands, and gives the name (its lowest) and size; each holder
  // comes with its own claim, so a liar's is told apart.
  std::optional<IndexHit> FindByHash(std::string_view sha256_hex) const;

  // Distinct contents held, and (user, file) pairs held.
  int64_t unique_files() const;
  int64_t held_files() const;
  struct Totals {
    int64_t held_files = 0;    // (user, file) pairs
    int64_t unique_files = 0;  // distinct (name, sha256) held
    int64_t contents = 0;      // distinct sha256 held (a content under several names once)
    int64_t held_bytes = 0;    // each pair counted at its content's size
  };
  Totals totals() const;
  // Renumbers entries without tombstones (done by updates when they
  // outnumber the live ones).
  void Compact();

 private:
  using Sha = std::array<uint8_t, 32>;
  // An entry's holders (user ids), sorted: one in place (most files have
  // one holder), more on the heap. 16 bytes.
  class Holders {
   public:
    size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    const uint32_t* begin() const { return count_ <= 1 ? &one_ : many_->data(); }
    const uint32_t* end() const { return begin() + count_; }
    void Insert(uint32_t user);  // REQUIRES: not there yet
    bool Erase(uint32_t user);   // whether it was there

   private:
    uint32_t count_ = 0;
    uint32_t one_ = 0;                              // when count_ <= 1
    std::unique_ptr<std::vector<uint32_t>> many_;  // when count_ >= 2
  };
  // Every name, in blocks of 1 MiB that never move (a name is at most
  // kMaxFileNameBytes); 4 GiB at most, far above what an index holds.
  class NameArena {
   public:
    uint32_t Store(std::string_view name);  // where it is now
    std::string_view View(uint32_t at, uint32_t size) const {
      return {blocks_[at >> kBlockBits].get() + (at & (kBlock - 1)), size};
    }

   private:
    static constexpr int kBlockBits = 20;
    static constexpr uint32_t kBlock = 1u << kBlockBits;
    std::vector<std::unique_ptr<char[]>> blocks_;
    uint32_t used_ = kBlock;  // in the last block
  };
  // What a search checks first (name, holders) comes first. An entry is
  // one (name, sha256, tree root, size): holders that disagree on the root
  // or size of one content hold different entries (a claim never changes
  // another's). 104 bytes.
  struct Entry {
    uint32_t name_at = 0;  // in names_
    uint32_t name_size = 0;
    Holders holders;       // empty: a tombstone
    uint32_t bands = 0;    // bit b: listed in band b's lists (see BandOf)
    uint32_t folded_size = 0;  // its folded name follows the name; 0: the name lowercased is it
    int64_t size = 0;
    Sha sha{};
    Sha root{};            // all zero: not reported
  };
  std::string_view NameOf(const Entry& e) const { return names_.View(e.name_at, e.name_size); }
  // The name folded (common/name_query.h), or the name itself when only its
  // ASCII case folds (matching ignores ASCII case).
  std::string_view FoldedOf(const Entry& e) const {
    return e.folded_size == 0 ? NameOf(e) : names_.View(e.name_at + e.name_size, e.folded_size);
  }
  // Bits of an entry's keys (one per key, by a hash): a match has every
  // bit of the query's keys. Checked before an entry is read.
  using Signature = std::array<uint64_t, 2>;
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

  // One search's walk over the lists (search_index.cc).
  class Walk;
  // The ranked matches of `query` from the lists of `all` and
  // `word_starts` (KeysOf in search_index.cc), the first `want` of each
  // class kept in `order`.
  IndexPage Walked(const NameQuery& query, const std::vector<uint32_t>& all,
                   const std::vector<uint32_t>& word_starts, int64_t budget, size_t want,
                   int64_t count_to, std::vector<uint32_t>* order) const REQUIRES_SHARED(mu_);
  // Orders matches for a sort other than relevance (stable: ties keep rank).
  void SortMatches(SearchSort sort, std::vector<uint32_t>* order) const REQUIRES_SHARED(mu_);
  std::string SuggestLocked(const NameQuery& query) const REQUIRES_SHARED(mu_);
  // Whether `user` holds a file named `name`.
  bool Holds(uint32_t user, std::string_view name) const REQUIRES_SHARED(mu_);
  struct User {
    std::string name;
    // name hash -> entry ids of this user's files (verified by name).
    std::unordered_multimap<uint64_t, uint32_t> files;
  };

  uint32_t UserId(const std::string& user) REQUIRES(mu_);
  void Add(uint32_t user, const FileEntry& file);
  void Drop(uint32_t user, std::string_view name);
  void DropAll(uint32_t user);
  uint32_t EntryFor(const std::string& name, const Sha& sha, const Sha& root, int64_t size);
  void Unhold(uint32_t entry, uint32_t user);
  // Whether an entry other than `entry` with its sha256 is held by someone.
  bool OtherHolderOfContent(uint32_t entry) const;
  void Index(uint32_t entry);
  // Lists `entry` under its present band, unless it is there already.
  void IndexBand(uint32_t entry);
  void Changed() { generation_.fetch_add(1, std::memory_order_acq_rel); }
  void MaybeCompact();
  void CompactLocked();

  // The first `max_holders` holders by name.
  IndexHit HitFor(uint32_t entry, size_t max_holders = SIZE_MAX) const REQUIRES_SHARED(mu_);

  mutable SharedMutex mu_;
  std::vector<Entry> entries_;
  NameArena names_;  // tombstones' too, until a compaction
  std::vector<Signature> signatures_;  // by entry id
  WordDictionary words_;  // the live entries' words
  IdTable by_key_;  // hash(name, sha) -> entry
  IdTable by_sha_;  // sha -> entry
  std::unordered_map<uint32_t, Posting> postings_;      // key -> entries
  // (band << 32 | key) -> entries listed in that band; a listing goes stale
  // (and is skipped) when the entry's holders move it to another band.
  std::unordered_map<uint64_t, std::vector<uint32_t>> bands_;
  std::vector<uint32_t> band_ids_[32];                  // band -> every entry listed in it
  std::vector<User> users_;
  std::unordered_map<std::string, uint32_t> user_ids_;
  int64_t live_entries_ = 0;
  int64_t live_contents_ = 0;  // distinct sha256 among live entries
  int64_t held_ = 0;
  int64_t held_bytes_ = 0;  // sum over entries of size x holders
  std::atomic<uint64_t> generation_{0};  // bumped by every change

};

}  // namespace p2pshare::central
