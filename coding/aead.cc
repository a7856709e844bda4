// AEAD over Crypto++. The record key is derived once per record; each segment is one AEAD message
// whose nonce is (segment number, last-segment flag) and whose associated data is the record's whole
// binding, so segments cannot be reordered, truncated, moved to another record or re-parameterised.
#include "coding/aead.h"

#include <cryptopp/aes.h>
#include <cryptopp/chachapoly.h>
#include <cryptopp/gcm.h>
#include <cryptopp/hkdf.h>
#include <cryptopp/sha.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "coding/check.h"
#include "coding/vector_state.h"

namespace pbfs {
namespace {

using Cipher = CryptoPP::AuthenticatedSymmetricCipher;

std::unique_ptr<Cipher> make_cipher(AeadAlgorithm algorithm, bool encrypt) {
  if (algorithm == AeadAlgorithm::kAes256Gcm) {
    if (encrypt) return std::make_unique<CryptoPP::GCM<CryptoPP::AES>::Encryption>();
    return std::make_unique<CryptoPP::GCM<CryptoPP::AES>::Decryption>();
  }
  if (encrypt) return std::make_unique<CryptoPP::XChaCha20Poly1305::Encryption>();
  return std::make_unique<CryptoPP::XChaCha20Poly1305::Decryption>();
}

ByteSpan text_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

constexpr std::string_view kFileKeySalt = "pbfs.file-key.v1";
constexpr std::string_view kRecordKeyInfo = "pbfs.record-key.v1";
constexpr std::string_view kAssociatedDataTag = "pbfs.ad.v1";

Status check_sizes(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, size_t text_in, size_t text_out, size_t tag) {
  if (!aead_algorithm_valid(static_cast<uint8_t>(algorithm))) return {StatusCode::kInvalidArgument, "unknown AEAD algorithm"};
  if (key.size() != kAeadKeyBytes || nonce.size() != aead_nonce_bytes(algorithm) || text_in != text_out ||
      tag != kAeadTagBytes) {
    return {StatusCode::kInvalidArgument, "AEAD key, nonce, text or tag size wrong"};
  }
  return Status::ok();
}

}  // namespace

const char* aead_algorithm_name(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kAes256Gcm: return "aes-256-gcm";
    case AeadAlgorithm::kXChaCha20Poly1305: return "xchacha20-poly1305";
  }
  return "unknown";
}

std::optional<AeadAlgorithm> aead_algorithm_from_name(std::string_view name) {
  for (auto a : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    if (name == aead_algorithm_name(a)) return a;
  }
  return std::nullopt;
}

bool aead_algorithm_valid(uint8_t wire_value) { return wire_value == 1 || wire_value == 2; }

size_t aead_nonce_bytes(AeadAlgorithm algorithm) { return algorithm == AeadAlgorithm::kAes256Gcm ? 12 : 24; }

void hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, std::span<uint8_t> out) {
  PBFS_CODING_CHECK(out.size() <= 255 * 32);
  CryptoPP::HKDF<CryptoPP::SHA256> hkdf;
  hkdf.DeriveKey(out.data(), out.size(), ikm.data(), ikm.size(), salt.data(), salt.size(), info.data(), info.size());
}

FileKey derive_file_key(const MasterKey& master, FileId file_id) {
  Bytes info;
  WireWriter(info).u64(file_id);
  FileKey key;
  hkdf_sha256(master.bytes, text_bytes(kFileKeySalt), info, key.bytes);
  return key;
}

Status aead_encrypt(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan associated_data,
                    ByteSpan plaintext, std::span<uint8_t> ciphertext, std::span<uint8_t> tag) {
  Status sizes = check_sizes(algorithm, key, nonce, plaintext.size(), ciphertext.size(), tag.size());
  if (!sizes.is_ok()) return sizes;
  try {
    auto cipher = make_cipher(algorithm, true);
    cipher->SetKeyWithIV(key.data(), key.size(), nonce.data(), nonce.size());
    cipher->EncryptAndAuthenticate(ciphertext.data(), tag.data(), tag.size(), nonce.data(), static_cast<int>(nonce.size()),
                                   associated_data.data(), associated_data.size(), plaintext.data(), plaintext.size());
  } catch (const CryptoPP::Exception& e) {
    return {StatusCode::kInvalidArgument, std::string("AEAD encrypt: ") + e.what()};
  }
  return Status::ok();
}

Status aead_decrypt(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan associated_data,
                    ByteSpan ciphertext, ByteSpan tag, std::span<uint8_t> plaintext) {
  Status sizes = check_sizes(algorithm, key, nonce, ciphertext.size(), plaintext.size(), tag.size());
  if (!sizes.is_ok()) return sizes;
  bool authentic = false;
  try {
    auto cipher = make_cipher(algorithm, false);
    cipher->SetKeyWithIV(key.data(), key.size(), nonce.data(), nonce.size());
    authentic = cipher->DecryptAndVerify(plaintext.data(), tag.data(), tag.size(), nonce.data(),
                                         static_cast<int>(nonce.size()), associated_data.data(),
                                         associated_data.size(), ciphertext.data(), ciphertext.size());
  } catch (const CryptoPP::Exception& e) {
    return {StatusCode::kInvalidArgument, std::string("AEAD decrypt: ") + e.what()};
  }
  if (!authentic) {
    if (!plaintext.empty()) std::memset(plaintext.data(), 0, plaintext.size());
    return {StatusCode::kCorrupt, "authentication failed"};
  }
  return Status::ok();
}

Status validate_crypto_params(const CryptoParams& params) {
  if (!aead_algorithm_valid(static_cast<uint8_t>(params.algorithm))) return {StatusCode::kMalformed, "unknown AEAD algorithm"};
  if (params.segment_bytes < kSegmentBytesMin || params.segment_bytes > kSegmentBytesMax) {
    return {StatusCode::kMalformed, "segment size out of range [16 B, 16 MiB]"};
  }
  return Status::ok();
}

uint64_t aead_segment_count(uint64_t plaintext_bytes, uint32_t segment_bytes) {
  PBFS_CODING_CHECK(segment_bytes > 0);
  return plaintext_bytes == 0 ? 1 : (plaintext_bytes + segment_bytes - 1) / segment_bytes;
}

uint64_t aead_sealed_bytes(uint64_t plaintext_bytes, uint32_t segment_bytes) {
  return plaintext_bytes + kAeadTagBytes * aead_segment_count(plaintext_bytes, segment_bytes);
}

SealedRange aead_sealed_range(uint64_t plaintext_bytes, uint32_t segment_bytes, uint64_t offset, uint64_t length) {
  if (length == 0) return {0, 0};
  PBFS_CODING_CHECK(segment_bytes > 0 && offset + length <= plaintext_bytes);
  const uint64_t sealed_segment = uint64_t{segment_bytes} + kAeadTagBytes;
  const uint64_t first = offset / segment_bytes, last = (offset + length - 1) / segment_bytes;
  const uint64_t last_length = std::min<uint64_t>(segment_bytes, plaintext_bytes - last * segment_bytes);
  return {first * sealed_segment, last * sealed_segment + last_length + kAeadTagBytes};
}

struct RecordCipher::Impl {
  CryptoParams params;
  RecordBinding binding;
  std::array<uint8_t, kAeadKeyBytes> record_key{};
  Bytes associated_data;
  uint64_t segments = 0;
  std::unique_ptr<Cipher> encryptor;  // keyed on first use: a reader never pays for the other one
  std::unique_ptr<Cipher> decryptor;
  AlignedBuffer scratch;  // a segment only partly inside a requested range

  std::array<uint8_t, 24> nonce(uint64_t segment) const {
    std::array<uint8_t, 24> n{};
    for (int i = 0; i < 8; ++i) n[i] = static_cast<uint8_t>(segment >> (8 * i));
    n[8] = segment + 1 == segments ? 1 : 0;
    return n;
  }
  Cipher& cipher(bool encrypt) {
    std::unique_ptr<Cipher>& c = encrypt ? encryptor : decryptor;
    if (!c) {
      c = make_cipher(params.algorithm, encrypt);
      const auto n = nonce(0);
      c->SetKeyWithIV(record_key.data(), record_key.size(), n.data(), aead_nonce_bytes(params.algorithm));
    }
    return *c;
  }
  uint64_t plain_offset(uint64_t segment) const { return segment * params.segment_bytes; }
  uint64_t plain_length(uint64_t segment) const {
    return std::min<uint64_t>(params.segment_bytes, binding.extent.length - plain_offset(segment));
  }
  uint64_t sealed_offset(uint64_t segment) const { return segment * (uint64_t{params.segment_bytes} + kAeadTagBytes); }
  Status open_segment(uint64_t segment, std::span<const SealedChunk> chunks, uint8_t* out);
};

namespace {

// Calls fn(piece) for the consecutive pieces of sealed bytes [begin, begin + n) found in `chunks`
// (sorted by offset); false if some byte is not covered.
template <typename Fn>
bool gather(std::span<const SealedChunk> chunks, uint64_t begin, uint64_t n, Fn fn) {
  auto it = std::upper_bound(chunks.begin(), chunks.end(), begin,
                             [](uint64_t pos, const SealedChunk& c) { return pos < c.offset; });
  if (it == chunks.begin()) return n == 0;
  --it;
  uint64_t pos = begin;
  const uint64_t end = begin + n;
  while (pos < end) {
    if (it == chunks.end() || it->offset > pos || it->offset + it->bytes.size() <= pos) return false;
    const uint64_t from = pos - it->offset;
    const uint64_t take = std::min<uint64_t>(it->bytes.size() - from, end - pos);
    fn(it->bytes.subspan(from, take));
    pos += take;
    ++it;
  }
  return true;
}

}  // namespace

Status RecordCipher::Impl::open_segment(uint64_t segment, std::span<const SealedChunk> chunks, uint8_t* out) {
  const uint64_t length = plain_length(segment), first = sealed_offset(segment);
  std::array<uint8_t, kAeadTagBytes> tag{};
  size_t tag_filled = 0;
  bool covered = gather(chunks, first + length, kAeadTagBytes, [&](ByteSpan piece) {
    std::memcpy(tag.data() + tag_filled, piece.data(), piece.size());
    tag_filled += piece.size();
  });
  if (!covered) return {StatusCode::kInvalidArgument, "sealed bytes of segment " + std::to_string(segment) + " missing"};
  bool authentic = false;
  try {
    Cipher& c = cipher(false);
    const auto n = nonce(segment);
    c.Resynchronize(n.data(), static_cast<int>(aead_nonce_bytes(params.algorithm)));
    c.Update(associated_data.data(), associated_data.size());
    uint64_t written = 0;
    covered = gather(chunks, first, length, [&](ByteSpan piece) {
      c.ProcessData(out + written, piece.data(), piece.size());
      written += piece.size();
    });
    if (!covered) return {StatusCode::kInvalidArgument, "sealed bytes of segment " + std::to_string(segment) + " missing"};
    authentic = c.TruncatedVerify(tag.data(), tag.size());
  } catch (const CryptoPP::Exception& e) {
    return {StatusCode::kInvalidArgument, std::string("AEAD open: ") + e.what()};
  }
  if (!authentic) {
    if (length > 0) std::memset(out, 0, length);
    return {StatusCode::kCorrupt, "segment " + std::to_string(segment) + " failed authentication"};
  }
  return Status::ok();
}

RecordCipher::RecordCipher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordCipher::RecordCipher(RecordCipher&&) noexcept = default;
RecordCipher& RecordCipher::operator=(RecordCipher&&) noexcept = default;
RecordCipher::~RecordCipher() = default;

Result<RecordCipher> RecordCipher::create(const FileKey& file_key, const CryptoParams& params,
                                          const RecordBinding& binding) {
  Status valid = validate_crypto_params(params);
  if (!valid.is_ok()) return valid;
  if (binding.extent.length > kRecordBytesMax) return Status(StatusCode::kInvalidArgument, "record larger than 2^48 bytes");
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->binding = binding;
  impl->segments = aead_segment_count(binding.extent.length, params.segment_bytes);
  Bytes info(kRecordKeyInfo.begin(), kRecordKeyInfo.end());
  WireWriter key_info(info);
  key_info.u64(binding.record_id.client);
  key_info.u64(binding.record_id.sequence);
  hkdf_sha256(file_key.bytes, params.key_salt, info, impl->record_key);
  WireWriter ad(impl->associated_data);
  ad.raw(text_bytes(kAssociatedDataTag));
  ad.u8(static_cast<uint8_t>(params.algorithm));
  ad.u32(params.segment_bytes);
  ad.raw(params.key_salt);
  ad.u64(binding.file_id);
  ad.u64(binding.extent.offset);
  ad.u64(binding.extent.length);
  ad.u64(binding.record_id.client);
  ad.u64(binding.record_id.sequence);
  return RecordCipher(std::move(impl));
}

uint64_t RecordCipher::plaintext_bytes() const { return impl_->binding.extent.length; }
uint64_t RecordCipher::sealed_bytes() const {
  return aead_sealed_bytes(impl_->binding.extent.length, impl_->params.segment_bytes);
}
uint64_t RecordCipher::segment_count() const { return impl_->segments; }

Status RecordCipher::seal(ByteSpan plaintext, std::span<uint8_t> sealed) {
  if (plaintext.size() != plaintext_bytes() || sealed.size() != sealed_bytes()) {
    return {StatusCode::kInvalidArgument, "plaintext or sealed buffer size differs from the record's"};
  }
  Impl& s = *impl_;
  clear_upper_vector_state();  // AES-NI here is legacy SSE: never run it with dirty upper halves
  try {
    Cipher& c = s.cipher(true);
    const int nonce_bytes = static_cast<int>(aead_nonce_bytes(s.params.algorithm));
    for (uint64_t j = 0; j < s.segments; ++j) {
      const uint64_t length = s.plain_length(j);
      uint8_t* out = sealed.data() + s.sealed_offset(j);
      const auto n = s.nonce(j);
      c.EncryptAndAuthenticate(out, out + length, kAeadTagBytes, n.data(), nonce_bytes, s.associated_data.data(),
                               s.associated_data.size(), plaintext.data() + s.plain_offset(j), length);
    }
  } catch (const CryptoPP::Exception& e) {
    return {StatusCode::kInvalidArgument, std::string("AEAD seal: ") + e.what()};
  }
  return Status::ok();
}

Status RecordCipher::open(ByteSpan sealed, std::span<uint8_t> plaintext) {
  if (plaintext.size() != plaintext_bytes() || sealed.size() != sealed_bytes()) {
    return {StatusCode::kInvalidArgument, "plaintext or sealed buffer size differs from the record's"};
  }
  const SealedChunk whole[] = {{0, sealed}};
  clear_upper_vector_state();
  for (uint64_t j = 0; j < impl_->segments; ++j) {
    Status opened = impl_->open_segment(j, whole, plaintext.data() + impl_->plain_offset(j));
    if (!opened.is_ok()) return opened;
  }
  return Status::ok();
}

SealedRange RecordCipher::sealed_range(uint64_t offset, uint64_t length) const {
  return aead_sealed_range(plaintext_bytes(), impl_->params.segment_bytes, offset, length);
}

Status RecordCipher::open_range(uint64_t offset, std::span<uint8_t> out, std::span<const SealedChunk> chunks) {
  Impl& s = *impl_;
  const uint64_t end = offset + out.size();
  if (end < offset || end > plaintext_bytes()) return {StatusCode::kInvalidArgument, "range outside the record"};
  if (out.empty()) return Status::ok();
  const SealedRange needed = sealed_range(offset, out.size());
  if (!gather(chunks, needed.first, needed.end - needed.first, [](ByteSpan) {})) {
    return {StatusCode::kInvalidArgument, "sealed bytes for the range are missing"};
  }
  clear_upper_vector_state();
  const uint64_t first = offset / s.params.segment_bytes, last = (end - 1) / s.params.segment_bytes;
  for (uint64_t j = first; j <= last; ++j) {
    const uint64_t begin_j = s.plain_offset(j), end_j = begin_j + s.plain_length(j);
    const uint64_t from = std::max(offset, begin_j), to = std::min(end, end_j);
    Status opened;
    if (from == begin_j && to == end_j) {
      opened = s.open_segment(j, chunks, out.data() + (begin_j - offset));
    } else {  // the range starts or ends inside this segment: verify all of it, keep only the part asked for
      s.scratch.resize(end_j - begin_j);
      opened = s.open_segment(j, chunks, s.scratch.data());
      if (opened.is_ok()) std::memcpy(out.data() + (from - offset), s.scratch.data() + (from - begin_j), to - from);
    }
    if (!opened.is_ok()) return opened;
  }
  return Status::ok();
}

}  // namespace pbfs
