// One fuzz target per decoder of the coding library. The same functions run under libFuzzer (opt-in
// build, PBFS_FUZZ=ON with clang) and in the always-on corpus test, so a crash found by fuzzing becomes
// a corpus file and a regression test. A target aborts when a property breaks (a decoder that accepts
// input must re-encode it to the very same bytes); otherwise it returns whether the input was accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace pbfs::fuzz {

bool write_record(const uint8_t* data, size_t size);
bool fragment_header(const uint8_t* data, size_t size);
bool fragment(const uint8_t* data, size_t size);
bool cost_model(const uint8_t* data, size_t size);
// Input: u16 record length, an encoded write record, u32 read offset, u32 read length, then pieces
// (u8 fragment index, u32 offset, u32 length, bytes). Decrypts with kFuzzMasterKeyByte-filled keys.
bool read_pipeline(const uint8_t* data, size_t size);

constexpr uint8_t kFuzzMasterKeyByte = 0x5a;
constexpr size_t kReadLengthMax = 1 << 20;  // keeps fuzzing allocations small

struct Target {
  const char* name;  // also the corpus directory name
  bool (*run)(const uint8_t* data, size_t size);
};
std::span<const Target> all_targets();

}  // namespace pbfs::fuzz
