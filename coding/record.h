// The versioned binary formats of the coding core (docs/record-format.md): the write record a catalog
// stores (file id, extent, record id, coding layout, crypto metadata, fragment map with checksums) and
// the header every stored fragment starts with. Every decoder is bounds-checked and cross-checks the
// fields against each other: truncated input, a wrong magic or version, lengths that lie are kMalformed;
// a checksum mismatch is kCorrupt. Nothing is trusted before it is checked.
#pragma once

#include <cstdint>
#include <vector>

#include "coding/aead.h"
#include "coding/erasure.h"
#include "coding/ids.h"
#include "coding/status.h"
#include "coding/wire.h"

namespace pbfs {

constexpr uint32_t kWriteRecordMagic = 0x52464250;  // "PBFR" in little-endian byte order
constexpr uint32_t kFragmentMagic = 0x47464250;     // "PBFG"
constexpr uint16_t kWriteRecordVersion = 1;
constexpr uint16_t kFragmentHeaderVersion = 1;
constexpr size_t kFragmentHeaderBytes = 64;  // keeps a body that follows it 64-byte aligned
constexpr uint32_t kUnplacedNode = 0xffffffffu;  // the same value as protocols' kNoNode

// Where fragment i lives and the CRC32C of its body.
struct FragmentEntry {
  uint32_t node = kUnplacedNode;
  uint32_t crc32c = 0;
  bool operator==(const FragmentEntry&) const = default;
};

struct WriteRecord {
  FileId file_id = 0;
  Extent extent;  // the plaintext bytes this record writes
  RecordId record_id;
  StripeLayout layout;  // payload_bytes is the sealed size of extent.length
  CryptoParams crypto;
  std::vector<FragmentEntry> fragments;  // exactly k + m, by fragment index

  RecordBinding binding() const { return {file_id, extent, record_id}; }
  bool operator==(const WriteRecord&) const = default;
};

// All cross-field rules (the decoder applies them too): kMalformed naming the first one broken.
Status validate_write_record(const WriteRecord& record);

size_t write_record_encoded_bytes(const WriteRecord& record);
// Appends the encoding (for embedding in catalog messages and logs). The record must be valid.
void encode_write_record(const WriteRecord& record, WireWriter& out);
Bytes encode_write_record(const WriteRecord& record);
// Consumes exactly one record from `in`.
Result<WriteRecord> decode_write_record(WireReader& in);
// Decodes a buffer holding exactly one record (trailing bytes are kMalformed).
Result<WriteRecord> decode_write_record(ByteSpan bytes);

// The fixed-size header in front of every stored fragment: enough to check and decode the fragment
// without the catalog (scrub, repair), and to refuse a fragment filed under the wrong record.
struct FragmentHeader {
  FileId file_id = 0;
  RecordId record_id;
  uint32_t index = 0;
  StripeLayout layout;
  uint32_t body_crc32c = 0;
  bool operator==(const FragmentHeader&) const = default;
};

FragmentHeader make_fragment_header(const WriteRecord& record, uint32_t index);
Status validate_fragment_header(const FragmentHeader& header);
void encode_fragment_header(const FragmentHeader& header, WireWriter& out);
Bytes encode_fragment_header(const FragmentHeader& header);
// Decodes the first kFragmentHeaderBytes of `bytes` (more may follow: the body).
Result<FragmentHeader> decode_fragment_header(ByteSpan bytes);

// A stored fragment: header then body (fragment_bytes of it).
Bytes encode_fragment(const FragmentHeader& header, ByteSpan body);
struct FragmentParts {
  FragmentHeader header;
  ByteSpan body;  // points into the decoded buffer
};
// Checks the header, the body length and the body CRC (kCorrupt on a mismatch).
Result<FragmentParts> decode_fragment(ByteSpan stored);

}  // namespace pbfs
