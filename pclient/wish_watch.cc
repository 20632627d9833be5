#include "pclient/wish_watch.h"

#include <grpcpp/grpcpp.h>

#include "common/peer_channel.h"

namespace p2pshare::pclient {
namespace {

constexpr int kWaitMs = 15000;  // one WishNews call waits this long for news

}  // namespace

WishWatch::WishWatch(std::vector<std::string> hosts, int port, std::string username, std::function<void()> wake)
    : hosts_(std::move(hosts)), port_(port), username_(std::move(username)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Loop(); });
}

WishWatch::~WishWatch() { Stop(); }

void WishWatch::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    if (call_) call_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<v1::WishNewsReply::News> WishWatch::Take() {
  MutexLock lock(mu_);
  std::vector<v1::WishNewsReply::News> out;
  out.swap(news_);
  return out;
}

grpc::Status WishWatch::Ask(uint64_t after, int wait_ms, v1::WishNewsReply* reply) {
  grpc::Status last;
  for (const std::string& host : hosts_) {
    auto stub = PeerStub(host, port_, username_);
    {
      MutexLock lock(mu_);
      if (stopping_) return grpc::Status::CANCELLED;
      call_ = std::make_unique<grpc::ClientContext>();
      call_->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms + 5000));
    }
    v1::WishNewsRequest req;
    req.set_after(after);
    req.set_wait_ms(wait_ms);
    // The context lives until the next Ask or Stop replaces it; Stop may
    // cancel it meanwhile (under mu_).
    grpc::ClientContext* ctx = nullptr;
    {
      MutexLock lock(mu_);
      ctx = call_.get();
    }
    last = stub->WishNews(ctx, req, reply);
    if (last.ok() || last.error_code() == grpc::StatusCode::PERMISSION_DENIED) return last;
  }
  return last;
}

void WishWatch::Loop() {
  uint64_t after = 0;
  bool started = false;  // knows the newest news there was when it began
  for (;;) {
    v1::WishNewsReply reply;
    const auto asked = std::chrono::steady_clock::now();
    const grpc::Status s = Ask(after, started ? kWaitMs : 0, &reply);
    // An answer at once without news (the peer-server had callers waiting
    // enough, or is stopping): ask again in a while, not in a loop.
    const bool hasty = started && s.ok() && reply.news().empty() &&
                       std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(200);
    bool got = false;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      if (s.ok()) {
        if (reply.last() < after) after = 0;  // the peer-server started again: all it has is new
        if (started) {
          for (const auto& n : reply.news()) {
            if (n.seq() > after) news_.push_back(n);
          }
          got = !reply.news().empty();
        }
        after = std::max<uint64_t>(after, reply.last());
        started = true;
      }
      if (!s.ok() || hasty) {
        // The peer-server is away (or restarting): ask again in a while.
        cv_.wait_for(lock, std::chrono::seconds(2), [&] { mu_.AssertHeld(); return stopping_; });
        if (stopping_) return;
      }
    }
    if (got && wake_) wake_();
  }
}

}  // namespace p2pshare::pclient
