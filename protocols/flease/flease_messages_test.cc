// Wire encoding of the Flease messages: each one decodes to what was encoded, sizes match what the
// network is charged, and truncated frames are refused.
#include "protocols/flease/flease_messages.h"

#include <gtest/gtest.h>

namespace pbfs::flease {
namespace {

Prepare prepare(int64_t number, NodeId node) {
  Prepare m;
  m.resource = 42;
  m.ballot = Ballot{number, node};
  return m;
}
Accept accept(int64_t number, NodeId node, LeaseValue value) {
  Accept m;
  m.resource = 42;
  m.ballot = Ballot{number, node};
  m.value = value;
  return m;
}

TEST(FleaseBallot, OrdersByTimeThenNode) {
  EXPECT_LT((Ballot{1, 9}), (Ballot{2, 0}));
  EXPECT_LT((Ballot{2, 0}), (Ballot{2, 1}));
  EXPECT_TRUE(Ballot{}.is_none());
  EXPECT_LT(Ballot{}, (Ballot{0, 0}));
}

TEST(FleaseMessages, EveryMessageSurvivesTheWire) {
  register_flease_messages();
  PrepareReply m;
  m.resource = 77;
  m.ballot = Ballot{123, 4};
  m.ok = true;
  m.higher = Ballot{5, 6};
  m.accepted = Ballot{7, 8};
  m.value = LeaseValue{9, 10, 11};
  m.epoch_floor = 12;
  const Bytes frame = encode_frame(m);
  EXPECT_EQ(frame.size(), frame_size(m));
  auto decoded = decode_frame(frame);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  const auto& d = static_cast<const PrepareReply&>(**decoded);
  EXPECT_EQ(d.resource, 77u);
  EXPECT_EQ(d.ballot, m.ballot);
  EXPECT_EQ(d.accepted, m.accepted);
  EXPECT_EQ(d.value, m.value);
  EXPECT_EQ(d.epoch_floor, 12u);
  Accept a = accept(5, 1, LeaseValue{1, 2, 3});
  EXPECT_EQ(encode_frame(a).size(), frame_size(a));
  EXPECT_TRUE(decode_frame(encode_frame(a)).is_ok());
  EXPECT_EQ(encode_frame(prepare(1, 2)).size(), frame_size(prepare(1, 2)));
  AcceptReply r;
  EXPECT_EQ(encode_frame(r).size(), frame_size(r));
  Bytes truncated = encode_frame(a);
  truncated.pop_back();
  EXPECT_FALSE(decode_frame(truncated).is_ok());
}

}  // namespace
}  // namespace pbfs::flease
