// Fuzz targets for the coding decoders. Properties checked beyond "no crash": accepted records and
// headers re-encode byte for byte (the formats are canonical), an accepted cost model survives a
// serialise/parse round trip with equal costs, and the read pipeline never returns bytes of the wrong
// length.
#include "coding/fuzz/fuzz_targets.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "coding/check.h"
#include "coding/cost_model.h"
#include "coding/pipeline.h"
#include "coding/record.h"

namespace pbfs::fuzz {

bool write_record(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  Result<WriteRecord> record = decode_write_record(input);
  if (!record.is_ok()) {
    PBFS_CODING_CHECK(record.status().code() == StatusCode::kMalformed || record.status().code() == StatusCode::kCorrupt);
    return false;
  }
  const Bytes again = encode_write_record(*record);
  PBFS_CODING_CHECK(again.size() == size && std::equal(again.begin(), again.end(), data));
  return true;
}

bool fragment_header(const uint8_t* data, size_t size) {
  Result<FragmentHeader> header = decode_fragment_header(ByteSpan(data, size));
  if (!header.is_ok()) return false;
  const Bytes again = encode_fragment_header(*header);
  PBFS_CODING_CHECK(size >= kFragmentHeaderBytes && std::equal(again.begin(), again.end(), data));
  return true;
}

bool fragment(const uint8_t* data, size_t size) {
  Result<FragmentParts> parts = decode_fragment(ByteSpan(data, size));
  if (!parts.is_ok()) return false;
  PBFS_CODING_CHECK(parts->body.size() == parts->header.layout.fragment_bytes);
  PBFS_CODING_CHECK(size == kFragmentHeaderBytes + parts->body.size());
  return true;
}

bool cost_model(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<CostModel> model = CostModel::parse(text, "fuzz");
  if (!model.is_ok()) return false;
  Result<CostModel> again = CostModel::parse(model->to_yaml(), "fuzz-roundtrip");
  PBFS_CODING_CHECK(again.is_ok());
  PBFS_CODING_CHECK(again->entries().size() == model->entries().size());
  for (const auto& e : model->entries()) {
    PBFS_CODING_CHECK(again->cost_ns(e.op, 4096) >= 0);
  }
  return true;
}

bool read_pipeline(const uint8_t* data, size_t size) {
  WireReader in(ByteSpan(data, size));
  uint16_t record_length = 0;
  ByteSpan record_bytes;
  uint32_t offset = 0, length = 0;
  if (!in.u16(record_length) || !in.raw(record_length, record_bytes) || !in.u32(offset) || !in.u32(length)) return false;
  Result<WriteRecord> record = decode_write_record(record_bytes);
  if (!record.is_ok()) return false;
  std::vector<FragmentPiece> pieces;
  uint8_t index = 0;
  uint32_t piece_offset = 0;
  ByteSpan piece;
  while (in.u8(index) && in.u32(piece_offset) && in.blob(piece)) pieces.push_back({index, piece_offset, piece});
  if (offset > record->extent.length) return false;
  const uint64_t n = std::min<uint64_t>({uint64_t{length}, record->extent.length - offset, uint64_t{kReadLengthMax}});
  MasterKey master;
  master.bytes.fill(kFuzzMasterKeyByte);
  const FileKey key = derive_file_key(master, record->file_id);
  RecordCodec codec;
  Bytes out(n);
  ReadReport report;
  const Status status = codec.decode_read(key, *record, offset, out, pieces, &report);
  PBFS_CODING_CHECK(out.size() == n);
  PBFS_CODING_CHECK(report.corrupt_fragments.size() <= pieces.size());
  return status.is_ok();
}

std::span<const Target> all_targets() {
  static const Target kTargets[] = {
      {"write_record", write_record}, {"fragment_header", fragment_header}, {"fragment", fragment},
      {"cost_model", cost_model},     {"read_pipeline", read_pipeline},
  };
  return kTargets;
}

}  // namespace pbfs::fuzz
