#include "common/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace p2pshare {
namespace {

TEST(BoundedQueueTest, HandsItemsOverInOrderAndNeverHoldsMoreThanItsCapacity) {
  BoundedQueue<std::string> queue(3);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(queue.Push(std::to_string(i)));
      pushed++;
    }
    queue.Close();
  });
  int popped = 0;
  while (auto item = queue.Pop()) {
    EXPECT_EQ(*item, std::to_string(popped));
    ++popped;
    // The producer can be ahead of the consumer by the queue's capacity,
    // plus the one item it may have pushed since this one was taken.
    EXPECT_LE(pushed.load(), popped + 3 + 1);
  }
  producer.join();
  EXPECT_EQ(popped, 1000);
}

TEST(BoundedQueueTest, AClosedQueueRefusesPushesAndStillHandsOutWhatItHeld) {
  BoundedQueue<int> queue(4);
  EXPECT_TRUE(queue.Push(1));
  EXPECT_TRUE(queue.Push(2));
  queue.Close();
  EXPECT_FALSE(queue.Push(3));
  EXPECT_EQ(queue.Pop(), 1);
  EXPECT_EQ(queue.Pop(), 2);
  EXPECT_EQ(queue.Pop(), std::nullopt);
}

TEST(BoundedQueueTest, ClosingWakesAProducerWaitingForRoom) {
  // A consumer that fails closes the queue: a producer blocked on a full
  // queue must hear it (else a failed disk write would hang the download).
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.Push(1));
  std::atomic<bool> refused{false};
  std::thread producer([&] { refused = !queue.Push(2); });
  queue.Close();
  producer.join();
  EXPECT_TRUE(refused.load());
}

TEST(BoundedQueueTest, ClosingWakesAConsumerWaitingForItems) {
  BoundedQueue<int> queue(1);
  std::optional<int> got = 7;
  std::thread consumer([&] { got = queue.Pop(); });
  queue.Close();
  consumer.join();
  EXPECT_EQ(got, std::nullopt);
}

}  // namespace
}  // namespace p2pshare
