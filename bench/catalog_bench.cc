// Catalog benchmarks: heap bytes per record at a million records (the goal is <= 200), measured with
// mallinfo2 against a plain map of full CatalogEntry values beside it; the speed of adding and querying
// records; and a three-replica catalog group committing on the simulator (commits per wall second).
//   bench/catalog_bench --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <map>
#include <memory>
#include <vector>

#include "protocols/datapath/catalog.h"
#include "protocols/datapath/catalog_store.h"
#include "protocols/datapath/catalog_test_util.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::datapath {
namespace {

// Bytes handed out by malloc, including large blocks it serves with mmap.
size_t heap_in_use() {
  malloc_trim(0);
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The i-th record of a synthetic population: 64 KiB writes, 8 + 4 coding, 1000 files, 64 clients.
WriteRecord nth_record(const WriteRecord& shape, uint64_t i) {
  WriteRecord r = shape;
  r.file_id = i % 1000;
  r.record_id = RecordId{i % 64, i};
  r.extent.offset = (i / 1000) * 65536;
  r.crypto.key_salt[0] = static_cast<uint8_t>(i);
  for (uint32_t f = 0; f < r.fragments.size(); ++f) r.fragments[f] = FragmentEntry{static_cast<uint32_t>((i + f) % 997), static_cast<uint32_t>(i * 31 + f)};
  return r;
}

// Heap bytes per record held by the catalog's store (counters: heap, counted, and the reference).
void BM_StoreMemoryPerRecord(benchmark::State& state) {
  const uint64_t records = static_cast<uint64_t>(state.range(0));
  const WriteRecord shape = testing::make_record(0, {0, 0}, 0, 65536, 8, 4);
  for (auto _ : state) {
    const size_t before = heap_in_use();
    auto store = std::make_unique<RecordStore>();
    for (uint64_t i = 0; i < records; ++i) store->add(nth_record(shape, i), i / 1000 + 1);
    const size_t after = heap_in_use();
    state.counters["heap_bytes_per_record"] = static_cast<double>(after - before) / static_cast<double>(records);
    state.counters["counted_bytes_per_record"] = static_cast<double>(store->memory_bytes()) / static_cast<double>(records);
    benchmark::DoNotOptimize(store->records());
    store.reset();
    // The reference beside it: full entries in an ordered map keyed by record id.
    const size_t base = heap_in_use();
    auto naive = std::make_unique<std::map<RecordId, CatalogEntry>>();
    for (uint64_t i = 0; i < records; ++i) {
      WriteRecord r = nth_record(shape, i);
      naive->emplace(r.record_id, CatalogEntry{i / 1000 + 1, std::move(r)});
    }
    const size_t naive_after = heap_in_use();
    state.counters["map_reference_bytes_per_record"] = static_cast<double>(naive_after - base) / static_cast<double>(records);
    state.counters["ratio_to_reference"] = state.counters["heap_bytes_per_record"] / state.counters["map_reference_bytes_per_record"];
  }
}
BENCHMARK(BM_StoreMemoryPerRecord)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_StoreAdd(benchmark::State& state) {
  const WriteRecord shape = testing::make_record(0, {0, 0}, 0, 65536, 8, 4);
  std::vector<WriteRecord> records;
  for (uint64_t i = 0; i < 100000; ++i) records.push_back(nth_record(shape, i));
  for (auto _ : state) {
    RecordStore store;
    for (const WriteRecord& r : records) store.add(r, r.record_id.sequence + 1);
    benchmark::DoNotOptimize(store.records());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_StoreAdd)->Unit(benchmark::kMillisecond);

// Record lookups by id in a store of 10^6 records: range(0) = 1 looks up records it holds, 0 records it
// does not (what every commit asks before adding one).
void BM_StoreFind(benchmark::State& state) {
  const bool present = state.range(0) == 1;
  const WriteRecord shape = testing::make_record(0, {0, 0}, 0, 65536, 8, 4);
  RecordStore store;
  constexpr uint64_t kRecords = 1'000'000;
  for (uint64_t i = 0; i < kRecords; ++i) {
    const WriteRecord r = nth_record(shape, i);
    store.add(r, i + 1);
  }
  boost::random::mt19937_64 rng(1);
  uint64_t found = 0;
  for (auto _ : state) {
    const uint64_t i = boost::random::uniform_int_distribution<uint64_t>(0, kRecords - 1)(rng) + (present ? 0 : kRecords);
    found += store.find(RecordId{i % 64, i}) != RecordStore::kNoSlot ? 1 : 0;  // nth_record's id
  }
  if (found != (present ? static_cast<uint64_t>(state.iterations()) : 0)) state.SkipWithError("lookups found the wrong records");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreFind)->Arg(1)->Arg(0);

// Overlap queries of one 64 KiB read in a file holding range(0) records (all current).
void BM_StoreQuery(benchmark::State& state) {
  const uint64_t per_file = static_cast<uint64_t>(state.range(0));
  const WriteRecord shape = testing::make_record(0, {0, 0}, 0, 65536, 8, 4);
  RecordStore store;
  for (uint64_t i = 0; i < per_file; ++i) {
    WriteRecord r = nth_record(shape, i);
    r.file_id = 1;
    r.extent.offset = i * 65536;
    store.add(r, i + 1);
  }
  boost::random::mt19937_64 rng(1);
  std::vector<RecordStore::Slot> out;
  for (auto _ : state) {
    const uint64_t at = boost::random::uniform_int_distribution<uint64_t>(0, per_file * 65536)(rng);
    store.query(1, Extent{at, 65536}, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreQuery)->Arg(1000)->Arg(1'000'000);

// A closed-loop writer keeping `window` commits in flight against one primary.
class Writer final : public Role {
 public:
  Writer(Runtime& runtime, NodeId primary, uint32_t window) : runtime_(runtime), primary_(primary), window_(window) {
    shape_ = testing::make_record(0, {0, 0}, 0, 65536, 8, 4);
  }
  void start() override {
    for (uint32_t i = 0; i < window_; ++i) send();
  }
  void on_message(const Envelope&, const Message& message) override {
    if (message.type() != types::kCommitReply) return;
    if (static_cast<const CommitReply&>(message).status == StatusCode::kOk) ++acked;
    send();
  }
  uint64_t acked = 0;

 private:
  void send() {
    auto m = std::make_shared<CommitRecord>();
    m->request_id = next_;
    m->record = nth_record(shape_, next_++);
    runtime_.send(primary_, kPortCatalog, std::move(m));
  }
  Runtime& runtime_;
  NodeId primary_;
  uint32_t window_;
  uint64_t next_ = 1;
  WriteRecord shape_;
};

void BM_CatalogGroupCommits(benchmark::State& state) {
  register_datapath_messages();
  uint64_t commits = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Scenario scenario = sim::testing::small_scenario(1, 4, 1, 1);
    auto config = std::make_shared<DataPathConfig>();
    config->shards = 1;
    config->lease_ns = 2 * kSecond;
    config->lease_epsilon_ns = 100 * kMillisecond;
    for (NodeId n = 0; n < 3; ++n) config->nodes.push_back(PlacementNode{n, n, 0, 1.0, true});
    sim::World world(scenario, nullptr);
    for (NodeId n = 0; n < 3; ++n) {
      world.add_role(n, kPortCatalog, [config](Runtime& rt) {
        CatalogOptions options;
        options.first_boot = true;
        return std::make_unique<Catalog>(rt, config, options);
      });
    }
    world.kernel().run_until(2 * kSecond);
    NodeId primary = kNoNode;
    for (NodeId n = 0; n < 3; ++n) {
      if (static_cast<Catalog*>(world.role(n, kPortCatalog))->serving(0)) primary = n;
    }
    world.add_role(3, kPortClient, [primary](Runtime& rt) { return std::make_unique<Writer>(rt, primary, 64); });
    state.ResumeTiming();
    world.kernel().run_until(3 * kSecond);  // 1 s of simulated commits
    commits += static_cast<Writer*>(world.role(3, kPortClient))->acked;
  }
  state.SetItemsProcessed(static_cast<int64_t>(commits));
  state.counters["commits_per_simulated_s"] = static_cast<double>(commits) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_CatalogGroupCommits)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace pbfs::datapath

BENCHMARK_MAIN();
