// BlockArray: every index maps to its own element, elements never move as the array grows, and a
// block's end is where the next block's first index is.
#include "protocols/datapath/block_array.h"

#include <gtest/gtest.h>

namespace pbfs::datapath {
namespace {

using Small = BlockArray<uint64_t, 2, 5>;  // blocks of 4, 4, 8, 16, then 32 elements

TEST(BlockArrayTest, EveryIndexHasItsOwnStableElement) {
  Small a;
  std::vector<const uint64_t*> addresses;
  for (uint64_t i = 0; i < 200; ++i) {
    a.ensure(i);
    a[i] = i * 7 + 1;
    addresses.push_back(&a[i]);
  }
  for (uint64_t i = 0; i < 200; ++i) {
    EXPECT_EQ(a[i], i * 7 + 1) << i;
    EXPECT_EQ(&a[i], addresses[i]) << i;  // growth moved nothing
  }
}

TEST(BlockArrayTest, BlocksDoubleThenStayAtTheirMaximum) {
  Small a;
  a.ensure(0);
  EXPECT_EQ(a.capacity(), 4u);
  a.ensure(4);
  EXPECT_EQ(a.capacity(), 8u);
  a.ensure(8);
  EXPECT_EQ(a.capacity(), 16u);
  a.ensure(31);
  EXPECT_EQ(a.capacity(), 32u);
  a.ensure(32);
  EXPECT_EQ(a.capacity(), 64u);
  a.ensure(100);
  EXPECT_EQ(a.capacity(), 128u);
  EXPECT_EQ(Small::block_end(0), 4u);
  EXPECT_EQ(Small::block_end(5), 8u);
  EXPECT_EQ(Small::block_end(8), 16u);
  EXPECT_EQ(Small::block_end(16), 32u);
  EXPECT_EQ(Small::block_end(33), 64u);
  EXPECT_EQ(Small::block_end(64), 96u);
}

TEST(BlockArrayTest, ElementsInOneBlockAreContiguous) {
  Small a;
  a.ensure(127);
  for (uint64_t start = 0; start < 128; start = Small::block_end(start)) {
    for (uint64_t i = start + 1; i < Small::block_end(start); ++i) EXPECT_EQ(&a[i], &a[start] + (i - start)) << i;
  }
}

}  // namespace
}  // namespace pbfs::datapath
