#include "central/port_allocator.h"

#include <gtest/gtest.h>

namespace p2pshare::central {
namespace {

TEST(PortAllocatorTest, LowestFreePort) {
  EXPECT_EQ(PickPort({50051, 50150}, {}, std::nullopt), 50051);
  EXPECT_EQ(PickPort({50051, 50150}, {50051, 50052}, std::nullopt), 50053);
  EXPECT_EQ(PickPort({50051, 50150}, {50052}, std::nullopt), 50051);
}

TEST(PortAllocatorTest, PreferredPortWhenFreeAndInRange) {
  EXPECT_EQ(PickPort({50051, 50150}, {}, 50100), 50100);
  EXPECT_EQ(PickPort({50051, 50150}, {50100}, 50100), 50051);
  EXPECT_EQ(PickPort({50051, 50150}, {}, 8080), 50051);
}

TEST(PortAllocatorTest, NoneFree) {
  EXPECT_EQ(PickPort({50051, 50052}, {50051, 50052}, std::nullopt), std::nullopt);
  EXPECT_EQ(PickPort({50051, 50051}, {50051}, 50051), std::nullopt);
}

}  // namespace
}  // namespace p2pshare::central
