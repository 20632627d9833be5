#include "central/event_log.h"
#include "common/mutex.h"

#include <chrono>

namespace p2pshare::central {

void EventLog::Record(std::string kind, std::string username, std::string detail,
                      std::string public_detail) {
  if (public_detail.empty()) public_detail = detail;
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  MutexLock lock(mu_);
  events_.push_back(NetworkEvent{next_id_++, ms, std::move(kind), std::move(username),
                                 std::move(detail), std::move(public_detail)});
  while (events_.size() > kKept) events_.pop_front();
}

void EventLog::Append(NetworkEvent event) {
  MutexLock lock(mu_);
  if (!events_.empty() && event.id <= events_.back().id) return;  // seen already
  next_id_ = event.id + 1;
  events_.push_back(std::move(event));
  while (events_.size() > kKept) events_.pop_front();
}

std::vector<NetworkEvent> EventLog::After(int64_t after) const {
  MutexLock lock(mu_);
  std::vector<NetworkEvent> out;
  for (const auto& e : events_) {
    if (e.id > after) out.push_back(e);
  }
  return out;
}

}  // namespace p2pshare::central
