#include "common/limits.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace p2pshare
