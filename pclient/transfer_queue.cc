#include "pclient/transfer_queue.h"

#include <algorithm>

#include "common/mutex.h"
#include "common/peer_channel.h"
#include "pclient/format.h"

namespace p2pshare::pclient {

using Clock = std::chrono::steady_clock;

std::string StateName(TransferState s) {
  switch (s) {
    case TransferState::kQueued: return "queued";
    case TransferState::kRunning: return "running";
    case TransferState::kDone: return "done";
    case TransferState::kFailed: return "failed";
    case TransferState::kStopped: return "stopped";
  }
  return "?";
}

struct TransferQueue::Entry {
  Item item;
  Job job;
  std::atomic<bool> stop{false};
  int attempts = 0;         // runs started
  Clock::time_point start;  // of the current run
  int64_t base = -1;        // bytes done when this run first reported (a resume's)
};

class TransferQueue::EntryControl : public Control {
 public:
  EntryControl(TransferQueue* q, Entry* e) : q_(q), e_(e) {}
  bool StopRequested() const override { return e_->stop.load(); }
  void Progress(const TransferProgress& p) override {
    MutexLock lock(q_->mu_);
    Item& it = e_->item;
    if (e_->base < 0) e_->base = p.done;
    it.done = p.done;
    it.total = p.total;
    it.seconds = std::chrono::duration<double>(Clock::now() - e_->start).count();
    it.rate = it.seconds > 0 ? static_cast<double>(std::max<int64_t>(0, p.done - e_->base)) / it.seconds : 0;
    it.sources = p.sources.empty() ? "" : SourcesLine(p.sources, /*rates=*/false);
    for (const SourceStatus& s : p.sources) {
      if (!s.dropped && s.bytes > 0) it.routes[s.holder] = RouteTo(s.holder);
    }
    if (!p.holder.empty()) it.routes[p.holder] = RouteTo(p.holder);
  }
  void Note(const std::string& line) override {
    MutexLock lock(q_->mu_);
    e_->item.note = line;
  }
  int attempt() const override { return e_->attempts - 1; }

 private:
  TransferQueue* q_;
  Entry* e_;
};

TransferQueue::TransferQueue(int workers, std::function<void()> wake) : wake_(std::move(wake)) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

TransferQueue::~TransferQueue() { Close(); }

Result<int> TransferQueue::Add(std::string kind, std::string what, std::string key, Job job) {
  MutexLock lock(mu_);
  if (closed_) return FailedPrecondition("the transfer queue is closed");
  for (const auto& e : items_) {
    const TransferState s = e->item.state;
    if (!key.empty() && e->item.key == key && (s == TransferState::kQueued || s == TransferState::kRunning)) {
      return AlreadyExists(e->item.kind + " of " + e->item.what + " is " + StateName(s) + " already, as #" +
                           std::to_string(e->item.id) + " ('transfers' shows it)");
    }
  }
  auto e = std::make_shared<Entry>();
  e->item.id = static_cast<int>(items_.size()) + 1;
  e->item.kind = std::move(kind);
  e->item.what = std::move(what);
  e->item.key = std::move(key);
  e->job = std::move(job);
  items_.push_back(e);
  waiting_.push_back(e);
  cv_.notify_one();
  return e->item.id;
}

Status TransferQueue::Cancel(int id) {
  MutexLock lock(mu_);
  if (id < 1 || id > static_cast<int>(items_.size())) {
    return NotFound("no transfer #" + std::to_string(id) + "; 'transfers' lists them");
  }
  Entry& e = *items_[id - 1];
  switch (e.item.state) {
    case TransferState::kQueued:
      std::erase_if(waiting_, [&](const auto& w) { return w.get() == &e; });
      e.item.state = TransferState::kStopped;
      e.item.note = "cancelled before it started";
      return Status::Ok();
    case TransferState::kRunning:
      e.stop = true;
      return Status::Ok();
    default:
      return FailedPrecondition("transfer #" + std::to_string(id) + " has ended already (" +
                                StateName(e.item.state) + ")");
  }
}

Status TransferQueue::Retry(int id) {
  MutexLock lock(mu_);
  if (closed_) return FailedPrecondition("the transfer queue is closed");
  if (id < 1 || id > static_cast<int>(items_.size())) {
    return NotFound("no transfer #" + std::to_string(id) + "; 'transfers' lists them");
  }
  auto& e = items_[id - 1];
  const TransferState s = e->item.state;
  if (s != TransferState::kFailed && s != TransferState::kStopped) {
    return FailedPrecondition("transfer #" + std::to_string(id) + " is " + StateName(s) +
                              "; only a failed or stopped one is retried");
  }
  for (const auto& other : items_) {
    const TransferState os = other->item.state;
    if (other != e && !e->item.key.empty() && other->item.key == e->item.key &&
        (os == TransferState::kQueued || os == TransferState::kRunning)) {
      return AlreadyExists("the same transfer is " + StateName(os) + " as #" + std::to_string(other->item.id));
    }
  }
  e->item.state = TransferState::kQueued;
  e->item.note.clear();
  e->item.rate = 0;
  e->item.sources.clear();
  waiting_.push_back(e);
  cv_.notify_one();
  return Status::Ok();
}

std::vector<TransferQueue::Item> TransferQueue::List() const {
  MutexLock lock(mu_);
  std::vector<Item> out;
  for (const auto& e : items_) {
    Item it = e->item;
    if (it.state == TransferState::kRunning) {
      it.seconds = std::chrono::duration<double>(Clock::now() - e->start).count();
    }
    out.push_back(std::move(it));
  }
  return out;
}

int TransferQueue::Active() const {
  MutexLock lock(mu_);
  return static_cast<int>(std::count_if(items_.begin(), items_.end(), [](const auto& e) {
    return e->item.state == TransferState::kQueued || e->item.state == TransferState::kRunning;
  }));
}

std::vector<std::string> TransferQueue::TakeEnded() {
  MutexLock lock(mu_);
  return std::exchange(ended_, {});
}

void TransferQueue::Close() {
  {
    MutexLock lock(mu_);
    closed_ = true;
    for (auto& e : waiting_) {
      e->item.state = TransferState::kStopped;
      e->item.note = "cancelled before it started";
    }
    waiting_.clear();
    for (auto& e : items_) e->stop = true;
    cv_.notify_all();
  }
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

void TransferQueue::Work() {
  MutexLock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { mu_.AssertHeld(); return closed_ || !waiting_.empty(); });
    if (closed_) return;
    std::shared_ptr<Entry> e = waiting_.front();
    waiting_.pop_front();
    e->item.state = TransferState::kRunning;
    e->stop = false;
    e->start = Clock::now();
    e->base = -1;
    ++e->attempts;
    lock.Unlock();
    EntryControl control(this, e.get());
    Result<std::string> r = e->job(control);
    lock.Lock();
    End(*e, r);
    lock.Unlock();
    if (wake_) wake_();
    lock.Lock();
  }
}

void TransferQueue::End(Entry& e, const Result<std::string>& r) {
  Item& it = e.item;
  it.seconds = std::chrono::duration<double>(Clock::now() - e.start).count();
  const std::string n = std::to_string(it.id);
  if (r.ok()) {
    it.state = TransferState::kDone;
    it.note = *r;
    ended_.push_back("[#" + n + "] " + *r);
    return;
  }
  const bool stopped = r.status().code() == Code::kCancelled;
  it.state = stopped ? TransferState::kStopped : TransferState::kFailed;
  it.note = r.status().message();
  // "upload of x stopped; ..." / "stopped; ...": the line says that itself.
  if (size_t at = it.note.find("stopped; "); stopped && at != std::string::npos) it.note.erase(0, at + 9);
  std::string hint = it.note.ends_with("resumes it") ? " (or 'retry " + n + "')"
                     : stopped                        ? "; 'retry " + n + "' starts it again"
                                                      : "; 'retry " + n + "' tries again";
  ended_.push_back("[#" + n + "] " + it.kind + " of " + it.what + (stopped ? " stopped: " : " failed: ") +
                   it.note + hint);
}

}  // namespace p2pshare::pclient
