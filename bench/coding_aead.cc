// AEAD and checksum throughput: pbfs record sealing/opening (64 KiB segments, per-record key derived
// inside the timed loop) next to one raw Crypto++ call over the same bytes, CRC32C next to raw ISA-L,
// and memcpy. GB/s are of plaintext. Figures and commands: docs/performance.md, "Coding core".
#include <benchmark/benchmark.h>
#include <cryptopp/aes.h>
#include <cryptopp/chachapoly.h>
#include <cryptopp/gcm.h>
#include <immintrin.h>
#include <isa-l/crc.h>

#include <cstring>
#include <string>
#include <vector>

#include "coding/aead.h"
#include "coding/checksum.h"

namespace pbfs {
namespace {

const uint64_t kSizes[] = {4 << 10, 64 << 10, 1 << 20, 4 << 20};

std::string size_name(uint64_t size) {
  return size >= (1 << 20) ? std::to_string(size >> 20) + "MiB" : std::to_string(size >> 10) + "KiB";
}

void finish(benchmark::State& state, uint64_t size) { state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size)); }

__attribute__((target("avx"))) void zero_upper() { _mm256_zeroupper(); }

RecordBinding binding(uint64_t size) { return {3, {0, size}, {1, 2}}; }

void bm_seal(benchmark::State& state, AeadAlgorithm algorithm, uint64_t size) {
  FileKey key;
  key.bytes.fill(7);
  CryptoParams params;
  params.algorithm = algorithm;
  Bytes plain(size, 1), sealed(aead_sealed_bytes(size, params.segment_bytes));
  for (auto _ : state) {  // a fresh record each time: key derivation is part of the cost
    auto cipher = RecordCipher::create(key, params, binding(size));
    if (!cipher->seal(plain, sealed).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void bm_open(benchmark::State& state, AeadAlgorithm algorithm, uint64_t size) {
  FileKey key;
  key.bytes.fill(7);
  CryptoParams params;
  params.algorithm = algorithm;
  Bytes plain(size, 1), sealed(aead_sealed_bytes(size, params.segment_bytes));
  if (!RecordCipher::create(key, params, binding(size))->seal(plain, sealed).is_ok()) std::abort();
  for (auto _ : state) {
    auto cipher = RecordCipher::create(key, params, binding(size));
    if (!cipher->open(sealed, plain).is_ok()) std::abort();
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

// One Crypto++ AEAD message over the whole buffer with a key set once: the library's best case.
void bm_raw_seal(benchmark::State& state, AeadAlgorithm algorithm, uint64_t size) {
  std::vector<uint8_t> key(32, 7), nonce(aead_nonce_bytes(algorithm), 1), plain(size, 1), out(size), tag(16);
  CryptoPP::GCM<CryptoPP::AES>::Encryption gcm;
  CryptoPP::XChaCha20Poly1305::Encryption xchacha;
  CryptoPP::AuthenticatedSymmetricCipher& c =
      algorithm == AeadAlgorithm::kAes256Gcm ? static_cast<CryptoPP::AuthenticatedSymmetricCipher&>(gcm) : xchacha;
  c.SetKeyWithIV(key.data(), key.size(), nonce.data(), nonce.size());
  for (auto _ : state) {
    c.EncryptAndAuthenticate(out.data(), tag.data(), 16, nonce.data(), static_cast<int>(nonce.size()), nullptr, 0, plain.data(), size);
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void bm_crc(benchmark::State& state, uint64_t size, bool raw) {
  std::vector<uint8_t> data(size, 3);
  for (auto _ : state) {
    uint32_t crc = raw ? crc32_iscsi(data.data(), static_cast<int>(size), 0xffffffffu) : crc32c(data);
    benchmark::DoNotOptimize(crc);
  }
  zero_upper();  // raw ISA-L leaves the upper halves dirty; do not slow the SSE benchmarks after it
  finish(state, size);
}

void bm_memcpy(benchmark::State& state, uint64_t size) {
  std::vector<uint8_t> from(size, 1), to(size);
  for (auto _ : state) {
    std::memcpy(to.data(), from.data(), size);
    benchmark::ClobberMemory();
  }
  finish(state, size);
}

void register_all() {
  for (uint64_t size : kSizes) {
    const std::string s = size_name(size);
    benchmark::RegisterBenchmark(("memcpy/" + s).c_str(), bm_memcpy, size);
    benchmark::RegisterBenchmark(("crc32c/" + s).c_str(), bm_crc, size, false);
    benchmark::RegisterBenchmark(("raw_crc32c/" + s).c_str(), bm_crc, size, true);
    for (AeadAlgorithm a : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
      const std::string name = std::string(aead_algorithm_name(a)) + "/" + s;
      benchmark::RegisterBenchmark(("seal/" + name).c_str(), bm_seal, a, size);
      benchmark::RegisterBenchmark(("open/" + name).c_str(), bm_open, a, size);
      benchmark::RegisterBenchmark(("raw_seal/" + name).c_str(), bm_raw_seal, a, size);
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
