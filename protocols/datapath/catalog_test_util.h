// Test helpers for the catalog's tests and benchmark: valid write records built without coding
// anything (the layout comes from ErasureCoder::layout, fragment checksums are made up).
#pragma once

#include <cstdint>
#include <vector>

#include "coding/aead.h"
#include "coding/erasure.h"
#include "coding/record.h"

namespace pbfs::datapath::testing {

// A valid record of `length` bytes at `offset` of `file`, coded k + m, fragments on nodes
// first_node, first_node + 1, ... (mod node_count).
inline WriteRecord make_record(FileId file, RecordId id, uint64_t offset, uint64_t length, uint32_t k = 4, uint32_t m = 2,
                               uint32_t first_node = 0, uint32_t node_count = 1000) {
  WriteRecord r;
  r.file_id = file;
  r.extent = Extent{offset, length};
  r.record_id = id;
  r.crypto.algorithm = AeadAlgorithm::kAes256Gcm;
  r.crypto.segment_bytes = kDefaultSegmentBytes;
  for (size_t i = 0; i < r.crypto.key_salt.size(); ++i) r.crypto.key_salt[i] = static_cast<uint8_t>(id.sequence * 31 + i);
  CodingParams params;
  params.k = k;
  params.m = m;
  params.backend = ErasureBackend::kIsal;
  Result<ErasureCoder> coder = ErasureCoder::create(params);
  r.layout = *coder->layout(aead_sealed_bytes(length, r.crypto.segment_bytes));
  for (uint32_t i = 0; i < k + m; ++i) {
    r.fragments.push_back(FragmentEntry{(first_node + i) % node_count, static_cast<uint32_t>(id.client * 7919 + id.sequence * 104729 + i)});
  }
  return r;
}

}  // namespace pbfs::datapath::testing
