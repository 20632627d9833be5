// FileIndex: the index of the files each online peer shares, durable in
// the store and searchable in memory (SearchIndex).
//
// DESIGN: every change is written to the store first and then applied to
// the in-memory index, both under one mutex, so the two see changes in the
// same order; at start the index is rebuilt from the store (Load). Reads
// (search, look-ups by hash, totals) go to the in-memory index only and
// never wait for the store. The in-memory copy lives in this process only
// (docs/architecture.md, "State that lives in one process").
//
// Thread-safe: httplib's workers and the sweeper (RemovePeer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "central/search_index.h"
#include "central/store/directory_store.h"
#include "common/directory_types.h"
#include "common/mutex.h"
#include "common/status.h"

namespace p2pshare::central {

class FileIndex {
 public:
  // At most `max_per_peer` files a peer and `max_total` in all (0: no limit).
  // With `follow`, writes go to the store only and the in-memory index
  // changes by the Apply calls alone, in the order of the store's change
  // feed (replicas: docs/architecture.md, "Replicas").
  explicit FileIndex(DirectoryStore* store, int64_t max_per_peer = 0, int64_t max_total = 0,
                     bool follow = false)
      : store_(store), max_per_peer_(max_per_peer), max_total_(max_total), follow_(follow) {}

  // Rebuilds the in-memory index from the store's files of `peers`.
  Status Load(const std::vector<PeerRecord>& peers);

  // `username` now shares exactly `files`; its file count after.
  // InvalidArgument for a name listed twice; NotFound when the peer is not
  // online (the store's answer); ResourceExhausted "too_many_files" (413)
  // past a limit, with nothing changed.
  Result<int64_t> Replace(const std::string& username, const std::vector<FileEntry>& files);
  // Adds or replaces `added`, drops `removed` (absent names ignored); errors
  // as Replace.
  Result<int64_t> Patch(const std::string& username, const std::vector<FileEntry>& added,
                        const std::vector<std::string>& removed);
  // Takes the peer offline in the store (its index dropped, its sessions
  // ended with `why`) and drops its files here. The record removed, nullopt
  // when it was not online.
  Result<std::optional<PeerRecord>> RemovePeer(const std::string& username, SessionState why,
                                               int64_t now_unix);

  // The in-memory index only, as the change feed says (follow mode).
  void ApplyReplace(const std::string& username, const std::vector<FileEntry>& files);
  void ApplyPatch(const std::string& username, const std::vector<FileEntry>& added,
                  const std::vector<std::string>& removed);
  void ApplyRemove(const std::string& username);

  IndexPage Search(const NameQuery& query, SearchSort sort, int64_t limit, int64_t offset,
                   int64_t budget = kSearchBudget) const {
    return index_.Search(query, sort, limit, offset, budget);
  }
  IndexPage Search(std::string_view query, int64_t limit, int64_t offset) const {
    return index_.Search(query, limit, offset);
  }
  std::optional<IndexHit> FindByHash(std::string_view sha256) const {
    return index_.FindByHash(sha256);
  }
  SearchIndex::Totals totals() const { return index_.totals(); }
  uint64_t generation() const { return index_.generation(); }

 private:
  // OK when `user` may hold `after` files.
  Status CheckLimits(const std::string& user, int64_t after) const REQUIRES(write_mu_);

  DirectoryStore* const store_;
  const int64_t max_per_peer_, max_total_;
  const bool follow_;
  Mutex write_mu_;  // orders writes: store, then index
  SearchIndex index_;    // its own lock serves readers
};

}  // namespace p2pshare::central
