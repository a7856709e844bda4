// Reference for sim_bench's BM_HoldModel: the same hold model run by ns-3's default simulator (3.37,
// DefaultSimulatorImpl with MapScheduler), so bench/compare-kernel.sh can give our kernel's events/s as
// a ratio against a well-known discrete-event kernel measured on the same machine in the same run.
#include <benchmark/benchmark.h>
#include <ns3/global-value.h>
#include <ns3/nstime.h>
#include <ns3/simulator.h>
#include <ns3/string.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

constexpr uint64_t kEventsPerIteration = 2'000'000;
constexpr uint32_t kDelayTableSize = 65536;  // a power of two, so the index wraps with a mask

// The same delays as sim_bench: 65536 uniform integers in [1, 2000] ns from mt19937_64 seeded 42.
const std::vector<int64_t>& delay_table_ns() {
  static const std::vector<int64_t> table = [] {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> delay_ns(1, 2000);
    std::vector<int64_t> t(kDelayTableSize);
    for (int64_t& x : t) x = delay_ns(rng);
    return t;
  }();
  return table;
}

// One hold-model event: schedule exactly one successor at now + next table delay; stop the simulator
// once the measured number of events has run (Stop takes effect when this event returns).
struct Hold {
  const int64_t* delays_ns = nullptr;
  uint32_t index = 0;
  uint64_t executed = 0;

  ns3::Time next_delay() { return ns3::NanoSeconds(delays_ns[index++ & (kDelayTableSize - 1)]); }

  void fire() {
    ns3::Simulator::Schedule(next_delay(), &Hold::fire, this);
    if (++executed == kEventsPerIteration) ns3::Simulator::Stop();
  }
};

// N pending events (range 0). Timed as sim_bench times its hold model: CPU time of Simulator::Run()
// only, which executes exactly kEventsPerIteration events; filling the queue and Simulator::Destroy()
// (which resets all ns-3 simulator state for the next iteration) run with the timer paused.
void BM_HoldModel(benchmark::State& state) {
  const int64_t pending = state.range(0);
  uint64_t total_events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Hold hold{delay_table_ns().data()};
    for (int64_t i = 0; i < pending; ++i) ns3::Simulator::Schedule(hold.next_delay(), &Hold::fire, &hold);
    state.ResumeTiming();
    ns3::Simulator::Run();
    state.PauseTiming();
    const uint64_t executed = hold.executed;
    ns3::Simulator::Destroy();
    state.ResumeTiming();
    if (executed != kEventsPerIteration) {
      state.SkipWithError("ns-3 stopped before executing all events");
      break;
    }
    total_events += executed;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(total_events), benchmark::Counter::kIsRate);
  ns3::StringValue scheduler;  // a GlobalValue read as a string works whatever its declared type
  ns3::GlobalValue::GetValueByName("SchedulerType", scheduler);
  state.SetLabel("ns-3 " + scheduler.Get());
}
BENCHMARK(BM_HoldModel)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
