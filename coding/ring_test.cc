// Ring: FIFO order through growth and wrap-around, both ends, and slot reuse.
#include "coding/ring.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

namespace pbfs {
namespace {

TEST(Ring, MatchesADequeThroughGrowthAndWrapAround) {
  Ring<int> ring;
  std::deque<int> model;
  int next = 0;
  // Pushes outpace pops, so the ring grows while its head is in the middle of the array.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i) {
      ring.push_back(next);
      model.push_back(next++);
    }
    if (round % 3 == 0) {
      EXPECT_EQ(ring.take_back(), model.back());
      model.pop_back();
    }
    EXPECT_EQ(ring.take_front(), model.front());
    model.pop_front();
    ASSERT_EQ(ring.size(), model.size());
    for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(ring[i], model[i]) << "round " << round << " index " << i;
  }
  EXPECT_EQ(ring.front(), model.front());
  EXPECT_EQ(ring.back(), model.back());
  EXPECT_EQ(ring.capacity() & (ring.capacity() - 1), 0u) << "a power of two";
  ring.clear();
  EXPECT_TRUE(ring.empty());
}

TEST(Ring, TakenElementsReleaseWhatTheyHeld) {
  Ring<std::shared_ptr<int>> ring;
  auto held = std::make_shared<int>(7);
  ring.push_back(held);
  EXPECT_EQ(held.use_count(), 2);
  std::shared_ptr<int> out = ring.take_front();
  out.reset();
  EXPECT_EQ(held.use_count(), 1) << "the slot keeps no copy";
}

TEST(Ring, AClaimedSlotKeepsTheCapacityOfItsLastUse) {
  Ring<std::vector<int>> ring;
  ring.claim_back().assign(100, 1);
  const int* storage = ring.front().data();
  ring.pop_front();  // the slot keeps its vector
  for (size_t i = 1; i < ring.capacity(); ++i) {  // walk the head round to the same slot
    ring.claim_back();
    ring.pop_front();
  }
  std::vector<int>& again = ring.claim_back();
  again.clear();
  EXPECT_GE(again.capacity(), 100u);
  EXPECT_EQ(again.data(), storage);
}

}  // namespace
}  // namespace pbfs
