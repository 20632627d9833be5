#include "common/limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace p2pshare {
namespace {

using Clock = RateLimits::Clock;
using std::chrono::milliseconds;

TEST(RateLimitsTest, BurstThenOneCallPerTokenAndOtherKeysUntouched) {
  RateLimits limits(/*rate=*/2, /*burst=*/3);
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.Take("a", t0), 0) << i;
  int64_t wait = limits.Take("a", t0);
  EXPECT_EQ(wait, 500);  // one token at 2 a second
  EXPECT_EQ(limits.Take("b", t0), 0) << "another caller is not slowed by a's calls";
  EXPECT_GT(limits.Take("a", t0 + milliseconds(400)), 0);
  EXPECT_EQ(limits.Take("a", t0 + milliseconds(500)), 0);
  // Refills to the burst, never beyond.
  Clock::time_point later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.Take("a", later), 0) << i;
  EXPECT_GT(limits.Take("a", later), 0);
}

TEST(RateLimitsTest, ZeroRateMeansNoLimit) {
  RateLimits limits(0, 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limits.Take("a"), 0);
  EXPECT_EQ(limits.keys(), 0u);
}

TEST(RateLimitsTest, AFloodOfKeysKeepsMemoryBoundedAndForgetsTheLeastRecent) {
  RateLimits limits(1, 1, /*max_keys=*/100);
  Clock::time_point t0 = Clock::now();
  EXPECT_EQ(limits.Take("victim", t0), 0);
  EXPECT_GT(limits.Take("victim", t0), 0);
  for (int i = 0; i < 10000; ++i) limits.Take("junk" + std::to_string(i), t0);
  EXPECT_EQ(limits.keys(), 100u);
  // Forgotten: a fresh bucket, which only favours its owner.
  EXPECT_EQ(limits.Take("victim", t0), 0);
}

TEST(ConcurrencyLimitsTest, PerKeyAndTotalSlotsComeBackWhenReleased) {
  ConcurrencyLimits limits(/*per_key=*/2, /*total=*/3);
  auto a1 = limits.Enter("a");
  auto a2 = limits.Enter("a");
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(limits.Enter("a")) << "a third call of one key";
  auto b1 = limits.Enter("b");
  ASSERT_TRUE(b1);
  EXPECT_FALSE(limits.Enter("c")) << "the total is reached";
  EXPECT_EQ(limits.InFlight("a"), 2);
  EXPECT_EQ(limits.InFlight(), 3);
  a1.reset();  // the optional's slot is destroyed
  EXPECT_EQ(limits.InFlight("a"), 1);
  auto c1 = limits.Enter("c");
  EXPECT_TRUE(c1);
  ConcurrencyLimits::Slot moved = std::move(*c1);
  c1.reset();
  EXPECT_EQ(limits.InFlight("c"), 1) << "a moved-from slot gives nothing back";
  moved.reset();
  moved.reset();
  EXPECT_EQ(limits.InFlight("c"), 0);
  EXPECT_EQ(limits.InFlight(), 2);
}

// Waits (briefly, polling) until `slots` has `n` waiters.
void AwaitWaiting(const FairSlots& slots, size_t n) {
  for (int i = 0; i < 2000 && slots.waiting() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(slots.waiting(), n);
}

TEST(FairSlotsTest, ThePlaceGoesToTheKeyServedLongestAgo) {
  FairSlots slots(/*capacity=*/1, /*per_key=*/1, /*max_waiting=*/16);
  auto held = slots.Enter({"looper"}, std::chrono::seconds(1));
  ASSERT_TRUE(held);
  // The looper queues three more; then a newcomer arrives last.
  std::vector<std::string> order;
  std::mutex mu;
  std::vector<std::thread> callers;
  auto call = [&](std::string key) {
    callers.emplace_back([&, key] {
      auto s = slots.Enter({key}, std::chrono::seconds(10));
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(s ? key : key + " busy");
    });
  };
  for (int i = 0; i < 3; ++i) call("looper");
  AwaitWaiting(slots, 3);
  call("newcomer");
  AwaitWaiting(slots, 4);
  held.reset();
  for (auto& t : callers) t.join();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], "newcomer") << "never served: first, though it came last";
  EXPECT_EQ(slots.running(), 0);
}

TEST(FairSlotsTest, OneKeyHoldsAtMostItsShareAndACrowdMakesRoomWhenFull) {
  FairSlots slots(/*capacity=*/2, /*per_key=*/1, /*max_waiting=*/2);
  auto a = slots.Enter({"address a", "account x"}, std::chrono::seconds(1));
  ASSERT_TRUE(a);
  // The other place is free, but not for address a, nor for account x.
  EXPECT_FALSE(slots.Enter({"address a"}, std::chrono::milliseconds(20)));
  EXPECT_FALSE(slots.Enter({"address b", "account x"}, std::chrono::milliseconds(20)));
  auto b = slots.Enter({"address b", "account y"}, std::chrono::milliseconds(20));
  EXPECT_TRUE(b);
  // Two of address a's wait, filling the queue; address c still gets in
  // line, and one of a's is told busy at once.
  std::atomic<int> refused{0}, admitted{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] { (slots.Enter({"address a"}, std::chrono::seconds(10)) ? admitted : refused)++; });
  }
  AwaitWaiting(slots, 2);
  std::thread c([&] { (slots.Enter({"address c"}, std::chrono::seconds(10)) ? admitted : refused)++; });
  for (int i = 0; i < 2000 && refused == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(refused.load(), 1) << "the crowd of address a made room";
  b.reset();  // c's turn (never served), not a's
  c.join();
  EXPECT_EQ(admitted.load(), 1);
  a.reset();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(admitted.load(), 2);
  EXPECT_EQ(refused.load(), 1);
}

TEST(FairSlotsTest, AWaitThatRunsOutIsBusy) {
  FairSlots slots(1, 1, 4);
  auto held = slots.Enter({"a"}, std::chrono::seconds(1));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(slots.Enter({"b"}, std::chrono::milliseconds(50)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(slots.waiting(), 0u);
  held.reset();
  EXPECT_TRUE(slots.Enter({"b"}, std::chrono::milliseconds(50)));
}

}  // namespace
}  // namespace p2pshare
