#include "pserver/upload_slots.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace p2pshare::pserver {
namespace {

using Clock = UploadSlots::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(UploadSlotsTest, TwoSlotsServeTwoAccountsAndTheThirdIsToldItsPlace) {
  UploadSlots slots(2);
  const auto t0 = Clock::now();
  auto a = slots.Enter("alice", t0);
  auto b = slots.Enter("bob", t0);
  ASSERT_TRUE(a.lease && b.lease);
  auto c = slots.Enter("carol", t0);
  EXPECT_FALSE(c.lease);
  EXPECT_EQ(c.place, 1);
  auto d = slots.Enter("dave", t0);
  EXPECT_EQ(d.place, 2);
  EXPECT_EQ(slots.Enter("carol", t0 + milliseconds(500)).place, 1) << "asking again keeps the place";
  // alice's second request shares her slot.
  auto a2 = slots.Enter("alice", t0);
  EXPECT_TRUE(a2.lease);
  EXPECT_EQ(slots.busy(t0), 2);
  EXPECT_EQ(slots.queued(t0), 2);
}

TEST(UploadSlotsTest, AFreedSlotGoesToTheFirstInTheQueueAfterTheLinger) {
  UploadSlots slots(1, seconds(2));
  const auto t0 = Clock::now();
  std::optional<UploadSlots::Answer> a = slots.Enter("alice", t0);
  ASSERT_TRUE(a->lease);
  EXPECT_EQ(slots.Enter("carol", t0).place, 1);
  EXPECT_EQ(slots.Enter("dave", t0).place, 2);
  a.reset();  // alice's download ended
  // Within the linger alice keeps her slot (a swarm's next request follows).
  EXPECT_EQ(slots.Enter("carol", t0 + milliseconds(100)).place, 1);
  EXPECT_TRUE(slots.Enter("alice", t0 + milliseconds(100)).lease);
  // Past it, the queue's head gets the slot; a newcomer does not jump the queue.
  const auto t3 = Clock::now() + seconds(3);
  EXPECT_EQ(slots.Enter("erin", t3).place, 3);
  auto dave = slots.Enter("dave", t3);
  EXPECT_FALSE(dave.lease) << "dave is behind carol";
  EXPECT_EQ(dave.place, 2);
  auto carol = slots.Enter("carol", t3);
  EXPECT_TRUE(carol.lease);
  EXPECT_EQ(slots.Enter("dave", t3).place, 1);
}

TEST(UploadSlotsTest, APlaceIsForgottenWhenItsAccountStopsAskingAndTheQueueIsBounded) {
  UploadSlots slots(1, seconds(2), seconds(10), /*max_queue=*/3);
  const auto t0 = Clock::now();
  auto a = slots.Enter("alice", t0);
  EXPECT_EQ(slots.Enter("gone", t0).place, 1);
  EXPECT_EQ(slots.Enter("bob", t0 + seconds(5)).place, 2);
  EXPECT_EQ(slots.Enter("bob", t0 + seconds(11)).place, 1) << "gone stopped asking: bob moves up";
  EXPECT_EQ(slots.Enter("c1", t0 + seconds(11)).place, 2);
  EXPECT_EQ(slots.Enter("c2", t0 + seconds(11)).place, 3);
  auto full = slots.Enter("c3", t0 + seconds(11));
  EXPECT_FALSE(full.lease);
  EXPECT_EQ(full.place, 0) << "a full queue says so";
  EXPECT_EQ(slots.queued(t0 + seconds(11)), 3);
}

TEST(UploadSlotsTest, AnAccountThatHadItsTurnGoesBehindThoseWaiting) {
  // A tiny download a second, each within the linger of the last, kept a
  // slot forever; now the turn (5 s) ends it while others wait.
  UploadSlots slots(1, /*linger=*/seconds(10), seconds(10), 1000, /*turn=*/seconds(5));
  const auto t0 = Clock::now();
  ASSERT_TRUE(slots.Enter("hog", t0).lease);  // ends at once
  EXPECT_EQ(slots.Enter("carol", t0).place, 1);
  for (int s = 1; s < 5; ++s) {
    EXPECT_TRUE(slots.Enter("hog", t0 + seconds(s)).lease) << "still its turn at " << s << " s";
    EXPECT_EQ(slots.Enter("carol", t0 + seconds(s)).place, 1);
  }
  auto hog = slots.Enter("hog", t0 + seconds(6));
  EXPECT_FALSE(hog.lease) << "its turn is over: behind carol";
  EXPECT_EQ(hog.place, 2);
  EXPECT_TRUE(slots.Enter("carol", t0 + seconds(6)).lease);
  EXPECT_EQ(slots.Enter("hog", t0 + seconds(7)).place, 1);
  // With no one waiting, a slot is kept as long as it is used.
  UploadSlots alone(1, seconds(10), seconds(10), 1000, seconds(5));
  for (int s = 0; s < 20; ++s) EXPECT_TRUE(alone.Enter("solo", t0 + seconds(s)).lease);
}

TEST(UploadSlotsTest, OneAddressHoldsAtMostHalfTheSlots) {
  UploadSlots slots(4);
  const auto t0 = Clock::now();
  auto a1 = slots.Enter("a1", "10.0.0.9", t0);
  auto a2 = slots.Enter("a2", "10.0.0.9", t0);
  ASSERT_TRUE(a1.lease && a2.lease);
  auto a3 = slots.Enter("a3", "10.0.0.9", t0);
  EXPECT_FALSE(a3.lease) << "two slots are free, but not for 10.0.0.9";
  EXPECT_EQ(a3.place, 1);
  EXPECT_TRUE(slots.Enter("b1", "10.0.0.7", t0).lease) << "another machine goes past it";
  EXPECT_TRUE(slots.Enter("b2", "2001:db8::7", t0).lease);
  // Loopback (this machine, tests) is not counted.
  UploadSlots local(4);
  std::vector<UploadSlots::Answer> held;
  for (const char* a : {"l1", "l2", "l3", "l4"}) {
    held.push_back(local.Enter(a, "127.0.0.1", t0));
    EXPECT_TRUE(held.back().lease) << a;
  }
}

TEST(UploadSlotsTest, ZeroSlotsMeansNoLimit) {
  UploadSlots slots(0);
  std::vector<UploadSlots::Answer> held;
  for (int i = 0; i < 100; ++i) {
    held.push_back(slots.Enter("peer" + std::to_string(i)));
    EXPECT_TRUE(held.back().lease) << i;
  }
}

TEST(UploadPacerTest, CallersTakeTurnsAtTheRate) {
  UploadPacer pacer(1 << 20);  // 1 MiB a second
  const auto t0 = Clock::now();
  EXPECT_EQ(pacer.Reserve(512 << 10, t0), t0) << "an idle link sends at once";
  EXPECT_EQ(pacer.Reserve(512 << 10, t0), t0 + milliseconds(500));
  EXPECT_EQ(pacer.Reserve(1 << 20, t0), t0 + milliseconds(1000));
  // After a pause the link is free at once again (no credit saved up beyond one chunk).
  const auto later = t0 + seconds(10);
  EXPECT_EQ(pacer.Reserve(1 << 20, later), later);
  EXPECT_EQ(UploadPacer(0).Reserve(1 << 30, t0), t0) << "0: no limit";
}

}  // namespace
}  // namespace p2pshare::pserver
