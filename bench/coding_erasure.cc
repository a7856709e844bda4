// Erasure coding throughput: each pbfs backend next to its raw library doing the same work in the same
// run (ISA-L ec_encode_data, Jerasure matrix and schedule coding), plus memcpy. GB/s are of payload
// (k data fragments). Decode = rebuild m lost data fragments from k survivors; the raw references use a
// decoding matrix prepared once, as pbfs caches it (Jerasure's own *_decode calls, which re-invert on
// every call, are measured too). Figures and commands: docs/performance.md, "Coding core".
#include <benchmark/benchmark.h>

extern "C" {
#include <gf_complete.h>
}
#include <cauchy.h>
#include <immintrin.h>
#include <isa-l/erasure_code.h>
#include <jerasure.h>
#include <reed_sol.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "coding/erasure.h"

namespace pbfs {
namespace {

struct Shape {
  uint32_t k, m;
};
const Shape kShapes[] = {{4, 2}, {8, 4}, {10, 4}};
const uint64_t kSizes[] = {64 << 10, 1 << 20, 4 << 20};
const ErasureBackend kBackends[] = {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal};

__attribute__((target("avx"))) void zero_upper() { _mm256_zeroupper(); }

// A stripe encoded by pbfs, whose buffers the raw benchmarks reuse so both sides touch identical memory.
struct Fixture {
  ErasureCoder coder;
  Stripe stripe;
  std::vector<char*> data, coding;
  Fixture(Shape s, ErasureBackend backend, uint64_t size) : coder(std::move(ErasureCoder::create({s.k, s.m, backend}).value())) {
    std::vector<uint8_t> payload(size);
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 131 + 7);
    if (!coder.encode(payload, stripe).is_ok()) std::abort();
    for (uint32_t i = 0; i < s.k; ++i) data.push_back(reinterpret_cast<char*>(stripe.fragment(i).data()));
    for (uint32_t i = 0; i < s.m; ++i) coding.push_back(reinterpret_cast<char*>(stripe.fragment(s.k + i).data()));
  }
  int fragment_bytes() const { return static_cast<int>(stripe.layout().fragment_bytes); }
};

void finish(benchmark::State& state, uint64_t size) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void bm_memcpy(benchmark::State& state, uint64_t size) {
  std::vector<uint8_t> from(size, 1), to(size);
  for (auto _ : state) {
    std::memcpy(to.data(), from.data(), size);
    benchmark::DoNotOptimize(to.data());
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void bm_encode(benchmark::State& state, Shape s, ErasureBackend backend, uint64_t size) {
  Fixture f(s, backend, size);
  for (auto _ : state) {
    f.coder.encode_parity(f.stripe);
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void bm_raw_encode(benchmark::State& state, Shape s, ErasureBackend backend, uint64_t size) {
  Fixture f(s, backend, size);
  const int k = static_cast<int>(s.k), m = static_cast<int>(s.m), n = f.fragment_bytes();
  if (backend == ErasureBackend::kIsal) {
    std::vector<uint8_t> a((k + m) * k), tables(32 * k * m);
    gf_gen_cauchy1_matrix(a.data(), k + m, k);
    ec_init_tables(k, m, &a[k * k], tables.data());
    for (auto _ : state) {
      ec_encode_data(n, k, m, tables.data(), reinterpret_cast<uint8_t**>(f.data.data()), reinterpret_cast<uint8_t**>(f.coding.data()));
      zero_upper();  // the same vzeroupper pbfs issues, so later SSE code is not penalised
      benchmark::ClobberMemory();
    }
  } else if (backend == ErasureBackend::kJerasureVandermonde) {
    int* matrix = reed_sol_vandermonde_coding_matrix(k, m, 8);
    for (auto _ : state) {
      jerasure_matrix_encode(k, m, 8, matrix, f.data.data(), f.coding.data(), n);
      benchmark::ClobberMemory();
    }
    std::free(matrix);
  } else {
    int* matrix = cauchy_good_general_coding_matrix(k, m, 8);
    int* bits = jerasure_matrix_to_bitmatrix(k, m, 8, matrix);
    int** schedule = jerasure_smart_bitmatrix_to_schedule(k, m, 8, bits);
    const int packet = static_cast<int>(f.stripe.layout().packet_bytes);
    for (auto _ : state) {
      jerasure_schedule_encode(k, m, 8, schedule, f.data.data(), f.coding.data(), n, packet);
      benchmark::ClobberMemory();
    }
    jerasure_free_schedule(schedule);
    std::free(bits);
    std::free(matrix);
  }
  finish(state, size);
}

// pbfs: rebuild data fragments 0..m-1 from fragments m..k+m-1 (the worst case: only parity helps).
void bm_decode(benchmark::State& state, Shape s, ErasureBackend backend, uint64_t size) {
  Fixture f(s, backend, size);
  const uint64_t n = f.stripe.layout().fragment_bytes;
  std::vector<FragmentView> sources;
  for (uint32_t i = s.m; i < s.k + s.m; ++i) sources.push_back({i, f.stripe.fragment(i)});
  std::vector<Bytes> lost(s.m, Bytes(n));
  std::vector<FragmentTarget> targets;
  for (uint32_t i = 0; i < s.m; ++i) targets.push_back({i, lost[i]});
  for (auto _ : state) {
    if (!f.coder.reconstruct(f.stripe.layout(), 0, sources, targets).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  if (std::memcmp(lost[0].data(), f.stripe.fragment(0).data(), n) != 0) state.SkipWithError("wrong bytes");
  finish(state, size);
}

// Raw libraries rebuilding the same fragments with a decoding matrix prepared once.
void bm_raw_decode(benchmark::State& state, Shape s, ErasureBackend backend, uint64_t size, bool uncached) {
  Fixture f(s, backend, size);
  const int k = static_cast<int>(s.k), m = static_cast<int>(s.m), n = f.fragment_bytes();
  std::vector<Bytes> lost(m, Bytes(n));
  std::vector<char*> survivors, out;
  for (int i = m; i < k + m; ++i) survivors.push_back(reinterpret_cast<char*>(f.stripe.fragment(i).data()));
  for (int i = 0; i < m; ++i) out.push_back(reinterpret_cast<char*>(lost[i].data()));
  std::vector<int> erasures;
  for (int i = 0; i < m; ++i) erasures.push_back(i);
  erasures.push_back(-1);
  if (backend == ErasureBackend::kIsal) {
    std::vector<uint8_t> a((k + m) * k), square(k * k), inverse(k * k), rows(m * k), tables(32 * k * m);
    gf_gen_cauchy1_matrix(a.data(), k + m, k);
    for (int r = 0; r < k; ++r) std::memcpy(&square[r * k], &a[(m + r) * k], k);
    gf_invert_matrix(square.data(), inverse.data(), k);
    for (int t = 0; t < m; ++t) std::memcpy(&rows[t * k], &inverse[t * k], k);  // data row t of the inverse
    ec_init_tables(k, m, rows.data(), tables.data());
    for (auto _ : state) {
      ec_encode_data(n, k, m, tables.data(), reinterpret_cast<uint8_t**>(survivors.data()), reinterpret_cast<uint8_t**>(out.data()));
      zero_upper();
      benchmark::ClobberMemory();
    }
  } else if (backend == ErasureBackend::kJerasureVandermonde) {
    int* matrix = reed_sol_vandermonde_coding_matrix(k, m, 8);
    std::vector<char*> data_ptrs(f.data), coding_ptrs(f.coding);
    for (int i = 0; i < m; ++i) data_ptrs[i] = out[i];
    if (uncached) {
      for (auto _ : state) {
        jerasure_matrix_decode(k, m, 8, matrix, 1, erasures.data(), data_ptrs.data(), coding_ptrs.data(), n);
        benchmark::ClobberMemory();
      }
    } else {
      std::vector<int> decoding(k * k), dm_ids(k);
      int* erased = jerasure_erasures_to_erased(k, m, erasures.data());
      jerasure_make_decoding_matrix(k, m, 8, matrix, erased, decoding.data(), dm_ids.data());
      for (auto _ : state) {
        for (int i = 0; i < m; ++i) {
          jerasure_matrix_dotprod(k, 8, &decoding[i * k], dm_ids.data(), i, data_ptrs.data(), coding_ptrs.data(), n);
        }
        benchmark::ClobberMemory();
      }
      std::free(erased);
    }
    std::free(matrix);
  } else {
    int* matrix = cauchy_good_general_coding_matrix(k, m, 8);
    int* bits = jerasure_matrix_to_bitmatrix(k, m, 8, matrix);
    std::vector<char*> data_ptrs(f.data), coding_ptrs(f.coding);
    for (int i = 0; i < m; ++i) data_ptrs[i] = out[i];
    const int packet = static_cast<int>(f.stripe.layout().packet_bytes);
    for (auto _ : state) {  // Jerasure offers no cached schedule decode for m > 2: lazy is its fast path
      jerasure_schedule_decode_lazy(k, m, 8, bits, erasures.data(), data_ptrs.data(), coding_ptrs.data(), n, packet, 1);
      benchmark::ClobberMemory();
    }
    std::free(bits);
    std::free(matrix);
  }
  if (std::memcmp(lost[0].data(), f.stripe.fragment(0).data(), n) != 0) state.SkipWithError("wrong bytes");
  finish(state, size);
}

// pbfs decode() into a payload buffer: the present data fragments are copied, the lost ones rebuilt.
void bm_decode_payload(benchmark::State& state, Shape s, ErasureBackend backend, uint64_t size) {
  Fixture f(s, backend, size);
  std::vector<FragmentView> views;
  for (uint32_t i = 1; i < s.k + s.m; ++i) views.push_back({i, f.stripe.fragment(i)});  // data fragment 0 lost
  Bytes out(size);
  for (auto _ : state) {
    if (!f.coder.decode(f.stripe.layout(), views, out).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

std::string size_name(uint64_t size) {
  return size >= (1 << 20) ? std::to_string(size >> 20) + "MiB" : std::to_string(size >> 10) + "KiB";
}

void register_all() {
  for (uint64_t size : kSizes) {
    benchmark::RegisterBenchmark(("memcpy/" + size_name(size)).c_str(), bm_memcpy, size);
  }
  for (Shape s : kShapes) {
    for (uint64_t size : kSizes) {
      const std::string shape = std::to_string(s.k) + "+" + std::to_string(s.m) + "/" + size_name(size);
      for (ErasureBackend b : kBackends) {
        const std::string backend = erasure_backend_name(b);
        benchmark::RegisterBenchmark(("encode/" + backend + "/" + shape).c_str(), bm_encode, s, b, size);
        benchmark::RegisterBenchmark(("raw_encode/" + backend + "/" + shape).c_str(), bm_raw_encode, s, b, size);
        benchmark::RegisterBenchmark(("decode/" + backend + "/" + shape).c_str(), bm_decode, s, b, size);
        benchmark::RegisterBenchmark(("raw_decode/" + backend + "/" + shape).c_str(), bm_raw_decode, s, b, size, false);
        if (b == ErasureBackend::kJerasureVandermonde) {
          benchmark::RegisterBenchmark(("raw_decode_uncached/" + backend + "/" + shape).c_str(), bm_raw_decode, s, b, size, true);
        }
        benchmark::RegisterBenchmark(("decode_payload/" + backend + "/" + shape).c_str(), bm_decode_payload, s, b, size);
      }
    }
  }
}

}  // namespace
}  // namespace pbfs

int main(int argc, char** argv) {
  pbfs::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
