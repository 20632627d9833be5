// SearchIndex: the in-memory index of every online peer's shared files,
// answering search and look-ups by hash without touching SQLite.
//
// One entry per distinct content (name, sha256) with the peers holding it.
// Substring search uses a trigram index: each entry's ASCII-lowercased name
// contributes its distinct 3-byte sequences; a query's literal runs give
// trigrams, the candidates are the entries of its rarest trigram, and each
// candidate is checked against the query pattern. Queries without a 3-byte
// literal run scan all entries. Posting lists are append-only varint
// deltas (entry ids only grow); entries whose last holder left stay as
// tombstones and are revived if the same content comes back; Compact()
// renumbers when tombstones outnumber live entries.
//
// Query language (as the REST API documents): `q` matches anywhere in the
// name, ASCII case-insensitive; `*` is any run, `?` one character; other
// characters are literal. Results sort by name, then sha256.
//
// Thread-safe: searches share a lock, updates take it alone.
#pragma once

#include <array>
#include <cstdint>
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
  int64_t total = 0;
  std::vector<IndexHit> hits;
};

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

  IndexPage Search(std::string_view query, int64_t limit, int64_t offset) const;
  // How many entries Search(query) would check against the pattern: the
  // size of its rarest trigram's list, or every entry when it has no
  // 3-byte literal run (0 when a trigram is in no name).
  int64_t Cost(std::string_view query) const;
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
  void MaybeCompact();
  void CompactLocked();

  IndexHit HitFor(uint32_t entry) const;  // REQUIRES: mu_ held

  mutable std::shared_mutex mu_;
  std::vector<Entry> entries_;
  IdTable by_key_;  // hash(name, sha) -> entry
  IdTable by_sha_;  // sha -> entry
  std::unordered_map<uint32_t, Posting> postings_;      // trigram -> entries
  std::vector<User> users_;
  std::unordered_map<std::string, uint32_t> user_ids_;
  int64_t live_entries_ = 0;
  int64_t held_ = 0;
  int64_t held_bytes_ = 0;  // sum over entries of size x holders
};

}  // namespace p2pshare::central
