// Every catalog message round-trips through its frame, encoded_size() is exact, and malformed input
// (truncation at every byte, lying counts, bad enums, inconsistent log entries) is rejected.
#include <gtest/gtest.h>

#include "protocols/datapath/catalog_log.h"
#include "protocols/datapath/catalog_test_util.h"
#include "protocols/datapath/messages.h"

namespace pbfs::datapath {
namespace {

using testing::make_record;

CatalogLogEntry log_entry(uint64_t index, CatalogOp op) {
  CatalogLogEntry e;
  e.log_index = index;
  e.epoch = 4;
  e.op = op;
  if (op == CatalogOp::kCommit || op == CatalogOp::kUpdateFragment) {
    e.entry.sequence = 17;
    e.entry.record = make_record(9, {2, index}, 4096, 777);
  }
  if (op != CatalogOp::kUpdateFragment) e.superseded = {{1, 2}, {3, 4}};
  if (op == CatalogOp::kAbandon) e.file_id = 0x1234567890ull;
  if (op == CatalogOp::kReconfigure) {
    e.superseded.clear();
    e.config_version = 7;
    e.members = {4, 0, 0xfffffffeu};
  }
  return e;
}

void expect_same(const CatalogLogEntry& a, const CatalogLogEntry& b) {
  EXPECT_EQ(a.log_index, b.log_index);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.superseded, b.superseded);
  EXPECT_EQ(a.file_id, b.file_id);
  EXPECT_EQ(a.config_version, b.config_version);
  EXPECT_EQ(a.members, b.members);
  if (a.op == CatalogOp::kCommit || a.op == CatalogOp::kUpdateFragment) {
    EXPECT_EQ(a.entry.sequence, b.entry.sequence);
    EXPECT_EQ(a.entry.record, b.entry.record);
  }
}

// Encodes, checks the size, decodes, and checks that every truncation is refused.
template <typename T>
std::shared_ptr<const T> round_trip(const T& m) {
  register_datapath_messages();
  const Bytes frame = encode_frame(m);
  EXPECT_EQ(frame.size(), frame_size(m)) << m.name();
  Result<MessagePtr> back = decode_frame(frame);
  EXPECT_TRUE(back.is_ok()) << m.name() << ": " << back.status().to_string();
  if (!back.is_ok()) return nullptr;
  EXPECT_EQ((*back)->type(), m.type());
  for (size_t cut = kFrameHeaderBytes; cut < frame.size(); ++cut) {
    Bytes truncated(frame.begin(), frame.begin() + static_cast<long>(cut));
    const uint32_t body = static_cast<uint32_t>(cut - kFrameHeaderBytes);
    for (int i = 0; i < 4; ++i) truncated[2 + i] = static_cast<uint8_t>(body >> (8 * i));  // an honest length
    EXPECT_FALSE(decode_frame(truncated).is_ok()) << m.name() << " truncated to " << cut;
  }
  return std::static_pointer_cast<const T>(*back);
}

TEST(CatalogMessages, CommitRecordAndReply) {
  CommitRecord m;
  m.request_id = 99;
  m.record = make_record(3, {5, 6}, 0, 100000, 8, 4);
  m.supersedes = {{1, 1}, {1, 2}};
  auto back = round_trip(m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->request_id, 99u);
  EXPECT_EQ(back->record, m.record);
  EXPECT_EQ(back->supersedes, m.supersedes);
  CommitReply r;
  r.request_id = 5;
  r.status = StatusCode::kNotLeader;
  r.sequence = 12;
  r.leader_hint = 4;
  auto rb = round_trip(r);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, StatusCode::kNotLeader);
  EXPECT_EQ(rb->sequence, 12u);
  EXPECT_EQ(rb->leader_hint, 4u);
}

TEST(CatalogMessages, QueryReleaseAndUpdate) {
  QueryRange q;
  q.request_id = 1;
  q.file_id = 2;
  q.extent = Extent{3, 4};
  auto qb = round_trip(q);
  ASSERT_TRUE(qb);
  EXPECT_EQ(qb->extent, q.extent);
  QueryReply r;
  r.request_id = 8;
  r.pin = 0x500000001ull;
  r.entries = {CatalogEntry{1, make_record(2, {1, 1}, 0, 10)}, CatalogEntry{2, make_record(2, {1, 2}, 5, 10)}};
  auto rb = round_trip(r);
  ASSERT_TRUE(rb);
  ASSERT_EQ(rb->entries.size(), 2u);
  EXPECT_EQ(rb->entries[1].sequence, 2u);
  EXPECT_EQ(rb->entries[1].record, r.entries[1].record);
  EXPECT_EQ(rb->pin, r.pin);
  ReleasePin p;
  p.file_id = 2;
  p.pin = 77;
  auto pb = round_trip(p);
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->pin, 77u);
  UpdateFragment u;
  u.file_id = 3;
  u.record_id = {4, 5};
  u.index = 6;
  u.node = 7;
  u.crc32c = 0xdeadbeef;
  auto ub = round_trip(u);
  ASSERT_TRUE(ub);
  EXPECT_EQ(ub->record_id, u.record_id);
  EXPECT_EQ(ub->crc32c, 0xdeadbeefu);
}

TEST(CatalogMessages, ReplicationAndSync) {
  Replicate m;
  m.shard = 3;
  m.epoch = 4;
  m.prev_index = 9;
  m.prev_epoch = 2;
  m.commit_index = 8;
  m.entries = {log_entry(10, CatalogOp::kCommit), log_entry(11, CatalogOp::kUpdateFragment), log_entry(12, CatalogOp::kCollect),
               log_entry(13, CatalogOp::kAbandon), log_entry(14, CatalogOp::kReconfigure)};
  auto back = round_trip(m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->prev_index, 9u);
  EXPECT_EQ(back->prev_epoch, 2u);
  EXPECT_EQ(back->commit_index, 8u);
  ASSERT_EQ(back->entries.size(), 5u);
  for (size_t i = 0; i < 5; ++i) expect_same(back->entries[i], m.entries[i]);
  EXPECT_EQ(back->entries[3].file_id, 0x1234567890ull);
  EXPECT_EQ(back->entries[4].config_version, 7u);
  EXPECT_EQ(back->entries[4].members, (std::vector<NodeId>{4, 0, 0xfffffffeu}));
  ReplicateAck a;
  a.shard = 3;
  a.epoch = 4;
  a.log_index = 12;
  a.status = StatusCode::kConflict;
  auto ab = round_trip(a);
  ASSERT_TRUE(ab);
  EXPECT_EQ(ab->status, StatusCode::kConflict);
  SyncRequest s;
  s.shard = 1;
  s.epoch = 2;
  s.from_index = 3;
  auto sb = round_trip(s);
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->from_index, 3u);
  SyncReply r;
  r.shard = 1;
  r.epoch = 2;
  r.last_index = 20;
  r.last_epoch = 4;
  r.entries = {log_entry(4, CatalogOp::kCommit), log_entry(5, CatalogOp::kCollect)};
  auto rb = round_trip(r);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->last_index, 20u);
  ASSERT_EQ(rb->entries.size(), 2u);
  expect_same(rb->entries[0], r.entries[0]);
}

TEST(CatalogMessages, RecordStatusAndReply) {
  RecordStatus m;
  m.request_id = 41;
  m.shard = 0xfeedull;
  m.records = {{7, {1, 2}}, {8, {3, 4}}, {7, {5, 6}}};
  auto back = round_trip(m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->request_id, 41u);
  EXPECT_EQ(back->shard, 0xfeedull);
  EXPECT_EQ(back->records, m.records);
  RecordStatusReply r;
  r.request_id = 41;
  r.leader_hint = 7;
  r.records = {{{1, 2}, RecordFate::kCurrent}, {{3, 4}, RecordFate::kSuperseded}, {{5, 6}, RecordFate::kAbandoned},
               {{7, 8}, RecordFate::kStale}};
  auto rb = round_trip(r);
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, StatusCode::kOk);
  EXPECT_EQ(rb->leader_hint, 7u);
  EXPECT_EQ(rb->records, r.records);
  RecordStatusReply refused;
  refused.request_id = 9;
  refused.status = StatusCode::kNotLeader;
  refused.leader_hint = 2;
  auto fb = round_trip(refused);
  ASSERT_TRUE(fb);
  EXPECT_EQ(fb->status, StatusCode::kNotLeader);
  EXPECT_TRUE(fb->records.empty());
}

TEST(CatalogMessages, MalformedRecordStatusAndAbandonEntries) {
  register_datapath_messages();
  // A RecordStatus about no record, or about more than kRecordsMax.
  RecordStatus none;
  none.shard = 1;
  EXPECT_FALSE(decode_frame(encode_frame(none)).is_ok());
  RecordStatus many;
  many.records.resize(RecordStatus::kRecordsMax + 1);
  for (size_t i = 0; i < many.records.size(); ++i) many.records[i] = {3, {1, i}};
  EXPECT_FALSE(decode_frame(encode_frame(many)).is_ok());
  // A RecordStatus whose count promises more records than its bytes hold.
  RecordStatus short_one;
  short_one.records = {{3, {1, 2}}};
  Bytes cut = encode_frame(short_one);
  cut.at(kFrameHeaderBytes + 8 + 8) = 2;
  EXPECT_FALSE(decode_frame(cut).is_ok());
  // A fate outside the enum (0 and 5), a bad status, and a count that lies about the bytes that follow.
  RecordStatusReply reply;
  reply.records = {{{1, 2}, RecordFate::kCurrent}};
  const size_t fate_at = kFrameHeaderBytes + 8 + 1 + 4 + 4 + 16;
  for (uint8_t bad : {uint8_t{0}, uint8_t{5}}) {
    Bytes frame = encode_frame(reply);
    frame.at(fate_at) = bad;
    EXPECT_FALSE(decode_frame(frame).is_ok()) << int(bad);
  }
  Bytes status = encode_frame(reply);
  status.at(kFrameHeaderBytes + 8) = 200;
  EXPECT_FALSE(decode_frame(status).is_ok());
  Bytes lying = encode_frame(reply);
  lying.at(kFrameHeaderBytes + 8 + 1 + 4) = 2;  // two records, bytes for one
  EXPECT_FALSE(decode_frame(lying).is_ok());
  // A kAbandon entry that tombstones nothing, one that claims a record, one without its file id.
  auto decodes = [](const CatalogLogEntry& e, size_t cut_bytes = 0) {
    Bytes bytes;
    WireWriter w(bytes);
    encode_log_entry(e, w);
    EXPECT_EQ(bytes.size(), log_entry_encoded_bytes(e));
    bytes.resize(bytes.size() - cut_bytes);
    WireReader r(bytes);
    return decode_log_entry(r).is_ok();
  };
  CatalogLogEntry abandon;
  abandon.log_index = 3;
  abandon.op = CatalogOp::kAbandon;
  abandon.superseded = {{1, 2}};
  abandon.file_id = 8;
  EXPECT_TRUE(decodes(abandon));
  EXPECT_FALSE(decodes(abandon, 1));
  CatalogLogEntry empty = abandon;
  empty.superseded.clear();
  EXPECT_FALSE(decodes(empty));
  Bytes bytes;
  WireWriter w(bytes);
  encode_log_entry(abandon, w);
  bytes.at(17) = 1;  // has_record set on a kAbandon
  WireReader r(bytes);
  EXPECT_FALSE(decode_log_entry(r).is_ok());
  bytes.at(17) = 0;
  bytes.at(16) = 6;  // an operation past kReconfigure
  WireReader r5(bytes);
  EXPECT_FALSE(decode_log_entry(r5).is_ok());
}

// A kReconfigure entry: round trip, every truncation refused, and each impossible group refused.
TEST(CatalogMessages, ReconfigureEntriesAndTheirMalformedForms) {
  auto encoded = [](const CatalogLogEntry& e) {
    Bytes bytes;
    WireWriter w(bytes);
    encode_log_entry(e, w);
    EXPECT_EQ(bytes.size(), log_entry_encoded_bytes(e));
    return bytes;
  };
  auto decodes = [](const Bytes& bytes) {
    WireReader r(bytes);
    return decode_log_entry(r);
  };
  CatalogLogEntry e;
  e.log_index = 40;
  e.epoch = 3;
  e.op = CatalogOp::kReconfigure;
  e.config_version = 2;
  e.members = {9, 1, 5};
  const Bytes bytes = encoded(e);
  Result<CatalogLogEntry> back = decodes(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  expect_same(*back, e);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decodes(Bytes(bytes.begin(), bytes.begin() + static_cast<long>(cut))).is_ok()) << cut;
  }
  CatalogLogEntry bad = e;
  bad.config_version = 1;  // version 1 is the placement, never an entry
  EXPECT_EQ(decodes(encoded(bad)).status().code(), StatusCode::kMalformed);
  bad = e;
  bad.members.clear();
  EXPECT_EQ(decodes(encoded(bad)).status().code(), StatusCode::kMalformed);
  bad = e;
  bad.members = {9, 1, 9};
  EXPECT_EQ(decodes(encoded(bad)).status().code(), StatusCode::kMalformed);
  bad = e;
  bad.members.assign(kCatalogMembersMax + 1, 0);
  for (size_t i = 0; i < bad.members.size(); ++i) bad.members[i] = static_cast<NodeId>(i);
  EXPECT_EQ(decodes(encoded(bad)).status().code(), StatusCode::kMalformed);
  bad = e;
  bad.superseded = {{1, 2}};
  EXPECT_EQ(decodes(encoded(bad)).status().code(), StatusCode::kMalformed);
  // A member count larger than the bytes that follow.
  Bytes lying = bytes;
  lying.at(bytes.size() - 4 * 3 - 4) = 4;
  EXPECT_FALSE(decodes(lying).is_ok());
}

TEST(CatalogMessages, InconsistentContentIsMalformed) {
  register_datapath_messages();
  auto refuses = [](const Message& m, size_t byte, uint8_t value) {
    Bytes frame = encode_frame(m);
    frame.at(kFrameHeaderBytes + byte) = value;
    return !decode_frame(frame).is_ok();
  };
  // Replicate whose entries do not follow prev_index.
  Replicate gap;
  gap.prev_index = 5;
  gap.entries = {log_entry(7, CatalogOp::kCollect)};
  EXPECT_FALSE(decode_frame(encode_frame(gap)).is_ok());
  // A log entry with an unknown operation (byte 16 of the entry, after index and epoch).
  Replicate one;
  one.prev_index = 0;
  one.entries = {log_entry(1, CatalogOp::kCollect)};
  const size_t entry_start = 5 * 8 + 4;
  EXPECT_TRUE(refuses(one, entry_start + 16, 9));
  EXPECT_TRUE(refuses(one, entry_start + 17, 1));  // a kCollect that claims to carry a record
  // A status byte beyond the enum.
  CommitReply reply;
  EXPECT_TRUE(refuses(reply, 8, 200));
  // A superseded count that lies about the bytes that follow.
  CommitRecord commit;
  commit.record = make_record(1, {1, 1}, 0, 10);
  Bytes frame = encode_frame(commit);
  const size_t count_at = frame.size() - 4;
  frame[count_at + 3] = 0x7f;
  EXPECT_FALSE(decode_frame(frame).is_ok());
  // A log entry with index 0, and a SyncReply whose entries run past its own last index.
  Bytes bytes;
  WireWriter w(bytes);
  CatalogLogEntry zero = log_entry(1, CatalogOp::kCollect);
  zero.log_index = 0;
  encode_log_entry(zero, w);
  WireReader r(bytes);
  EXPECT_FALSE(decode_log_entry(r).is_ok());
  SyncReply past;
  past.last_index = 3;
  past.entries = {log_entry(4, CatalogOp::kCollect)};
  EXPECT_FALSE(decode_frame(encode_frame(past)).is_ok());
}

}  // namespace
}  // namespace pbfs::datapath
