// Wire encoding of the catalog half of the data-path messages (commit, query, pins, replication, sync,
// fragment-map updates, record status for orphan collection) and of the log entry they share with the disk log (catalog_log.h). Records are
// embedded with coding/record.h's encoding. Every decoder is bounds-checked: counts are checked against
// the bytes that remain before anything is allocated, and impossible values give kMalformed.
#include <algorithm>
#include <string>

#include "protocols/datapath/catalog_log.h"
#include "protocols/datapath/messages.h"

namespace pbfs::datapath {
namespace {

constexpr size_t kRecordIdBytes = 16;
constexpr size_t kLogEntryFixedBytes = 8 + 8 + 1 + 1 + 4;  // index, epoch, op, has record, superseded count

Status malformed(const std::string& what) { return Status(StatusCode::kMalformed, what); }

void put_record_id(WireWriter& out, const RecordId& id) {
  out.u64(id.client);
  out.u64(id.sequence);
}
bool get_record_id(WireReader& in, RecordId& id) { return in.u64(id.client) && in.u64(id.sequence); }

void put_status(WireWriter& out, StatusCode code) { out.u8(static_cast<uint8_t>(code)); }
bool get_status(WireReader& in, StatusCode& code) {
  uint8_t v = 0;
  if (!in.u8(v) || v > static_cast<uint8_t>(StatusCode::kUnsupported)) return false;
  code = static_cast<StatusCode>(v);
  return true;
}

void put_ids(WireWriter& out, const std::vector<RecordId>& ids) {
  out.u32(static_cast<uint32_t>(ids.size()));
  for (const RecordId& id : ids) put_record_id(out, id);
}
bool get_ids(WireReader& in, std::vector<RecordId>& ids) {
  uint32_t count = 0;
  if (!in.u32(count) || count > in.remaining() / kRecordIdBytes) return false;
  ids.resize(count);
  for (RecordId& id : ids) {
    if (!get_record_id(in, id)) return false;
  }
  return true;
}

size_t catalog_entry_bytes(const CatalogEntry& e) { return 8 + write_record_encoded_bytes(e.record); }
void put_catalog_entry(WireWriter& out, const CatalogEntry& e) {
  out.u64(e.sequence);
  encode_write_record(e.record, out);
}
Status get_catalog_entry(WireReader& in, CatalogEntry& e) {
  if (!in.u64(e.sequence)) return malformed("catalog entry truncated");
  Result<WriteRecord> record = decode_write_record(in);
  if (!record.is_ok()) return record.status();
  e.record = std::move(record).value();
  return Status::ok();
}

size_t entries_bytes(const std::vector<CatalogLogEntry>& entries) {
  size_t bytes = 4;
  for (const CatalogLogEntry& e : entries) bytes += log_entry_encoded_bytes(e);
  return bytes;
}
void put_entries(WireWriter& out, const std::vector<CatalogLogEntry>& entries) {
  out.u32(static_cast<uint32_t>(entries.size()));
  for (const CatalogLogEntry& e : entries) encode_log_entry(e, out);
}
Status get_entries(WireReader& in, std::vector<CatalogLogEntry>& entries) {
  uint32_t count = 0;
  if (!in.u32(count) || count > in.remaining() / kLogEntryFixedBytes) return malformed("log entry count");
  entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Result<CatalogLogEntry> e = decode_log_entry(in);
    if (!e.is_ok()) return e.status();
    entries.push_back(std::move(e).value());
  }
  return Status::ok();
}

template <typename T>
Result<MessagePtr> done(std::shared_ptr<T> m) {
  return MessagePtr(std::move(m));
}

Result<MessagePtr> decode_commit_record(WireReader& in) {
  auto m = std::make_shared<CommitRecord>();
  if (!in.u64(m->request_id)) return malformed("CommitRecord truncated");
  Result<WriteRecord> record = decode_write_record(in);
  if (!record.is_ok()) return record.status();
  m->record = std::move(record).value();
  if (!get_ids(in, m->supersedes)) return malformed("CommitRecord: supersedes truncated");
  return done(m);
}

Result<MessagePtr> decode_commit_reply(WireReader& in) {
  auto m = std::make_shared<CommitReply>();
  if (!in.u64(m->request_id) || !get_status(in, m->status) || !in.u64(m->sequence) || !in.u32(m->leader_hint)) {
    return malformed("CommitReply truncated or bad status");
  }
  return done(m);
}

Result<MessagePtr> decode_query_range(WireReader& in) {
  auto m = std::make_shared<QueryRange>();
  if (!in.u64(m->request_id) || !in.u64(m->file_id) || !in.u64(m->extent.offset) || !in.u64(m->extent.length)) {
    return malformed("QueryRange truncated");
  }
  if (m->extent.offset > UINT64_MAX - m->extent.length) return malformed("QueryRange: extent overflows");
  return done(m);
}

Result<MessagePtr> decode_query_reply(WireReader& in) {
  auto m = std::make_shared<QueryReply>();
  uint32_t count = 0;
  if (!in.u64(m->request_id) || !get_status(in, m->status) || !in.u32(m->leader_hint) || !in.u64(m->pin) ||
      !in.u32(count)) {
    return malformed("QueryReply truncated or bad status");
  }
  if (count > in.remaining() / 8) return malformed("QueryReply: entry count");
  m->entries.resize(count);
  for (CatalogEntry& e : m->entries) {
    Status s = get_catalog_entry(in, e);
    if (!s.is_ok()) return s;
  }
  return done(m);
}

Result<MessagePtr> decode_release_pin(WireReader& in) {
  auto m = std::make_shared<ReleasePin>();
  if (!in.u64(m->file_id) || !in.u64(m->pin)) return malformed("ReleasePin truncated");
  return done(m);
}

Result<MessagePtr> decode_replicate(WireReader& in) {
  auto m = std::make_shared<Replicate>();
  if (!in.u64(m->shard) || !in.u64(m->epoch) || !in.u64(m->prev_index) || !in.u64(m->prev_epoch) ||
      !in.u64(m->commit_index)) {
    return malformed("Replicate truncated");
  }
  Status s = get_entries(in, m->entries);
  if (!s.is_ok()) return s;
  for (size_t i = 0; i < m->entries.size(); ++i) {
    if (m->entries[i].log_index != m->prev_index + 1 + i) return malformed("Replicate: entries not consecutive");
  }
  return done(m);
}

Result<MessagePtr> decode_replicate_ack(WireReader& in) {
  auto m = std::make_shared<ReplicateAck>();
  if (!in.u64(m->shard) || !in.u64(m->epoch) || !in.u64(m->log_index) || !get_status(in, m->status)) {
    return malformed("ReplicateAck truncated or bad status");
  }
  return done(m);
}

Result<MessagePtr> decode_sync_request(WireReader& in) {
  auto m = std::make_shared<SyncRequest>();
  if (!in.u64(m->shard) || !in.u64(m->epoch) || !in.u64(m->from_index)) return malformed("SyncRequest truncated");
  return done(m);
}

Result<MessagePtr> decode_sync_reply(WireReader& in) {
  auto m = std::make_shared<SyncReply>();
  if (!in.u64(m->shard) || !in.u64(m->epoch) || !get_status(in, m->status) || !in.u64(m->last_index) ||
      !in.u64(m->last_epoch)) {
    return malformed("SyncReply truncated or bad status");
  }
  Status s = get_entries(in, m->entries);
  if (!s.is_ok()) return s;
  for (size_t i = 1; i < m->entries.size(); ++i) {
    if (m->entries[i].log_index != m->entries[i - 1].log_index + 1) return malformed("SyncReply: entries not consecutive");
  }
  if (!m->entries.empty() && m->entries.back().log_index > m->last_index) return malformed("SyncReply: entries past its log");
  return done(m);
}

Result<MessagePtr> decode_update_fragment(WireReader& in) {
  auto m = std::make_shared<UpdateFragment>();
  if (!in.u64(m->file_id) || !get_record_id(in, m->record_id) || !in.u32(m->index) || !in.u32(m->node) ||
      !in.u32(m->crc32c)) {
    return malformed("UpdateFragment truncated");
  }
  if (m->index >= kFragmentsMax) return malformed("UpdateFragment: fragment index");
  return done(m);
}

Result<MessagePtr> decode_record_status(WireReader& in) {
  auto m = std::make_shared<RecordStatus>();
  uint32_t count = 0;
  if (!in.u64(m->request_id) || !in.u64(m->shard) || !in.u32(count)) return malformed("RecordStatus truncated");
  if (count == 0 || count > RecordStatus::kRecordsMax || count > in.remaining() / (8 + kRecordIdBytes)) {
    return malformed("RecordStatus: record count");
  }
  m->records.resize(count);
  for (FileRecord& r : m->records) {
    if (!in.u64(r.file) || !get_record_id(in, r.record)) return malformed("RecordStatus truncated");
  }
  return done(m);
}

Result<MessagePtr> decode_record_status_reply(WireReader& in) {
  auto m = std::make_shared<RecordStatusReply>();
  uint32_t count = 0;
  if (!in.u64(m->request_id) || !get_status(in, m->status) || !in.u32(m->leader_hint) || !in.u32(count)) {
    return malformed("RecordStatusReply truncated or bad status");
  }
  if (count > RecordStatus::kRecordsMax || count > in.remaining() / (kRecordIdBytes + 1)) {
    return malformed("RecordStatusReply: record count");
  }
  m->records.resize(count);
  for (auto& [id, fate] : m->records) {
    uint8_t raw = 0;
    if (!get_record_id(in, id) || !in.u8(raw)) return malformed("RecordStatusReply truncated");
    if (raw < static_cast<uint8_t>(RecordFate::kCurrent) || raw > static_cast<uint8_t>(RecordFate::kStale)) {
      return malformed("RecordStatusReply: unknown fate " + std::to_string(raw));
    }
    fate = static_cast<RecordFate>(raw);
  }
  return done(m);
}

// Which operations carry a whole catalog entry, and which carry a file id of their own.
bool op_has_record(CatalogOp op) { return op == CatalogOp::kCommit || op == CatalogOp::kUpdateFragment; }
bool op_has_file(CatalogOp op) { return op == CatalogOp::kAbandon; }
bool op_has_group(CatalogOp op) { return op == CatalogOp::kReconfigure; }

}  // namespace

// ---- the log entry ----

size_t log_entry_encoded_bytes(const CatalogLogEntry& e) {
  return kLogEntryFixedBytes + (op_has_record(e.op) ? catalog_entry_bytes(e.entry) : 0) +
         kRecordIdBytes * e.superseded.size() + (op_has_file(e.op) ? 8 : 0) +
         (op_has_group(e.op) ? 8 + 4 + 4 * e.members.size() : 0);
}

void encode_log_entry(const CatalogLogEntry& e, WireWriter& out) {
  const bool has_record = op_has_record(e.op);
  out.u64(e.log_index);
  out.u64(e.epoch);
  out.u8(static_cast<uint8_t>(e.op));
  out.boolean(has_record);
  if (has_record) put_catalog_entry(out, e.entry);
  put_ids(out, e.superseded);
  if (op_has_file(e.op)) out.u64(e.file_id);
  if (op_has_group(e.op)) {
    out.u64(e.config_version);
    out.u32(static_cast<uint32_t>(e.members.size()));
    for (NodeId node : e.members) out.u32(node);
  }
}

Result<CatalogLogEntry> decode_log_entry(WireReader& in) {
  CatalogLogEntry e;
  uint8_t op = 0;
  bool has_record = false;
  if (!in.u64(e.log_index) || !in.u64(e.epoch) || !in.u8(op) || !in.boolean(has_record)) {
    return malformed("log entry truncated");
  }
  if (op < static_cast<uint8_t>(CatalogOp::kCommit) || op > static_cast<uint8_t>(CatalogOp::kReconfigure)) {
    return malformed("log entry: unknown operation " + std::to_string(op));
  }
  e.op = static_cast<CatalogOp>(op);
  if (e.log_index == 0) return malformed("log entry: index 0");
  if (has_record != op_has_record(e.op)) return malformed("log entry: record presence does not fit the operation");
  if (has_record) {
    Status s = get_catalog_entry(in, e.entry);
    if (!s.is_ok()) return s;
  }
  if (!get_ids(in, e.superseded)) return malformed("log entry: record ids truncated");
  if (e.op == CatalogOp::kUpdateFragment && !e.superseded.empty()) return malformed("log entry: update supersedes");
  if (e.op == CatalogOp::kAbandon && e.superseded.empty()) return malformed("log entry: abandons no record");
  if (op_has_file(e.op) && !in.u64(e.file_id)) return malformed("log entry: file id truncated");
  if (op_has_group(e.op)) {
    if (!e.superseded.empty()) return malformed("log entry: a reconfiguration supersedes");
    uint32_t count = 0;
    if (!in.u64(e.config_version) || !in.u32(count)) return malformed("log entry: group truncated");
    if (e.config_version < 2) return malformed("log entry: group version below 2");
    if (count == 0 || count > kCatalogMembersMax) return malformed("log entry: group of " + std::to_string(count) + " nodes");
    for (uint32_t i = 0; i < count; ++i) {
      NodeId node = 0;
      if (!in.u32(node)) return malformed("log entry: group members truncated");
      if (std::find(e.members.begin(), e.members.end(), node) != e.members.end()) {
        return malformed("log entry: a group member twice");
      }
      e.members.push_back(node);
    }
  }
  return e;
}

// ---- messages ----

void CommitRecord::encode(WireWriter& out) const {
  out.u64(request_id);
  encode_write_record(record, out);
  put_ids(out, supersedes);
}
uint64_t CommitRecord::encoded_size() const {
  return 8 + write_record_encoded_bytes(record) + 4 + kRecordIdBytes * supersedes.size();
}

void CommitReply::encode(WireWriter& out) const {
  out.u64(request_id);
  put_status(out, status);
  out.u64(sequence);
  out.u32(leader_hint);
}

void QueryRange::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u64(file_id);
  out.u64(extent.offset);
  out.u64(extent.length);
}

void QueryReply::encode(WireWriter& out) const {
  out.u64(request_id);
  put_status(out, status);
  out.u32(leader_hint);
  out.u64(pin);
  out.u32(static_cast<uint32_t>(entries.size()));
  for (const CatalogEntry& e : entries) put_catalog_entry(out, e);
}
uint64_t QueryReply::encoded_size() const {
  uint64_t bytes = 8 + 1 + 4 + 8 + 4;
  for (const CatalogEntry& e : entries) bytes += catalog_entry_bytes(e);
  return bytes;
}

void ReleasePin::encode(WireWriter& out) const {
  out.u64(file_id);
  out.u64(pin);
}

void Replicate::encode(WireWriter& out) const {
  out.u64(shard);
  out.u64(epoch);
  out.u64(prev_index);
  out.u64(prev_epoch);
  out.u64(commit_index);
  put_entries(out, entries);
}
uint64_t Replicate::encoded_size() const { return 5 * 8 + entries_bytes(entries); }

void ReplicateAck::encode(WireWriter& out) const {
  out.u64(shard);
  out.u64(epoch);
  out.u64(log_index);
  put_status(out, status);
}

void SyncRequest::encode(WireWriter& out) const {
  out.u64(shard);
  out.u64(epoch);
  out.u64(from_index);
}

void SyncReply::encode(WireWriter& out) const {
  out.u64(shard);
  out.u64(epoch);
  put_status(out, status);
  out.u64(last_index);
  out.u64(last_epoch);
  put_entries(out, entries);
}
uint64_t SyncReply::encoded_size() const { return 8 + 8 + 1 + 8 + 8 + entries_bytes(entries); }

void UpdateFragment::encode(WireWriter& out) const {
  out.u64(file_id);
  put_record_id(out, record_id);
  out.u32(index);
  out.u32(node);
  out.u32(crc32c);
}

void RecordStatus::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u64(shard);
  out.u32(static_cast<uint32_t>(records.size()));
  for (const FileRecord& r : records) {
    out.u64(r.file);
    put_record_id(out, r.record);
  }
}
uint64_t RecordStatus::encoded_size() const { return 8 + 8 + 4 + (8 + kRecordIdBytes) * records.size(); }

void RecordStatusReply::encode(WireWriter& out) const {
  out.u64(request_id);
  put_status(out, status);
  out.u32(leader_hint);
  out.u32(static_cast<uint32_t>(records.size()));
  for (const auto& [id, fate] : records) {
    put_record_id(out, id);
    out.u8(static_cast<uint8_t>(fate));
  }
}
uint64_t RecordStatusReply::encoded_size() const { return 8 + 1 + 4 + 4 + (kRecordIdBytes + 1) * records.size(); }

void register_datapath_messages() {
  static const bool registered = [] {
    register_message_type(types::kCommitRecord, "datapath.CommitRecord", decode_commit_record);
    register_message_type(types::kCommitReply, "datapath.CommitReply", decode_commit_reply);
    register_message_type(types::kQueryRange, "datapath.QueryRange", decode_query_range);
    register_message_type(types::kQueryReply, "datapath.QueryReply", decode_query_reply);
    register_message_type(types::kReleasePin, "datapath.ReleasePin", decode_release_pin);
    register_message_type(types::kReplicate, "datapath.Replicate", decode_replicate);
    register_message_type(types::kReplicateAck, "datapath.ReplicateAck", decode_replicate_ack);
    register_message_type(types::kSyncRequest, "datapath.SyncRequest", decode_sync_request);
    register_message_type(types::kSyncReply, "datapath.SyncReply", decode_sync_reply);
    register_message_type(types::kUpdateFragment, "datapath.UpdateFragment", decode_update_fragment);
    register_message_type(types::kRecordStatus, "datapath.RecordStatus", decode_record_status);
    register_message_type(types::kRecordStatusReply, "datapath.RecordStatusReply", decode_record_status_reply);
    register_fragment_messages();
    return true;
  }();
  (void)registered;
}

}  // namespace pbfs::datapath
