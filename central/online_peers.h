// OnlinePeers: where each online peer serves (host and port, for the
// holders of search results) and the order peers joined in, from which
// central suggests friends: each peer's friends are the two online peers
// that joined just before it, wrapping around, so the peers form a ring
// (docs/protocol.md, "Friend peers").
//
// A mirror in memory of the store's online peers, kept by Directory (Add at
// login, Remove at logout and eviction); the join order lives only here
// (docs/architecture.md, "State that lives in one process").
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "central/store/directory_store.h"
#include "common/directory_types.h"
#include "common/mutex.h"

namespace p2pshare::central {

class OnlinePeers {
 public:
  // `peer` is online at its host and port, brought online by a login from
  // `source` (empty: unknown, as after a restart). A peer already online
  // keeps its place in the join order and its source.
  void Add(const PeerRecord& peer, const std::string& source = "");
  void Remove(const std::string& username);
  // Bumped by every Add and Remove (holders' addresses may have changed).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // The holders among `usernames` that are online, with their addresses,
  // in the given order (usernames no longer online are left out).
  std::vector<Holder> Addresses(std::vector<std::string> usernames) const;
  // Up to two friends for `username`, as "host:port": the online peers that
  // joined just before it, wrapping around. Empty when it is alone or offline.
  std::vector<std::string> FriendsOf(const std::string& username) const;
  int64_t Count() const;
  // Every online peer's username (any order).
  std::vector<std::string> Usernames() const;
  // Online peers a login from `source` brought online.
  int64_t CountFrom(const std::string& source) const;

 private:
  mutable Mutex mu_;
  std::atomic<uint64_t> generation_{0};
  std::unordered_map<std::string, PeerRecord> online_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::string> source_ GUARDED_BY(mu_);  // user -> address
  std::unordered_map<std::string, int64_t> per_source_ GUARDED_BY(mu_);  // address -> peers
  std::unordered_map<std::string, uint64_t> join_seq_ GUARDED_BY(mu_);  // user -> seq
  std::map<uint64_t, std::string> joined_ GUARDED_BY(mu_);  // seq -> user
  uint64_t next_join_seq_ GUARDED_BY(mu_) = 0;
};

}  // namespace p2pshare::central
