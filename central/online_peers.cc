#include "central/online_peers.h"

#include <iterator>

#include "common/host_port.h"
#include "common/mutex.h"

namespace p2pshare::central {

void OnlinePeers::Add(const PeerRecord& peer, const std::string& source) {
  MutexLock lock(mu_);
  online_[peer.username] = peer;
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (join_seq_.count(peer.username)) return;
  if (!source.empty()) {
    source_[peer.username] = source;
    ++per_source_[source];
  }
  uint64_t seq = next_join_seq_++;
  join_seq_[peer.username] = seq;
  joined_[seq] = peer.username;
}

void OnlinePeers::Remove(const std::string& username) {
  MutexLock lock(mu_);
  online_.erase(username);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (auto s = source_.find(username); s != source_.end()) {
    if (--per_source_[s->second] <= 0) per_source_.erase(s->second);
    source_.erase(s);
  }
  auto it = join_seq_.find(username);
  if (it == join_seq_.end()) return;
  joined_.erase(it->second);
  join_seq_.erase(it);
}

std::vector<Holder> OnlinePeers::Addresses(std::vector<std::string> usernames) const {
  std::vector<Holder> out;
  out.reserve(usernames.size());
  MutexLock lock(mu_);
  for (auto& user : usernames) {
    auto it = online_.find(user);
    if (it == online_.end()) continue;  // left after the index was read
    out.push_back(Holder{std::move(user), it->second.host, it->second.port});
  }
  return out;
}

std::vector<std::string> OnlinePeers::FriendsOf(const std::string& username) const {
  std::vector<std::string> out;
  MutexLock lock(mu_);
  auto seq = join_seq_.find(username);
  if (seq == join_seq_.end()) return out;
  auto it = joined_.find(seq->second);
  for (size_t step = 0; step + 1 < joined_.size() && out.size() < 2; ++step) {
    it = it == joined_.begin() ? std::prev(joined_.end()) : std::prev(it);  // the one before, in a ring
    auto peer = online_.find(it->second);
    if (peer != online_.end()) out.push_back(JoinHostPort(peer->second.host, peer->second.port));
  }
  return out;
}

int64_t OnlinePeers::CountFrom(const std::string& source) const {
  MutexLock lock(mu_);
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

int64_t OnlinePeers::Count() const {
  MutexLock lock(mu_);
  return static_cast<int64_t>(online_.size());
}

}  // namespace p2pshare::central

namespace p2pshare::central {

std::vector<std::string> OnlinePeers::Usernames() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  out.reserve(online_.size());
  for (const auto& [user, peer] : online_) out.push_back(user);
  return out;
}

}  // namespace p2pshare::central
