// Framing: every registered message type round-trips through its wire encoding, and malformed frames
// are rejected with kMalformed rather than crashing.
#include "protocols/runtime/message.h"

#include <gtest/gtest.h>

#include "protocols/echo/echo.h"
#include "protocols/registry.h"

namespace pbfs {
namespace {

TEST(MessageFrame, EchoPingRoundTripsThroughWireEncoding) {
  register_all_messages();
  echo::Ping ping;
  ping.sequence = 42;
  ping.sent_local_ns = 123456789;
  ping.payload = Payload::real(Bytes{1, 2, 3, 4, 5});
  const Bytes frame = encode_frame(ping);
  EXPECT_EQ(frame.size(), frame_size(ping));
  Result<MessagePtr> decoded = decode_frame(frame);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  ASSERT_EQ((*decoded)->type(), echo::Ping::kType);
  const auto& back = static_cast<const echo::Ping&>(**decoded);
  EXPECT_EQ(back.sequence, 42u);
  EXPECT_EQ(back.sent_local_ns, 123456789);
  ASSERT_TRUE(back.payload.is_real());
  EXPECT_EQ(*back.payload.bytes, (Bytes{1, 2, 3, 4, 5}));
  EXPECT_EQ(encode_frame(back), frame);
}

TEST(MessageFrame, SyntheticPayloadChargesItsSize) {
  echo::Pong pong;
  pong.payload = Payload::synthetic(1000);
  EXPECT_EQ(encode_frame(pong).size(), frame_size(pong));
  EXPECT_GE(frame_size(pong), 1000u);
}

TEST(MessageFrame, TruncatedAndLyingFramesAreMalformed) {
  register_all_messages();
  echo::Ping ping;
  ping.payload = Payload::real(Bytes(10, 7));
  const Bytes frame = encode_frame(ping);
  for (size_t n = 0; n < frame.size(); ++n) {
    Result<MessagePtr> r = decode_frame(ByteSpan(frame.data(), n));
    ASSERT_FALSE(r.is_ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), StatusCode::kMalformed);
  }
  Bytes lying = frame;
  lying[2] = 0xff;  // body length larger than what follows
  EXPECT_EQ(decode_frame(lying).status().code(), StatusCode::kMalformed);
  Bytes unknown = frame;
  unknown[0] = 0xee;
  unknown[1] = 0xee;
  EXPECT_EQ(decode_frame(unknown).status().code(), StatusCode::kMalformed);
}

}  // namespace
}  // namespace pbfs
