// CRC32C known answers and the chaining property the fragment format relies on.
#include "coding/checksum.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace pbfs {
namespace {

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(crc32c({}), 0u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  std::vector<uint8_t> ones(32, 0xff);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);  // RFC 3720 B.4: 32 bytes of 0xff
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::vector<uint8_t> data(10007);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  const uint32_t whole = crc32c(data);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{63}, size_t{4096}, data.size()}) {
    std::span<const uint8_t> all(data);
    EXPECT_EQ(crc32c_extend(crc32c(all.first(cut)), all.subspan(cut)), whole) << cut;
  }
}

TEST(Crc32c, DetectsEveryFlippedBitOfASmallBuffer) {
  std::vector<uint8_t> data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  const uint32_t good = crc32c(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_NE(crc32c(data), good) << bit;
    data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace pbfs
