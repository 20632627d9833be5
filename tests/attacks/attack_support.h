// Helpers of the attack suites (tests/attacks/): raw requests from another
// source address, /proc readings, and an honest peer at work beside an
// attack whose calls are timed.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "integration/raw_connection.h"
#include "integration/test_support.h"

namespace p2pshare::testing {

// One request on a fresh connection from `source`, answered and closed.
inline std::string Exchange(int port, const std::string& request, const std::string& source = "127.0.0.1") {
  RawConnection s(port, source);
  if (!s.ok() || !s.Send(request)) return "";
  return s.ReadAll(std::chrono::seconds(10));
}

inline int StatusOf(const std::string& reply) {
  return reply.size() > 12 && reply.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(reply.c_str() + 9) : 0;
}

inline std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A value of /proc/<pid>/status ("Threads", "VmRSS" in kB), or -1.
inline int64_t ProcStatus(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  }
  return -1;
}

// Bytes in a peer-server's upload temp folder.
inline int64_t TempBytes(const std::filesystem::path& shared) {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(shared / ".p2pshare/tmp", ec)) {
    n += static_cast<int64_t>(std::filesystem::file_size(e.path(), ec));
  }
  return n;
}

// Latencies of one kind of honest call, and its failures.
struct Calls {
  std::vector<double> ms;
  int failures = 0;
  std::string last_error;
  double P99() const {
    if (ms.empty()) return 0;
    std::vector<double> v = ms;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * 0.99))];
  }
};

// An honest peer at work while an attack runs: /healthz, a heartbeat and a
// search, one after another, every 20 ms, from its own address, until
// stopped; then each kind's p99 and failures.
class HonestPeer {
 public:
  HonestPeer(const CentralProcess& central, const std::filesystem::path& dir)
      : central_(central), member_(central, dir, "honest") {}
  ~HonestPeer() { Stop(); }
  const Status& status() const { return member_.status(); }

  void Start() {
    thread_ = std::thread([this] {
      auto http = central_.Http();
      http->set_keep_alive(true);
      http->set_read_timeout(5, 0);
      while (!stop_) {
        Time("healthz", [&] {
          auto r = http->Get("/healthz");
          return r && r->status == 200 ? Status::Ok() : Unavailable(r ? std::to_string(r->status) : "no answer");
        });
        Time("heartbeat", [&] { return member_.client().Heartbeat().status(); });
        Time("search", [&] { return member_.client().Search("honest-file").status(); });
        rounds_++;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing, not a wait for a condition
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const Calls& calls(const std::string& kind) { return calls_[kind]; }
  // Rounds of the three calls finished so far.
  int rounds() const { return rounds_; }
  // Checks what the honest user would notice.
  void ExpectUnharmed() {
    for (const char* kind : {"healthz", "heartbeat", "search"}) {
      const Calls& c = calls_[kind];
      std::printf("honest %-9s during the attack: %zu calls, %d failed, p99 %.1f ms\n", kind,
                  c.ms.size(), c.failures, c.P99());
      EXPECT_GT(c.ms.size(), 5u) << kind;
      EXPECT_EQ(c.failures, 0) << kind << ": " << c.last_error;
    }
    // 100 ms; kSanitizerSlowdown times that in a sanitizer build, where
    // central's own work is that much slower.
    EXPECT_LT(calls_["healthz"].P99(), 100.0 * kSanitizerSlowdown);
    EXPECT_LT(calls_["heartbeat"].P99(), 100.0 * kSanitizerSlowdown);
  }

 private:
  void Time(const std::string& kind, const std::function<Status()>& call) {
    auto t0 = std::chrono::steady_clock::now();
    Status s = call();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    Calls& c = calls_[kind];
    c.ms.push_back(ms);
    if (!s.ok()) {
      c.failures++;
      c.last_error = s.ToString();
    }
  }

  const CentralProcess& central_;
  TestMember member_;
  std::map<std::string, Calls> calls_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
};

}  // namespace p2pshare::testing
