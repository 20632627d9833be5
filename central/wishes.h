// Wishes: saved searches that tell their account when a matching file is
// indexed (docs/protocol.md, "Wishes").
//
// Made, listed and removed through the store (which keeps the bounds of
// wish_book.h); matched by a WishBook in memory. Index writes only queue
// the files they add (at most kWishQueue waiting; past that the oldest are
// dropped and counted), and one thread matches them, so an index write
// never waits on wishes, however many were planted. A match goes to the
// account's peer-server over its channel at once ({type: "wish", ...}); when
// no channel of the account is open here, it waits (kWishPending per
// account, newest kept) and goes out first when a channel opens. Each
// announcement is recorded in the wish's seen list, in the store.
//
// Replicas: every replica files every wish (loaded at start); one that
// changes an account's wishes (or their seen lists) signals
// {type: "wishes_changed"} through the feed, and each replica reads that
// account's wishes again (the signal never reaches the peer).
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "central/store/directory_store.h"
#include "central/wish_book.h"
#include "common/json_fields.h"
#include "common/mutex.h"

namespace p2pshare::central {

inline constexpr size_t kWishQueue = 200000;
inline constexpr size_t kWishPending = 32;

class Wishes {
 public:
  struct Hooks {
    // Sends one message to the account's peer-server over its channel;
    // false when it surely did not go.
    std::function<bool(const std::string& username, const Json& message)> signal;
    // The sha256 of what the query finds now (at most kWishSeen): those are
    // not news.
    std::function<std::vector<std::string>(const NameQuery& query)> matching_now;
    // How many hold a content now.
    std::function<int64_t(const std::string& sha256)> holders;
  };
  Wishes(DirectoryStore* store, bool replicas, Hooks hooks);
  ~Wishes();  // Stop()

  // Files every wish the store has, and starts matching.
  Status Start();
  void Stop();

  // A new wish of `username` made from `source`; its `seen` holds the
  // matches at hand (`matching_now` gets their count). InvalidArgument for a
  // query that is not a wish, ResourceExhausted "too_many_wishes".
  Result<WishRecord> Add(const std::string& username, const std::string& query, const std::string& source,
                         int64_t* matching_now);
  Status Remove(const std::string& username, int64_t id);
  Result<std::vector<WishRecord>> List(const std::string& username);

  // `holder` now holds `files` (added to the index): queued for matching.
  void Indexed(const std::string& holder, const std::vector<FileEntry>& files);
  // Replicas: a signal line for `username` from the feed; true when it was
  // this component's (and is not for the peer).
  bool OnSignal(const std::string& username, const std::string& line);
  // The announcements that waited for `username`'s channel, one line each.
  std::string TakePending(const std::string& username);

  struct Counters {
    int64_t wishes = 0;
    int64_t announced = 0;
    int64_t dropped = 0;  // queued files dropped (the queue was full)
  };
  Counters counters() const;
  // Blocks until every file queued so far has been matched (tests).
  void Drain();

 private:
  struct Queued {
    std::string holder;
    FileEntry file;
  };
  void Loop();
  void Announce(const WishFound& found);
  void Changed(const std::string& username);

  DirectoryStore* const store_;
  const bool replicas_;
  const Hooks hooks_;
  WishBook book_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Queued> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool busy_ GUARDED_BY(mu_) = false;  // the thread is matching a batch
  std::map<std::string, std::deque<std::string>> pending_ GUARDED_BY(mu_);
  int64_t announced_ GUARDED_BY(mu_) = 0;
  int64_t dropped_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace p2pshare::central
