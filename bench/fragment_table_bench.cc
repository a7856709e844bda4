// Fragment server index: a thousand tables, each cold whenever it is touched (one per server of a
// 1,000-node run), filled round-robin to 6,000 fragments each as the servers' stores arrive, then looked
// up the same way. The reference is std::unordered_map with the same keys, values and hash, in the same
// run (docs/performance.md, "Data path").
//   bench/fragment_table_bench --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "protocols/datapath/fragment_server.h"
#include "protocols/datapath/fragment_table.h"

namespace pbfs::datapath {
namespace {

constexpr int kTables = 1000;
constexpr int kPerTable = 6000;

// A random key of the population: 800 files, 200 clients, random sequences, 12 fragments a record.
FragmentKey nth_key(boost::random::mt19937_64& rng) {
  const uint64_t r = rng();
  return FragmentKey{r % 800, RecordId{(r >> 10) % 200, r >> 20}, static_cast<uint32_t>((r >> 8) % 12)};
}

// The server's value per fragment: where it lies and its orphan state, 32 bytes.
using Value = FragmentServer::Stored;

using Reference = std::unordered_map<FragmentKey, Value, FragmentKeyHash>;

Value* insert(FragmentTable<Value>& t, const FragmentKey& k) { return t.try_emplace(k).first; }
Value* insert(Reference& t, const FragmentKey& k) { return &t[k]; }
const Value* lookup(const FragmentTable<Value>& t, const FragmentKey& k) { return t.find(k); }
const Value* lookup(const Reference& t, const FragmentKey& k) {
  auto it = t.find(k);
  return it == t.end() ? nullptr : &it->second;
}

// Time per insertion (growth included) and per lookup of a present key, over kTables x kPerTable.
template <typename Table>
void BM_ColdTables(benchmark::State& state) {
  const bool lookups = state.range(0) != 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Table> tables(kTables);
    boost::random::mt19937_64 rng(1);
    if (lookups) {
      for (int i = 0; i < kPerTable; ++i)
        for (Table& t : tables) insert(t, nth_key(rng))->location.size = static_cast<uint32_t>(i);
      rng.seed(1);
    }
    state.ResumeTiming();
    uint64_t sum = 0;
    for (int i = 0; i < kPerTable; ++i) {
      for (Table& t : tables) {
        const FragmentKey k = nth_key(rng);
        if (lookups) sum += lookup(t, k)->location.size;
        else insert(t, k)->location.size = static_cast<uint32_t>(i);
      }
    }
    benchmark::DoNotOptimize(sum);
    state.PauseTiming();
    tables.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * int64_t{kTables} * kPerTable);
}
BENCHMARK_TEMPLATE(BM_ColdTables, FragmentTable<Value>)->ArgName("lookups")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_ColdTables, Reference)->ArgName("lookups")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pbfs::datapath

BENCHMARK_MAIN();
