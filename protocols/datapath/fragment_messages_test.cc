// Wire encoding of the fragment-server messages: every type decodes to what was encoded, the size the
// network is charged equals the encoding (synthetic payloads included), and truncated or impossible
// input is refused with kMalformed.
#include <gtest/gtest.h>

#include "coding/erasure.h"
#include "protocols/datapath/messages.h"

namespace pbfs::datapath {
namespace {

WriteRecord small_record() {
  CodingParams coding{4, 2, ErasureBackend::kIsal};
  Result<ErasureCoder> coder = ErasureCoder::create(coding);
  EXPECT_TRUE(coder.is_ok());
  WriteRecord r;
  r.file_id = 9;
  r.extent = {100, 5000};
  r.record_id = {3, 17};
  r.layout = *coder->layout(aead_sealed_bytes(5000, kDefaultSegmentBytes));
  r.fragments.assign(6, FragmentEntry{});
  for (uint32_t i = 0; i < 6; ++i) r.fragments[i] = {i + 1, 0x1000u + i};
  return r;
}

template <typename T>
const T& round_trip(const Message& m, MessagePtr& holder) {
  const Bytes frame = encode_frame(m);
  EXPECT_EQ(frame.size(), frame_size(m)) << m.name();
  Result<MessagePtr> decoded = decode_frame(frame);
  EXPECT_TRUE(decoded.is_ok()) << m.name() << ": " << decoded.status().to_string();
  holder = decoded.is_ok() ? *decoded : nullptr;
  EXPECT_NE(holder, nullptr);
  EXPECT_EQ(holder->type(), m.type());
  return static_cast<const T&>(*holder);
}

// Every proper prefix of a frame's body must be refused.
void expect_truncations_refused(const Message& m) {
  const Bytes frame = encode_frame(m);
  for (size_t cut = kFrameHeaderBytes; cut < frame.size(); ++cut) {
    Bytes shorter(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(cut));
    const uint32_t body = static_cast<uint32_t>(cut - kFrameHeaderBytes);
    for (int i = 0; i < 4; ++i) shorter[2 + i] = static_cast<uint8_t>(body >> (8 * i));
    Result<MessagePtr> decoded = decode_frame(shorter);
    ASSERT_FALSE(decoded.is_ok()) << m.name() << " accepted a body cut at " << body;
    EXPECT_EQ(decoded.status().code(), StatusCode::kMalformed);
  }
}

TEST(FragmentMessages, StoreCarriesRealAndSyntheticPayloads) {
  register_fragment_messages();
  StoreFragment m;
  m.request_id = 77;
  m.file_id = 5;
  m.record_id = {2, 9};
  m.index = 3;
  m.data = Payload::real(Bytes{1, 2, 3, 4, 5});
  MessagePtr holder;
  const auto& d = round_trip<StoreFragment>(m, holder);
  EXPECT_EQ(d.request_id, 77u);
  EXPECT_EQ(d.file_id, 5u);
  EXPECT_EQ(d.record_id, (RecordId{2, 9}));
  EXPECT_EQ(d.index, 3u);
  ASSERT_TRUE(d.data.is_real());
  EXPECT_EQ(*d.data.bytes, (Bytes{1, 2, 3, 4, 5}));
  expect_truncations_refused(m);

  m.data = Payload::synthetic(4096);
  m.data.rot_flips = 2;
  EXPECT_EQ(frame_size(m), kFrameHeaderBytes + 8 + 8 + 16 + 4 + 9 + 4096);  // the full size is charged
  MessagePtr holder2;
  const auto& s = round_trip<StoreFragment>(m, holder2);
  EXPECT_FALSE(s.data.is_real());
  EXPECT_EQ(s.data.size, 4096u);
  EXPECT_EQ(s.data.rot_flips, 2u);
}

TEST(FragmentMessages, FetchAndItsReply) {
  register_fragment_messages();
  FetchFragment f;
  f.request_id = 1;
  f.file_id = 2;
  f.record_id = {3, 4};
  f.index = 5;
  f.offset = 64;
  f.length = 128;
  MessagePtr h1;
  const auto& df = round_trip<FetchFragment>(f, h1);
  EXPECT_EQ(df.record_id, (RecordId{3, 4}));
  EXPECT_EQ(df.offset, 64u);
  EXPECT_EQ(df.length, 128u);
  expect_truncations_refused(f);

  FetchFragmentReply r;
  r.request_id = 8;
  r.status = StatusCode::kCorrupt;
  r.index = 1;
  r.offset = 32;
  r.data = Payload::real(Bytes(100, 0xab));
  MessagePtr h2;
  const auto& dr = round_trip<FetchFragmentReply>(r, h2);
  EXPECT_EQ(dr.status, StatusCode::kCorrupt);
  EXPECT_EQ(dr.offset, 32u);
  EXPECT_EQ(dr.data.size, 100u);
  expect_truncations_refused(r);
}

TEST(FragmentMessages, StoreReplyDeleteRebuildAndCorruptReport) {
  register_fragment_messages();
  StoreFragmentReply sr;
  sr.request_id = 11;
  sr.status = StatusCode::kNoSpace;
  MessagePtr h1;
  EXPECT_EQ(round_trip<StoreFragmentReply>(sr, h1).status, StatusCode::kNoSpace);

  DeleteFragments del;
  del.file_id = 4;
  del.fragments = {{RecordId{1, 2}, 0}, {RecordId{1, 2}, 5}, {RecordId{7, 8}, 3}};
  MessagePtr h2;
  EXPECT_EQ(round_trip<DeleteFragments>(del, h2).fragments, del.fragments);
  expect_truncations_refused(del);

  RebuildFragment rb;
  rb.request_id = 12;
  rb.record = small_record();
  rb.index = 4;
  MessagePtr h3;
  const auto& drb = round_trip<RebuildFragment>(rb, h3);
  EXPECT_EQ(drb.record, rb.record);
  EXPECT_EQ(drb.index, 4u);
  expect_truncations_refused(rb);

  RebuildFragmentReply rr;
  rr.request_id = 13;
  rr.status = StatusCode::kUnavailable;
  rr.record_id = {5, 6};
  rr.index = 2;
  MessagePtr h4;
  const auto& drr = round_trip<RebuildFragmentReply>(rr, h4);
  EXPECT_EQ(drr.record_id, (RecordId{5, 6}));
  EXPECT_EQ(drr.status, StatusCode::kUnavailable);

  FragmentCorrupt fc;
  fc.file_id = 21;
  fc.record_id = {22, 23};
  fc.index = 1;
  MessagePtr h5;
  const auto& dfc = round_trip<FragmentCorrupt>(fc, h5);
  EXPECT_EQ(dfc.file_id, 21u);
  EXPECT_EQ(dfc.record_id, (RecordId{22, 23}));
  expect_truncations_refused(fc);
}

TEST(FragmentMessages, ImpossibleValuesAreRefused) {
  register_fragment_messages();
  auto body_of = [](const Message& m) { return encode_frame(m); };
  // A status byte beyond the last StatusCode.
  StoreFragmentReply sr;
  Bytes frame = body_of(sr);
  frame.back() = 0xee;
  EXPECT_EQ(decode_frame(frame).status().code(), StatusCode::kMalformed);
  // A fragment index beyond k + m <= 256.
  FragmentCorrupt fc;
  fc.index = 300;
  EXPECT_EQ(decode_frame(body_of(fc)).status().code(), StatusCode::kMalformed);
  // A delete list that claims more entries than the body holds.
  DeleteFragments del;
  del.fragments = {{RecordId{1, 2}, 0}};
  frame = body_of(del);
  frame[kFrameHeaderBytes + 8] = 200;  // count
  EXPECT_EQ(decode_frame(frame).status().code(), StatusCode::kMalformed);
  // A real payload that claims rot flips (only synthetic payloads carry them).
  StoreFragment st;
  st.data = Payload::real(Bytes{1});
  frame = body_of(st);
  frame[kFrameHeaderBytes + 8 + 8 + 16 + 4 + 1] = 1;
  EXPECT_EQ(decode_frame(frame).status().code(), StatusCode::kMalformed);
  // A rebuild whose index is outside its record.
  RebuildFragment rb;
  rb.record = small_record();
  rb.index = 5;
  frame = body_of(rb);
  frame[frame.size() - 4] = 6;
  EXPECT_EQ(decode_frame(frame).status().code(), StatusCode::kMalformed);
  // Trailing garbage after a valid body.
  FetchFragment f;
  frame = body_of(f);
  frame.push_back(0);
  const uint32_t body = static_cast<uint32_t>(frame.size() - kFrameHeaderBytes);
  for (int i = 0; i < 4; ++i) frame[2 + i] = static_cast<uint8_t>(body >> (8 * i));
  EXPECT_EQ(decode_frame(frame).status().code(), StatusCode::kMalformed);
}

}  // namespace
}  // namespace pbfs::datapath
