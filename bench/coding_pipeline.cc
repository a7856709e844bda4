// Whole write pipeline (seal -> encode -> checksum) and read pipeline (verify -> decode -> decrypt) per
// write size, with each stage alone measured in the same run so the pipeline can be compared with the
// ideal serial composition 1 / sum(1 / stage GB/s). GB/s are of plaintext. Default shape: (8, 4),
// AES-256-GCM, ISA-L, 64 KiB segments. Figures and commands: docs/performance.md, "Coding core".
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "coding/checksum.h"
#include "coding/pipeline.h"

namespace pbfs {
namespace {

const uint64_t kSizes[] = {4 << 10, 64 << 10, 1 << 20, 4 << 20};

std::string size_name(uint64_t size) {
  return size >= (1 << 20) ? std::to_string(size >> 20) + "MiB" : std::to_string(size >> 10) + "KiB";
}

void finish(benchmark::State& state, uint64_t size) { state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size)); }

FileKey key() {
  MasterKey master;
  master.bytes.fill(1);
  return derive_file_key(master, 1);
}

WriteRequest request(uint64_t size, ErasureBackend backend, AeadAlgorithm algorithm) {
  WriteRequest r;
  r.file_id = 1;
  r.extent = {0, size};
  r.record_id = {1, 1};
  r.crypto.algorithm = algorithm;
  r.coding = {8, 4, backend};
  return r;
}

void bm_write(benchmark::State& state, uint64_t size, ErasureBackend backend, AeadAlgorithm algorithm) {
  RecordCodec codec;
  EncodedWrite out;
  const Bytes plain(size, 5);
  const FileKey k = key();
  WriteRequest r = request(size, backend, algorithm);
  for (auto _ : state) {
    ++r.record_id.sequence;
    if (!codec.encode_write(k, r, plain, out).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

// lost: data fragments 0..lost-1 are missing and rebuilt from parity.
void bm_read(benchmark::State& state, uint64_t size, ErasureBackend backend, uint32_t lost) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain(size, 5);
  const FileKey k = key();
  if (!codec.encode_write(k, request(size, backend, AeadAlgorithm::kAes256Gcm), plain, w).is_ok()) std::abort();
  std::vector<FragmentPiece> pieces;
  for (uint32_t i = lost; i < 12; ++i) pieces.push_back({i, 0, w.stripe.fragment(i)});
  Bytes out(size);
  for (auto _ : state) {
    if (!codec.decode_read(k, w.record, 0, out, pieces).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

// The stages alone, on the same buffers the pipeline uses.
void bm_stage(benchmark::State& state, uint64_t size, int stage) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain(size, 5);
  const FileKey k = key();
  const WriteRequest r = request(size, ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm);
  if (!codec.encode_write(k, r, plain, w).is_ok()) std::abort();
  ErasureCoder* coder = *codec.coder(r.coding);
  Bytes opened(size);
  for (auto _ : state) {
    if (stage == 0) {
      auto cipher = RecordCipher::create(k, r.crypto, w.record.binding());
      if (!cipher->seal(plain, w.stripe.payload()).is_ok()) std::abort();
    } else if (stage == 1) {
      coder->encode_parity(w.stripe);
    } else if (stage == 2) {
      uint32_t sum = 0;
      for (uint32_t i = 0; i < 12; ++i) sum ^= crc32c(w.stripe.fragment(i));
      benchmark::DoNotOptimize(sum);
    } else {
      auto cipher = RecordCipher::create(k, r.crypto, w.record.binding());
      if (!cipher->open(w.stripe.payload(), opened).is_ok()) std::abort();
    }
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void register_all() {
  const char* stages[] = {"stage_seal", "stage_encode", "stage_checksum_all_fragments", "stage_open"};
  for (uint64_t size : kSizes) {
    const std::string s = size_name(size);
    for (int stage = 0; stage < 4; ++stage) {
      benchmark::RegisterBenchmark((std::string(stages[stage]) + "/" + s).c_str(), bm_stage, size, stage);
    }
    benchmark::RegisterBenchmark(("write/isal/aes-256-gcm/" + s).c_str(), bm_write, size, ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm);
    benchmark::RegisterBenchmark(("read/isal/" + s).c_str(), bm_read, size, ErasureBackend::kIsal, 0u);
    benchmark::RegisterBenchmark(("read_degraded_4_lost/isal/" + s).c_str(), bm_read, size, ErasureBackend::kIsal, 4u);
  }
  for (ErasureBackend b : {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy}) {
    const std::string name = erasure_backend_name(b);
    benchmark::RegisterBenchmark(("write/" + name + "/aes-256-gcm/1MiB").c_str(), bm_write, uint64_t{1} << 20, b, AeadAlgorithm::kAes256Gcm);
    benchmark::RegisterBenchmark(("read_degraded_4_lost/" + name + "/1MiB").c_str(), bm_read, uint64_t{1} << 20, b, 4u);
  }
  benchmark::RegisterBenchmark("write/isal/xchacha20-poly1305/1MiB", bm_write, uint64_t{1} << 20, ErasureBackend::kIsal,
                               AeadAlgorithm::kXChaCha20Poly1305);
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
