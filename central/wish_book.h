// WishBook: the saved searches of every account (docs/protocol.md,
// "Wishes"), and which new index entries make one come true.
//
// A wish is a query (common/name_query.h) with at least one word that
// begins with a letter or digit; it is filed under the head (first three
// folded bytes, as the search index's word-start keys) of its longest such
// word. A new entry is matched against the wishes filed under the heads
// of its name's words only (a name has a few dozen at most), so matching
// never scans every wish (all kMaxWishes under one head at worst: some
// milliseconds a file, off any request's path, central/wishes.h). Each
// wish remembers the contents (sha256 prefixes)
// it has announced, the newest kWishSeen of them, so a content is told
// once, whoever else comes to hold it.
//
// Bounds (the store enforces them when a wish is made): kWishesPerAccount
// per account, kWishesPerAddress per source address (many free accounts
// from one place), kMaxWishes in all.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "central/store/directory_store.h"
#include "common/directory_types.h"
#include "common/mutex.h"
#include "common/name_query.h"

namespace p2pshare::central {

inline constexpr int64_t kWishesPerAccount = 20;
inline constexpr int64_t kWishesPerAddress = 100;
inline constexpr int64_t kMaxWishes = 20000;
inline constexpr size_t kWishSeen = 256;

// One wish come true: whose, which, and the file.
struct WishFound {
  int64_t wish = 0;
  std::string username;
  std::string query;
  FileEntry file;
  std::string holder;
};

// Why a query cannot be a wish (InvalidArgument), or OK.
Status CheckWishQuery(const NameQuery& query);
// The first 8 bytes of a sha256 (hex), as a wish remembers it.
uint64_t SeenKey(const std::string& sha256_hex);

class WishBook {
 public:
  // Files `wish` (its query must pass CheckWishQuery), replacing one of
  // the same id.
  void Put(WishRecord wish);
  void Remove(int64_t id);
  // Every wish of `username` again, as the store has them.
  void ReplaceAccount(const std::string& username, std::vector<WishRecord> wishes);
  std::vector<WishRecord> Of(const std::string& username) const;
  size_t size() const;

  // The wishes `file` (held by `holder`, with `holders` holders now) makes
  // come true for the first time, each marked seen. A holder's own wishes
  // are not told of its own files.
  // `holders` is asked only when a wish filters by holders.
  std::vector<WishFound> Match(const FileEntry& file, const std::string& holder,
                               const std::function<int64_t()>& holders);
  // The seen list of a wish now (for the store), empty when unknown.
  std::vector<uint64_t> SeenOf(int64_t id) const;

 private:
  struct Filed {
    WishRecord record;
    NameQuery query;
    uint32_t head = 0;
  };
  void RemoveLocked(int64_t id) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<int64_t, std::unique_ptr<Filed>> wishes_ GUARDED_BY(mu_);
  std::unordered_map<uint32_t, std::vector<int64_t>> by_head_ GUARDED_BY(mu_);
};

}  // namespace p2pshare::central
