// Write pipeline (seal -> encode -> checksum) and read pipeline (verify -> decode -> decrypt): round trips
// on every backend and algorithm, lost and rotten fragments, sub-range reads from partial windows.
#include "coding/pipeline.h"

#include <gtest/gtest.h>

#include <random>

#include "coding/checksum.h"

namespace pbfs {
namespace {

Bytes random_bytes(size_t n, uint32_t seed) {
  Bytes out(n);
  std::mt19937 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

FileKey test_key() {
  MasterKey master;
  master.bytes.fill(9);
  return derive_file_key(master, 5);
}

WriteRequest request(uint64_t length, ErasureBackend backend, AeadAlgorithm algorithm, uint32_t k = 4, uint32_t m = 2,
                     uint32_t segment = 4096) {
  WriteRequest w;
  w.file_id = 5;
  w.extent = {8192, length};
  w.record_id = {1, length + 1};
  w.crypto.algorithm = algorithm;
  w.crypto.segment_bytes = segment;
  w.crypto.key_salt.fill(static_cast<uint8_t>(length));
  w.coding = {k, m, backend, 1024};
  return w;
}

std::vector<FragmentPiece> whole_pieces(const EncodedWrite& w, const std::vector<uint32_t>& skip = {}) {
  std::vector<FragmentPiece> pieces;
  for (uint32_t i = 0; i < w.record.layout.fragment_count(); ++i) {
    if (std::find(skip.begin(), skip.end(), i) == skip.end()) pieces.push_back({i, 0, w.stripe.fragment(i)});
  }
  return pieces;
}

const ErasureBackend kBackends[] = {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy,
                                    ErasureBackend::kIsal};

TEST(Pipeline, RoundTripEveryBackendAndAlgorithm) {
  RecordCodec codec;
  EncodedWrite w;  // reused across writes on purpose
  for (ErasureBackend backend : kBackends) {
    for (AeadAlgorithm algorithm : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
      for (uint64_t length : {0, 1, 4095, 4096 * 3 + 17, (1 << 20) + 3}) {
        const Bytes plain = random_bytes(length, static_cast<uint32_t>(length));
        ASSERT_TRUE(codec.encode_write(test_key(), request(length, backend, algorithm), plain, w).is_ok());
        EXPECT_TRUE(validate_write_record(w.record).is_ok());
        for (uint32_t i = 0; i < w.record.layout.fragment_count(); ++i) {
          EXPECT_EQ(w.record.fragments[i].crc32c, crc32c(w.stripe.fragment(i)));
          EXPECT_EQ(w.record.fragments[i].node, kUnplacedNode);
        }
        ReadReport report;
        Result<Bytes> back = codec.read_record(test_key(), w.record, whole_pieces(w, {0, 3}), &report);
        ASSERT_TRUE(back.is_ok()) << back.status().to_string();
        EXPECT_TRUE(*back == plain) << erasure_backend_name(backend) << " " << length;
        EXPECT_TRUE(report.corrupt_fragments.empty());
        if (length > 4096 * 3) {
          EXPECT_GE(report.rebuilt_windows, 2u);
        }
      }
    }
  }
}

TEST(Pipeline, RottenFragmentsArePickedOutByChecksum) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain = random_bytes(100000, 1);
  ASSERT_TRUE(codec.encode_write(test_key(), request(plain.size(), ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm), plain, w).is_ok());
  std::vector<Bytes> stored;
  for (uint32_t i = 0; i < 6; ++i) stored.emplace_back(w.stripe.fragment(i).begin(), w.stripe.fragment(i).end());
  stored[1][77] ^= 0x04;  // bit rot in two data fragments: CRC catches both, parity covers them
  stored[2][5000] ^= 0x80;
  std::vector<FragmentPiece> pieces;
  for (uint32_t i = 0; i < 6; ++i) pieces.push_back({i, 0, stored[i]});
  ReadReport report;
  Result<Bytes> back = codec.read_record(test_key(), w.record, pieces, &report);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_TRUE(*back == plain);
  std::sort(report.corrupt_fragments.begin(), report.corrupt_fragments.end());
  EXPECT_EQ(report.corrupt_fragments, (std::vector<uint32_t>{1, 2}));
  stored[4][0] ^= 1;  // a third bad fragment: only three healthy remain, k = 4
  EXPECT_EQ(codec.read_record(test_key(), w.record, pieces).status().code(), StatusCode::kUnavailable);
}

TEST(Pipeline, StoredFragmentsWithHeadersRoundTrip) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain = random_bytes(50000, 2);
  ASSERT_TRUE(codec.encode_write(test_key(), request(plain.size(), ErasureBackend::kJerasureCauchy, AeadAlgorithm::kAes256Gcm), plain, w).is_ok());
  const Bytes record_bytes = encode_write_record(w.record);
  std::vector<Bytes> stored;
  for (uint32_t i = 0; i < 6; ++i) stored.push_back(encode_fragment(make_fragment_header(w.record, i), w.stripe.fragment(i)));
  Result<WriteRecord> record = decode_write_record(record_bytes);
  ASSERT_TRUE(record.is_ok());
  std::vector<FragmentPiece> pieces;
  for (uint32_t i : {5u, 1u, 4u, 2u}) {  // any k, any order
    Result<FragmentParts> parts = decode_fragment(stored[i]);
    ASSERT_TRUE(parts.is_ok());
    EXPECT_EQ(parts->header.record_id, w.record.record_id);
    pieces.push_back({parts->header.index, 0, parts->body});
  }
  Result<Bytes> back = codec.read_record(test_key(), *record, pieces);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_TRUE(*back == plain);
}

// A reader fetches only the planned windows of data fragments; a lost one is rebuilt from the same
// window of k others. Output must equal the plaintext range in every case.
TEST(Pipeline, SubRangeReadsFromWindows) {
  for (ErasureBackend backend : kBackends) {
    RecordCodec codec;
    EncodedWrite w;
    const uint64_t length = 200000;
    const Bytes plain = random_bytes(length, 3);
    ASSERT_TRUE(codec.encode_write(test_key(), request(length, backend, AeadAlgorithm::kAes256Gcm, 4, 2, 4096), plain, w).is_ok());
    std::mt19937 rng(4);
    for (int trial = 0; trial < 60; ++trial) {
      const uint64_t offset = rng() % length, n = 1 + rng() % std::min<uint64_t>(length - offset, 30000);
      const auto plan = plan_read(w.record, offset, n);
      ASSERT_FALSE(plan.empty());
      uint64_t planned = 0;
      for (const auto& win : plan) planned += win.length;
      EXPECT_LT(planned, n + 2 * (4096 + 16) + 64);  // never much more than the segments involved
      std::vector<FragmentPiece> pieces;
      const uint32_t lost = trial % 3 == 0 ? plan.front().index : 99;
      for (const FragmentWindow& win : plan) {
        if (win.index == lost) {
          const FragmentWindow rebuild = rebuild_window(w.record, win);
          for (uint32_t j = 0; j < 6; ++j) {
            if (j != lost) pieces.push_back({j, rebuild.offset, w.stripe.fragment(j).subspan(rebuild.offset, rebuild.length)});
          }
        } else {
          pieces.push_back({win.index, win.offset, w.stripe.fragment(win.index).subspan(win.offset, win.length)});
        }
      }
      Bytes out(n);
      ReadReport report;
      ASSERT_TRUE(codec.decode_read(test_key(), w.record, offset, out, pieces, &report).is_ok())
          << erasure_backend_name(backend) << " " << offset << "+" << n;
      EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin() + offset));
      EXPECT_EQ(report.rebuilt_windows > 0, lost != 99);
    }
  }
}

TEST(Pipeline, FlippedBitInAPartialWindowIsAnAuthenticationError) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain = random_bytes(60000, 5);
  ASSERT_TRUE(codec.encode_write(test_key(), request(plain.size(), ErasureBackend::kIsal, AeadAlgorithm::kXChaCha20Poly1305), plain, w).is_ok());
  const auto plan = plan_read(w.record, 1000, 3000);
  ASSERT_EQ(plan.size(), 1u);
  Bytes window(w.stripe.fragment(plan[0].index).begin() + plan[0].offset,
               w.stripe.fragment(plan[0].index).begin() + plan[0].offset + plan[0].length);
  window[window.size() / 2] ^= 0x10;
  const FragmentPiece pieces[] = {{plan[0].index, plan[0].offset, window}};
  Bytes out(3000);
  EXPECT_EQ(codec.decode_read(test_key(), w.record, 1000, out, pieces).code(), StatusCode::kCorrupt);
  const FragmentPiece outside[] = {{0, w.record.layout.fragment_bytes - 8, window}};  // piece beyond its fragment
  EXPECT_EQ(codec.decode_read(test_key(), w.record, 1000, out, outside).code(), StatusCode::kInvalidArgument);
  Bytes too_long(plain.size());
  EXPECT_EQ(codec.decode_read(test_key(), w.record, 1, too_long, pieces).code(), StatusCode::kInvalidArgument);
}

TEST(Pipeline, WrongKeyOrBindingNeverYieldsBytes) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain = random_bytes(9000, 6);
  ASSERT_TRUE(codec.encode_write(test_key(), request(plain.size(), ErasureBackend::kJerasureVandermonde, AeadAlgorithm::kAes256Gcm), plain, w).is_ok());
  MasterKey other;
  other.bytes.fill(10);
  EXPECT_EQ(codec.read_record(derive_file_key(other, 5), w.record, whole_pieces(w)).status().code(), StatusCode::kCorrupt);
  WriteRecord moved = w.record;  // the same fragments presented as another file's record
  moved.file_id = 6;
  EXPECT_EQ(codec.read_record(test_key(), moved, whole_pieces(w)).status().code(), StatusCode::kCorrupt);
}

TEST(Pipeline, RejectsBadRequests) {
  RecordCodec codec;
  EncodedWrite w;
  const Bytes plain(10);
  EXPECT_EQ(codec.encode_write(test_key(), request(11, ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm), plain, w).code(),
            StatusCode::kInvalidArgument);
  WriteRequest bad_coding = request(10, ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm);
  bad_coding.coding.m = 0;
  EXPECT_FALSE(codec.encode_write(test_key(), bad_coding, plain, w).is_ok());
  WriteRequest bad_crypto = request(10, ErasureBackend::kIsal, AeadAlgorithm::kAes256Gcm);
  bad_crypto.crypto.segment_bytes = 1;
  EXPECT_FALSE(codec.encode_write(test_key(), bad_crypto, plain, w).is_ok());
}

}  // namespace
}  // namespace pbfs
