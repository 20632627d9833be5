// PageCache: recent answers by key (central's search replies, as sent),
// each valid only while the generation it was made at is still current —
// the caller's counter that every change of the underlying data bumps — so
// it never answers from data that has changed. Least recently used out
// first; bounded in entries and bytes. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/mutex.h"

namespace p2pshare::central {

class PageCache {
 public:
  PageCache(size_t max_entries, size_t max_bytes);

  // The value under `key` if it was made at `generation`.
  std::optional<std::string> Get(const std::string& key, uint64_t generation) const;
  // Keeps `value`, made at `generation` (read before the value was made).
  // A value over an eighth of max_bytes is not kept.
  void Put(std::string key, uint64_t generation, std::string value);

  size_t entries() const;
  size_t bytes() const;

 private:
  struct Item {
    std::string key;
    uint64_t generation;
    std::string value;
  };
  void Drop(std::list<Item>::iterator it) const REQUIRES(mu_);

  const size_t max_entries_, max_bytes_;
  mutable Mutex mu_;
  mutable std::list<Item> items_;  // most recently used first
  mutable std::unordered_map<std::string_view, std::list<Item>::iterator> index_;
  mutable size_t bytes_ = 0;
};

}  // namespace p2pshare::central
