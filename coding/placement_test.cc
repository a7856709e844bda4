// Placement properties: distinct alive nodes, failure-domain spreading, determinism, weights, balance
// (max/mean <= 1.10 at 100 nodes) and movement on join/leave (<= 1.1x the ideal 1/(n+1)).
#include "coding/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace pbfs {
namespace {

// sites x racks_per_site x nodes_per_rack nodes; ids 0.., rack ids unique across sites.
std::vector<PlacementNode> topology(uint32_t sites, uint32_t racks_per_site, uint32_t nodes_per_rack) {
  std::vector<PlacementNode> nodes;
  for (uint32_t s = 0; s < sites; ++s) {
    for (uint32_t r = 0; r < racks_per_site; ++r) {
      for (uint32_t n = 0; n < nodes_per_rack; ++n) {
        nodes.push_back({static_cast<uint32_t>(nodes.size()), s * racks_per_site + r, s, 1.0, true});
      }
    }
  }
  return nodes;
}

Placement make(std::vector<PlacementNode> nodes) {
  auto p = Placement::create(std::move(nodes));
  EXPECT_TRUE(p.is_ok());
  return std::move(p).value();
}

std::map<uint32_t, PlacementNode> by_id(const Placement& p) {
  std::map<uint32_t, PlacementNode> m;
  for (const auto& n : p.nodes()) m[n.id] = n;
  return m;
}

TEST(Placement, DistinctAliveNodesInDistinctRacksAndBalancedSites) {
  auto nodes = topology(2, 10, 5);  // 20 racks, 2 sites
  nodes[3].alive = false;
  nodes[57].alive = false;
  Placement p = make(nodes);
  const auto info = by_id(p);
  for (uint64_t seq = 0; seq < 2000; ++seq) {
    auto chosen = p.place_record({1, seq}, 12);
    ASSERT_TRUE(chosen.is_ok());
    ASSERT_EQ(chosen->size(), 12u);
    std::set<uint32_t> ids, racks;
    std::map<uint32_t, int> per_site;
    for (uint32_t id : *chosen) {
      EXPECT_TRUE(info.at(id).alive);
      ids.insert(id);
      racks.insert(info.at(id).rack);
      ++per_site[info.at(id).site];
    }
    EXPECT_EQ(ids.size(), 12u);
    EXPECT_EQ(racks.size(), 12u);  // 20 racks available: one fragment per rack
    EXPECT_EQ(per_site[0], 6);
    EXPECT_EQ(per_site[1], 6);
  }
}

TEST(Placement, FewerRacksThanFragmentsSpreadsEvenly) {
  Placement p = make(topology(1, 4, 8));  // 4 racks, 12 fragments: exactly 3 per rack
  const auto info = by_id(p);
  for (uint64_t seq = 0; seq < 500; ++seq) {
    std::map<uint32_t, int> per_rack;
    const auto chosen = p.place_record({2, seq}, 12);
    for (uint32_t id : *chosen) ++per_rack[info.at(id).rack];
    for (const auto& [rack, n] : per_rack) EXPECT_EQ(n, 3);
  }
}

TEST(Placement, LopsidedTopologyRelaxesCapsButStaysDistinct) {
  std::vector<PlacementNode> nodes = {{0, 0, 0, 1.0, true}};
  for (uint32_t i = 1; i <= 20; ++i) nodes.push_back({i, 1 + i % 3, 1, 1.0, true});  // site 1: 3 racks
  Placement p = make(nodes);
  for (uint64_t seq = 0; seq < 300; ++seq) {
    auto chosen = p.place_record({3, seq}, 12);
    ASSERT_TRUE(chosen.is_ok());
    EXPECT_EQ(std::set<uint32_t>(chosen->begin(), chosen->end()).size(), 12u);
    EXPECT_NE(std::find(chosen->begin(), chosen->end(), 0u), chosen->end());  // the lone site is always used
  }
  EXPECT_EQ(p.place_record({3, 0}, 22).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(p.place_record({3, 0}, 0)->empty());
}

TEST(Placement, DeterministicAndIndependentOfNodeOrder) {
  auto nodes = topology(2, 5, 10);
  Placement a = make(nodes);
  std::mt19937 rng(5);
  std::shuffle(nodes.begin(), nodes.end(), rng);
  Placement b = make(nodes);
  for (uint64_t seq = 0; seq < 500; ++seq) {
    EXPECT_EQ(*a.place_record({9, seq}, 12), *b.place_record({9, seq}, 12));
    EXPECT_EQ(*a.place_catalog(seq, 3), *b.place_catalog(seq, 3));
  }
  // Different keys spread differently; catalog and record placement are independent hash domains.
  EXPECT_NE(*a.place_record({9, 1}, 12), *a.place_record({9, 2}, 12));
  EXPECT_NE(*a.place_record({0, 7}, 3), *a.place_catalog(7, 3));
}

TEST(Placement, CatalogReplicasSpreadOverSites) {
  Placement p = make(topology(3, 4, 5));
  const auto info = by_id(p);
  for (FileId f = 0; f < 1000; ++f) {
    auto replicas = p.place_catalog(f, 3);
    ASSERT_TRUE(replicas.is_ok());
    std::set<uint32_t> sites;
    for (uint32_t id : *replicas) sites.insert(info.at(id).site);
    EXPECT_EQ(sites.size(), 3u);
  }
}

TEST(Placement, RejectsBadNodeLists) {
  EXPECT_FALSE(Placement::create({{1, 0, 0, 1.0, true}, {1, 1, 0, 1.0, true}}).is_ok());
  EXPECT_FALSE(Placement::create({{1, 0, 0, 0.0, true}}).is_ok());
  EXPECT_FALSE(Placement::create({{1, 0, 0, -2.0, true}}).is_ok());
}

struct Balance {
  double max_over_mean;
  std::vector<std::vector<uint32_t>> maps;
};

Balance place_many(const Placement& p, uint64_t records, uint32_t count, const PlacementOptions& options = {},
                   uint64_t fragment_bytes = 1) {
  LoadTracker load(p);
  Balance b;
  for (uint64_t seq = 0; seq < records; ++seq) {
    auto chosen = p.place_record({seq % 7, seq}, count, options, &load, fragment_bytes);
    EXPECT_TRUE(chosen.is_ok());
    for (uint32_t id : *chosen) load.add(id, fragment_bytes);
    b.maps.push_back(std::move(chosen).value());
  }
  b.max_over_mean = load_stats(p, load).max_over_mean;
  return b;
}

TEST(Placement, BalanceAtHundredNodes) {
  Placement p = make(topology(1, 10, 10));
  const Balance b = place_many(p, 40000, 12);
  EXPECT_LE(b.max_over_mean, 1.10);
  Placement flat = make(topology(1, 1, 100));
  EXPECT_LE(place_many(flat, 40000, 12).max_over_mean, 1.10);
}

TEST(Placement, WeightsShiftShares) {
  auto nodes = topology(1, 10, 4);
  for (size_t i = 0; i < nodes.size(); i += 4) nodes[i].weight = 2.0;  // one double-weight node per rack
  Placement p = make(nodes);
  LoadTracker load(p);
  for (uint64_t seq = 0; seq < 20000; ++seq) {
    const auto chosen = p.place_record({1, seq}, 6);
    for (uint32_t id : *chosen) load.add(id, 1);
  }
  double heavy = 0, light = 0;
  for (const auto& n : p.nodes()) (n.weight == 2.0 ? heavy : light) += double(load.bytes(n.id));
  const double ratio = (heavy / 10) / (light / 30);
  EXPECT_GT(ratio, 1.6);  // rendezvous top-k is close to, not exactly, proportional to weight
  EXPECT_LT(ratio, 2.2);
}

TEST(Placement, BoundedLoadTightensBalance) {
  Placement p = make(topology(1, 10, 10));
  const double plain = place_many(p, 3000, 12).max_over_mean;
  PlacementOptions bounded;
  bounded.load_bound = 1.05;
  const double tight = place_many(p, 3000, 12, bounded, 4096).max_over_mean;
  EXPECT_LE(tight, 1.06);
  EXPECT_LT(tight, plain);
}

// Fraction of fragments that move (after stable reassignment) when the node set changes, as a ratio to
// the ideal: the joining node's fair share 1/(n+1), or the leaving node's share.
double movement_ratio(const Placement& before, const Placement& after, double ideal_fraction) {
  uint64_t moved = 0, total = 0;
  for (uint64_t seq = 0; seq < 20000; ++seq) {
    const auto old_map = *before.place_record({seq % 7, seq}, 12);
    const auto new_map = stable_reassign(old_map, *after.place_record({seq % 7, seq}, 12));
    moved += moved_fragments(old_map, new_map);
    total += 12;
  }
  return double(moved) / double(total) / ideal_fraction;
}

TEST(Placement, MovementOnJoinAndLeaveIsNearIdeal) {
  const auto base = topology(1, 10, 10);
  Placement before = make(base);
  auto joined = base;  // a 101st node racked next to the others
  joined.push_back({100, 3, 0, 1.0, true});
  auto flat = topology(1, 1, 100);
  Placement before_flat = make(flat);
  flat.push_back({100, 0, 0, 1.0, true});
  auto left = base;
  left[42].alive = false;
  const double join_ratio = movement_ratio(before, make(joined), 1.0 / 101);
  const double join_flat_ratio = movement_ratio(before_flat, make(flat), 1.0 / 101);
  const double leave_ratio = movement_ratio(before, make(left), 1.0 / 100);
  EXPECT_LE(join_ratio, 1.1);
  EXPECT_LE(join_flat_ratio, 1.1);
  EXPECT_LE(leave_ratio, 1.1);
  EXPECT_GT(join_flat_ratio, 0.9);  // the new node does take its share
  EXPECT_GT(leave_ratio, 0.9);
}

TEST(Placement, StableReassignKeepsSurvivorsInPlace) {
  const std::vector<uint32_t> current = {5, 6, 7, 8};
  EXPECT_EQ(stable_reassign(current, {8, 9, 6, 5}), (std::vector<uint32_t>{5, 6, 9, 8}));
  EXPECT_EQ(moved_fragments(current, stable_reassign(current, {8, 9, 6, 5})), 1u);
  EXPECT_EQ(stable_reassign(current, {1, 2, 3, 4}), (std::vector<uint32_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace pbfs
