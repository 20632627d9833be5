// NetworkTest: a fixture with a real central on this test's own port range
// and helpers to start real peer-servers; on failure it prints every log.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integration/test_support.h"

namespace p2pshare::testing {

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    range_ = TestPortRange();
    central_ = std::make_unique<CentralProcess>(
        dir_.path(), Json{{"port_range", {range_.first, range_.second}}});
    Status s = central_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override {
    if (!HasFailure()) return;
    std::fprintf(stderr, "central log:\n%s\n", central_ ? central_->log().c_str() : "");
    for (auto& p : peers_) {
      std::fprintf(stderr, "%s log:\n%s\n", p->username().c_str(), p->log().c_str());
    }
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

}  // namespace p2pshare::testing
