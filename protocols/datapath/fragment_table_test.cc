// FragmentTable: lookups, insertion order independence, erasure and iteration.
#include "protocols/datapath/fragment_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace pbfs::datapath {
namespace {

TEST(FragmentTable, BehavesLikeAMapOfKeys) {
  // Random insertions and erasures over a few files, checked against std::map after every step.
  FragmentTable<uint64_t> table;
  std::map<FragmentKey, uint64_t> reference;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const FragmentKey key{rng() % 5, RecordId{rng() % 4, rng() % 50}, static_cast<uint32_t>(rng() % 3)};
    if (rng() % 3 == 0) {
      auto expected = reference.find(key);
      const std::optional<uint64_t> erased = table.erase(key);
      ASSERT_EQ(erased.has_value(), expected != reference.end());
      if (erased) {
        EXPECT_EQ(*erased, expected->second);
        reference.erase(expected);
      }
    } else {
      auto [value, added] = table.try_emplace(key);
      auto [it, inserted] = reference.try_emplace(key, 0);
      ASSERT_EQ(added, inserted);
      EXPECT_EQ(*value, it->second) << "a new entry starts value-initialized, an old one keeps its value";
      *value = it->second = static_cast<uint64_t>(step);
    }
    ASSERT_EQ(table.size(), reference.size());
    const FragmentKey probe{rng() % 5, RecordId{rng() % 4, rng() % 50}, static_cast<uint32_t>(rng() % 3)};
    const uint64_t* found = table.find(probe);
    auto expected = reference.find(probe);
    ASSERT_EQ(found != nullptr, expected != reference.end());
    if (found != nullptr) {
      EXPECT_EQ(*found, expected->second);
    }
  }
  std::map<FragmentKey, uint64_t> visited;
  table.for_each([&](const FragmentKey& key, uint64_t& value) { EXPECT_TRUE(visited.emplace(key, value).second); });
  EXPECT_EQ(visited, reference);
  table.clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.contains(reference.begin()->first));
}

TEST(FragmentTable, GrowsAndEmptiesAgain) {
  // Thousands of entries over 40 files in random order (the file table doubles several times, and files
  // share probe runs), then every other one erased and the rest found, then all erased (files leave the
  // table and the runs shift back): the table ends empty, and nothing erased is found.
  FragmentTable<uint64_t> table;
  std::vector<FragmentKey> keys;
  for (uint64_t file = 1; file <= 40; ++file) {
    for (uint64_t seq = 0; seq < 25; ++seq) {
      for (uint32_t index = 0; index < 12; ++index) keys.push_back(FragmentKey{file, RecordId{file % 7, seq}, index});
    }
  }
  std::mt19937_64 rng(11);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (size_t i = 0; i < keys.size(); ++i) *table.try_emplace(keys[i]).first = i;
  ASSERT_EQ(table.size(), keys.size());
  for (size_t i = 0; i < keys.size(); i += 2) ASSERT_EQ(table.erase(keys[i]), std::optional<uint64_t>(i));
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint64_t* found = table.find(keys[i]);
    if (i % 2 == 0) {
      ASSERT_EQ(found, nullptr) << "erased key " << i << " still found";
    } else {
      ASSERT_NE(found, nullptr) << "key " << i << " lost when its neighbours were erased";
      ASSERT_EQ(*found, i);
    }
  }
  for (size_t i = 1; i < keys.size(); i += 2) ASSERT_TRUE(table.erase(keys[i]).has_value());
  EXPECT_EQ(table.size(), 0u);
  size_t visited = 0;
  table.for_each([&](const FragmentKey&, uint64_t&) { ++visited; });
  EXPECT_EQ(visited, 0u);
}

TEST(FragmentTable, ReserveMakesRoomWithoutLosingEntries) {
  // Entries present before reserve() survive it; after it, inserting up to the reserved count never
  // grows the table, so a pointer taken at the first insertion still points at that entry at the end.
  FragmentTable<uint64_t> table;
  for (uint32_t index = 0; index < 10; ++index) *table.try_emplace(FragmentKey{1, RecordId{1, 1}, index}).first = index;
  table.reserve(1000);
  for (uint32_t index = 0; index < 10; ++index) {
    ASSERT_NE(table.find(FragmentKey{1, RecordId{1, 1}, index}), nullptr);
    EXPECT_EQ(*table.find(FragmentKey{1, RecordId{1, 1}, index}), index);
  }
  uint64_t* first = table.try_emplace(FragmentKey{2, RecordId{2, 0}, 0}).first;
  *first = 12345;
  for (uint64_t seq = 1; seq < 990; ++seq) *table.try_emplace(FragmentKey{2, RecordId{2, seq}, 0}).first = seq;
  ASSERT_EQ(table.size(), 1000u);
  EXPECT_EQ(table.find(FragmentKey{2, RecordId{2, 0}, 0}), first);
  EXPECT_EQ(*first, 12345u);
}

}  // namespace
}  // namespace pbfs::datapath
