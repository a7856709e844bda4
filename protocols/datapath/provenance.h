// Payload provenance (DESIGN.md section 3): the plaintext a write record carries at file offset o is a
// deterministic function of (record id, o). Synthetic runs never materialise it (checkers compare which
// record supplied each piece of a read); real runs write these very bytes, so a reader can check every
// byte it returns against the record it claims the byte came from.
#pragma once

#include <cstdint>
#include <span>

#include "coding/ids.h"

namespace pbfs::datapath {

// Record ids whose sequence has this bit set are compaction records: their bytes are copies of the
// records they merged (see the "compaction_sources" table), not their own provenance pattern.
constexpr uint64_t kCompactionSequenceBit = uint64_t{1} << 63;
inline bool is_compaction_record(const RecordId& record) { return (record.sequence & kCompactionSequenceBit) != 0; }

// mix(client, sequence, offset): a 64-bit finalizer over the three, so neighbouring offsets and
// neighbouring records give unrelated bytes.
inline uint64_t provenance_mix(const RecordId& record, uint64_t file_offset) {
  uint64_t x = (record.client * 0x9e3779b97f4a7c15ull) ^ ((record.sequence + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull);
  x += file_offset * 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

// The byte that record `record` writes at `file_offset`.
inline uint8_t provenance_byte(const RecordId& record, uint64_t file_offset) {
  return static_cast<uint8_t>(provenance_mix(record, file_offset));
}

// Fills `out` with the bytes `record` writes at file offsets [file_offset, file_offset + out.size()).
inline void fill_provenance(const RecordId& record, uint64_t file_offset, std::span<uint8_t> out) {
  for (uint64_t i = 0; i < out.size(); ++i) out[i] = provenance_byte(record, file_offset + i);
}

// How many bytes of `bytes` (read at file offset `file_offset`) differ from what `record` wrote there.
inline uint64_t provenance_mismatches(const RecordId& record, uint64_t file_offset, std::span<const uint8_t> bytes) {
  uint64_t wrong = 0;
  for (uint64_t i = 0; i < bytes.size(); ++i) wrong += bytes[i] != provenance_byte(record, file_offset + i) ? 1 : 0;
  return wrong;
}

}  // namespace pbfs::datapath
