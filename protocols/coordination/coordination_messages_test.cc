// Wire encoding of the coordination messages: every type (and every op's fields) round-trips through
// the frame codec with its exact size; truncated input, lying counts, bad enums and ops a message
// cannot carry are refused as kMalformed. Also the path rules.
#include "protocols/coordination/coordination_messages.h"

#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>

namespace pbfs::coordination {
namespace {

template <typename T>
std::shared_ptr<const T> round_trip(const T& m) {
  register_coordination_messages();
  const Bytes frame = encode_frame(m);
  EXPECT_EQ(frame.size(), frame_size(m)) << m.name();
  auto decoded = decode_frame(frame);
  EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  if (!decoded.is_ok()) return nullptr;
  EXPECT_EQ((*decoded)->type(), T::kType);
  // Re-encoding gives the same bytes: nothing was lost or invented.
  EXPECT_EQ(encode_frame(**decoded), frame) << m.name();
  return std::static_pointer_cast<const T>(*decoded);
}

// Every strict prefix of a frame's body, with the frame length fixed up, must be refused.
void expect_truncations_refused(const Message& m) {
  const Bytes frame = encode_frame(m);
  for (size_t body = 0; body + kFrameHeaderBytes < frame.size(); ++body) {
    Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderBytes + body));
    for (int i = 0; i < 4; ++i) cut[2 + i] = static_cast<uint8_t>(body >> (8 * i));
    auto decoded = decode_frame(cut);
    EXPECT_FALSE(decoded.is_ok()) << m.name() << " accepted with " << body << " body bytes";
    if (!decoded.is_ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kMalformed);
    }
  }
}

Stat sample_stat() {
  Stat s;
  s.czxid = 3;
  s.mzxid = 9;
  s.pzxid = 7;
  s.version = 4;
  s.cversion = 2;
  s.ephemeral_owner = 0x1234567890ull;
  s.data_length = 5;
  s.num_children = 2;
  return s;
}

TEST(CoordinationMessages, SessionMessagesRoundTrip) {
  ConnectRequest c;
  c.nonce = 77;
  c.timeout_ns = 3 * kSecond;
  auto c2 = round_trip(c);
  EXPECT_EQ(c2->nonce, 77u);
  EXPECT_EQ(c2->timeout_ns, 3 * kSecond);

  ConnectResponse r;
  r.nonce = 77;
  r.code = CoordCode::kLimitExceeded;
  r.session = 99;
  r.timeout_ns = kSecond;
  r.server_epoch = 4;
  auto r2 = round_trip(r);
  EXPECT_EQ(r2->code, CoordCode::kLimitExceeded);
  EXPECT_EQ(r2->session, 99u);
  EXPECT_EQ(r2->server_epoch, 4u);

  Ping p;
  p.session = 5;
  p.server_epoch = 6;
  p.events_acked = 7;
  auto p2 = round_trip(p);
  EXPECT_EQ(p2->events_acked, 7u);

  PingResponse pr;
  pr.session = 5;
  pr.code = CoordCode::kSessionExpired;
  pr.server_epoch = 8;
  EXPECT_EQ(round_trip(pr)->code, CoordCode::kSessionExpired);

  WatchEvent e;
  e.session = 5;
  e.server_epoch = 2;
  e.sequence = 11;
  e.event = EventType::kNodeChildrenChanged;
  e.path = "/members";
  e.zxid = 42;
  auto e2 = round_trip(e);
  EXPECT_EQ(e2->event, EventType::kNodeChildrenChanged);
  EXPECT_EQ(e2->path, "/members");
  EXPECT_EQ(e2->sequence, 11u);
  EXPECT_EQ(e2->zxid, 42u);

  SetWatches w;
  w.session = 5;
  w.request_id = 12;
  w.data = {{"/a", 3}, {"/b", 4}};
  w.exist = {{"/c", 5}};
  w.child = {{"/", 6}};
  auto w2 = round_trip(w);
  EXPECT_EQ(w2->data, w.data);
  EXPECT_EQ(w2->exist, w.exist);
  EXPECT_EQ(w2->child, w.child);

  for (const Message* m : std::initializer_list<const Message*>{&c, &r, &p, &pr, &e, &w}) expect_truncations_refused(*m);
}

TEST(CoordinationMessages, EveryRequestOpRoundTripsWithItsFields) {
  for (uint8_t op = 1; op <= kOpMax; ++op) {
    if (static_cast<Op>(op) == Op::kSetWatches) continue;
    Request q;
    q.session = 0xabcdef;
    q.request_id = 100 + op;
    q.op = static_cast<Op>(op);
    q.path = "/some/path";
    if (q.op == Op::kCreate || q.op == Op::kSetData) q.data = Bytes{1, 2, 3};
    if (q.op == Op::kCreate) q.create_flags = kCreateEphemeral | kCreateSequential;
    if (q.op == Op::kDelete || q.op == Op::kSetData) q.version = 6;
    if (q.op == Op::kGetData || q.op == Op::kGetChildren || q.op == Op::kExists) q.watch = true;
    auto q2 = round_trip(q);
    ASSERT_TRUE(q2 != nullptr) << op_name(q.op);
    EXPECT_EQ(q2->op, q.op);
    EXPECT_EQ(q2->session, q.session);
    EXPECT_EQ(q2->request_id, q.request_id);
    EXPECT_EQ(q2->path, q.path);
    EXPECT_EQ(q2->data, q.data);
    EXPECT_EQ(q2->create_flags, q.create_flags);
    EXPECT_EQ(q2->version, q.version);
    EXPECT_EQ(q2->watch, q.watch);
    expect_truncations_refused(q);
  }
}

TEST(CoordinationMessages, EveryResponseOpRoundTripsWithItsFields) {
  for (uint8_t op = 1; op <= kOpMax; ++op) {
    Response a;
    a.request_id = 9;
    a.op = static_cast<Op>(op);
    a.code = CoordCode::kOk;
    a.zxid = 77;
    a.server_epoch = 3;
    const bool has_stat = a.op == Op::kCreate || a.op == Op::kSetData || a.op == Op::kExists ||
                          a.op == Op::kGetData || a.op == Op::kGetChildren;
    if (has_stat) a.stat = sample_stat();
    if (a.op == Op::kCreate) a.path = "/q/item-0000000003";
    if (a.op == Op::kGetData) a.data = Bytes{9, 8, 7, 6, 5};
    if (a.op == Op::kGetChildren) a.children = {"a", "b"};
    auto a2 = round_trip(a);
    ASSERT_TRUE(a2 != nullptr) << op_name(a.op);
    EXPECT_EQ(a2->op, a.op);
    EXPECT_EQ(a2->zxid, 77u);
    EXPECT_EQ(a2->stat, a.stat);
    EXPECT_EQ(a2->path, a.path);
    EXPECT_EQ(a2->data, a.data);
    EXPECT_EQ(a2->children, a.children);
    expect_truncations_refused(a);
  }
  // A refusal carries no body.
  Response refused;
  refused.op = Op::kGetData;
  refused.code = CoordCode::kNoNode;
  refused.data = Bytes{1};  // not sent
  auto r2 = round_trip(refused);
  EXPECT_EQ(r2->code, CoordCode::kNoNode);
  EXPECT_TRUE(r2->data.empty());
}

TEST(CoordinationMessages, BadEnumsLyingCountsAndTrailingBytesAreMalformed) {
  register_coordination_messages();
  // Unknown op in a request.
  Request q;
  q.op = Op::kExists;
  q.path = "/x";
  Bytes frame = encode_frame(q);
  const size_t op_at = kFrameHeaderBytes + 16;
  frame[op_at] = 0;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  frame[op_at] = kOpMax + 1;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // set_watches is its own message, never a Request op.
  frame[op_at] = static_cast<uint8_t>(Op::kSetWatches);
  frame.resize(frame.size() - 1);  // drop the watch flag exists would have carried
  for (int i = 0; i < 4; ++i) frame[2 + i] = static_cast<uint8_t>((frame.size() - kFrameHeaderBytes) >> (8 * i));
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // A watch flag that is not 0 or 1.
  frame = encode_frame(q);
  frame.back() = 2;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // Create flags outside the two known bits.
  Request create;
  create.op = Op::kCreate;
  create.path = "/x";
  frame = encode_frame(create);
  frame.back() = 4;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // A response code outside the range, and an event type outside its range.
  Response a;
  frame = encode_frame(a);
  frame[kFrameHeaderBytes + 9] = kCoordCodeMax + 1;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  WatchEvent e;
  frame = encode_frame(e);
  frame[kFrameHeaderBytes + 24] = kEventTypeMax + 1;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // A children count far beyond what the body holds is refused before anything is allocated.
  Response children;
  children.op = Op::kGetChildren;
  frame = encode_frame(children);
  const size_t count_at = kFrameHeaderBytes + 8 + 1 + 1 + 8 + 8;
  for (int i = 0; i < 4; ++i) frame[count_at + i] = 0xff;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // SetWatches with a lying count.
  SetWatches w;
  w.data = {{"/a", 1}};
  frame = encode_frame(w);
  frame[kFrameHeaderBytes + 16] = 200;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // Trailing bytes after a valid body.
  Ping p;
  frame = encode_frame(p);
  frame.push_back(0);
  for (int i = 0; i < 4; ++i) frame[2 + i] = static_cast<uint8_t>((frame.size() - kFrameHeaderBytes) >> (8 * i));
  EXPECT_FALSE(decode_frame(frame).is_ok());
}

// Random corruption of valid frames: a decoder never reads out of bounds, and whatever it accepts is
// canonical (encoding it again gives the very same bytes), so nothing is silently misread.
TEST(CoordinationMessages, CorruptedFramesAreRefusedOrReadExactly) {
  register_coordination_messages();
  Request create;
  create.op = Op::kCreate;
  create.path = "/members/3";
  create.data = Bytes(20, 7);
  create.create_flags = kCreateEphemeral;
  Response children;
  children.op = Op::kGetChildren;
  children.children = {"1", "2", "3"};
  children.stat = sample_stat();
  SetWatches watches;
  watches.data = {{"/a", 1}};
  watches.child = {{"/members", 2}};
  WatchEvent event;
  event.path = "/members";
  const std::vector<Bytes> frames = {encode_frame(create), encode_frame(children), encode_frame(watches),
                                     encode_frame(event)};
  boost::random::mt19937_64 rng(12345);
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes frame = frames[round % frames.size()];
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) {
      const size_t at = kFrameHeaderBytes + rng() % (frame.size() - kFrameHeaderBytes);
      frame[at] = static_cast<uint8_t>(rng());
    }
    auto decoded = decode_frame(frame);
    if (!decoded.is_ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kMalformed);
      continue;
    }
    ++accepted;
    EXPECT_EQ(encode_frame(**decoded), frame);
  }
  EXPECT_GT(accepted, 0u);  // corruption of plain values (ids, bytes of a string) still decodes
}

TEST(CoordinationMessages, PathRules) {
  EXPECT_TRUE(valid_path("/", 100));
  EXPECT_TRUE(valid_path("/a", 100));
  EXPECT_TRUE(valid_path("/members/12", 100));
  EXPECT_FALSE(valid_path("", 100));
  EXPECT_FALSE(valid_path("a", 100));
  EXPECT_FALSE(valid_path("/a/", 100));
  EXPECT_FALSE(valid_path("//a", 100));
  EXPECT_FALSE(valid_path("/a//b", 100));
  EXPECT_FALSE(valid_path("/a/./b", 100));
  EXPECT_FALSE(valid_path("/a/..", 100));
  EXPECT_FALSE(valid_path(std::string("/a\0b", 4), 100));
  EXPECT_FALSE(valid_path("/abcdef", 4));
  EXPECT_EQ(parent_path("/a/b"), "/a");
  EXPECT_EQ(parent_path("/a"), "/");
  EXPECT_EQ(parent_path("/"), "");
  EXPECT_EQ(last_component("/a/bc"), "bc");
  EXPECT_EQ(child_path("/", "x"), "/x");
  EXPECT_EQ(child_path("/a", "x"), "/a/x");
}

}  // namespace
}  // namespace pbfs::coordination
