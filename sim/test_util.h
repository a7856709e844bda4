// Builds small scenarios in code for the simulator's own tests (no YAML involved).
#pragma once

#include <string>

#include "scenarios/scenario.h"
#include "sim/world.h"

namespace pbfs::sim::testing {

inline Scenario small_scenario(uint32_t sites, uint32_t racks_per_site, uint32_t nodes_per_rack, uint64_t seed = 1) {
  Scenario s;
  s.name = "test";
  s.seed = seed;
  s.duration_ns = 10 * kSecond;
  for (uint32_t i = 0; i < sites; ++i) s.topology.sites.push_back(SiteSpec{"site" + std::to_string(i), racks_per_site, nodes_per_rack, "default"});
  s.topology.node_link = LinkSpec{5 * kMicrosecond, 10e9 / 8, 0};
  s.topology.rack_link = LinkSpec{10 * kMicrosecond, 40e9 / 8, 0};
  s.topology.site_link = LinkSpec{20 * kMillisecond, 1e9 / 8, 0};
  DiskProfile ssd{"ssd", 80 * kMicrosecond, 20 * kMicrosecond, 50 * kMicrosecond, 2e9, 1.5e9, 1ull << 40, 0};
  s.disk_profiles["ssd"] = ssd;
  s.node_profiles["default"] = NodeProfile{"default", 8, "ssd", ClockProfile{}};
  s.output.resource_sample_interval_ns = 0;
  return s;
}

// A counter of a run's summary: 0 when the run never counted it.
inline uint64_t counter(const RunSummary& summary, const std::string& name) {
  auto it = summary.counters.find(name);
  return it == summary.counters.end() ? 0 : it->second;
}

}  // namespace pbfs::sim::testing
