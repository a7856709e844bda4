// The always-on side of fuzzing: every fuzz target runs over its checked-in corpus (valid-* seeds must
// be accepted, invalid-* rejected), over every truncation and many seeded mutations of each seed, and
// over random bytes. DISABLED_WriteSeedCorpus regenerates the seeds after a format change:
//   coding_test --gtest_also_run_disabled_tests --gtest_filter='*WriteSeedCorpus'
#include "coding/fuzz/fuzz_targets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "coding/pipeline.h"
#include "coding/record.h"

namespace pbfs::fuzz {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir(const char* target) { return fs::path(PBFS_SOURCE_DIR) / "coding/fuzz/corpus" / target; }

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::vector<fs::path> seeds(const char* target) {
  std::vector<fs::path> files;
  if (!fs::exists(corpus_dir(target))) return files;
  for (const auto& entry : fs::directory_iterator(corpus_dir(target))) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(FuzzCorpus, SeedsExistAndAreClassifiedCorrectly) {
  for (const Target& t : all_targets()) {
    const auto files = seeds(t.name);
    size_t valid = 0;
    for (const fs::path& path : files) {
      const Bytes input = read_file(path);
      const bool accepted = t.run(input.data(), input.size());
      const std::string name = path.filename().string();
      if (name.starts_with("valid-")) {
        EXPECT_TRUE(accepted) << path;
        ++valid;
      }
      if (name.starts_with("invalid-")) {
        EXPECT_FALSE(accepted) << path;
      }
    }
    EXPECT_GE(valid, 1u) << t.name;
  }
}

TEST(FuzzCorpus, TruncationsAndMutationsNeverCrash) {
  std::mt19937 rng(2024);
  for (const Target& t : all_targets()) {
    for (const fs::path& path : seeds(t.name)) {
      const Bytes seed = read_file(path);
      const size_t step = std::max<size_t>(1, seed.size() / 300);  // every prefix of small seeds
      for (size_t n = 0; n < seed.size(); n += step) t.run(seed.data(), n);
      for (int trial = 0; trial < 300; ++trial) {
        Bytes mutated = seed;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !mutated.empty(); ++e) {
          const size_t at = rng() % mutated.size();
          switch (rng() % 4) {
            case 0: mutated[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            case 1: mutated[at] = static_cast<uint8_t>(rng()); break;
            case 2: mutated.erase(mutated.begin() + at); break;
            default: mutated.insert(mutated.begin() + at, static_cast<uint8_t>(rng())); break;
          }
        }
        t.run(mutated.data(), mutated.size());
      }
    }
  }
}

TEST(FuzzCorpus, RandomBytesAreRejected) {
  std::mt19937 rng(7);
  for (const Target& t : all_targets()) {
    for (int trial = 0; trial < 500; ++trial) {
      Bytes junk(rng() % 512);
      for (auto& b : junk) b = static_cast<uint8_t>(rng());
      EXPECT_FALSE(t.run(junk.data(), junk.size())) << t.name;
    }
  }
}

// ---- Seed generation (run by hand; writes into the source tree) ----

void write_seed(const char* target, const std::string& name, ByteSpan bytes) {
  fs::create_directories(corpus_dir(target));
  std::ofstream out(corpus_dir(target) / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

EncodedWrite sample_write(ErasureBackend backend, AeadAlgorithm algorithm, uint64_t length, uint32_t seed) {
  MasterKey master;
  master.bytes.fill(kFuzzMasterKeyByte);
  WriteRequest request;
  request.file_id = 77 + seed;
  request.extent = {seed * 1000ull, length};
  request.record_id = {seed, 1000 + seed};
  request.crypto.algorithm = algorithm;
  request.crypto.segment_bytes = 256;
  request.crypto.key_salt.fill(static_cast<uint8_t>(seed));
  request.coding = {4, 2, backend, 64};
  Bytes plain(length);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * seed + 1);
  RecordCodec codec;
  EncodedWrite w;
  EXPECT_TRUE(codec.encode_write(derive_file_key(master, request.file_id), request, plain, w).is_ok());
  for (uint32_t i = 0; i < w.record.fragments.size(); ++i) w.record.fragments[i].node = 10 + i;
  return w;
}

Bytes pipeline_input(const EncodedWrite& w, uint32_t offset, uint32_t length, const std::vector<FragmentPiece>& pieces) {
  Bytes out;
  WireWriter o(out);
  const Bytes record = encode_write_record(w.record);
  o.u16(static_cast<uint16_t>(record.size()));
  o.raw(record);
  o.u32(offset);
  o.u32(length);
  for (const FragmentPiece& p : pieces) {
    o.u8(static_cast<uint8_t>(p.index));
    o.u32(static_cast<uint32_t>(p.offset));
    o.blob(p.bytes);
  }
  return out;
}

TEST(FuzzCorpus, DISABLED_WriteSeedCorpus) {
  const ErasureBackend backends[] = {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal};
  uint32_t seed = 1;
  for (ErasureBackend b : backends) {
    for (AeadAlgorithm a : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
      const EncodedWrite w = sample_write(b, a, 1500, seed);
      const std::string tag = std::string(erasure_backend_name(b)) + "-" + aead_algorithm_name(a);
      write_seed("write_record", "valid-" + tag, encode_write_record(w.record));
      write_seed("fragment_header", "valid-" + tag, encode_fragment_header(make_fragment_header(w.record, seed % 6)));
      write_seed("fragment", "valid-" + tag, encode_fragment(make_fragment_header(w.record, 4), w.stripe.fragment(4)));
      std::vector<FragmentPiece> all;
      for (uint32_t i = 0; i < 6; ++i) all.push_back({i, 0, w.stripe.fragment(i)});
      write_seed("read_pipeline", "valid-whole-" + tag, pipeline_input(w, 0, 1500, all));
      std::vector<FragmentPiece> lost_one(all.begin() + 1, all.end());  // fragment 0 lost, a sub-range
      write_seed("read_pipeline", "valid-range-" + tag, pipeline_input(w, 100, 300, lost_one));
      ++seed;
    }
  }
  const EncodedWrite w = sample_write(ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm, 700, 9);
  Bytes record = encode_write_record(w.record);
  Bytes bad = record;
  bad[4] = 2;  // version
  write_seed("write_record", "invalid-version", bad);
  write_seed("write_record", "invalid-truncated", ByteSpan(record).first(record.size() - 3));
  Bytes header = encode_fragment_header(make_fragment_header(w.record, 1));
  header[0] ^= 0xff;
  write_seed("fragment_header", "invalid-magic", header);
  Bytes stored = encode_fragment(make_fragment_header(w.record, 2), w.stripe.fragment(2));
  stored.back() ^= 1;
  write_seed("fragment", "invalid-rotten-body", stored);
  Bytes rotten(w.stripe.fragment(0).begin(), w.stripe.fragment(0).end());
  rotten[10] ^= 4;
  write_seed("read_pipeline", "invalid-rotten-window", pipeline_input(w, 0, 200, {{0, 0, ByteSpan(rotten).first(512)}}));
  const std::string model = "version: 1\nmachine: \"seed\"\noperations:\n"
                            "  - {op: aead_seal, algorithm: aes-256-gcm, overhead_ns: 500, points: [{bytes: 4096, gbps: 2}]}\n"
                            "  - {op: aead_open, algorithm: aes-256-gcm, overhead_ns: 400, points: [{bytes: 4096, gbps: 2}]}\n"
                            "  - {op: ec_encode, backend: isal, k: 8, m: 4, overhead_ns: 100, points: [{bytes: 65536, gbps: 20}]}\n"
                            "  - {op: ec_decode, backend: isal, k: 8, m: 4, overhead_ns: 100, points: [{bytes: 65536, gbps: 15}]}\n"
                            "  - {op: checksum, overhead_ns: 20, points: [{bytes: 4096, gbps: 40}]}\n";
  write_seed("cost_model", "valid-small", ByteSpan(reinterpret_cast<const uint8_t*>(model.data()), model.size()));
  const std::string broken = model.substr(0, model.find("  - {op: checksum"));
  write_seed("cost_model", "invalid-missing-checksum", ByteSpan(reinterpret_cast<const uint8_t*>(broken.data()), broken.size()));
}

}  // namespace
}  // namespace pbfs::fuzz
