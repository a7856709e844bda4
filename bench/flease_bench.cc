// Lease figures for docs/performance.md: acquisition latency and messages per operation under churn,
// saturation throughput with a modelled per-message CPU cost, tens of thousands of concurrent leases on
// one acceptor group, failover time, and the long randomized safety sweep. Each benchmark runs scenario
// files from scenarios/ (with overrides) and reports simulated figures as counters; the benchmark's own
// time is the simulator's wall-clock cost.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "protocols/registry.h"
#include "scenarios/deployment.h"
#include "scenarios/scenario.h"
#include "sim/world.h"

namespace pbfs {
namespace {

struct Outcome {
  bool ok = false;
  sim::RunSummary summary;
  double metric(const char* name) const {
    auto it = summary.metrics.find(name);
    return it == summary.metrics.end() ? 0 : it->second;
  }
  uint64_t violations() const {
    uint64_t n = 0;
    for (const auto& v : summary.verdicts) n += v.violations;
    return n;
  }
};

Outcome run(const std::string& file, const std::vector<std::string>& overrides) {
  register_all_messages();
  Outcome out;
  Result<Scenario> scenario = load_scenario_file(std::string(PBFS_SCENARIOS_DIR) + "/" + file, overrides);
  if (!scenario.is_ok()) {
    std::fprintf(stderr, "%s\n", scenario.status().to_string().c_str());
    return out;
  }
  auto deployment = make_deployment(scenario->protocol["name"].as<std::string>());
  Status configured = deployment->configure(*scenario);
  if (!configured.is_ok()) {
    std::fprintf(stderr, "%s\n", configured.to_string().c_str());
    return out;
  }
  sim::World world(*scenario, nullptr);
  deployment->install(world);
  out.summary = world.run();
  deployment->finish(world, out.summary);
  out.ok = true;
  return out;
}

const char* protocol_file(int64_t which, const char* flease, const char* lock) { return which == 0 ? flease : lock; }

void report(benchmark::State& state, const Outcome& o) {
  if (!o.ok) return state.SkipWithError("scenario failed to load or configure");
  state.counters["acquisitions"] = o.metric("lease.acquisitions");
  state.counters["renewals"] = o.metric("lease.renewals");
  state.counters["sim_ops_per_s"] = o.metric("lease.operations_per_s");
  state.counters["acquire_p50_ms"] = o.metric("lease.acquire_latency_p50_ms");
  state.counters["acquire_p99_ms"] = o.metric("lease.acquire_latency_p99_ms");
  state.counters["renew_p50_ms"] = o.metric("lease.renew_latency_p50_ms");
  state.counters["msgs_per_op"] = o.metric("lease.messages_per_operation");
  state.counters["max_concurrent"] = o.metric("lease.max_concurrent");
  state.counters["violations"] = static_cast<double>(o.violations());
  state.counters["events_per_wall_s"] =
      benchmark::Counter(static_cast<double>(o.summary.events), benchmark::Counter::kIsRate);
}

// Arg 0: Flease (3 acceptors), 1: lock service (one server). 1000 leases acquired, held 1-3 s, released.
void BM_Churn(benchmark::State& state) {
  Outcome o;
  for (auto _ : state) o = run(protocol_file(state.range(0), "flease-churn.yaml", "lock-service-churn.yaml"), {});
  report(state, o);
}
BENCHMARK(BM_Churn)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);

// Saturation: the 1000 leases of the churn scenario cycling as fast as they can (hold 1 ms, no pause), every message costing
// 20 us of CPU where it is handled. Arg 0: Flease, one group of 3 acceptors; 1: lock service, one server;
// 2: Flease with every node an acceptor and groups of 3 spread over the 8 nodes.
void BM_Saturation(benchmark::State& state) {
  std::vector<std::string> set = {"duration=10s", "workload.hold_min=1ms",
                                  "workload.hold_max=1ms", "workload.pause_max=0s", "protocol.cpu_per_message=20us"};
  if (state.range(0) == 2) {
    set.push_back("protocol.acceptors=[0, 1, 2, 3, 4, 5, 6, 7]");
    set.push_back("protocol.group_size=3");
  }
  Outcome o;
  for (auto _ : state) o = run(state.range(0) == 1 ? "lock-service-churn.yaml" : "flease-churn.yaml", set);
  report(state, o);
}
BENCHMARK(BM_Saturation)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(1);

// Tens of thousands of concurrent leases held and renewed (14 s leases, renewed 4 s before expiry) on
// one group of 3 acceptors / one lock server, for 60 s. Args: protocol, leases.
void BM_Concurrent(benchmark::State& state) {
  const std::vector<std::string> set = {"workload.resources=" + std::to_string(state.range(1)), "workload.hold_min=0s",
                                        "workload.hold_max=0s", "workload.start_spread=10s"};
  Outcome o;
  for (auto _ : state) o = run(protocol_file(state.range(0), "flease-churn.yaml", "lock-service-churn.yaml"), set);
  report(state, o);
}
BENCHMARK(BM_Concurrent)->Args({0, 10000})->Args({1, 10000})->Args({0, 20000})->Args({1, 20000})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// The holder crashes just after renewing (XtreemFS defaults); failover_s is crash -> next holder.
void BM_Failover(benchmark::State& state) {
  Outcome o;
  for (auto _ : state) o = run(protocol_file(state.range(0), "flease-failover.yaml", "lock-service-failover.yaml"), {});
  report(state, o);
  state.counters["failover_s"] = o.metric("lease.failover_p50_s");
}
BENCHMARK(BM_Failover)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);

// The long safety sweep (opt in with --benchmark_filter=Sweep): XtreemFS's randomized test over
// range(0) seeds; violations must stay 0. The drift variant must report an assumption violation in
// every seed (assumption_violated_runs == seeds).
void BM_SafetySweep(benchmark::State& state) {
  const bool drift = state.range(1) != 0;
  uint64_t violations = 0, assumption_runs = 0, failed_runs = 0, acquisitions = 0;
  for (auto _ : state) {
    for (int64_t seed = 1; seed <= state.range(0); ++seed) {
      const Outcome o = run(drift ? "flease-drift.yaml" : "flease-random.yaml", {"seed=" + std::to_string(seed)});
      if (!o.ok) return state.SkipWithError("scenario failed to load or configure");
      violations += o.violations();
      acquisitions += static_cast<uint64_t>(o.metric("lease.acquisitions"));
      for (const auto& v : o.summary.verdicts) {
        assumption_runs += v.assumption_violated && v.violations > 0 ? 1 : 0;
        if (!v.passed) {
          ++failed_runs;
          std::fprintf(stderr, "seed %lld: %s\n", static_cast<long long>(seed), v.detail.c_str());
        }
      }
    }
  }
  state.counters["seeds"] = static_cast<double>(state.range(0));
  state.counters["violations"] = static_cast<double>(violations);
  state.counters["assumption_violated_runs"] = static_cast<double>(assumption_runs);
  state.counters["failed_runs"] = static_cast<double>(failed_runs);
  state.counters["acquisitions"] = static_cast<double>(acquisitions);
}
BENCHMARK(BM_SafetySweep)->Args({500, 0})->Args({100, 1})->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace pbfs

BENCHMARK_MAIN();
