// NetworkTest and ProcessTest: fixtures with a real central on the test's
// own port range and helpers to start real peer-servers.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integration/test_support.h"

namespace p2pshare::testing {

// Real central and peer-servers in this test's folder, on its own port
// range; on failure every log is printed (the last 20 000 bytes of each).
class ProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    if (central_) std::fprintf(stderr, "central log:\n%s\n", Tail(central_->log()).c_str());
    for (auto& p : peers_) {
      std::fprintf(stderr, "%s log:\n%s\n", p->username().c_str(), Tail(p->log()).c_str());
    }
  }
  static std::string Tail(const std::string& log) {
    return log.size() > 20000 ? "..." + log.substr(log.size() - 20000) : log;
  }
  // Starts central with `overrides` laid over the test defaults.
  void StartCentral(Json overrides = Json::object()) {
    range_ = TestPortRange();
    overrides["port_range"] = {range_.first, range_.second};
    central_ = std::make_unique<CentralProcess>(dir_.path(), std::move(overrides));
    Status s = central_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  // Starts `name`'s peer-server after `fill` put files into its folder.
  // `overrides` are config keys laid over the test defaults.
  PeerServerProcess& StartPeer(const std::string& name,
                               const std::function<void(const std::filesystem::path&)>& fill = {},
                               Json overrides = Json::object()) {
    peers_.push_back(
        std::make_unique<PeerServerProcess>(dir_.path(), name, *central_, std::move(overrides)));
    if (fill) fill(peers_.back()->shared_dir());
    Status s = peers_.back()->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    return *peers_.back();
  }

  TestDir dir_;
  std::pair<int, int> range_;
  std::unique_ptr<CentralProcess> central_;
  std::vector<std::unique_ptr<PeerServerProcess>> peers_;
};

// ProcessTest with central started before each test.
class NetworkTest : public ProcessTest {
 protected:
  void SetUp() override { StartCentral(); }
};

}  // namespace p2pshare::testing
