// Encoders and decoders of the write record and fragment header (layouts in docs/record-format.md).
// Decoders read every field through the bounds-checked WireReader, validate the fields against each
// other (the same rules as the validate_* functions), and check the trailing CRC32C last.
#include "coding/record.h"

#include <string>

#include "coding/check.h"
#include "coding/checksum.h"

namespace pbfs {
namespace {

Status malformed(const std::string& what) { return {StatusCode::kMalformed, what}; }

// Fixed part of a write record before the fragment entries, and the trailer.
constexpr size_t kRecordFixedBytes = 94;
constexpr size_t kRecordEntryBytes = 8;
constexpr size_t kRecordTrailerBytes = 4;

void put_layout_shape(const StripeLayout& layout, WireWriter& out) {
  out.u8(static_cast<uint8_t>(layout.backend));
  out.u8(static_cast<uint8_t>(layout.k));
  out.u8(static_cast<uint8_t>(layout.m));
}

bool get_layout_shape(WireReader& in, StripeLayout& layout) {
  uint8_t backend = 0, k = 0, m = 0;
  if (!in.u8(backend) || !in.u8(k) || !in.u8(m)) return false;
  layout.backend = static_cast<ErasureBackend>(backend);
  layout.k = k;
  layout.m = m;
  return true;
}

bool get_record_id(WireReader& in, RecordId& id) { return in.u64(id.client) && in.u64(id.sequence); }

}  // namespace

Status validate_write_record(const WriteRecord& r) {
  Status crypto = validate_crypto_params(r.crypto);
  if (!crypto.is_ok()) return malformed("write record: " + crypto.message());
  Status layout = validate_stripe_layout(r.layout);
  if (!layout.is_ok()) return malformed("write record: " + layout.message());
  if (r.extent.length > kRecordBytesMax || r.extent.offset > UINT64_MAX - r.extent.length) {
    return malformed("write record: extent out of range");
  }
  if (r.layout.payload_bytes != aead_sealed_bytes(r.extent.length, r.crypto.segment_bytes)) {
    return malformed("write record: coded size is not the sealed size of the extent");
  }
  if (r.fragments.size() != r.layout.fragment_count()) {
    return malformed("write record: fragment map has " + std::to_string(r.fragments.size()) + " entries, expected k + m");
  }
  return Status::ok();
}

size_t write_record_encoded_bytes(const WriteRecord& record) {
  return kRecordFixedBytes + kRecordEntryBytes * record.fragments.size() + kRecordTrailerBytes;
}

void encode_write_record(const WriteRecord& r, WireWriter& out) {
  PBFS_CODING_CHECK(validate_write_record(r).is_ok());
  Bytes body;
  body.reserve(write_record_encoded_bytes(r));
  WireWriter w(body);
  w.u32(kWriteRecordMagic);
  w.u16(kWriteRecordVersion);
  w.u16(0);  // flags: none defined in version 1
  w.u64(r.file_id);
  w.u64(r.extent.offset);
  w.u64(r.extent.length);
  w.u64(r.record_id.client);
  w.u64(r.record_id.sequence);
  put_layout_shape(r.layout, w);
  w.u8(static_cast<uint8_t>(r.crypto.algorithm));
  w.u32(r.crypto.segment_bytes);
  w.u64(r.layout.payload_bytes);
  w.u64(r.layout.fragment_bytes);
  w.u32(r.layout.packet_bytes);
  w.raw(r.crypto.key_salt);
  w.u16(static_cast<uint16_t>(r.fragments.size()));
  for (const FragmentEntry& f : r.fragments) {
    w.u32(f.node);
    w.u32(f.crc32c);
  }
  w.u32(crc32c(body));
  PBFS_CODING_CHECK(body.size() == write_record_encoded_bytes(r));
  out.raw(body);
}

Bytes encode_write_record(const WriteRecord& record) {
  Bytes out;
  WireWriter w(out);
  encode_write_record(record, w);
  return out;
}

Result<WriteRecord> decode_write_record(WireReader& in) {
  ByteSpan fixed;
  if (!in.raw(kRecordFixedBytes, fixed)) return malformed("write record: truncated header");
  WireReader h(fixed);
  uint32_t magic = 0;
  uint16_t version = 0, flags = 0, count = 0;
  uint8_t algorithm = 0;
  ByteSpan salt;
  WriteRecord r;
  h.u32(magic);
  h.u16(version);
  h.u16(flags);
  if (magic != kWriteRecordMagic) return malformed("write record: bad magic");
  if (version != kWriteRecordVersion) return malformed("write record: unsupported version " + std::to_string(version));
  if (flags != 0) return malformed("write record: unknown flags");
  h.u64(r.file_id);
  h.u64(r.extent.offset);
  h.u64(r.extent.length);
  get_record_id(h, r.record_id);
  get_layout_shape(h, r.layout);
  h.u8(algorithm);
  r.crypto.algorithm = static_cast<AeadAlgorithm>(algorithm);
  h.u32(r.crypto.segment_bytes);
  h.u64(r.layout.payload_bytes);
  h.u64(r.layout.fragment_bytes);
  h.u32(r.layout.packet_bytes);
  h.raw(kKeySaltBytes, salt);
  std::copy(salt.begin(), salt.end(), r.crypto.key_salt.begin());
  h.u16(count);
  PBFS_CODING_CHECK(h.at_end());  // the fixed part was sized exactly
  if (count != r.layout.k + r.layout.m) return malformed("write record: fragment count is not k + m");
  ByteSpan entries;
  if (!in.raw(kRecordEntryBytes * count, entries)) return malformed("write record: truncated fragment map");
  WireReader e(entries);
  r.fragments.resize(count);
  for (FragmentEntry& f : r.fragments) {
    e.u32(f.node);
    e.u32(f.crc32c);
  }
  uint32_t stored_crc = 0;
  if (!in.u32(stored_crc)) return malformed("write record: truncated checksum");
  Status valid = validate_write_record(r);
  if (!valid.is_ok()) return valid;
  const uint32_t actual = crc32c_extend(crc32c(fixed), entries);
  if (actual != stored_crc) return Status(StatusCode::kCorrupt, "write record: checksum mismatch");
  return r;
}

Result<WriteRecord> decode_write_record(ByteSpan bytes) {
  WireReader in(bytes);
  Result<WriteRecord> record = decode_write_record(in);
  if (record.is_ok() && !in.at_end()) return malformed("write record: trailing bytes");
  return record;
}

FragmentHeader make_fragment_header(const WriteRecord& record, uint32_t index) {
  PBFS_CODING_CHECK(index < record.fragments.size());
  return {record.file_id, record.record_id, index, record.layout, record.fragments[index].crc32c};
}

Status validate_fragment_header(const FragmentHeader& h) {
  Status layout = validate_stripe_layout(h.layout);
  if (!layout.is_ok()) return malformed("fragment header: " + layout.message());
  if (h.index >= h.layout.fragment_count()) return malformed("fragment header: index not below k + m");
  return Status::ok();
}

void encode_fragment_header(const FragmentHeader& h, WireWriter& out) {
  PBFS_CODING_CHECK(validate_fragment_header(h).is_ok());
  Bytes bytes;
  bytes.reserve(kFragmentHeaderBytes);
  WireWriter w(bytes);
  w.u32(kFragmentMagic);
  w.u16(kFragmentHeaderVersion);
  put_layout_shape(h.layout, w);
  w.u8(static_cast<uint8_t>(h.index));
  w.u16(0);  // reserved
  w.u64(h.file_id);
  w.u64(h.record_id.client);
  w.u64(h.record_id.sequence);
  w.u64(h.layout.payload_bytes);
  w.u64(h.layout.fragment_bytes);
  w.u32(h.layout.packet_bytes);
  w.u32(h.body_crc32c);
  w.u32(crc32c(bytes));
  PBFS_CODING_CHECK(bytes.size() == kFragmentHeaderBytes);
  out.raw(bytes);
}

Bytes encode_fragment_header(const FragmentHeader& header) {
  Bytes out;
  WireWriter w(out);
  encode_fragment_header(header, w);
  return out;
}

Result<FragmentHeader> decode_fragment_header(ByteSpan bytes) {
  if (bytes.size() < kFragmentHeaderBytes) return malformed("fragment header: truncated");
  const ByteSpan header = bytes.first(kFragmentHeaderBytes);
  WireReader in(header);
  uint32_t magic = 0, stored_crc = 0;
  uint16_t version = 0, reserved = 0;
  uint8_t index = 0;
  FragmentHeader h;
  in.u32(magic);
  in.u16(version);
  if (magic != kFragmentMagic) return malformed("fragment header: bad magic");
  if (version != kFragmentHeaderVersion) return malformed("fragment header: unsupported version " + std::to_string(version));
  get_layout_shape(in, h.layout);
  in.u8(index);
  h.index = index;
  in.u16(reserved);
  in.u64(h.file_id);
  get_record_id(in, h.record_id);
  in.u64(h.layout.payload_bytes);
  in.u64(h.layout.fragment_bytes);
  in.u32(h.layout.packet_bytes);
  in.u32(h.body_crc32c);
  in.u32(stored_crc);
  PBFS_CODING_CHECK(in.at_end());
  if (reserved != 0) return malformed("fragment header: reserved bytes set");
  Status valid = validate_fragment_header(h);
  if (!valid.is_ok()) return valid;
  if (crc32c(header.first(kFragmentHeaderBytes - 4)) != stored_crc) {
    return Status(StatusCode::kCorrupt, "fragment header: checksum mismatch");
  }
  return h;
}

Bytes encode_fragment(const FragmentHeader& header, ByteSpan body) {
  PBFS_CODING_CHECK(body.size() == header.layout.fragment_bytes);
  Bytes out;
  out.reserve(kFragmentHeaderBytes + body.size());
  WireWriter w(out);
  encode_fragment_header(header, w);
  w.raw(body);
  return out;
}

Result<FragmentParts> decode_fragment(ByteSpan stored) {
  Result<FragmentHeader> header = decode_fragment_header(stored);
  if (!header.is_ok()) return header.status();
  const ByteSpan body = stored.subspan(kFragmentHeaderBytes);
  if (body.size() != header->layout.fragment_bytes) {
    return malformed("fragment: body is " + std::to_string(body.size()) + " bytes, header says " +
                     std::to_string(header->layout.fragment_bytes));
  }
  if (crc32c(body) != header->body_crc32c) return Status(StatusCode::kCorrupt, "fragment: body checksum mismatch");
  return FragmentParts{*header, body};
}

}  // namespace pbfs
