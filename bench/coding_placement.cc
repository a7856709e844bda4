// Placement: placements per second at 100 and 1000 nodes, and the quality counters the issue asks for,
// computed once per benchmark over many records: load imbalance (max/mean of bytes per node) and the
// fraction of fragments moved when a node joins or leaves, as a ratio to the ideal 1/(n+1).
// Figures and commands: docs/performance.md, "Coding core".
#include <benchmark/benchmark.h>

#include <vector>

#include "coding/placement.h"

namespace pbfs {
namespace {

constexpr uint32_t kFragments = 12;  // (8, 4)

std::vector<PlacementNode> topology(uint32_t racks, uint32_t per_rack, uint32_t sites = 1) {
  std::vector<PlacementNode> nodes;
  for (uint32_t r = 0; r < racks; ++r) {
    for (uint32_t n = 0; n < per_rack; ++n) nodes.push_back({r * per_rack + n, r, r % sites, 1.0, true});
  }
  return nodes;
}

double imbalance(const Placement& p, uint64_t records, const PlacementOptions& options) {
  LoadTracker load(p);
  for (uint64_t seq = 0; seq < records; ++seq) {
    auto chosen = p.place_record({seq % 13, seq}, kFragments, options, &load, 1 << 20);
    for (uint32_t id : *chosen) load.add(id, 1 << 20);
  }
  return load_stats(p, load).max_over_mean;
}

double movement_ratio(const Placement& before, const Placement& after, uint64_t records, double ideal) {
  uint64_t moved = 0;
  for (uint64_t seq = 0; seq < records; ++seq) {
    const auto old_map = *before.place_record({seq % 13, seq}, kFragments);
    moved += moved_fragments(old_map, stable_reassign(old_map, *after.place_record({seq % 13, seq}, kFragments)));
  }
  return double(moved) / double(records * kFragments) / ideal;
}

// Equal weights take the integer fast path; `weighted` gives every other node twice the weight, so
// each score is a logarithm.
void bm_place(benchmark::State& state, uint32_t racks, uint32_t per_rack, uint32_t sites, bool weighted) {
  auto nodes = topology(racks, per_rack, sites);
  for (size_t i = 0; weighted && i < nodes.size(); i += 2) nodes[i].weight = 2.0;
  const Placement p = std::move(Placement::create(nodes).value());
  uint64_t seq = 0;
  for (auto _ : state) {
    auto chosen = p.place_record({1, ++seq}, kFragments);
    benchmark::DoNotOptimize(chosen);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Quality counters over 100k records (run once: the timing of this one means nothing).
void bm_quality(benchmark::State& state, uint32_t racks, uint32_t per_rack) {
  const auto nodes = topology(racks, per_rack);
  const Placement p = std::move(Placement::create(nodes).value());
  for (auto _ : state) {
  }
  const uint64_t records = 100000;
  const uint32_t n = racks * per_rack;
  state.counters["max_over_mean"] = imbalance(p, records, {});
  PlacementOptions bounded;
  bounded.load_bound = 1.05;
  state.counters["max_over_mean_bounded_1.05"] = imbalance(p, records, bounded);
  auto joined = nodes;
  joined.push_back({n, 0, 0, 1.0, true});
  state.counters["join_moved_over_ideal"] = movement_ratio(p, Placement::create(joined).value(), records / 4, 1.0 / (n + 1));
  auto left = nodes;
  left[n / 2].alive = false;
  state.counters["leave_moved_over_ideal"] = movement_ratio(p, Placement::create(left).value(), records / 4, 1.0 / n);
}

}  // namespace
}  // namespace pbfs

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("place_record/100_nodes_10_racks", pbfs::bm_place, 10u, 10u, 1u, false);
  benchmark::RegisterBenchmark("place_record/1000_nodes_40_racks", pbfs::bm_place, 40u, 25u, 1u, false);
  // The 1000-node simulation's cluster: 2 sites x 25 racks x 20 nodes.
  benchmark::RegisterBenchmark("place_record/1000_nodes_2_sites_50_racks", pbfs::bm_place, 50u, 20u, 2u, false);
  benchmark::RegisterBenchmark("place_record/1000_nodes_40_racks_weighted", pbfs::bm_place, 40u, 25u, 1u, true);
  benchmark::RegisterBenchmark("quality/100_nodes_10_racks", pbfs::bm_quality, 10u, 10u)->Iterations(1);
  benchmark::RegisterBenchmark("quality/100_nodes_1_rack", pbfs::bm_quality, 1u, 100u)->Iterations(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
