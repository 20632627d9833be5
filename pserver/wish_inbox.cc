#include "pserver/wish_inbox.h"

#include <spdlog/spdlog.h>

#include "common/names.h"

namespace p2pshare::pserver {

bool WishInbox::Add(const Json& m) {
  FieldReader f(m);
  auto wish = f.Int("wish");
  auto query = f.String("query");
  auto name = f.String("name");
  auto size = f.Int("size");
  auto sha = f.String("sha256");
  auto holder = f.String("holder");
  if (!wish.ok() || !query.ok() || !name.ok() || !size.ok() || !sha.ok() || !holder.ok() ||
      !CheckFileName(*name).ok() || !IsSha256Hex(*sha) || !CheckUsername(*holder).ok() || query->size() > 1024) {
    spdlog::debug("central told of a wish in a form this peer does not read");
    return false;
  }
  std::string shown = *query;  // a query is any text: no control byte reaches the log
  for (char& c : shown) c = static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  spdlog::info("a wish came true: '{}' — {} ({} bytes) at {}", shown, *name, *size, *holder);
  {
    MutexLock lock(mu_);
    news_.push_back(WishNews{++last_, *wish, *query, *name, *size, *sha, *holder});
    if (news_.size() > kWishInbox) news_.pop_front();
  }
  cv_.notify_all();
  return true;
}

std::vector<WishNews> WishInbox::After(uint64_t after, std::chrono::milliseconds wait, uint64_t* last) {
  MutexLock lock(mu_);
  const uint64_t wakes = wakes_;
  cv_.wait_for(lock, wait, [&] { mu_.AssertHeld(); return closed_ || last_ > after || wakes_ != wakes; });
  std::vector<WishNews> out;
  for (const WishNews& n : news_) {
    if (n.seq > after) out.push_back(n);
  }
  *last = last_;
  return out;
}

bool WishInbox::closed() const {
  MutexLock lock(mu_);
  return closed_;
}

uint64_t WishInbox::wakes() const {
  MutexLock lock(mu_);
  return wakes_;
}

void WishInbox::WakeAll() {
  {
    MutexLock lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

void WishInbox::Close() {
  {
    MutexLock lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace p2pshare::pserver
