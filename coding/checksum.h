// Cheap per-fragment integrity: CRC32C (Castagnoli, as in iSCSI/ext4), computed with ISA-L's
// crc32_iscsi. It detects bit rot before a fragment is used for decoding, so a reader can pick good
// fragments; authenticity of the whole comes from the AEAD tags, not from this.
#pragma once

#include <cstdint>
#include <span>

namespace pbfs {

// CRC32C of `bytes` (standard parameters: CRC32C("123456789") == 0xE3069283).
uint32_t crc32c(std::span<const uint8_t> bytes);
// Continues a CRC32C over more bytes: crc32c_extend(crc32c(a), b) == crc32c(a ++ b).
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> bytes);

}  // namespace pbfs
