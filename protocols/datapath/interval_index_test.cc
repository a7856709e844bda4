// The interval forest against a brute-force list: random inserts, erases and overlap queries over many
// trees sharing one pool, with the treap and subtree-maximum invariants checked along the way.
#include "protocols/datapath/interval_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <map>
#include <set>
#include <vector>

namespace pbfs::datapath {
namespace {

using Id = IntervalForest::Id;

struct Interval {
  uint64_t start;
  uint64_t end;
};

std::vector<Id> brute_force(const std::map<Id, Interval>& live, uint64_t lo, uint64_t hi) {
  std::vector<Id> out;
  for (const auto& [id, iv] : live) {
    if (lo < hi && iv.start < iv.end && iv.start < hi && lo < iv.end) out.push_back(id);
  }
  return out;
}

std::vector<Id> query(const IntervalForest& forest, Id root, uint64_t lo, uint64_t hi) {
  std::vector<Id> out;
  forest.query(root, lo, hi, [&](Id id) { out.push_back(id); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IntervalForest, EmptyTreeAndEmptyQueriesMatchNothing) {
  IntervalForest forest;
  Id root = IntervalForest::kNone;
  EXPECT_TRUE(query(forest, root, 0, 100).empty());
  forest.insert(root, 7, 10, 20);
  EXPECT_TRUE(query(forest, root, 15, 15).empty());  // empty query
  EXPECT_TRUE(query(forest, root, 20, 30).empty());  // touching the end is not overlapping
  EXPECT_TRUE(query(forest, root, 0, 10).empty());   // nor touching the start
  EXPECT_EQ(query(forest, root, 19, 21), std::vector<Id>{7});
  forest.insert(root, 8, 12, 12);  // an empty interval never matches
  EXPECT_EQ(query(forest, root, 0, 100), std::vector<Id>{7});
  forest.erase(root, 7);
  forest.erase(root, 8);
  EXPECT_EQ(root, IntervalForest::kNone);
  EXPECT_EQ(forest.start(7), 10u);  // storage stays readable after erase
  EXPECT_EQ(forest.end(7), 20u);
}

TEST(IntervalForest, OneHugeIntervalIsFoundFromAnyPoint) {
  // The case a max-length scan handles badly: a compaction record covering everything.
  IntervalForest forest;
  Id root = IntervalForest::kNone;
  for (Id i = 0; i < 1000; ++i) forest.insert(root, i, i * 100, i * 100 + 10);
  forest.insert(root, 5000, 0, 1'000'000);
  const std::vector<Id> got = query(forest, root, 99'995, 99'996);
  EXPECT_EQ(got, std::vector<Id>{5000});
  size_t count = 0;
  EXPECT_TRUE(forest.check(root, &count));
  EXPECT_EQ(count, 1001u);
}

TEST(IntervalForest, RandomOperationsAgreeWithBruteForce) {
  boost::random::mt19937_64 rng(42);
  auto uniform = [&](uint64_t lo, uint64_t hi) { return boost::random::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
  IntervalForest forest;
  constexpr int kTrees = 5;
  std::vector<Id> roots(kTrees, IntervalForest::kNone);
  std::vector<std::map<Id, Interval>> live(kTrees);
  std::vector<Id> free_ids;
  Id next_id = 0;
  for (int step = 0; step < 20000; ++step) {
    const int t = static_cast<int>(uniform(0, kTrees - 1));
    const uint64_t op = uniform(0, 9);
    if (op < 5 || live[t].empty()) {
      Id id;
      if (!free_ids.empty() && uniform(0, 1) == 0) {
        id = free_ids.back();  // ids are reused, as record slots are
        free_ids.pop_back();
      } else {
        id = next_id++;
      }
      // Clustered starts produce many ties on start; occasional long intervals.
      const uint64_t start = uniform(0, 50) * 16;
      const uint64_t length = uniform(0, 9) == 0 ? uniform(0, 2000) : uniform(0, 64);
      forest.insert(roots[t], id, start, start + length);
      live[t][id] = Interval{start, start + length};
    } else if (op < 7) {
      auto it = live[t].begin();
      std::advance(it, static_cast<long>(uniform(0, live[t].size() - 1)));
      forest.erase(roots[t], it->first);
      free_ids.push_back(it->first);
      live[t].erase(it);
    } else {
      const uint64_t lo = uniform(0, 1000);
      const uint64_t hi = lo + uniform(0, 200);
      ASSERT_EQ(query(forest, roots[t], lo, hi), brute_force(live[t], lo, hi)) << "step " << step;
    }
    if (step % 1000 == 0) {
      for (int u = 0; u < kTrees; ++u) {
        size_t count = 0;
        ASSERT_TRUE(forest.check(roots[u], &count));
        ASSERT_EQ(count, live[u].size());
      }
    }
  }
  for (int u = 0; u < kTrees; ++u) {
    std::vector<Id> in_order;
    forest.for_each(roots[u], [&](Id id) { in_order.push_back(id); });
    ASSERT_EQ(in_order.size(), live[u].size());
    for (size_t i = 1; i < in_order.size(); ++i) {
      const uint64_t a = forest.start(in_order[i - 1]), b = forest.start(in_order[i]);
      EXPECT_TRUE(a < b || (a == b && in_order[i - 1] < in_order[i]));
    }
  }
}

TEST(IntervalForest, AListBuiltIntoATreeIsTheTreeOfItsSurvivors) {
  boost::random::mt19937_64 rng(7);
  auto uniform = [&](uint64_t lo, uint64_t hi) { return boost::random::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
  IntervalForest listed;
  IntervalForest direct;
  Id head = IntervalForest::kNone;
  std::map<Id, Interval> live;
  for (Id id = 0; id < 3000; ++id) {
    const uint64_t start = uniform(0, 200) * 16;
    const Interval iv{start, start + uniform(0, 100)};
    listed.push(head, id, iv.start, iv.end);
    live[id] = iv;
    if (uniform(0, 2) == 0) {  // unlink a random survivor: the head, the tail or one in between
      auto it = live.begin();
      std::advance(it, static_cast<long>(uniform(0, live.size() - 1)));
      listed.unlink(head, it->first);
      live.erase(it);
    }
  }
  listed.build(head);
  size_t count = 0;
  ASSERT_TRUE(listed.check(head, &count));
  EXPECT_EQ(count, live.size());
  // The same survivors inserted in id order give the same tree, node for node.
  Id root = IntervalForest::kNone;
  for (const auto& [id, iv] : live) direct.insert(root, id, iv.start, iv.end);
  EXPECT_EQ(head, root);
  std::vector<Id> a, b;
  listed.for_each(head, [&](Id id) { a.push_back(id); });
  direct.for_each(root, [&](Id id) { b.push_back(id); });
  EXPECT_EQ(a, b);
  for (int q = 0; q < 500; ++q) {
    const uint64_t lo = uniform(0, 3300);
    const uint64_t hi = lo + uniform(0, 300);
    ASSERT_EQ(query(listed, head, lo, hi), brute_force(live, lo, hi));
  }
  // An emptied list builds into an empty tree.
  Id empty = IntervalForest::kNone;
  listed.push(empty, 9000, 0, 10);
  listed.unlink(empty, 9000);
  listed.build(empty);
  EXPECT_EQ(empty, IntervalForest::kNone);
}

TEST(IntervalForest, SortedInsertionsStayShallowEnoughToBeFast) {
  // Sequential appends (the common write pattern) must not degrade into a list.
  IntervalForest forest;
  Id root = IntervalForest::kNone;
  for (Id i = 0; i < 100000; ++i) forest.insert(root, i, uint64_t{i} * 4096, uint64_t{i} * 4096 + 4096);
  size_t count = 0;
  ASSERT_TRUE(forest.check(root, &count));
  EXPECT_EQ(count, 100000u);
  EXPECT_EQ(query(forest, root, 4096 * 500 + 1, 4096 * 501 + 1), (std::vector<Id>{500, 501}));
  for (Id i = 0; i < 100000; i += 2) forest.erase(root, i);
  ASSERT_TRUE(forest.check(root, &count));
  EXPECT_EQ(count, 50000u);
  EXPECT_EQ(query(forest, root, 0, 4096 * 4), (std::vector<Id>{1, 3}));
}

}  // namespace
}  // namespace pbfs::datapath
