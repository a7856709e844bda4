// Identifiers shared by the record format, the AEAD bindings and placement: which file, which byte
// range of it, which write record. Kept in one tiny header so none of those modules depends on another.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace pbfs {

using FileId = uint64_t;

// A write record's id, unique in the cluster: the writing client and that client's own counter.
struct RecordId {
  uint64_t client = 0;
  uint64_t sequence = 0;
  auto operator<=>(const RecordId&) const = default;
  std::string to_string() const { return std::to_string(client) + "." + std::to_string(sequence); }
};

// Bytes [offset, offset + length) of a file.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool operator==(const Extent&) const = default;
};

}  // namespace pbfs
