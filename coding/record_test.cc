// Record and fragment formats: round trips, and every decoder against truncation, flipped bits,
// wrong magic/version, fields that contradict each other (with a valid checksum) and trailing bytes.
#include "coding/record.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "coding/checksum.h"

namespace pbfs {
namespace {

WriteRecord sample_record(ErasureBackend backend = ErasureBackend::kJerasureCauchy) {
  WriteRecord r;
  r.file_id = 0x1122334455667788ull;
  r.extent = {1 << 20, 300000};
  r.record_id = {42, 7};
  r.crypto.algorithm = AeadAlgorithm::kXChaCha20Poly1305;
  r.crypto.segment_bytes = 65536;
  for (size_t i = 0; i < kKeySaltBytes; ++i) r.crypto.key_salt[i] = static_cast<uint8_t>(0xA0 + i);
  auto coder = ErasureCoder::create({6, 3, backend, 2048});
  r.layout = *coder->layout(aead_sealed_bytes(r.extent.length, r.crypto.segment_bytes));
  for (uint32_t i = 0; i < 9; ++i) r.fragments.push_back({100 + i, 0xC0DE0000u + i});
  return r;
}

// Rewrites the trailing CRC so a test can present contradictory fields that pass the checksum.
void reseal_record(Bytes& bytes) {
  const uint32_t crc = crc32c(ByteSpan(bytes).first(bytes.size() - 4));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

TEST(Record, RoundTrip) {
  for (ErasureBackend backend : {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal}) {
    const WriteRecord r = sample_record(backend);
    ASSERT_TRUE(validate_write_record(r).is_ok());
    const Bytes bytes = encode_write_record(r);
    EXPECT_EQ(bytes.size(), write_record_encoded_bytes(r));
    EXPECT_EQ(bytes.size(), 94u + 8 * 9 + 4);
    Result<WriteRecord> back = decode_write_record(bytes);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(*back, r);
  }
}

TEST(Record, TwoRecordsInOneStream) {
  const WriteRecord a = sample_record(), b = sample_record(ErasureBackend::kIsal);
  Bytes stream;
  WireWriter w(stream);
  encode_write_record(a, w);
  encode_write_record(b, w);
  WireReader in(stream);
  EXPECT_EQ(*decode_write_record(in), a);
  EXPECT_EQ(*decode_write_record(in), b);
  EXPECT_TRUE(in.at_end());
}

TEST(Record, EveryTruncationIsMalformed) {
  const Bytes bytes = encode_write_record(sample_record());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(decode_write_record(ByteSpan(bytes).first(n)).status().code(), StatusCode::kMalformed) << n;
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(decode_write_record(longer).status().code(), StatusCode::kMalformed);
}

TEST(Record, EveryFlippedBitIsAnError) {
  const Bytes bytes = encode_write_record(sample_record());
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    Bytes bad = bytes;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    Result<WriteRecord> r = decode_write_record(bad);
    ASSERT_FALSE(r.is_ok()) << "bit " << bit;
    EXPECT_TRUE(r.status().code() == StatusCode::kMalformed || r.status().code() == StatusCode::kCorrupt);
  }
}

// Field offsets from docs/record-format.md.
TEST(Record, ContradictoryFieldsAreMalformedEvenWithAGoodChecksum) {
  const Bytes good = encode_write_record(sample_record());
  struct Case {
    const char* what;
    std::function<void(Bytes&)> patch;
  };
  const Case cases[] = {
      {"magic", [](Bytes& b) { b[0] = 'X'; }},
      {"version", [](Bytes& b) { b[4] = 2; }},
      {"flags", [](Bytes& b) { b[6] = 1; }},
      {"extent length (sealed size no longer matches)", [](Bytes& b) { b[24] ^= 1; }},
      {"backend", [](Bytes& b) { b[48] = 9; }},
      {"k", [](Bytes& b) { b[49] = 0; }},
      {"m (count no longer k + m)", [](Bytes& b) { b[50] = 4; }},
      {"algorithm", [](Bytes& b) { b[51] = 7; }},
      {"segment size", [](Bytes& b) { b[52] = 0; b[53] = 0; b[54] = 0; }},
      {"payload size", [](Bytes& b) { b[56] ^= 0x40; }},
      {"fragment size", [](Bytes& b) { b[64] ^= 0x40; }},
      {"packet size", [](Bytes& b) { b[72] ^= 0x08; }},
      {"fragment count", [](Bytes& b) { b[92] = 200; }},
  };
  for (const Case& c : cases) {
    Bytes bad = good;
    c.patch(bad);
    reseal_record(bad);
    EXPECT_EQ(decode_write_record(bad).status().code(), StatusCode::kMalformed) << c.what;
  }
  Bytes bad_crc = good;
  bad_crc.back() ^= 1;
  EXPECT_EQ(decode_write_record(bad_crc).status().code(), StatusCode::kCorrupt);
}

TEST(Record, RandomInputNeverDecodes) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes junk(rng() % 300);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (junk.size() >= 4 && trial % 2 == 0) {  // half of them with a valid magic to get further
      junk[0] = 'P'; junk[1] = 'B'; junk[2] = 'F'; junk[3] = 'R';
    }
    EXPECT_FALSE(decode_write_record(junk).is_ok());
  }
}

TEST(FragmentHeader, RoundTripAndFragment) {
  const WriteRecord r = sample_record();
  const FragmentHeader h = make_fragment_header(r, 4);
  const Bytes header = encode_fragment_header(h);
  ASSERT_EQ(header.size(), kFragmentHeaderBytes);
  EXPECT_EQ(*decode_fragment_header(header), h);

  Bytes body(r.layout.fragment_bytes);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<uint8_t>(i * 3);
  FragmentHeader with_crc = h;
  with_crc.body_crc32c = crc32c(body);
  const Bytes stored = encode_fragment(with_crc, body);
  Result<FragmentParts> parts = decode_fragment(stored);
  ASSERT_TRUE(parts.is_ok()) << parts.status().to_string();
  EXPECT_EQ(parts->header, with_crc);
  EXPECT_TRUE(std::equal(body.begin(), body.end(), parts->body.begin()));

  Bytes rotten = stored;
  rotten[kFragmentHeaderBytes + 100] ^= 0x20;
  EXPECT_EQ(decode_fragment(rotten).status().code(), StatusCode::kCorrupt);
  Bytes short_body(stored.begin(), stored.end() - 1);
  EXPECT_EQ(decode_fragment(short_body).status().code(), StatusCode::kMalformed);
  Bytes long_body = stored;
  long_body.push_back(0);
  EXPECT_EQ(decode_fragment(long_body).status().code(), StatusCode::kMalformed);
}

TEST(FragmentHeader, TruncationFlipsAndLies) {
  const FragmentHeader h = make_fragment_header(sample_record(), 8);
  const Bytes good = encode_fragment_header(h);
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(decode_fragment_header(ByteSpan(good).first(n)).status().code(), StatusCode::kMalformed);
  }
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    Bytes bad = good;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(decode_fragment_header(bad).is_ok()) << bit;
  }
  auto reseal = [](Bytes& b) {
    const uint32_t crc = crc32c(ByteSpan(b).first(60));
    for (int i = 0; i < 4; ++i) b[60 + i] = static_cast<uint8_t>(crc >> (8 * i));
  };
  const std::pair<size_t, uint8_t> lies[] = {{4, 9}, {6, 0}, {7, 0}, {8, 0}, {9, 9}, {10, 1}, {44, 0xff}, {52, 3}};
  for (auto [offset, value] : lies) {
    Bytes bad = good;
    bad[offset] = value;
    reseal(bad);
    EXPECT_EQ(decode_fragment_header(bad).status().code(), StatusCode::kMalformed) << offset;
  }
}

}  // namespace
}  // namespace pbfs
