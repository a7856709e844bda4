// FragmentTable: lookups, insertion order independence, erasure and iteration.
#include "protocols/datapath/fragment_table.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pbfs::datapath
