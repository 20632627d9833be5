#include "pserver/upload_ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace p2pshare::pserver {
namespace {

// The rate is measured over windows of this length.
constexpr auto kRateWindow = std::chrono::seconds(2);

double Seconds(UploadLedger::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// 24.0 MiB
std::string Mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

void UploadLedger::Begin(const std::string& to, const FileEntry& file, Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  auto [it, fresh] = served_.try_emplace(Key{to, file.sha256});
  Entry& e = it->second;
  if (fresh) {
    if (served_.size() > kMaxServed) {
      // Full of downloads by strangers: the oldest idle one goes.
      auto oldest = served_.end();
      for (auto o = served_.begin(); o != served_.end(); ++o) {
        if (o != it && o->second.s.calls == 0 && (oldest == served_.end() || o->second.last < oldest->second.last)) {
          oldest = o;
        }
      }
      if (oldest == served_.end()) {
        served_.erase(it);  // every one is in flight: this one is not counted
        return;
      }
      served_.erase(oldest);
    }
    e.s.to = to;
    e.s.file = file;
    e.first = e.window_start = now;
    spdlog::info("serving '{}' ({}) to {}", file.name, Mib(file.size), to);
  }
  e.s.calls++;
  e.last = now;
}

void UploadLedger::Sent(const std::string& to, const std::string& sha256, int64_t bytes, Clock::time_point now) {
  MutexLock lock(mu_);
  auto it = served_.find(Key{to, sha256});
  if (it == served_.end()) return;
  Entry& e = it->second;
  e.s.bytes += bytes;
  e.window_bytes += bytes;
  e.last = now;
  if (now - e.window_start >= kRateWindow) {
    e.last_rate = static_cast<double>(e.window_bytes) / Seconds(now - e.window_start);
    e.window_start = now;
    e.window_bytes = 0;
  }
}

void UploadLedger::End(const std::string& to, const std::string& sha256, Clock::time_point now) {
  MutexLock lock(mu_);
  auto it = served_.find(Key{to, sha256});
  if (it == served_.end()) return;
  it->second.s.calls = std::max(0, it->second.s.calls - 1);
  it->second.last = now;
}

std::vector<UploadLedger::Served> UploadLedger::Now(Clock::time_point now) {
  MutexLock lock(mu_);
  Expire(now);
  std::vector<Served> out;
  for (const auto& [key, e] : served_) {
    Served s = e.s;
    s.seconds = Seconds(now - e.first);
    // The last window's rate, or the one in progress when it has run long
    // enough to say; 0 once nothing came for a window.
    const double running = Seconds(now - e.window_start);
    s.rate = now - e.last >= kRateWindow ? 0
             : running >= 0.5 && e.window_bytes > 0 ? static_cast<double>(e.window_bytes) / running
                                                    : e.last_rate;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Served& a, const Served& b) { return a.bytes > b.bytes; });
  return out;
}

void UploadLedger::Expire(Clock::time_point now) {
  for (auto it = served_.begin(); it != served_.end();) {
    if (it->second.s.calls == 0 && now - it->second.last >= kServedGap) {
      LogEnd(it->second);
      it = served_.erase(it);
    } else {
      ++it;
    }
  }
}

void UploadLedger::LogEnd(const Entry& e) {
  const double secs = std::max(0.001, Seconds(e.last - e.first));
  spdlog::info("served '{}' to {}: {} in {:.1f} s ({}/s)", e.s.file.name, e.s.to, Mib(e.s.bytes), secs,
               Mib(static_cast<int64_t>(static_cast<double>(e.s.bytes) / secs)));
}

}  // namespace p2pshare::pserver
