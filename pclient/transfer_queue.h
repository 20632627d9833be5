// TransferQueue: the REPL's background transfers (docs/protocol.md,
// "peer-client", "Background transfers"). A download or upload is queued
// as a job; two worker threads run the jobs in the order queued. Each item
// is numbered from 1 and keeps its state (queued, running, waiting, done,
// failed, stopped), its progress and rate, and the line that ended it, so
// `transfers` can list them and `cancel n` / `retry n` act on them.
//
// A download that ends because no holder could complete it (Unavailable
// "no_holder": its holders went offline; what was verified is kept) is not
// failed: it waits for a holder and runs again by itself, after 1 s, then
// twice as long each time up to kHolderWaitMax, until it completes or is
// cancelled (`retry n` runs it at once).
//
// A job runs on a worker thread and must only touch what is safe there (it
// gets its own stop flag and progress sink through Control). When a job
// ends, the queue keeps its summary line for TakeEnded() and calls `wake`
// (the REPL then prints the line above its prompt).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "pclient/transfers.h"

namespace p2pshare::pclient {

enum class TransferState { kQueued, kRunning, kWaiting, kDone, kFailed, kStopped };
// "queued", "running", "waiting for a holder", "done", "failed", "stopped"
std::string StateName(TransferState s);

// The longest a download waiting for a holder waits between two tries.
inline constexpr auto kHolderWaitMax = std::chrono::seconds(15);

class TransferQueue {
 public:
  // What a running job may use.
  class Control {
   public:
    virtual ~Control() = default;
    virtual bool StopRequested() const = 0;           // `cancel n`, or the queue closing
    virtual void Progress(const TransferProgress& p) = 0;
    virtual void Note(const std::string& line) = 0;   // the latest shows in `transfers`
    // How many times this item ran before (0 the first time; `retry` adds one).
    virtual int attempt() const = 0;
  };
  // Runs the transfer; returns the line that says how it ended ("downloaded
  // x (3 MiB) from alice in 2 s ..."), or why it failed. A Cancelled status
  // means it stopped on request.
  using Job = std::function<Result<std::string>(Control&)>;

  // A copy of one item, for `transfers`.
  struct Item {
    int id = 0;
    std::string kind;  // "download", "upload"
    std::string what;  // the file's name
    std::string key;   // what makes two items the same transfer (a sha256 and folder)
    TransferState state = TransferState::kQueued;
    int64_t done = 0, total = 0;
    double rate = 0;       // bytes a second moved by this run (not bytes found on disk)
    double seconds = 0;    // running so far, or how long it ran
    std::string sources;   // a swarm's sources, as the progress line says them
    // How each holder it has read from was reached (common/peer_channel.h:
    // "direct", "reversed", "relayed").
    std::map<std::string, std::string> routes;
    std::string note;      // the latest note while it runs; how it ended after
    // What resumes it in a later session ("download <sha256> --to x";
    // empty: nothing does), said when leaving stops it.
    std::string resume;
  };

  // `wake` is called (from a worker thread) when an item ends.
  TransferQueue(int workers, std::function<void()> wake);
  ~TransferQueue();  // Close()

  // Queues a job. AlreadyExists when an item with the same key is queued,
  // running or waiting (its number in the message).
  Result<int> Add(std::string kind, std::string what, std::string key, Job job, std::string resume = "");
  // Stops a running item (it ends as "stopped", keeping what a resume
  // needs), drops a queued one, gives up a waiting one. NotFound for an unknown number,
  // FailedPrecondition for an item that already ended.
  Status Cancel(int id);
  // Queues a failed, stopped or waiting item again (now), under its number.
  // FailedPrecondition for one that is queued, running or done.
  Status Retry(int id);
  std::vector<Item> List() const;
  // The items queued, running or waiting.
  int Active() const;
  // The summary lines of the items that ended since the last call, in the
  // order they ended ("[#2] downloaded ...").
  std::vector<std::string> TakeEnded();
  // Stops every running item, drops the queued and waiting ones, waits for
  // the workers; their lines say what resumes them in a later session.
  // Idempotent; Add fails afterwards.
  void Close();

 private:
  struct Entry;
  class EntryControl;
  void Work();
  void End(Entry& e, const Result<std::string>& r) REQUIRES(mu_);
  // Queues the waiting items whose time came; the earliest time still to come.
  std::optional<std::chrono::steady_clock::time_point> WakeWaiting() REQUIRES(mu_);

  const std::function<void()> wake_;
  mutable Mutex mu_;
  CondVar cv_;
  std::vector<std::shared_ptr<Entry>> items_ GUARDED_BY(mu_);  // by id - 1
  std::deque<std::shared_ptr<Entry>> waiting_ GUARDED_BY(mu_);
  std::vector<std::string> ended_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace p2pshare::pclient
