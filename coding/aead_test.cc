// AEAD: known-answer vectors (GCM spec / NIST, XChaCha20-Poly1305 draft, RFC 5869 HKDF), round trips
// over segment boundaries, tampering with every bit and every bound field, and sub-range reads.
#include "coding/aead.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace pbfs {
namespace {

Bytes hex(const std::string& text) {
  Bytes out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

Bytes random_bytes(size_t n, uint32_t seed) {
  Bytes out(n);
  std::mt19937 rng(seed);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

struct Vector {
  AeadAlgorithm algorithm;
  std::string key, nonce, aad, plaintext, ciphertext, tag;
};

// AES-256 cases 13, 14 and 16 of the GCM specification (McGrew & Viega, as used by NIST's GCM
// validation), and XChaCha20-Poly1305 from draft-irtf-cfrg-xchacha, appendix A.3.1.
const Vector kVectors[] = {
    {AeadAlgorithm::kAes256Gcm, std::string(64, '0'), std::string(24, '0'), "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {AeadAlgorithm::kAes256Gcm, std::string(64, '0'), std::string(24, '0'), "", std::string(32, '0'),
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {AeadAlgorithm::kAes256Gcm, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {AeadAlgorithm::kXChaCha20Poly1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "404142434445464748494a4b4c4d4e4f5051525354555657", "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64"
     "206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f"
     "756c642062652069742e",
     "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c670"
     "8c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9"
     "768812f615c68b13b52e",
     "c0875924c1c7987947deafd8780acf49"},
};

TEST(Aead, KnownAnswerVectors) {
  for (const Vector& v : kVectors) {
    const Bytes key = hex(v.key), nonce = hex(v.nonce), aad = hex(v.aad), plain = hex(v.plaintext);
    Bytes cipher(plain.size()), tag(kAeadTagBytes);
    ASSERT_TRUE(aead_encrypt(v.algorithm, key, nonce, aad, plain, cipher, tag).is_ok());
    EXPECT_EQ(cipher, hex(v.ciphertext)) << aead_algorithm_name(v.algorithm);
    EXPECT_EQ(tag, hex(v.tag)) << aead_algorithm_name(v.algorithm);
    Bytes opened(plain.size());
    ASSERT_TRUE(aead_decrypt(v.algorithm, key, nonce, aad, cipher, tag, opened).is_ok());
    EXPECT_EQ(opened, plain);
    tag[3] ^= 0x10;
    EXPECT_EQ(aead_decrypt(v.algorithm, key, nonce, aad, cipher, tag, opened).code(), StatusCode::kCorrupt);
  }
}

TEST(Aead, RawPrimitiveChecksSizes) {
  Bytes key(32), nonce(12), text(5), out(5), tag(16), short_tag(15);
  EXPECT_EQ(aead_encrypt(AeadAlgorithm::kAes256Gcm, key, nonce, {}, text, out, short_tag).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(aead_encrypt(AeadAlgorithm::kXChaCha20Poly1305, key, nonce, {}, text, out, tag).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(aead_encrypt(AeadAlgorithm::kAes256Gcm, Bytes(16), nonce, {}, text, out, tag).code(), StatusCode::kInvalidArgument);
}

TEST(Aead, HkdfRfc5869Case1) {
  const Bytes ikm(22, 0x0b), salt = hex("000102030405060708090a0b0c"), info = hex("f0f1f2f3f4f5f6f7f8f9");
  Bytes okm(42);
  hkdf_sha256(ikm, salt, info, okm);
  EXPECT_EQ(okm, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
}

TEST(Aead, FileKeysDifferPerFileAndMaster) {
  MasterKey a, b;
  a.bytes.fill(1);
  b.bytes.fill(2);
  EXPECT_EQ(derive_file_key(a, 7).bytes, derive_file_key(a, 7).bytes);
  EXPECT_NE(derive_file_key(a, 7).bytes, derive_file_key(a, 8).bytes);
  EXPECT_NE(derive_file_key(a, 7).bytes, derive_file_key(b, 7).bytes);
}

struct Fixture {
  FileKey key;
  CryptoParams params;
  RecordBinding binding;
};

Fixture fixture(uint64_t length, uint32_t segment_bytes, AeadAlgorithm algorithm) {
  MasterKey master;
  master.bytes.fill(0x42);
  Fixture f;
  f.key = derive_file_key(master, 11);
  f.params.algorithm = algorithm;
  f.params.segment_bytes = segment_bytes;
  for (size_t i = 0; i < f.params.key_salt.size(); ++i) f.params.key_salt[i] = static_cast<uint8_t>(i * 13);
  f.binding = {11, {4096, length}, {3, 99}};
  return f;
}

Bytes seal(const Fixture& f, const Bytes& plain) {
  auto cipher = RecordCipher::create(f.key, f.params, f.binding);
  EXPECT_TRUE(cipher.is_ok());
  Bytes sealed(cipher->sealed_bytes());
  EXPECT_TRUE(cipher->seal(plain, sealed).is_ok());
  return sealed;
}

Status open(const Fixture& f, const Bytes& sealed, Bytes& plain) {
  auto cipher = RecordCipher::create(f.key, f.params, f.binding);
  if (!cipher.is_ok()) return cipher.status();
  plain.assign(f.binding.extent.length, 0);
  return cipher->open(sealed, plain);
}

const AeadAlgorithm kAlgorithms[] = {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305};

TEST(Aead, RoundTripAcrossSegmentBoundaries) {
  const uint32_t segment = 64;
  for (AeadAlgorithm algorithm : kAlgorithms) {
    for (uint64_t length : {0, 1, 63, 64, 65, 3 * 64 + 5, 1000}) {
      Fixture f = fixture(length, segment, algorithm);
      const Bytes plain = random_bytes(length, static_cast<uint32_t>(length));
      const Bytes sealed = seal(f, plain);
      EXPECT_EQ(sealed.size(), aead_sealed_bytes(length, segment));
      EXPECT_EQ(sealed.size(), length + 16 * aead_segment_count(length, segment));
      Bytes opened;
      ASSERT_TRUE(open(f, sealed, opened).is_ok());
      EXPECT_EQ(opened, plain);
    }
  }
}

TEST(Aead, EveryFlippedBitOfTheSealedRecordFails) {
  for (AeadAlgorithm algorithm : kAlgorithms) {
    Fixture f = fixture(80, 32, algorithm);  // three segments: 32 + 32 + 16 bytes
    const Bytes sealed = seal(f, random_bytes(80, 5));
    for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
      Bytes bad = sealed;
      bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      Bytes opened;
      ASSERT_EQ(open(f, bad, opened).code(), StatusCode::kCorrupt) << "bit " << bit;
    }
  }
}

TEST(Aead, EveryBoundFieldIsAuthenticated) {
  for (AeadAlgorithm algorithm : kAlgorithms) {
    const Fixture good = fixture(80, 32, algorithm);
    const Bytes sealed = seal(good, random_bytes(80, 6));
    std::vector<Fixture> variants;
    for (int bit = 0; bit < 64; bit += 7) {
      Fixture f = good;
      f.binding.file_id ^= uint64_t{1} << bit;
      variants.push_back(f);
      f = good;
      f.binding.extent.offset ^= uint64_t{1} << bit;
      variants.push_back(f);
      f = good;
      f.binding.record_id.client ^= uint64_t{1} << bit;
      variants.push_back(f);
      f = good;
      f.binding.record_id.sequence ^= uint64_t{1} << bit;
      variants.push_back(f);
    }
    for (size_t bit = 0; bit < kKeySaltBytes * 8; ++bit) {
      Fixture f = good;
      f.params.key_salt[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      variants.push_back(f);
    }
    Fixture other_segments = good;  // 33-byte segments: same sealed size, different cut
    other_segments.params.segment_bytes = 33;
    variants.push_back(other_segments);
    Fixture other_key = good;
    other_key.key.bytes[31] ^= 1;
    variants.push_back(other_key);
    for (const Fixture& f : variants) {
      Bytes opened;
      ASSERT_EQ(f.binding.extent.length, 80u);
      EXPECT_EQ(open(f, sealed, opened).code(), StatusCode::kCorrupt);
    }
    // A lying length (one more byte, same segment count) and the other algorithm also fail.
    Fixture longer = good;
    longer.binding.extent.length = 81;
    Bytes padded = sealed;
    padded.push_back(0);
    Bytes opened;
    EXPECT_EQ(open(longer, padded, opened).code(), StatusCode::kCorrupt);
    Fixture other_algorithm = good;
    other_algorithm.params.algorithm =
        algorithm == AeadAlgorithm::kAes256Gcm ? AeadAlgorithm::kXChaCha20Poly1305 : AeadAlgorithm::kAes256Gcm;
    EXPECT_EQ(open(other_algorithm, sealed, opened).code(), StatusCode::kCorrupt);
  }
}

TEST(Aead, ReorderedOrTruncatedSegmentsFail) {
  Fixture f = fixture(96, 32, AeadAlgorithm::kAes256Gcm);
  const Bytes sealed = seal(f, random_bytes(96, 8));
  Bytes swapped = sealed;  // swap segments 0 and 1 (48 sealed bytes each)
  std::swap_ranges(swapped.begin(), swapped.begin() + 48, swapped.begin() + 48);
  Bytes opened;
  EXPECT_EQ(open(f, swapped, opened).code(), StatusCode::kCorrupt);
  Fixture shorter = f;  // drop the last segment and claim the shorter length
  shorter.binding.extent.length = 64;
  EXPECT_EQ(open(shorter, Bytes(sealed.begin(), sealed.begin() + 96), opened).code(), StatusCode::kCorrupt);
}

TEST(Aead, NoncesDoNotRepeatAcrossRecords) {
  const Bytes plain(256, 0);
  Fixture f = fixture(256, 64, AeadAlgorithm::kAes256Gcm);
  const Bytes base = seal(f, plain);
  Fixture next_record = f;
  next_record.binding.record_id.sequence += 1;
  Fixture fresh_salt = f;
  fresh_salt.params.key_salt[0] ^= 1;
  EXPECT_NE(seal(next_record, plain), base);
  EXPECT_NE(seal(fresh_salt, plain), base);
  // Within a record, equal plaintext segments give different ciphertext (distinct nonces).
  EXPECT_FALSE(std::equal(base.begin(), base.begin() + 64, base.begin() + 80));
}

// Sub-range reads: only the segments covering the range are needed, handed in as scattered chunks.
TEST(Aead, SegmentRangeReads) {
  for (AeadAlgorithm algorithm : kAlgorithms) {
    const uint64_t length = 1000;
    Fixture f = fixture(length, 64, algorithm);
    const Bytes plain = random_bytes(length, 9);
    const Bytes sealed = seal(f, plain);
    auto cipher = RecordCipher::create(f.key, f.params, f.binding);
    ASSERT_TRUE(cipher.is_ok());
    std::mt19937 rng(1);
    for (int trial = 0; trial < 300; ++trial) {
      const uint64_t offset = rng() % length, n = rng() % (length - offset + 1);
      const auto range = cipher->sealed_range(offset, n);
      ASSERT_LE(range.end, sealed.size());
      // Chop the needed sealed bytes into up to four pieces at random cut points.
      std::vector<SealedChunk> chunks;
      uint64_t at = range.first;
      while (at < range.end) {
        const uint64_t take = std::min<uint64_t>(range.end - at, 1 + rng() % 200);
        chunks.push_back({at, ByteSpan(sealed).subspan(at, take)});
        at += take;
      }
      Bytes out(n);
      ASSERT_TRUE(cipher->open_range(offset, out, chunks).is_ok()) << offset << "+" << n;
      EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin() + offset));
      if (n > 0 && chunks.size() > 1) {  // a hole in the needed bytes is a caller error, not corruption
        chunks.erase(chunks.begin() + 1);
        EXPECT_EQ(cipher->open_range(offset, out, chunks).code(), StatusCode::kInvalidArgument);
      }
    }
    // A flipped bit inside the range is caught; one outside it is not even read.
    Bytes bad = sealed;
    bad[5] ^= 1;  // segment 0
    const SealedChunk whole[] = {{0, bad}};
    Bytes out(100);
    EXPECT_EQ(cipher->open_range(10, out, whole).code(), StatusCode::kCorrupt);
    EXPECT_TRUE(cipher->open_range(200, out, whole).is_ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), plain.begin() + 200));
    EXPECT_EQ(cipher->open_range(950, out, whole).code(), StatusCode::kInvalidArgument);  // past the end
  }
}

TEST(Aead, ParamsAreValidated) {
  CryptoParams p;
  EXPECT_TRUE(validate_crypto_params(p).is_ok());
  p.segment_bytes = 8;
  EXPECT_EQ(validate_crypto_params(p).code(), StatusCode::kMalformed);
  p.segment_bytes = kSegmentBytesMax + 1;
  EXPECT_FALSE(validate_crypto_params(p).is_ok());
  p = CryptoParams{};
  p.algorithm = static_cast<AeadAlgorithm>(3);
  EXPECT_FALSE(validate_crypto_params(p).is_ok());
  EXPECT_EQ(aead_algorithm_from_name("aes-256-gcm"), AeadAlgorithm::kAes256Gcm);
  EXPECT_EQ(aead_algorithm_from_name("xchacha20-poly1305"), AeadAlgorithm::kXChaCha20Poly1305);
  EXPECT_FALSE(aead_algorithm_from_name("chacha").has_value());
}

}  // namespace
}  // namespace pbfs
