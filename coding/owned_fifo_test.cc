// OwnedFifo: first in, first out, against std::deque; items freed once; long queues cleared without recursion.
#include "coding/owned_fifo.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <vector>

namespace pbfs {
namespace {

struct Item {
  explicit Item(int v, int* live) : value(v), live(live) { ++*live; }
  ~Item() { --*live; }
  int value;
  int* live;
  std::unique_ptr<Item> next;
};

TEST(OwnedFifo, BehavesLikeADequeOfItsItems) {
  int live = 0;
  OwnedFifo<Item> fifo;
  std::deque<int> reference;
  std::mt19937 rng(3);
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 == 0 && !reference.empty()) {
      const std::unique_ptr<Item> item = fifo.pop_front();
      ASSERT_EQ(item->value, reference.front());
      EXPECT_EQ(item->next, nullptr) << "a popped item no longer links to the queue";
      reference.pop_front();
    } else {
      fifo.push_back(std::make_unique<Item>(step, &live));
      reference.push_back(step);
    }
    ASSERT_EQ(fifo.size(), reference.size());
    ASSERT_EQ(fifo.empty(), reference.empty());
    if (!reference.empty()) {
      ASSERT_EQ(fifo.front().value, reference.front());
    }
    ASSERT_EQ(live, static_cast<int>(reference.size())) << "every item popped and dropped is freed";
  }
  std::deque<int> walked;
  fifo.for_each_while([&](Item& item) {
    walked.push_back(item.value);
    return true;
  });
  EXPECT_EQ(walked, reference);
  // A walk stops at the first item for which f returns false.
  ASSERT_GE(reference.size(), 3u);
  std::vector<int> first_two;
  fifo.for_each_while([&](Item& item) {
    first_two.push_back(item.value);
    return first_two.size() < 2;
  });
  EXPECT_EQ(first_two, (std::vector<int>{reference[0], reference[1]}));
  // Pushing after the queue ran empty starts a new chain.
  while (!fifo.empty()) fifo.pop_front();
  fifo.push_back(std::make_unique<Item>(1, &live));
  fifo.push_back(std::make_unique<Item>(2, &live));
  EXPECT_EQ(fifo.pop_front()->value, 1);
  EXPECT_EQ(fifo.pop_front()->value, 2);
  EXPECT_TRUE(fifo.empty());
  EXPECT_EQ(live, 0);
}

TEST(OwnedFifo, ClearsAndDestroysALongQueueItemByItem) {
  int live = 0;
  {
    OwnedFifo<Item> fifo;
    for (int i = 0; i < 1000000; ++i) fifo.push_back(std::make_unique<Item>(i, &live));
    fifo.clear();  // freed through `next` recursively, a million items would overflow the stack
    EXPECT_EQ(live, 0);
    EXPECT_TRUE(fifo.empty());
    EXPECT_EQ(fifo.size(), 0u);
    for (int i = 0; i < 1000000; ++i) fifo.push_back(std::make_unique<Item>(i, &live));
  }  // the destructor clears the same way
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace pbfs
