// Wire encoding of the lock-service messages: round trips, sizes, and refusal of bad enums.
#include "protocols/lock_service/lock_messages.h"

#include <gtest/gtest.h>

namespace pbfs::lock_service {
namespace {

template <typename T>
const T& round_trip(const T& m) {
  static std::shared_ptr<const Message> keep;
  const Bytes frame = encode_frame(m);
  EXPECT_EQ(frame.size(), frame_size(m)) << m.name();
  auto decoded = decode_frame(frame);
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  keep = *decoded;
  return static_cast<const T&>(*keep);
}

TEST(LockMessages, EveryMessageSurvivesTheWire) {
  register_lock_service_messages();
  LockRequest request;
  request.resource = 7;
  request.request_id = 8;
  request.kind = RequestKind::kRenew;
  request.epoch = 9;
  const LockRequest& r = round_trip(request);
  EXPECT_EQ(r.kind, RequestKind::kRenew);
  EXPECT_EQ(r.epoch, 9u);
  LockReply reply;
  reply.status = ReplyStatus::kHeldByOther;
  reply.holder = 3;
  reply.remaining_ns = 1234;
  const LockReply& p = round_trip(reply);
  EXPECT_EQ(p.status, ReplyStatus::kHeldByOther);
  EXPECT_EQ(p.holder, 3u);
  EXPECT_EQ(p.remaining_ns, 1234);
  Replicate replicate;
  replicate.sequence = 5;
  replicate.holder = 2;
  EXPECT_EQ(round_trip(replicate).holder, 2u);
  ReplicateAck ack;
  ack.sequence = 11;
  EXPECT_EQ(round_trip(ack).sequence, 11u);
  Heartbeat hb;
  hb.primary = true;
  EXPECT_TRUE(round_trip(hb).primary);
}

TEST(LockMessages, AnUnknownStatusIsMalformed) {
  register_lock_service_messages();
  LockReply reply;
  Bytes frame = encode_frame(reply);
  frame[6 + 16] = 99;  // the status byte
  EXPECT_FALSE(decode_frame(frame).is_ok());
}

}  // namespace
}  // namespace pbfs::lock_service
