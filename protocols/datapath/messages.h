// Every message of the PBFS data path: client <-> fragment servers, client <-> catalog, catalog
// primary <-> backups, and repair. Encodings: fragment_messages.cc (fragment server and repair) and
// catalog_messages.cc (catalog); docs/record-format.md documents the embedded WriteRecord.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "coding/record.h"
#include "protocols/runtime/message.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::datapath {

namespace types {
constexpr MessageType kStoreFragment = message_types::kDataPathBase + 1;
constexpr MessageType kStoreFragmentReply = message_types::kDataPathBase + 2;
constexpr MessageType kFetchFragment = message_types::kDataPathBase + 3;
constexpr MessageType kFetchFragmentReply = message_types::kDataPathBase + 4;
constexpr MessageType kDeleteFragments = message_types::kDataPathBase + 5;
constexpr MessageType kRebuildFragment = message_types::kDataPathBase + 6;
constexpr MessageType kRebuildFragmentReply = message_types::kDataPathBase + 7;
constexpr MessageType kFragmentCorrupt = message_types::kDataPathBase + 8;
constexpr MessageType kCommitRecord = message_types::kDataPathBase + 20;
constexpr MessageType kCommitReply = message_types::kDataPathBase + 21;
constexpr MessageType kQueryRange = message_types::kDataPathBase + 22;
constexpr MessageType kQueryReply = message_types::kDataPathBase + 23;
constexpr MessageType kReleasePin = message_types::kDataPathBase + 24;
constexpr MessageType kReplicate = message_types::kDataPathBase + 25;
constexpr MessageType kReplicateAck = message_types::kDataPathBase + 26;
constexpr MessageType kSyncRequest = message_types::kDataPathBase + 27;
constexpr MessageType kSyncReply = message_types::kDataPathBase + 28;
constexpr MessageType kUpdateFragment = message_types::kDataPathBase + 29;
constexpr MessageType kRecordStatus = message_types::kDataPathBase + 30;
constexpr MessageType kRecordStatusReply = message_types::kDataPathBase + 31;
}  // namespace types

// ---- fragment servers (fragment_messages.cc) ----

// Store fragment `index` of a record; the server persists it (write + fsync) before replying ok.
// `data` is the stored fragment: header + body for real payloads (coding/record.h encode_fragment),
// or a synthetic payload of the same size.
struct StoreFragment final : Message {
  uint64_t request_id = 0;
  FileId file_id = 0;
  RecordId record_id;
  uint32_t index = 0;
  Payload data;
  MessageType type() const override { return types::kStoreFragment; }
  const char* name() const override { return "datapath.StoreFragment"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

struct StoreFragmentReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  MessageType type() const override { return types::kStoreFragmentReply; }
  const char* name() const override { return "datapath.StoreFragmentReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// Read bytes [offset, offset + length) of a stored fragment's body (length 0: the whole fragment,
// header included, CRC-checked by the server before sending).
struct FetchFragment final : Message {
  uint64_t request_id = 0;
  FileId file_id = 0;
  RecordId record_id;
  uint32_t index = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  MessageType type() const override { return types::kFetchFragment; }
  const char* name() const override { return "datapath.FetchFragment"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// kCorrupt when the server found the fragment's checksum wrong (it also reports it to the catalog).
struct FetchFragmentReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  uint32_t index = 0;
  uint64_t offset = 0;
  Payload data;
  MessageType type() const override { return types::kFetchFragmentReply; }
  const char* name() const override { return "datapath.FetchFragmentReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// Garbage collection: drop these fragments (sent by the catalog primary once no reader needs them).
struct DeleteFragments final : Message {
  FileId file_id = 0;
  std::vector<std::pair<RecordId, uint32_t>> fragments;  // (record, index)
  MessageType type() const override { return types::kDeleteFragments; }
  const char* name() const override { return "datapath.DeleteFragments"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// Repair: rebuild fragment `index` of `record` on the receiving node from any k of the others
// (the record's fragment map says where they are), store it, then reply.
struct RebuildFragment final : Message {
  uint64_t request_id = 0;
  WriteRecord record;
  uint32_t index = 0;
  MessageType type() const override { return types::kRebuildFragment; }
  const char* name() const override { return "datapath.RebuildFragment"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

struct RebuildFragmentReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  RecordId record_id;
  uint32_t index = 0;
  MessageType type() const override { return types::kRebuildFragmentReply; }
  const char* name() const override { return "datapath.RebuildFragmentReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// A fragment server found a stored fragment corrupt (scrub or read): sent to the file's catalog.
struct FragmentCorrupt final : Message {
  FileId file_id = 0;
  RecordId record_id;
  uint32_t index = 0;
  MessageType type() const override { return types::kFragmentCorrupt; }
  const char* name() const override { return "datapath.FragmentCorrupt"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// ---- catalog (catalog_messages.cc) ----

// A committed record and its place in the file's order (higher sequence wins where records overlap).
struct CatalogEntry {
  uint64_t sequence = 0;
  WriteRecord record;
};

// Commit a record whose fragments are stored. With `supersedes` non-empty (compaction), the commit is
// conditional: it succeeds only if every listed record is still current, and then replaces them.
struct CommitRecord final : Message {
  uint64_t request_id = 0;
  WriteRecord record;
  std::vector<RecordId> supersedes;
  MessageType type() const override { return types::kCommitRecord; }
  const char* name() const override { return "datapath.CommitRecord"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// kOk with the sequence assigned; kNotLeader with a hint (kNoNode: unknown); kConflict for a lost
// conditional commit; kUnavailable when the group cannot replicate.
struct CommitReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  uint64_t sequence = 0;
  NodeId leader_hint = kNoNode;
  MessageType type() const override { return types::kCommitReply; }
  const char* name() const override { return "datapath.CommitReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 1 + 8 + 4; }
};

// The current records of a file overlapping an extent. The reply pins them: none of them is
// garbage-collected until ReleasePin or the pin's timeout.
struct QueryRange final : Message {
  uint64_t request_id = 0;
  FileId file_id = 0;
  Extent extent;
  MessageType type() const override { return types::kQueryRange; }
  const char* name() const override { return "datapath.QueryRange"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 8 + 8; }
};

struct QueryReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  NodeId leader_hint = kNoNode;
  uint64_t pin = 0;
  std::vector<CatalogEntry> entries;  // ascending sequence
  MessageType type() const override { return types::kQueryReply; }
  const char* name() const override { return "datapath.QueryReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

struct ReleasePin final : Message {
  FileId file_id = 0;
  uint64_t pin = 0;
  MessageType type() const override { return types::kReleasePin; }
  const char* name() const override { return "datapath.ReleasePin"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8; }
};

// One change to a shard's catalog, as the primary replicates it to the backups in log order.
// kAbandon tombstones record ids that are not live (never committed, or already collected): a commit
// of a tombstoned id is refused, and whichever of the two comes first in the log wins.
// kReconfigure replaces the shard's replica group: (config_version, members) is the group from this
// entry on (catalog.h: joint quorums while it is uncommitted).
enum class CatalogOp : uint8_t { kCommit = 1, kUpdateFragment = 2, kCollect = 3, kAbandon = 4, kReconfigure = 5 };
constexpr size_t kCatalogMembersMax = 64;
struct CatalogLogEntry {
  uint64_t log_index = 0;  // position in the shard's log (gapless)
  CatalogOp op = CatalogOp::kCommit;
  CatalogEntry entry;                 // kCommit: the new entry; kUpdateFragment: record id + new map
  // kCommit: records it replaced; kCollect: records dropped; kAbandon: records tombstoned (never empty).
  std::vector<RecordId> superseded;
  FileId file_id = 0;  // kAbandon only: the file the abandoned records were written to
  uint64_t config_version = 0;   // kReconfigure only: the new group's version (> 1)...
  std::vector<NodeId> members;   // ...and its nodes (1..kCatalogMembersMax, distinct)
  uint64_t epoch = 0;  // lease epoch of the primary that created it (log matching, sync's best log)
};

struct Replicate final : Message {
  uint64_t shard = 0;
  uint64_t epoch = 0;  // the primary's lease epoch: backups refuse older epochs
  std::vector<CatalogLogEntry> entries;
  // Log matching: the entry just before `entries` (or, for an empty heartbeat,
  // the entry the primary believes the backup has) and the primary's commit index.
  uint64_t prev_index = 0;
  uint64_t prev_epoch = 0;
  uint64_t commit_index = 0;
  MessageType type() const override { return types::kReplicate; }
  const char* name() const override { return "datapath.Replicate"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

struct ReplicateAck final : Message {
  uint64_t shard = 0;
  uint64_t epoch = 0;
  uint64_t log_index = 0;  // highest contiguous index persisted
  StatusCode status = StatusCode::kOk;
  MessageType type() const override { return types::kReplicateAck; }
  const char* name() const override { return "datapath.ReplicateAck"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 8 + 1; }
};

// A new primary asks each replica for the log entries it has after `from_index`.
struct SyncRequest final : Message {
  uint64_t shard = 0;
  uint64_t epoch = 0;
  uint64_t from_index = 0;
  MessageType type() const override { return types::kSyncRequest; }
  const char* name() const override { return "datapath.SyncRequest"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 8; }
};

struct SyncReply final : Message {
  uint64_t shard = 0;
  uint64_t epoch = 0;
  std::vector<CatalogLogEntry> entries;
  // The replica's whole log (entries may stop short of it: replies are bounded); kNotLeader when the
  // replica has promised a newer epoch, kUnavailable when it cannot vouch for its log.
  StatusCode status = StatusCode::kOk;
  uint64_t last_index = 0;
  uint64_t last_epoch = 0;
  MessageType type() const override { return types::kSyncReply; }
  const char* name() const override { return "datapath.SyncReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// Repair finished: fragment `index` of `record_id` now lives on `node` (sent to the catalog primary).
struct UpdateFragment final : Message {
  FileId file_id = 0;
  RecordId record_id;
  uint32_t index = 0;
  NodeId node = kNoNode;
  uint32_t crc32c = 0;
  MessageType type() const override { return types::kUpdateFragment; }
  const char* name() const override { return "datapath.UpdateFragment"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 16 + 4 + 4 + 4; }
};

// Orphan collection: a fragment server holding fragments of `records` (each with its file; every file
// of shard `shard`) that it has not seen confirmed for a while asks the shard's catalog primary what
// became of them. Records not live in the catalog are abandoned first (replicated kAbandon entries, one
// per file), so they can never commit later.
struct FileRecord {
  FileId file = 0;
  RecordId record;
  auto operator<=>(const FileRecord&) const = default;
};
struct RecordStatus final : Message {
  static constexpr size_t kRecordsMax = 1024;
  uint64_t request_id = 0;
  uint64_t shard = 0;
  std::vector<FileRecord> records;  // 1..kRecordsMax, distinct records
  MessageType type() const override { return types::kRecordStatus; }
  const char* name() const override { return "datapath.RecordStatus"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

// kCurrent: committed and current (keep it); kSuperseded: committed, superseded by a compaction and not
// yet collected (keep it for now, ask again later); kAbandoned: tombstoned, it never commits (delete it);
// kStale: live, but its fragment map places none of its fragments on the asking node and no repair is
// moving one there (a copy left by a move whose DeleteFragments was lost: delete it).
enum class RecordFate : uint8_t { kCurrent = 1, kSuperseded = 2, kAbandoned = 3, kStale = 4 };

// kOk with one fate per asked record (in the request's order); kNotLeader with a hint (kNoNode:
// unknown); kUnavailable when the primary cannot append now; kInvalidArgument for a bad request.
struct RecordStatusReply final : Message {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  NodeId leader_hint = kNoNode;
  std::vector<std::pair<RecordId, RecordFate>> records;
  MessageType type() const override { return types::kRecordStatusReply; }
  const char* name() const override { return "datapath.RecordStatusReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override;
};

void register_datapath_messages();  // both halves
void register_fragment_messages();  // the fragment-server half (fragment_messages.cc)

}  // namespace pbfs::datapath
