// Trace tables described as plain data, so protocol code can record rows without linking HDF5. A row is
// a trivially copyable struct; its TableSchema lists the fields (name, type, offset). The simulator's
// recorder maps schemas to HDF5 compound types (docs/trace-format.md); Python sees the same dtypes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace pbfs {

enum class FieldType : uint8_t { kI64, kU64, kI32, kU32, kU16, kU8, kF64, kChars };

struct FieldDesc {
  const char* name;
  FieldType type;
  size_t offset;
  size_t size;         // bytes; for kChars the fixed length of the NUL-padded string
  const char* description;
};

struct TableSchema {
  const char* name;        // HDF5 dataset name under /tables
  const char* description;
  size_t row_size;
  std::vector<FieldDesc> fields;
};

template <typename T>
constexpr FieldType field_type_of() {
  if constexpr (std::is_same_v<T, int64_t>) return FieldType::kI64;
  else if constexpr (std::is_same_v<T, uint64_t>) return FieldType::kU64;
  else if constexpr (std::is_same_v<T, int32_t>) return FieldType::kI32;
  else if constexpr (std::is_same_v<T, uint32_t>) return FieldType::kU32;
  else if constexpr (std::is_same_v<T, uint16_t>) return FieldType::kU16;
  else if constexpr (std::is_same_v<T, uint8_t>) return FieldType::kU8;
  else if constexpr (std::is_same_v<T, double>) return FieldType::kF64;
  else {
    static_assert(std::is_array_v<T> && std::is_same_v<std::remove_extent_t<T>, char>,
                  "trace fields are fixed-width integers, double, or char[N]");
    return FieldType::kChars;
  }
}

// PBFS_FIELD(Row, member, "what it is"): one FieldDesc for a member of a row struct.
#define PBFS_FIELD(Row, member, description)                                                          \
  ::pbfs::FieldDesc {                                                                                 \
    #member, ::pbfs::field_type_of<std::remove_cvref_t<decltype(Row::member)>>(), offsetof(Row, member), \
        sizeof(Row::member), description                                                              \
  }

// Copies a string into a fixed char field, truncating and NUL-padding.
template <size_t N>
void set_chars(char (&field)[N], const std::string& value) {
  std::memset(field, 0, N);
  std::memcpy(field, value.data(), value.size() < N ? value.size() : N);
}

}  // namespace pbfs
