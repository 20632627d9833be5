#include "central/wishes.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace p2pshare::central {
namespace {

// Files matched per turn of the thread's lock.
constexpr size_t kBatch = 256;

}  // namespace

Wishes::Wishes(DirectoryStore* store, bool replicas, Hooks hooks)
    : store_(store), replicas_(replicas), hooks_(std::move(hooks)) {}

Wishes::~Wishes() { Stop(); }

Status Wishes::Start() {
  ASSIGN_OR_RETURN(auto all, store_->ListWishes(""));
  for (WishRecord& w : all) book_.Put(std::move(w));
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Wishes::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<WishRecord> Wishes::Add(const std::string& username, const std::string& query, const std::string& source,
                               int64_t* matching_now) {
  ASSIGN_OR_RETURN(NameQuery parsed, NameQuery::Parse(query));
  RETURN_IF_ERROR(CheckWishQuery(parsed));
  WishRecord wish{0, username, parsed.Text(), source, 0, {}};
  // What it finds now is not news: only what comes later is told.
  const std::vector<std::string> now = hooks_.matching_now(parsed);
  *matching_now = static_cast<int64_t>(now.size());
  for (const std::string& sha : now) wish.seen.push_back(SeenKey(sha));
  if (wish.seen.size() > kWishSeen) wish.seen.erase(wish.seen.begin(), wish.seen.end() - kWishSeen);
  ASSIGN_OR_RETURN(WishRecord made, store_->AddWish(wish, WishBounds{kWishesPerAccount, kWishesPerAddress, kMaxWishes}));
  book_.Put(made);
  Changed(username);
  return made;
}

Status Wishes::Remove(const std::string& username, int64_t id) {
  RETURN_IF_ERROR(store_->RemoveWish(username, id));
  book_.Remove(id);
  Changed(username);
  return Status::Ok();
}

Result<std::vector<WishRecord>> Wishes::List(const std::string& username) {
  return store_->ListWishes(username);
}

void Wishes::Indexed(const std::string& holder, const std::vector<FileEntry>& files) {
  if (book_.size() == 0 || files.empty()) return;
  {
    MutexLock lock(mu_);
    for (const FileEntry& f : files) {
      if (queue_.size() >= kWishQueue) {
        queue_.pop_front();
        ++dropped_;
      }
      queue_.push_back(Queued{holder, f});
    }
  }
  cv_.notify_all();
}

void Wishes::Loop() {
  for (;;) {
    std::vector<Queued> batch;
    {
      MutexLock lock(mu_);
      busy_ = false;
      cv_.notify_all();  // Drain
      cv_.wait(lock, [&] { mu_.AssertHeld(); return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      while (!queue_.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ = true;
    }
    for (const Queued& q : batch) {
      auto holders = [&] { return hooks_.holders(q.file.sha256); };
      for (const WishFound& found : book_.Match(q.file, q.holder, holders)) Announce(found);
    }
  }
}

void Wishes::Announce(const WishFound& found) {
  const Json message{{"type", "wish"},       {"wish", found.wish},           {"query", found.query},
                     {"name", found.file.name}, {"size", found.file.size},  {"sha256", found.file.sha256},
                     {"holder", found.holder}};
  const bool sent = hooks_.signal(found.username, message);
  {
    MutexLock lock(mu_);
    ++announced_;
    if (!sent) {
      auto& waiting = pending_[found.username];
      waiting.push_back(message.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
      if (waiting.size() > kWishPending) waiting.pop_front();
      if (pending_.size() > static_cast<size_t>(kMaxWishes)) pending_.erase(pending_.begin());
    }
  }
  if (Status s = store_->SetWishSeen(found.wish, book_.SeenOf(found.wish)); !s.ok()) {
    spdlog::warn("could not record wish {} as told: {}", found.wish, s.message());
  }
  Changed(found.username);
}

void Wishes::Changed(const std::string& username) {
  if (replicas_) (void)hooks_.signal(username, Json{{"type", "wishes_changed"}});
}

bool Wishes::OnSignal(const std::string& username, const std::string& line) {
  if (line.find("\"wishes_changed\"") == std::string::npos) return false;
  auto wishes = store_->ListWishes(username);
  if (wishes.ok()) book_.ReplaceAccount(username, std::move(*wishes));
  return true;
}

std::string Wishes::TakePending(const std::string& username) {
  MutexLock lock(mu_);
  auto it = pending_.find(username);
  if (it == pending_.end()) return "";
  std::string out;
  for (const std::string& line : it->second) out += line;
  pending_.erase(it);
  return out;
}

Wishes::Counters Wishes::counters() const {
  MutexLock lock(mu_);
  return Counters{static_cast<int64_t>(book_.size()), announced_, dropped_};
}

void Wishes::Drain() {
  MutexLock lock(mu_);
  cv_.wait(lock, [&] { mu_.AssertHeld(); return queue_.empty() && !busy_; });
}

}  // namespace p2pshare::central
