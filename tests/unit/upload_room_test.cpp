#include "pserver/upload_room.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace p2pshare::pserver {
namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(UploadRoomTest, ReservationsCountAgainstTheQuotaAndTheDiskUntilTheyEnd) {
  UploadRoom room;
  {
    auto a = room.Reserve(30 * kMiB, 10 * kMiB, 50 * kMiB, 100 * kMiB);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(room.FreeBytes(10 * kMiB, 50 * kMiB, 100 * kMiB), 10 * kMiB);
    auto b = room.Reserve(11 * kMiB, 10 * kMiB, 50 * kMiB, 100 * kMiB);
    EXPECT_EQ(b.status().code(), Code::kResourceExhausted) << "the quota";
    a->Wrote(25 * kMiB);
    EXPECT_EQ(room.unwritten(), 5 * kMiB);
    auto c = room.Reserve(10 * kMiB, 10 * kMiB, 50 * kMiB, 12 * kMiB);
    EXPECT_EQ(c.status().code(), Code::kResourceExhausted) << "the disk: 5 MiB of a still to come";
  }
  EXPECT_EQ(room.reserved(), 0);
  EXPECT_EQ(room.unwritten(), 0);
}

TEST(UploadRoomTest, NoSizesAStrangerSendsCanWrapTheTotals) {
  UploadRoom room;
  // One upload held open within the quota...
  auto held = room.Reserve(kMiB, 0, 50 * kMiB, 100 * kMiB);
  ASSERT_TRUE(held.ok());
  // ...and a second whose size would wrap reserved + size below zero.
  for (int64_t size : {kMax, kMax - kMiB + 1, kMax - 1, int64_t{1} << 62, kMaxUploadBytes + 1}) {
    auto r = room.Reserve(size, 0, 50 * kMiB, 100 * kMiB);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << size;
  }
  EXPECT_EQ(room.Reserve(-1, 0, 50 * kMiB, 100 * kMiB).status().code(), Code::kInvalidArgument);
  // The largest size taken is checked against the room, with no wrap even
  // where the quota, the shared bytes and the disk are extreme themselves.
  EXPECT_EQ(room.Reserve(kMaxUploadBytes, 0, 50 * kMiB, 100 * kMiB).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(room.Reserve(kMaxUploadBytes, kMax, kMax, kMax).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(room.Reserve(1, kMax - 1, kMax, kMax).status().code(), Code::kResourceExhausted);
  auto huge = room.Reserve(kMaxUploadBytes, 0, kMax, kMax);
  EXPECT_TRUE(huge.ok()) << "a quota and disk of INT64_MAX do take 1 PiB";
  EXPECT_EQ(room.FreeBytes(kMax, kMax, kMax), 0);
  EXPECT_EQ(room.FreeBytes(-5, 0, -5), 0);
  EXPECT_EQ(room.reserved(), kMiB + kMaxUploadBytes);
}

TEST(UploadRoomTest, MovedReservationsGiveBackOnce) {
  UploadRoom room;
  std::vector<UploadRoom::Reservation> kept;
  for (int i = 0; i < 4; ++i) {
    auto r = room.Reserve(kMiB, 0, 10 * kMiB, 10 * kMiB);
    ASSERT_TRUE(r.ok());
    kept.push_back(std::move(*r));
  }
  EXPECT_EQ(room.reserved(), 4 * kMiB);
  kept.erase(kept.begin());
  EXPECT_EQ(room.reserved(), 3 * kMiB);
  kept.clear();
  EXPECT_EQ(room.reserved(), 0);
  EXPECT_EQ(room.unwritten(), 0);
}

}  // namespace
}  // namespace p2pshare::pserver
