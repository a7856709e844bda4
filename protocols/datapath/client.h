// The data-path client (port kPortClient): writes are immutable records (encrypt, erasure-code k+m by the
// write's own alignment, store the fragments on distinct nodes with fsync, then commit to the file's
// catalog group, which orders them); reads ask the catalog for the current records overlapping a range,
// work out which bytes of which record are visible (higher sequence wins), fetch only what those records
// need, verify, decode, decrypt and merge; a read that found a range covered by more than
// compaction_depth records writes the merged bytes back as one record that supersedes the old ones.
//
// Usage (the deployment's workload driver):
//   Client client(runtime, config);                    // one per node that issues operations
//   client.set_alive(alive_by_node_id);                // membership: fragments go to alive nodes only
//   client.write(file, offset, length, [](const OperationResult& r) { ... r.status, r.record ... });
//   client.read(file, offset, length, [](const OperationResult& r) { ... r.pieces, r.data ... });
// Callbacks run later, from the client's own handlers (never inside write()/read()), exactly once per
// operation, unless the client's node crashes first (the role and its operations are gone). A callback
// may issue new operations. Calls into the client must run in its own handler context (in the simulator:
// World::with_role), because its effects are timed from there.
//
// Content of a write is the provenance pattern of its new record id (protocols/datapath/provenance.h):
// real payloads carry those very bytes. Record ids are (client node id, counter): the counter is
// epoch << 40 | n, with the epoch persisted and bumped at every start; compaction records also set
// kCompactionSequenceBit. Deliberate bug "stale_read": where records overlap, the lower sequence wins.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "coding/pipeline.h"
#include "protocols/datapath/config.h"
#include "protocols/datapath/messages.h"
#include "protocols/datapath/operations.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::datapath {

enum class OperationKind : uint8_t { kWrite = 1, kRead = 2, kCompact = 3 };
const char* operation_kind_name(OperationKind kind);  // "write", "read", "compact"

struct OperationResult {
  uint64_t id = 0;  // the value write()/read() returned (compactions get their own)
  OperationKind kind = OperationKind::kWrite;
  StatusCode status = StatusCode::kOk;  // kUnavailable: not enough fragment servers or no catalog answer
  FileId file = 0;
  Extent extent;
  RecordId record;        // write / compact: the record written
  uint64_t sequence = 0;  // write / compact: the sequence the catalog assigned (0 if not committed)
  std::vector<ReadPiece> pieces;  // read: visible pieces in offset order, covering the extent exactly
  Bytes data;             // read with real payloads: the extent's bytes (holes are zeros)
  uint32_t depth = 0;     // read: records overlapping the extent when it was read
};
using OperationCallback = std::function<void(const OperationResult&)>;

struct ClientOptions {
  // A healthy read fetches only the windows of the data fragments that hold the visible bytes; any
  // failure (timeout, error, rot, authentication) falls back to whole fragments from any k, which the
  // servers CRC-check. Off: always whole fragments (also the behaviour with extra_fragments > 0).
  bool partial_reads = true;
  uint32_t operations_max = 1 << 16;      // operations in flight; more complete untried with kUnavailable
  uint32_t records_per_read_max = 4096;   // a read needing more records fails with kUnavailable
  uint32_t compactions_in_flight_max = 16;
  bool trace = true;                      // operations / read_pieces / compaction_sources rows
};

class Client final : public Role {
 public:
  Client(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, ClientOptions options = {});
  ~Client() override;

  // Writes bytes [offset, offset + length) of `file` (length > 0) as one new record. Completes once the
  // catalog primary has ordered and replicated it: result.sequence is its place in the file's order.
  uint64_t write(FileId file, uint64_t offset, uint64_t length, OperationCallback done);
  // Reads bytes [offset, offset + length) of `file` (length > 0).
  uint64_t read(FileId file, uint64_t offset, uint64_t length, OperationCallback done);
  // Which nodes are alive (indexed by node id; missing ids count as dead). New records are placed on
  // alive nodes only; reads try dead nodes last. Initially: the config's alive flags.
  void set_alive(std::vector<bool> alive);
  // Called when a compaction this client started finishes (ok, kConflict when it lost its race, ...).
  void set_compaction_listener(OperationCallback listener) { compaction_listener_ = std::move(listener); }

  size_t operations_in_flight() const { return in_flight_; }
  CatalogDirectory& catalog_directory() { return catalogs_; }  // where it looks shards' groups up

  // Role: start() reads and bumps the record-id epoch on disk ("client/epoch"), so record ids stay
  // unique across restarts; operations issued before that finished wait for it.
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  void on_disk(const DiskCompletion& done) override;
  bool ready() const { return ready_; }

  struct Op;
  struct RecordRead;

 private:
  // Operation slots.
  uint64_t submit(OperationKind kind, FileId file, uint64_t offset, uint64_t length, OperationCallback done);
  uint32_t allocate(OperationKind kind, FileId file, uint64_t offset, uint64_t length, OperationCallback done);
  void begin(uint32_t slot);
  Op* find(uint64_t request_id, uint32_t* slot, uint32_t* sub);
  void finish(uint32_t slot, StatusCode status);
  void fail_soon(uint32_t slot, StatusCode status);
  RecordId next_record_id(bool compaction);

  // Write path.
  void start_record_write(uint32_t slot, ByteSpan plaintext);
  bool place(Op& op);
  void send_store(uint32_t slot, Op& op, uint32_t index);
  void on_store_reply(const Envelope& from, const StoreFragmentReply& m);
  void replace_fragment(uint32_t slot, Op& op, uint32_t index);
  void start_commit(uint32_t slot, Op& op);
  void on_commit_reply(const Envelope& from, const CommitReply& m);

  // Catalog requests (commit and query): leader hints, redirects, timeouts, backoff.
  NodeId catalog_target(uint64_t shard);
  void send_catalog(uint32_t slot, Op& op);
  void on_catalog_refusal(uint32_t slot, Op& op, StatusCode status, NodeId hint);
  void catalog_retry(uint32_t slot, Op& op, bool rotate, bool backoff);

  // Read path.
  void on_query_reply(const Envelope& from, const QueryReply& m);
  void plan(uint32_t slot, Op& op, const QueryReply& m);
  void start_record_read(uint32_t slot, Op& op, uint32_t r);
  void ask_whole(uint32_t slot, Op& op, uint32_t r);
  void switch_to_whole(uint32_t slot, Op& op, uint32_t r, bool suspect);
  void on_fetch_reply(const Envelope& from, const FetchFragmentReply& m);
  void decode_record(uint32_t slot, Op& op, uint32_t r);
  void complete_read(uint32_t slot, Op& op);
  void maybe_compact(const Op& op, const OperationResult& result);

  // Timeouts, messages, CPU, trace.
  void expire(uint32_t slot, Op& op);
  void expire_record(uint32_t slot, Op& op, uint32_t r, TimeNs now);
  void arm(uint32_t slot, Op& op, TimeNs delay_ns);
  void ensure_timer(uint32_t slot, Op& op, TimeNs deadline_ns);
  void send(Op& op, NodeId to, PortId port, std::shared_ptr<const Message> m);
  void received(Op& op, const Message& m, uint8_t depth);
  void charge(const CostOp& op, uint64_t bytes);
  uint64_t request_id(uint32_t slot, uint32_t sub) const;
  bool alive(NodeId node) const { return node < alive_.size() && alive_[node]; }
  // Alive and not avoided. A node that lets a store or fetch time out is avoided for a while (new
  // writes place nothing on it, reads ask it last): membership takes a session timeout to report a
  // node gone, and each write placed on it meanwhile would wait out the request timeout. A reply
  // from it ends that.
  bool responsive(NodeId node) const;
  void note_timeout(NodeId node);
  void note_reply(NodeId node);
  // The record's placement ranking, `want` long or more: nodes being avoided are moved to its end.
  Result<std::vector<uint32_t>> rank(const RecordId& record, uint32_t want) const;
  void trace_operation(const Op& op);

  Runtime& runtime_;
  std::shared_ptr<const DataPathConfig> config_;
  ClientOptions options_;
  bool stale_read_ = false;
  CatalogDirectory catalogs_;
  std::vector<NodeId> leader_hint_;  // by shard: the last primary that answered
  std::vector<bool> alive_;
  std::vector<std::pair<NodeId, TimeNs>> avoided_;  // node, avoided until (local clock); mostly empty
  std::shared_ptr<const Placement> placement_;  // over the alive nodes (shared: config.placements)
  RecordCodec codec_;
  EncodedWrite encoded_;                // real payloads: reused across writes
  std::vector<VisiblePiece> visible_;   // scratch of plan()

  bool ready_ = false;
  uint64_t epoch_ = 0;                  // this incarnation's record-id epoch
  std::vector<uint32_t> waiting_;       // operations issued before ready
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<uint32_t> free_slots_;
  size_t in_flight_ = 0;
  uint64_t next_operation_ = 1;
  uint64_t next_record_ = 1;
  std::unordered_set<FileId> compacting_;
  OperationCallback compaction_listener_;

  TraceTableId operations_table_ = 0;
  TraceTableId read_pieces_table_ = 0;
  TraceTableId compaction_sources_table_ = 0;
};

}  // namespace pbfs::datapath
