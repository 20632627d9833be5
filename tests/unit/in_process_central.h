// A real central (Directory on a temp SQLite file, HttpApi on a loopback
// port) inside the test process, for testing the clients of its REST API
// with a clock the test moves.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "central/directory.h"
#include "central/http_api.h"
#include "unit/test_dir.h"

namespace p2pshare::testing {

class InProcessCentral {
 public:
  using Clock = std::chrono::steady_clock;

  // Liveness and the slow-down run on `now()`, which starts at the real
  // time and moves only when Advance() is called. No sweeper: Sweep().
  explicit InProcessCentral(central::HttpApiOptions http = Small()) {
    central::DirectoryOptions options;
    options.port_range = {50051, 50053};
    options.heartbeat_interval_s = 1;
    options.session_ttl_s = 3;
    options.pbkdf2_iterations = 1000;
    options.now = [this] { return now_.load(); };
    auto store = central::DirectoryStore::Open(dir_ / "central.db");
    if (!store.ok()) ADD_FAILURE() << store.status().message();
    directory_ = std::make_unique<central::Directory>(std::move(store).value(), options);
    if (!directory_->Start(/*run_sweeper=*/false).ok()) ADD_FAILURE() << "directory did not start";
    api_ = std::make_unique<central::HttpApi>(directory_.get(), http);
    auto port = api_->Bind("127.0.0.1", 0);
    if (!port.ok()) ADD_FAILURE() << port.status().message();
    url_ = "http://127.0.0.1:" + std::to_string(port.ok() ? *port : 0);
    thread_ = std::thread([this] { api_->Run(); });
  }
  ~InProcessCentral() {
    api_->Stop();
    thread_.join();
  }

  static central::HttpApiOptions Small() {
    central::HttpApiOptions http;
    http.threads = 4;
    return http;
  }
  const std::string& url() const { return url_; }
  central::Directory& directory() { return *directory_; }
  void Advance(std::chrono::seconds d) { now_ = now_.load() + d; }
  // Evicts the peers silent for longer than the TTL now; how many.
  int Sweep() { return directory_->SweepOnce(now_.load()); }

 private:
  TestDir dir_;
  std::atomic<Clock::time_point> now_{Clock::now()};
  std::unique_ptr<central::Directory> directory_;
  std::unique_ptr<central::HttpApi> api_;
  std::string url_;
  std::thread thread_;
};

// Waits up to `limit` for `done()` to hold, checking every 10 ms; whether
// it did. A wait for a condition, not a fixed sleep.
template <class F>
bool WaitUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace p2pshare::testing
