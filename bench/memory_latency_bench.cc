// How long one dependent read of a random cache line takes on this machine, over regions from the size of
// the cache to the size of the 1,000-node run's heap, and a dependent arithmetic step for the core alone.
// The large run is bound by such reads (each event touches state of one of a thousand servers, cold by
// then); docs/performance.md ("Data path") gives the figures, and why they do not explain the run-to-run
// swings of this shared machine.
//
// Each benchmark maps its region (transparent huge pages asked for, as the pbfs binary's allocator does),
// links its cache lines into one random cycle and follows it; the counter `per_read` (seconds per read) is
// the figure, each region the reference for the next larger one.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

namespace {

constexpr size_t kLine = 64;
constexpr int64_t kReadsPerIteration = 1 << 20;

// A region of `bytes` whose cache lines form one random cycle: the first word of each line holds the
// index of the next line.
class Cycle {
 public:
  explicit Cycle(size_t bytes) : bytes_(bytes), lines_(bytes / kLine) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::perror("memory_latency_bench: mmap");
      std::exit(1);
    }
    madvise(p, bytes_, MADV_HUGEPAGE);
    base_ = static_cast<uint8_t*>(p);
    std::vector<uint32_t> order(lines_);
    std::iota(order.begin(), order.end(), 0u);
    boost::random::mt19937_64 rng(1);
    for (size_t i = lines_ - 1; i > 0; --i) {
      const size_t j = boost::random::uniform_int_distribution<size_t>(0, i)(rng);
      std::swap(order[i], order[j]);
    }
    for (size_t i = 0; i < lines_; ++i) word(order[i]) = order[(i + 1) % lines_];
  }
  ~Cycle() { munmap(base_, bytes_); }
  Cycle(const Cycle&) = delete;
  Cycle& operator=(const Cycle&) = delete;

  // Follows the cycle for `reads` steps from `from`; returns where it stopped.
  uint64_t follow(uint64_t from, int64_t reads) const {
    for (int64_t i = 0; i < reads; ++i) from = word(from);
    return from;
  }

 private:
  uint64_t& word(uint64_t line) const { return *reinterpret_cast<uint64_t*>(base_ + line * kLine); }
  size_t bytes_;
  size_t lines_;
  uint8_t* base_ = nullptr;
};

void BM_DependentRandomReads(benchmark::State& state) {
  const Cycle cycle(static_cast<size_t>(state.range(0)) << 20);
  uint64_t at = 0;
  for (auto _ : state) {
    at = cycle.follow(at, kReadsPerIteration);
    benchmark::DoNotOptimize(at);
  }
  // Seconds per read (the console shows it with an SI prefix: "450n" is 450 ns).
  state.counters["per_read"] = benchmark::Counter(static_cast<double>(state.iterations() * kReadsPerIteration),
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// 4 MiB: about this machine's last-level cache; 16 MiB: beyond it; 2 GiB: the 1,000-node run's peak heap.
BENCHMARK(BM_DependentRandomReads)->Arg(4)->Arg(16)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// The core alone: a chain of dependent multiply-xorshift steps in registers.
void BM_DependentArithmetic(benchmark::State& state) {
  uint64_t x = 1;
  for (auto _ : state) {
    for (int64_t i = 0; i < kReadsPerIteration; ++i) x = (x ^ x >> 29) * 0xbf58476d1ce4e5b9ull;
    benchmark::DoNotOptimize(x);
  }
  state.counters["per_step"] = benchmark::Counter(static_cast<double>(state.iterations() * kReadsPerIteration),
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DependentArithmetic)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
