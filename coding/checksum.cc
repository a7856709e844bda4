// CRC32C over ISA-L. crc32_iscsi takes an int length and a raw (non-inverted) running value, so long
// inputs are fed in chunks and the standard pre/post inversion is applied here; like every ISA-L call
// it is followed by vzeroupper (coding/vector_state.h).
#include "coding/checksum.h"

#include "coding/vector_state.h"

#include <isa-l/crc.h>

#include <algorithm>

namespace pbfs {

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> bytes) {
  constexpr size_t kChunkBytes = size_t{1} << 30;  // stays far below INT_MAX
  uint32_t state = ~crc;
  size_t done = 0;
  while (done < bytes.size()) {
    const size_t n = std::min(kChunkBytes, bytes.size() - done);
    // ISA-L does not write through the pointer; the API just lacks const.
    state = crc32_iscsi(const_cast<uint8_t*>(bytes.data() + done), static_cast<int>(n), state);
    done += n;
  }
  clear_upper_vector_state();
  return ~state;
}

uint32_t crc32c(std::span<const uint8_t> bytes) { return crc32c_extend(0, bytes); }

}  // namespace pbfs
