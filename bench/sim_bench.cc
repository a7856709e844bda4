// Kernel speed: the classic hold model (N pending events, each schedules one more at a random future
// time) and a ping-pong of P node pairs exchanging 1 kB messages over a two-level topology, with the
// memory it takes per node. bench/compare-kernel.sh runs ns-3 and SimGrid references beside these.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <random>
#include <vector>

#include "protocols/echo/echo.h"
#include "sim/kernel.h"
#include "sim/network.h"
#include "sim/world.h"

namespace pbfs::sim {
namespace {

// Delays shared with the reference programs: 65536 uniform integers in [1, 2000] ns, seed 42.
const std::vector<TimeNs>& delay_table() {
  static const std::vector<TimeNs> table = [] {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<TimeNs> d(1, 2000);
    std::vector<TimeNs> t(65536);
    for (TimeNs& x : t) x = d(rng);
    return t;
  }();
  return table;
}

struct Hold {
  Kernel* kernel;
  const TimeNs* delays;
  uint32_t index = 0;
  uint64_t remaining = 0;
  static void fire(void* self, uint64_t) {
    auto* h = static_cast<Hold*>(self);
    if (h->remaining == 0) return;
    --h->remaining;
    h->kernel->at(h->kernel->now_ns() + h->delays[h->index++ & 0xffff], &Hold::fire, h, 0);
  }
};

void BM_HoldModel(benchmark::State& state) {
  const int64_t pending = state.range(0);
  const uint64_t events = 2'000'000;
  uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Kernel kernel(1);
    Hold hold{&kernel, delay_table().data()};
    for (int64_t i = 0; i < pending; ++i) kernel.at(hold.delays[hold.index++ & 0xffff], &Hold::fire, &hold, 0);
    hold.remaining = events;
    state.ResumeTiming();
    while (hold.remaining > 0) kernel.run_until(kernel.now_ns() + 1'000'000);
    total += events;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HoldModel)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

Scenario ping_pong_scenario(uint32_t pairs) {
  Scenario s;
  s.name = "ping-pong";
  s.seed = 1;
  const uint32_t nodes_per_rack = 40;
  const uint32_t racks = (2 * pairs + nodes_per_rack - 1) / nodes_per_rack;
  s.topology.sites.push_back(SiteSpec{"dc", racks, std::min(2 * pairs, nodes_per_rack), "default"});
  s.topology.node_link = LinkSpec{5 * kMicrosecond, 10e9 / 8, 0};
  s.topology.rack_link = LinkSpec{10 * kMicrosecond, 40e9 / 8, 0};
  s.topology.site_link = LinkSpec{10 * kMillisecond, 1e9 / 8, 0};
  s.disk_profiles["ssd"] = DiskProfile{"ssd", 80 * kMicrosecond, 20 * kMicrosecond, 50 * kMicrosecond, 2e9, 1.5e9, 1ull << 40, 0};
  s.node_profiles["default"] = NodeProfile{"default", 8, "ssd", ClockProfile{}};
  s.output.resource_sample_interval_ns = 0;
  return s;
}

// P pairs (node i, node i+P) ping-pong 1000-byte messages closed-loop; about 2·10^5 messages in all.
void BM_PingPong(benchmark::State& state) {
  const uint32_t pairs = static_cast<uint32_t>(state.range(0));
  const uint64_t round_trips = std::max<uint64_t>(2, 100'000 / pairs);
  uint64_t messages = 0;
  double bytes_per_node = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const size_t heap_before = mallinfo2().uordblks;
    Scenario s = ping_pong_scenario(pairs);
    s.duration_ns = 3600 * kSecond;
    World world(s, nullptr);
    echo::PingerConfig config;
    config.message_bytes = 1000;
    config.count_max = round_trips;
    config.trace_round_trips = false;
    config.timeout_ns = 0;
    for (NodeId i = 0; i < pairs; ++i) {
      world.add_role(i + pairs, kPortEcho, [](Runtime& rt) { return std::make_unique<echo::Echoer>(rt); });
      config.peer = i + pairs;
      world.add_role(i, kPortClient, [config](Runtime& rt) { return std::make_unique<echo::Pinger>(rt, config); });
    }
    state.ResumeTiming();
    world.kernel().run_until(s.duration_ns);
    state.PauseTiming();
    bytes_per_node = static_cast<double>(mallinfo2().uordblks - heap_before) / (2.0 * pairs);
    messages += world.network().counters().delivered;
    state.ResumeTiming();
  }
  state.counters["msgs_per_s"] = benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
  state.counters["bytes_per_node"] = bytes_per_node;
}
BENCHMARK(BM_PingPong)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace pbfs::sim

BENCHMARK_MAIN();
