// Client-side authenticated encryption of write records (Crypto++). Keys: a client master key, a
// per-file key derived with HKDF-SHA256, and a per-record key derived from the file key, a fresh random
// salt and the record id, so nonces (segment number + last-segment flag) can never repeat under a key.
// A record is sealed in segments (64 KiB by default), each with its own tag, so a reader verifies and
// decrypts a sub-range without fetching the whole record. Associated data binds file id, extent,
// record id and every crypto parameter: any flipped bit anywhere is an authentication error.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "coding/buffer.h"
#include "coding/ids.h"
#include "coding/status.h"
#include "coding/wire.h"

namespace pbfs {

// Wire values are part of the record format: never renumber.
enum class AeadAlgorithm : uint8_t {
  kAes256Gcm = 1,
  kXChaCha20Poly1305 = 2,
};
const char* aead_algorithm_name(AeadAlgorithm algorithm);  // "aes-256-gcm", "xchacha20-poly1305"
std::optional<AeadAlgorithm> aead_algorithm_from_name(std::string_view name);
bool aead_algorithm_valid(uint8_t wire_value);
size_t aead_nonce_bytes(AeadAlgorithm algorithm);  // 12 or 24

constexpr size_t kAeadKeyBytes = 32;
constexpr size_t kAeadTagBytes = 16;
constexpr size_t kKeySaltBytes = 16;
constexpr uint32_t kSegmentBytesMin = 16;
constexpr uint32_t kSegmentBytesMax = 16u << 20;
constexpr uint32_t kDefaultSegmentBytes = 64u << 10;
constexpr uint64_t kRecordBytesMax = uint64_t{1} << 48;

using KeySalt = std::array<uint8_t, kKeySaltBytes>;
struct MasterKey {
  std::array<uint8_t, kAeadKeyBytes> bytes{};
};
struct FileKey {
  std::array<uint8_t, kAeadKeyBytes> bytes{};
};

// RFC 5869 HKDF with SHA-256; out.size() <= 8160.
void hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, std::span<uint8_t> out);

// HKDF-SHA256(ikm = master key, salt = "pbfs.file-key.v1", info = file id as 8 little-endian bytes).
FileKey derive_file_key(const MasterKey& master, FileId file_id);

// The raw AEAD primitive (one message, contiguous buffers): what the segments use, exposed for
// known-answer tests. Sizes are checked; a failed tag check on decrypt is kCorrupt.
Status aead_encrypt(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan associated_data,
                    ByteSpan plaintext, std::span<uint8_t> ciphertext, std::span<uint8_t> tag);
Status aead_decrypt(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan associated_data,
                    ByteSpan ciphertext, ByteSpan tag, std::span<uint8_t> plaintext);

// The crypto metadata a record carries.
struct CryptoParams {
  AeadAlgorithm algorithm = AeadAlgorithm::kAes256Gcm;
  uint32_t segment_bytes = kDefaultSegmentBytes;
  KeySalt key_salt{};  // fresh per record, drawn from the writer's random stream
  bool operator==(const CryptoParams&) const = default;
};
Status validate_crypto_params(const CryptoParams& params);  // kMalformed with the reason

// What the ciphertext is bound to: it opens only for the same file, extent and record.
struct RecordBinding {
  FileId file_id = 0;
  Extent extent;
  RecordId record_id;
};

// Segments of a record of `plaintext_bytes`: at least one (an empty record still carries a tag).
uint64_t aead_segment_count(uint64_t plaintext_bytes, uint32_t segment_bytes);
// Sealed layout: segment j is its ciphertext followed by its 16-byte tag, back to back.
uint64_t aead_sealed_bytes(uint64_t plaintext_bytes, uint32_t segment_bytes);

// Sealed bytes [first, end) holding the whole segments that cover plaintext [offset, offset + length)
// of a record of plaintext_bytes; empty when length is 0.
struct SealedRange {
  uint64_t first = 0;
  uint64_t end = 0;
};
SealedRange aead_sealed_range(uint64_t plaintext_bytes, uint32_t segment_bytes, uint64_t offset, uint64_t length);

// A piece of the sealed byte stream: bytes [offset, offset + bytes.size()). Readers hand in whatever
// pieces they hold (e.g. windows of several fragments), sorted by offset.
struct SealedChunk {
  uint64_t offset = 0;
  ByteSpan bytes;
};

// Seals or opens one record. Holds the record key; not safe to share between threads.
class RecordCipher {
 public:
  static Result<RecordCipher> create(const FileKey& file_key, const CryptoParams& params, const RecordBinding& binding);
  RecordCipher(RecordCipher&&) noexcept;
  RecordCipher& operator=(RecordCipher&&) noexcept;
  ~RecordCipher();

  uint64_t plaintext_bytes() const;
  uint64_t sealed_bytes() const;
  uint64_t segment_count() const;

  // Seals the whole record: plaintext is extent.length bytes, sealed is sealed_bytes() bytes.
  Status seal(ByteSpan plaintext, std::span<uint8_t> sealed);
  // Opens the whole record, verifying every segment; kCorrupt if any tag fails.
  Status open(ByteSpan sealed, std::span<uint8_t> plaintext);

  // The sealed bytes a reader needs for plaintext [offset, offset + length): aead_sealed_range().
  SealedRange sealed_range(uint64_t offset, uint64_t length) const;
  // Verifies and decrypts the segments covering plaintext [offset, offset + out.size()) from `chunks`,
  // which must cover sealed_range() (kInvalidArgument otherwise); writes exactly `out`.
  Status open_range(uint64_t offset, std::span<uint8_t> out, std::span<const SealedChunk> chunks);

  struct Impl;

 private:
  explicit RecordCipher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbfs
