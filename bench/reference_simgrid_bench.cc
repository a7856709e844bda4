// Reference for sim_bench's BM_PingPong: the same closed-loop ping-pong written as a SimGrid S4U program
// (3.32) on the same two-level topology, so bench/compare-kernel.sh can give our messages/s and memory
// per node as ratios against a widely used flow-level simulator measured on the same machine.
//
// SimGrid's engine is a process-wide singleton that cannot be re-created after it is destroyed, so one
// process runs one size: `reference_simgrid_bench --pairs=P [--benchmark_* flags]` registers the single
// benchmark BM_PingPong/P, run as one iteration. compare-kernel.sh runs it once per P.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <simgrid/s4u.hpp>
#include <simgrid/version.h>
#include <xbt/config.hpp>
#include <xbt/log.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg4 = simgrid::s4u;

namespace {

constexpr uint32_t kHostsPerRack = 40;
constexpr double kHostLinkBandwidthBps = 10e9 / 8;    // 10 Gb/s, in bytes/s as SimGrid expects
constexpr double kHostLinkLatencyS = 5e-6;
constexpr double kUplinkBandwidthBps = 40e9 / 8;      // 40 Gb/s rack uplink
constexpr double kUplinkLatencyS = 10e-6;
constexpr uint64_t kMessageBytes = 1000;
constexpr uint64_t kMessagesTarget = 200'000;

// Same rule as sim_bench: about 2·10^5 messages in all, at least two round trips per pair.
uint64_t round_trips_for(uint32_t pairs) { return std::max<uint64_t>(2, kMessagesTarget / 2 / pairs); }

// A field of /proc/self/status ("VmRSS", "VmHWM") in bytes; 0 when unreadable.
uint64_t proc_status_bytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size(), field) != 0 || line.size() <= field.size() || line[field.size()] != ':') continue;
    const char* p = line.data() + field.size() + 1;
    while (*p == ' ' || *p == '\t') ++p;
    uint64_t kib = 0;
    std::from_chars(p, line.data() + line.size(), kib);
    return kib * 1024;
  }
  return 0;
}

// Writing "5" to clear_refs resets VmHWM to the current RSS (Linux >= 4.0), so the peak measured below
// belongs to this run only.
bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

// Two-level platform: a star zone per rack of up to 40 hosts, each host on its own 10 Gb/s, 5 us
// split-duplex link to the rack's centre, and each rack's gateway router on a 40 Gb/s, 10 us uplink to
// the centre of a star core zone. Host-to-host across racks: host link, uplink, uplink, host link.
std::vector<sg4::Host*> build_platform(uint32_t hosts_total) {
  auto* core = sg4::create_star_zone("core");
  std::vector<sg4::Host*> hosts;
  hosts.reserve(hosts_total);
  const uint32_t racks = (hosts_total + kHostsPerRack - 1) / kHostsPerRack;
  for (uint32_t r = 0; r < racks; ++r) {
    const std::string rack_name = "rack" + std::to_string(r);
    auto* rack = sg4::create_star_zone(rack_name);
    rack->set_parent(core);
    for (uint32_t h = r * kHostsPerRack; h < std::min(hosts_total, (r + 1) * kHostsPerRack); ++h) {
      const std::string name = "host" + std::to_string(h);
      sg4::Host* host = rack->create_host(name, 1e9)->seal();
      const sg4::Link* link = rack->create_split_duplex_link(name + "-link", kHostLinkBandwidthBps)
                                  ->set_latency(kHostLinkLatencyS)
                                  ->seal();
      rack->add_route(host->get_netpoint(), nullptr, nullptr, nullptr,
                      {sg4::LinkInRoute(link, sg4::LinkInRoute::Direction::UP)}, true);
      hosts.push_back(host);
    }
    auto* gateway = rack->create_router(rack_name + "-gw");
    rack->seal();
    const sg4::Link* uplink = core->create_split_duplex_link(rack_name + "-uplink", kUplinkBandwidthBps)
                                  ->set_latency(kUplinkLatencyS)
                                  ->seal();
    core->add_route(rack->get_netpoint(), nullptr, gateway, nullptr,
                    {sg4::LinkInRoute(uplink, sg4::LinkInRoute::Direction::UP)}, true);
  }
  core->seal();
  return hosts;
}

uint32_t g_pairs = 0;  // from --pairs; the benchmark cannot take it as an Arg of a fresh engine per run
int g_payload = 0;     // every message carries a pointer to this; only the simulated size matters

// Pair i: host i pings host i+P and waits for the pong, R times; each put/get is one message.
void add_pair_actors(const std::vector<sg4::Host*>& hosts, uint32_t pairs, uint64_t round_trips,
                     uint64_t* messages) {
  for (uint32_t i = 0; i < pairs; ++i) {
    sg4::Mailbox* to_echoer = sg4::Mailbox::by_name("ping" + std::to_string(i));
    sg4::Mailbox* to_pinger = sg4::Mailbox::by_name("pong" + std::to_string(i));
    sg4::Actor::create("pinger" + std::to_string(i), hosts[i], [=] {
      for (uint64_t r = 0; r < round_trips; ++r) {
        to_echoer->put(&g_payload, kMessageBytes);
        to_pinger->get<int>();
        ++*messages;
      }
    });
    sg4::Actor::create("echoer" + std::to_string(i), hosts[i + pairs], [=] {
      for (uint64_t r = 0; r < round_trips; ++r) {
        to_echoer->get<int>();
        ++*messages;
        to_pinger->put(&g_payload, kMessageBytes);
      }
    });
  }
}

// The route of pair i must cross exactly the links the topology promises: two host links, plus two
// uplinks when the peers sit in different racks.
bool route_is_as_designed(const std::vector<sg4::Host*>& hosts, uint32_t pairs, uint32_t i) {
  const bool same_rack = i / kHostsPerRack == (i + pairs) / kHostsPerRack;
  std::vector<sg4::Link*> links;
  double latency_s = 0;
  hosts[i]->route_to(hosts[i + pairs], links, &latency_s);
  const double expected_s = 2 * kHostLinkLatencyS + (same_rack ? 0 : 2 * kUplinkLatencyS);
  return links.size() == (same_rack ? 2u : 4u) && std::abs(latency_s - expected_s) < 1e-12;
}

// Memory per host over a window that opens after the engine exists (its fixed cost is not per host)
// and closes after the run:
//  - heap: bytes in use (mallinfo2().uordblks, as sim_bench measures it), the larger of the values
//    after actor creation and after the run, minus the value at the start. This leaves out actor
//    stacks, which SimGrid allocates at mmap size, outside the heap arena. The first run also keeps
//    about 250 KB of one-off state, which dominates the per-host figure at small P; the heap after
//    actor creation alone (setup_bytes_per_node) leaves it out.
//  - peak RSS (VmHWM, reset at the start of the window) minus RSS at the start. This includes the
//    touched pages of every actor's stack, the real cost of SimGrid's one-stack-per-actor model.
struct MemoryWindow {
  bool peak_reset = reset_peak_rss();
  uint64_t rss_start = proc_status_bytes("VmRSS");
  size_t heap_start = mallinfo2().uordblks;
  size_t heap_peak = heap_start;
  size_t heap_setup = heap_start;

  void sample_heap() { heap_peak = std::max(heap_peak, mallinfo2().uordblks); }
  void sample_heap_after_setup() {
    sample_heap();
    heap_setup = mallinfo2().uordblks;
  }
  double setup_heap_bytes() const { return static_cast<double>(heap_setup - std::min(heap_setup, heap_start)); }
  double heap_bytes() const { return static_cast<double>(heap_peak - heap_start); }
  bool rss_known() const { return peak_reset && rss_start > 0 && proc_status_bytes("VmHWM") >= rss_start; }
  double peak_rss_bytes() const { return static_cast<double>(proc_status_bytes("VmHWM") - rss_start); }
};

// Timed as sim_bench times its ping-pong: CPU time of Engine::run() only; engine, platform and actor
// creation run with the timer paused, and the engine is destroyed after the loop.
void BM_PingPong(benchmark::State& state) {
  const uint32_t pairs = g_pairs;
  const uint64_t round_trips = round_trips_for(pairs);
  std::optional<sg4::Engine> engine;
  for (auto _ : state) {
    state.PauseTiming();
    int engine_argc = 1;
    char engine_name[] = "reference_simgrid_bench";
    char* engine_argv[] = {engine_name, nullptr};
    xbt_log_control_set("root.thres:warning");
    engine.emplace(&engine_argc, engine_argv);

    MemoryWindow memory;
    const std::vector<sg4::Host*> hosts = build_platform(2 * pairs);
    if (!route_is_as_designed(hosts, pairs, 0) || !route_is_as_designed(hosts, pairs, pairs - 1)) {
      state.SkipWithError("the platform's routes do not match the designed topology");
      break;
    }
    uint64_t messages = 0;
    add_pair_actors(hosts, pairs, round_trips, &messages);
    memory.sample_heap_after_setup();

    state.ResumeTiming();
    engine->run();
    state.PauseTiming();

    memory.sample_heap();
    if (messages != 2 * pairs * round_trips) {
      state.SkipWithError("not every message was delivered");
      break;
    }
    const double hosts_total = 2.0 * pairs;
    state.counters["msgs_per_s"] = benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
    state.counters["messages"] = static_cast<double>(messages);
    state.counters["round_trips"] = static_cast<double>(round_trips);
    state.counters["sim_time_s"] = sg4::Engine::get_clock();
    state.counters["bytes_per_node"] = memory.heap_bytes() / hosts_total;
    state.counters["setup_bytes_per_node"] = memory.setup_heap_bytes() / hosts_total;
    if (memory.rss_known()) state.counters["rss_bytes_per_node"] = memory.peak_rss_bytes() / hosts_total;
    state.SetLabel("SimGrid " + std::to_string(SIMGRID_VERSION_MAJOR) + "." + std::to_string(SIMGRID_VERSION_MINOR) +
                   ", contexts " + simgrid::config::get_value<std::string>("contexts/factory") + ", " +
                   std::to_string(simgrid::config::get_value<int>("contexts/stack-size")) + " KiB stacks");
    state.ResumeTiming();
  }
}

// Accepts --pairs=P (required, P >= 1) among the arguments Google Benchmark left unparsed.
bool parse_pairs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    constexpr std::string_view kFlag = "--pairs=";
    if (arg.substr(0, kFlag.size()) != kFlag) {
      std::fprintf(stderr, "unknown argument: %s\n", argv[i]);
      return false;
    }
    const auto [end, error] = std::from_chars(arg.data() + kFlag.size(), arg.data() + arg.size(), g_pairs);
    if (error != std::errc() || end != arg.data() + arg.size() || g_pairs == 0) {
      std::fprintf(stderr, "bad --pairs value: %s\n", argv[i]);
      return false;
    }
  }
  if (g_pairs == 0) std::fprintf(stderr, "missing --pairs=P\n");
  return g_pairs != 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!parse_pairs(argc, argv)) {
    std::fprintf(stderr, "usage: %s --pairs=P [--benchmark_* flags]  (one SimGrid run per process)\n", argv[0]);
    return 2;
  }
  benchmark::RegisterBenchmark("BM_PingPong", BM_PingPong)
      ->Arg(g_pairs)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
