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
    case TransferState::kWaiting: return "waiting for a holder";
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
  int waits = 0;            // tries in a row that found no holder
  Clock::time_point due;    // waiting: when it runs again
};

namespace {

bool InQueue(TransferState s) {
  return s == TransferState::kQueued || s == TransferState::kRunning || s == TransferState::kWaiting;
}

}  // namespace

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

Result<int> TransferQueue::Add(std::string kind, std::string what, std::string key, Job job, std::string resume) {
  MutexLock lock(mu_);
  if (closed_) return FailedPrecondition("the transfer queue is closed");
  for (const auto& e : items_) {
    const TransferState s = e->item.state;
    if (!key.empty() && e->item.key == key && InQueue(s)) {
      return AlreadyExists(e->item.kind + " of " + e->item.what + " is " + StateName(s) + " already, as #" +
                           std::to_string(e->item.id) + " ('transfers' shows it)");
    }
  }
  auto e = std::make_shared<Entry>();
  e->item.id = static_cast<int>(items_.size()) + 1;
  e->item.kind = std::move(kind);
  e->item.what = std::move(what);
  e->item.key = std::move(key);
  e->item.resume = std::move(resume);
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
    case TransferState::kWaiting:
      e.item.state = TransferState::kStopped;
      e.item.note = "gave up waiting for a holder: " + e.item.note;
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
  if (s != TransferState::kFailed && s != TransferState::kStopped && s != TransferState::kWaiting) {
    return FailedPrecondition("transfer #" + std::to_string(id) + " is " + StateName(s) +
                              "; only a failed or stopped one is retried");
  }
  for (const auto& other : items_) {
    const TransferState os = other->item.state;
    if (other != e && !e->item.key.empty() && other->item.key == e->item.key && InQueue(os)) {
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
  return static_cast<int>(
      std::count_if(items_.begin(), items_.end(), [](const auto& e) { return InQueue(e->item.state); }));
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
    for (auto& e : items_) {
      if (e->item.state != TransferState::kWaiting) continue;
      e->item.state = TransferState::kStopped;
      const std::string& resume = e->item.resume;
      ended_.push_back("[#" + std::to_string(e->item.id) + "] " + e->item.kind + " of " + e->item.what +
                       " stopped while waiting for a holder: " + e->item.note +
                       (resume.empty() ? "" : "; '" + resume + "' in a later session resumes it"));
    }
    for (auto& e : items_) e->stop = true;
    cv_.notify_all();
  }
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

std::optional<Clock::time_point> TransferQueue::WakeWaiting() {
  std::optional<Clock::time_point> next;
  const auto now = Clock::now();
  for (auto& e : items_) {
    if (e->item.state != TransferState::kWaiting) continue;
    if (e->due <= now) {
      e->item.state = TransferState::kQueued;
      waiting_.push_back(e);
    } else if (!next || e->due < *next) {
      next = e->due;
    }
  }
  return next;
}

void TransferQueue::Work() {
  MutexLock lock(mu_);
  for (;;) {
    std::optional<Clock::time_point> next = WakeWaiting();
    if (!closed_ && waiting_.empty()) {
      auto ready = [&] { mu_.AssertHeld(); return closed_ || !waiting_.empty(); };
      if (next) {
        cv_.wait_until(lock, *next, ready);
      } else {
        cv_.wait(lock, ready);
      }
      continue;  // the waiting items whose time came are queued first
    }
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
    e.waits = 0;
    it.state = TransferState::kDone;
    it.note = *r;
    ended_.push_back("[#" + n + "] " + *r);
    return;
  }
  const bool stopped = r.status().code() == Code::kCancelled;
  it.note = r.status().message();
  if (!stopped && !closed_ && !e.stop && it.kind == "download" && r.status().reason() == "no_holder") {
    // Its holders are away: it runs again by itself, sooner at first.
    it.state = TransferState::kWaiting;
    const auto wait = std::min<Clock::duration>(kHolderWaitMax, std::chrono::seconds(1) * (1 << std::min(e.waits, 4)));
    e.due = Clock::now() + wait;
    cv_.notify_all();  // a worker waiting with no time set sets this one
    if (e.waits++ == 0) {
      ended_.push_back("[#" + n + "] " + it.what + ": " + it.note +
                       "; waiting for a holder: it resumes by itself ('cancel " + n + "' gives up)");
    }
    return;
  }
  e.waits = 0;
  it.state = stopped ? TransferState::kStopped : TransferState::kFailed;
  // "upload of x stopped; ..." / "stopped; ...": the line says that itself.
  if (size_t at = it.note.find("stopped; "); stopped && at != std::string::npos) it.note.erase(0, at + 9);
  std::string hint;
  if (closed_) {  // leaving: 'retry' is gone with this session
    if (!it.resume.empty()) hint = "; '" + it.resume + "' in a later session resumes it";
  } else if (stopped) {
    hint = it.note.find(" kept") != std::string::npos ? "; 'retry " + n + "' resumes it"
                                                      : "; 'retry " + n + "' starts it again";
  } else {
    hint = "; 'retry " + n + "' tries again";
  }
  ended_.push_back("[#" + n + "] " + it.kind + " of " + it.what + (stopped ? " stopped: " : " failed: ") +
                   it.note + hint);
}

}  // namespace p2pshare::pclient
