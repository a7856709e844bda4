// The catalog replica (port kPortCatalog): one Catalog role per node replicates every shard whose
// group includes the node (version 1: Placement::place_catalog over all nodes, R replicas; dead members
// are later replaced, see "Reconfiguration" below). Per shard, the holder
// of the shard's Flease lease is the primary: it orders the shard's files' writes (per-file sequence
// numbers), appends each change to a gapless log, persists it (write + fsync, group commit) before
// sending it, and acknowledges once a majority of the group, itself included, has persisted it. A new
// primary (new lease epoch) first syncs from a majority — it adopts the best log among them (highest
// last epoch, then longest) and commits a barrier entry of its own epoch — and only then serves;
// everyone else redirects clients to the lease holder. Backups apply entries once the primary says they
// are committed, so every replica holds the same records in the same order. The embedded FleaseNode's
// acceptor messages travel on kPortCatalog too (every group member is its shard's acceptor).
//
// Reads (QueryRange) return the current records overlapping a range in ascending sequence and pin
// them: records superseded by a compaction are garbage-collected (a replicated kCollect entry, then
// DeleteFragments to the fragment servers) only once no pin taken before the supersession is alive;
// a new primary, which cannot know its predecessor's pins, collects nothing for a pin timeout (+2ε).
// Repair is driven by the primary: when membership reports a node gone (on_membership) or a fragment
// server reports a corrupt fragment, it asks a fragment server to rebuild the fragment (RebuildFragment)
// and then commits the new location through the log (kUpdateFragment).
//
// Orphan collection: a fragment server asks (RecordStatus) about records whose fragments it has held
// unconfirmed for a grace period. Records live in the store are current or superseded; any other id is
// abandoned through the log (kAbandon, replicated and applied like a commit) and only then reported
// abandoned, so the server may delete its fragments. Every replica keeps the tombstones of its shards
// (a hash set of record ids, never pruned) and refuses to apply a commit of a tombstoned id; since
// commits and abandons are ordered by the one log, a late commit and an abandon never both succeed.
//
// Log file: "catalog/<shard>.log", checksummed frames (catalog_log.h) always holding the real encoded
// entries, in both payload fidelities (the log is metadata: its bytes are what recovery reads back).
// Recovery reads it before the shard takes part in anything. The last log_tail_entries applied entries
// stay in memory; a replica further behind is caught up from the log file. A kUpdateFragment entry's
// record carries kUnplacedNode for every fragment it does not move, so concurrent repairs compose; an
// empty kCollect entry is a new primary's barrier.
//
// Reconfiguration: each shard's group is versioned state, (config_version, members); version 1 is the
// placement over all configured nodes (CatalogDirectory), later versions are kReconfigure log entries.
// A replica's group is the one of the LAST such entry in its log, committed or not (as in Raft: a node
// acts on a configuration as soon as it holds it). While the log holds a kReconfigure that is not yet
// applied, an entry commits only when a majority of EVERY group from the last applied one on has it
// (joint consensus: old and new), and a new primary's sync needs a majority of every such group too;
// once applied, only the new group counts. Trigger: a serving primary that has seen a member dead
// (membership) for DataPathConfig::catalog_replace_after_ns picks replacements by placement over the
// alive nodes (survivors stay), brings them up as learners (replicated from the start of the log, not
// counted), and appends the kReconfigure only once every learner has caught up to the commit index.
// One change at a time per shard. A member that applies a group without itself stops taking part
// (releases the lease, redirects clients). A node learns of a shard it never held when a primary
// replicates to it, a new primary asks it to sync, or a lease proposer asks it: it then reads the
// shard's log file back (empty: not a member yet). Lease safety across a change: see
// Catalog::lease_message_allowed (catalog.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocols/datapath/catalog_log.h"
#include "protocols/datapath/catalog_store.h"
#include "protocols/datapath/config.h"
#include "protocols/datapath/messages.h"
#include "protocols/datapath/operations.h"
#include "protocols/flease/flease_node.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::datapath {

// ---- trace rows ----

// Table "commits": one row per commit the primary applied and acknowledged. After a failover the new
// primary may write a second, identical row for a commit the old one had already reported.
struct CommitRow {
  uint64_t file;
  uint64_t sequence;
  uint64_t record_client;
  uint64_t record_seq;
  uint64_t offset;
  uint64_t length;
  uint8_t kind;         // 1 write, 2 compaction
  uint32_t superseded;  // records it replaced
  int64_t time_ns;      // trace clock
};
const TableSchema& commit_schema();

// One record's fate decided by the primary, the row shape of two tables:
// "collections": one row per record the primary garbage-collected;
// "abandons": one row per record id the primary tombstoned (its fragments are orphans: never
// committed, or collected already and left behind by a lost DeleteFragments).
struct RecordFateRow {
  uint64_t file;
  uint64_t record_client;
  uint64_t record_seq;
  int64_t time_ns;
};
using CollectionRow = RecordFateRow;
using AbandonRow = RecordFateRow;
const TableSchema& collection_schema();
const TableSchema& abandon_schema();

// "catalog/<shard>.log"
std::string catalog_log_file(uint64_t shard);
// Written and synced at a node's first boot: a later boot that does not find it is on a replaced disk,
// whose logs lack entries this node had acknowledged.
inline constexpr const char* kCatalogIdentityFile = "catalog/identity";

// Catalog-only knobs; the defaults suit both tests and large runs.
struct CatalogOptions {
  // True only for a node's very first boot in a cluster: its lease acceptor has promised nothing yet, so
  // it need not stay silent for a lease period (Flease Rule 7). Deployments pass boots == 0.
  bool first_boot = false;
  TimeNs tick_ns = 100 * kMillisecond;  // a primary's housekeeping period (re-sends, pins, GC, repair timeouts)
  TimeNs replicate_timeout_ns = 200 * kMillisecond;   // unacknowledged entries are re-sent after this
  TimeNs sync_timeout_ns = 300 * kMillisecond;        // unanswered SyncRequests are re-sent after this
  TimeNs gc_interval_ns = 500 * kMillisecond;         // how often the primary looks for collectable records
  TimeNs repair_timeout_ns = 5 * kSecond;             // an unanswered RebuildFragment is retried after this
  uint32_t repair_attempts_max = 5;
  uint32_t repairs_in_flight_max = 32;                // per shard
  uint32_t log_tail_entries = 256;  // applied entries kept in memory for lagging replicas (older: disk)
  uint32_t batch_entries_max = 64;   // entries per Replicate or SyncReply
  uint32_t window_entries_max = 512;  // entries sent to a backup but not yet acknowledged
  uint32_t uncommitted_max = 4096;   // appended but uncommitted entries; commits beyond get kUnavailable
  uint32_t queued_requests_max = 1024;  // requests held while a new primary syncs
  uint32_t pins_max = 1u << 16;         // live pins per shard; queries beyond get kUnavailable
  uint32_t collect_batch_max = 256;     // records per kCollect entry
  uint64_t read_chunk_bytes = 256 * 1024;  // recovery and catch-up reads
};

class Catalog final : public Role, private lease::LeaseListener {
 public:
  Catalog(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, CatalogOptions options = {});
  ~Catalog() override;

  // Role. start() reads every shard's log back before the shard takes part.
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  void on_disk(const DiskCompletion& done) override;

  // Membership (indexed by node id; nodes beyond the vector count as alive): the primary of each shard
  // rebuilds every fragment of its current records that lived on a node now gone.
  void on_membership(const std::vector<bool>& alive);
  // Called on a primary when it applies a group change, and when it starts serving a shard whose group
  // is past version 1 (a predecessor may have died before announcing it): the deployment publishes the
  // group in the coordination service (catalog_group_znode), where clients and fragment servers find it.
  using GroupListener = std::function<void(uint64_t shard, uint64_t version, const std::vector<NodeId>& members)>;
  void set_group_listener(GroupListener listener) { group_listener_ = std::move(listener); }

  // ---- introspection (tests, checkers, benchmarks) ----
  std::vector<uint64_t> shards() const;                 // shards this node replicates
  bool replicates(uint64_t shard) const { return find_shard(shard) != nullptr; }
  bool recovered(uint64_t shard) const;                 // the log has been read back
  bool serving(uint64_t shard) const;                   // primary, synced, lease held
  uint64_t epoch(uint64_t shard) const;                 // highest epoch this replica has seen
  uint64_t applied_index(uint64_t shard) const;
  uint64_t commit_index(uint64_t shard) const;
  uint64_t last_index(uint64_t shard) const;
  // A digest of every change applied so far, as applied (sequence numbers included): replicas at the
  // same applied_index must agree. log_digest_at() looks back over the last kDigestHistory indexes.
  uint64_t log_digest(uint64_t shard) const;
  std::optional<uint64_t> log_digest_at(uint64_t shard, uint64_t index) const;
  static constexpr size_t kDigestHistory = 128;
  size_t pins(uint64_t shard) const;
  size_t superseded_pending(uint64_t shard) const;      // superseded records not yet collected
  size_t repairs_pending(uint64_t shard) const;
  bool abandoned(uint64_t shard, const RecordId& id) const;  // tombstoned on this replica
  size_t abandoned_records(uint64_t shard) const;
  const RecordStore& store() const { return store_; }
  // The record of a commit in this replica's log past its applied index (durable in the log, not yet
  // applied: no primary has confirmed it since a restart), or null.
  const WriteRecord* unapplied_commit(uint64_t shard, const RecordId& id) const;
  lease::LeaseService& leases() { return *flease_; }
  const flease::FleaseNode& lease_node() const { return *flease_; }
  // The newest applied group of a shard (version 1: the placement over all nodes) and whether this
  // node is in the group it currently acts on (its log's last kReconfigure, applied or not).
  uint64_t config_version(uint64_t shard) const;
  std::vector<NodeId> members(uint64_t shard) const;
  bool member(uint64_t shard) const;
  bool reconfiguring(uint64_t shard) const;  // a replacement (learners or an uncommitted change) is under way
  // Memory held for records and logs (store, tails, offset indexes), for the memory goal.
  size_t memory_bytes() const;

 private:
  enum class Mode : uint8_t { kRecovering, kBackup, kSyncing, kPrimary, kBroken };
  struct RecordIdHash {
    size_t operator()(const RecordId& id) const { return id.client * 0x9e3779b97f4a7c15ull ^ id.sequence; }
  };
  struct Peer {  // a backup, as its primary sees it
    NodeId node = kNoNode;
    bool learner = false;      // being brought up to join the group: replicated to, never counted
    uint64_t next_index = 1;   // next entry to send
    uint64_t match_index = 0;  // highest entry known persisted there and matching our log
    uint64_t commit_sent = 0;
    TimeNs sent_local_ns = 0;  // last send
    TimeNs backoff_ns = 0;     // resend timeout, doubled while it stays silent (0: the base timeout)
    bool reading = false;      // a catch-up disk read for it is in flight
  };
  struct Vote {  // one group member's answer to our SyncRequest
    NodeId node = kNoNode;
    bool answered = false;
    uint64_t last_index = 0;
    uint64_t last_epoch = 0;
    TimeNs asked_local_ns = 0;
  };
  struct Waiter {
    Envelope from;
    uint64_t request_id = 0;
  };
  struct Pending {  // an appended, uncommitted commit and the clients waiting for it
    uint64_t log_index = 0;
    std::vector<Waiter> waiters;
  };
  struct Pin {
    uint64_t applied_index = 0;
    TimeNs expiry_local_ns = 0;
  };
  struct Queued {
    Envelope from;
    std::shared_ptr<const Message> message;
  };
  struct StatusWaiter {  // a RecordStatus answered once its kAbandon entry is applied
    uint64_t log_index = 0;
    Envelope from;
    uint64_t request_id = 0;
    std::vector<RecordId> records;
  };
  struct Superseded {
    RecordId id;
    uint64_t log_index = 0;  // the entry that superseded it
  };
  struct Repair {
    RecordId id;
    uint32_t index = 0;
    NodeId target = kNoNode;   // where the rebuilt fragment goes
    uint32_t attempts = 0;
    TimeNs deadline_local_ns = 0;
    uint64_t log_index = 0;    // the kUpdateFragment entry, once appended
  };

  struct GroupConfig {
    uint64_t version = 1;
    std::vector<NodeId> members;
    uint64_t log_index = 0;  // its kReconfigure entry (0: version 1)
  };
  struct Shard {
    uint64_t id = 0;
    // configs.front(): the newest applied group; later ones are in the log but not yet applied (joint
    // quorums while there is more than one). configs.back() is the group this replica acts on.
    std::vector<GroupConfig> configs;
    TimeNs lease_silent_until_local_ns = 0;  // a new member's acceptor stays silent until then
    // As primary: the replacement under way (empty: none).
    std::vector<NodeId> change_target;
    TimeNs change_started_local_ns = 0;
    uint64_t change_index = 0;  // its kReconfigure entry, once appended
    // As primary: members (or learners) that answered they are out for good (their log was lost), so
    // they are replaced at once and never picked again. Learned from their answers, not replicated.
    std::vector<NodeId> lost_members;
    Mode mode = Mode::kRecovering;
    bool out_for_good = false;  // broken without a retry: answers replication with kIoError
    std::string log_file;
    // The log: entries [tail_first, last_index] in memory (older ones on disk only).
    std::deque<CatalogLogEntry> tail;
    uint64_t tail_first = 1;
    uint64_t tail_base_epoch = 0;  // epoch of entry tail_first - 1
    uint64_t last_index = 0;
    uint64_t last_epoch = 0;
    uint64_t commit_index = 0;
    uint64_t applied_index = 0;
    uint64_t digest = 0;
    std::deque<std::pair<uint64_t, uint64_t>> digests;  // (index, digest) of recent applies
    LogOffsets offsets;
    uint32_t last_frame_crc = 0;
    // Durability of our own log.
    Bytes unwritten;  // frames not yet handed to the disk (group commit)
    uint64_t unwritten_offset = 0;
    bool dirty = false;  // listed in dirty_: flush at the end of the handler
    uint64_t persisted_index = 0;
    bool sync_in_flight = false;
    uint64_t sync_cover = 0;          // last index the sync in flight makes durable...
    uint64_t truncated_since_sync = 0;  // ...unless the log was cut below it meanwhile (0: not cut)
    // Replication state of this replica as a backup.
    uint64_t known_epoch = 0;  // highest epoch promised to a primary
    NodeId primary = kNoNode;
    uint64_t verified_index = 0;  // our log matches the current primary's up to here
    bool ack_after_sync = false;
    // As primary.
    uint64_t epoch = 0;  // our tenure
    std::vector<Peer> peers;
    std::vector<Vote> votes;
    NodeId sync_source = kNoNode;  // the replica whose better log we are still fetching...
    uint64_t sync_matched = 0;     // ...and how far ours already matches it
    std::map<NodeId, std::vector<CatalogLogEntry>> sync_entries;  // first answers' entries, by voter
    uint64_t barrier_index = 0;
    bool ready = false;  // the barrier is applied: serving
    std::unordered_map<RecordId, Pending, RecordIdHash> pending;
    std::unordered_map<FileId, uint64_t> pending_sequence;  // last sequence assigned, uncommitted
    std::unordered_set<RecordId, RecordIdHash> pending_superseded;
    std::vector<Queued> queued;
    std::map<uint64_t, Pin> pins;
    std::multiset<uint64_t> pin_indexes;
    uint32_t next_pin = 1;
    std::deque<Superseded> superseded;  // in supersession order (replicated state)
    std::unordered_set<RecordId, RecordIdHash> abandoned;  // tombstones (replicated state)
    // Records collected after a compaction replaced them, with their file and sequence (replicated
    // state): a writer's retried commit of one (its first answer was lost) gets the answer it missed
    // rather than committing the record again, which would bring old bytes back over newer ones.
    std::unordered_map<RecordId, std::pair<FileId, uint64_t>, RecordIdHash> collected;
    std::deque<StatusWaiter> status_waiters;  // primary: in log order
    TimeNs gc_after_local_ns = 0;
    TimeNs gc_next_local_ns = 0;
    uint64_t collect_index = 0;  // the kCollect entry in flight (0: none)
    std::deque<Repair> repair_queue;
    std::map<uint64_t, Repair> repairs;  // request id -> in flight
    std::set<std::pair<RecordId, uint32_t>> repairing;  // queued or in flight
    // Recovery.
    LogFrameReader reader = LogFrameReader::from_start();
    uint64_t recovery_offset = 0;
    uint64_t recovery_commit = 0;
    // Set when a broken replica starts over: the log read back must reach it, or the disk lost entries
    // this replica had persisted (and may have acknowledged), and it stays out.
    uint64_t must_recover_index = 0;
  };
  enum class DiskKind : uint8_t { kSync, kRecoveryRead, kCatchupRead };
  struct DiskOp {
    DiskKind kind = DiskKind::kSync;
    uint64_t shard = 0;
    uint64_t first = 0, last = 0;  // catch-up: entries wanted
    uint64_t read_offset = 0;
    NodeId to = kNoNode;           // catch-up: a backup (Replicate) or a new primary (SyncReply)
    bool for_sync = false;
    uint64_t epoch = 0;
  };

  // catalog.cc: requests, applying entries, pins and GC, repair.
  void handle(const Envelope& from, const Message& message);
  void on_disk_done(const DiskCompletion& done);
  void on_commit(const Envelope& from, const CommitRecord& m);
  void on_query(const Envelope& from, const QueryRange& m);
  void on_release_pin(const ReleasePin& m);
  void on_fragment_corrupt(const Envelope& from, const FragmentCorrupt& m);
  void on_update_fragment(const UpdateFragment& m);
  void on_rebuild_reply(const Envelope& from, const RebuildFragmentReply& m);
  // The shard a client request is for, if this replica may serve it now; otherwise answers (redirect,
  // or queue while syncing) and returns null.
  Shard* serving_shard(uint64_t shard, const Envelope& from, const Message& message);
  // The record's fragment map names `node`, or one of its fragments is being repaired or moved.
  bool places_fragment_on(const Shard& s, RecordStore::Slot slot, NodeId node) const;
  void refuse(const Envelope& to, const Message& request, StatusCode status, NodeId hint);
  void reply_commit(const Envelope& to, uint64_t request_id, StatusCode status, uint64_t sequence, NodeId hint);
  void on_record_status(const Envelope& from, const RecordStatus& m);
  void reply_record_status(const Shard& s, const Envelope& to, uint64_t request_id, const std::vector<RecordId>& records);
  StatusCode check_supersedes(Shard& s, const CommitRecord& m);
  void apply_committed(Shard& s);
  void apply_entry(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void apply_commit(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void apply_update(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void apply_collect(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void apply_abandon(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void refuse_abandoned_commit(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void fold_digest(Shard& s, uint64_t value);
  void expire_pins(Shard& s, TimeNs now);
  void collect_garbage(Shard& s, TimeNs now);
  void scan_for_repairs(Shard& s);
  void scan_for_rebalance(Shard& s);
  void enqueue_repair(Shard& s, const RecordId& id, uint32_t index, NodeId target);
  void pump_repairs(Shard& s);
  NodeId repair_target(const RecordStore::Slot slot, uint32_t index) const;
  void commit_fragment_move(Shard& s, const RecordId& id, uint32_t index, NodeId node, uint32_t crc32c);
  bool alive(NodeId node) const { return node >= alive_.size() || alive_[node]; }
  // Reconfiguration (catalog.cc).
  static bool contains(const std::vector<NodeId>& nodes, NodeId node) {
    return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
  }
  const std::vector<NodeId>& acting_group(const Shard& s) const { return s.configs.back().members; }
  bool in_any_group(const Shard& s, NodeId node) const;
  Shard* adopt_shard(uint64_t shard);
  bool lease_message_allowed(const Envelope& from, const Message& message);
  std::vector<NodeId> lease_group(uint64_t shard);
  void note_config(Shard& s, const CatalogLogEntry& e, bool live);
  void acting_group_changed(Shard& s, bool was_member);
  void apply_reconfigure(Shard& s, const CatalogLogEntry& e, bool as_primary);
  void refresh_peers(Shard& s);
  void maybe_replace(Shard& s, TimeNs now);
  void cancel_change(Shard& s, const char* reason);
  void maybe_append_reconfigure(Shard& s);
  bool majorities(const Shard& s, const std::vector<NodeId>& nodes) const;  // a majority of every group

  // catalog_replication.cc: the log, replication, sync, recovery.
  void begin_recovery(Shard& s);
  void read_recovery_chunk(Shard& s);
  void on_recovery_read(Shard& s, const DiskCompletion& done);
  void finish_recovery(Shard& s);
  uint64_t append(Shard& s, CatalogLogEntry entry);  // assigns index and epoch when primary; returns index
  void append_entry(Shard& s, CatalogLogEntry entry);
  void truncate(Shard& s, uint64_t keep_last);
  void request_sync(Shard& s);
  void flush_dirty();
  void on_log_synced(Shard& s, const DiskCompletion& done);
  void trim_tail(Shard& s);
  const CatalogLogEntry* entry_at(const Shard& s, uint64_t index) const;
  std::optional<uint64_t> epoch_at(const Shard& s, uint64_t index) const;
  bool accept_entries(Shard& s, const std::vector<CatalogLogEntry>& entries);
  void on_replicate(const Envelope& from, const Replicate& m);
  void send_ack(Shard& s, NodeId to, StatusCode status, uint64_t log_index);
  void on_replicate_ack(const Envelope& from, const ReplicateAck& m);
  void replicate(Shard& s);
  void send_to_peer(Shard& s, Peer& p, bool heartbeat);
  void advance_commit(Shard& s);
  void on_sync_request(const Envelope& from, const SyncRequest& m);
  void on_sync_reply(const Envelope& from, const SyncReply& m);
  void start_sync(Shard& s);
  void ask_sync(Shard& s, Vote& v, uint64_t from_index);
  void maybe_finish_sync(Shard& s);
  void become_serving_primary(Shard& s);
  void step_down(Shard& s, const char* reason);
  void observe_epoch(Shard& s, uint64_t epoch);
  void read_entries(Shard& s, uint64_t first, uint64_t last, NodeId to, bool for_sync, uint64_t epoch);
  void on_catchup_read(Shard& s, const DiskOp& op, const DiskCompletion& done);
  // The replica stops taking part in the shard (a disk error, or an inconsistency that must not be
  // papered over). After a disk error (`retry`) it starts over from its log file, as after a restart,
  // once catalog_disk_retry_ns has passed (retry_shard).
  void break_shard(Shard& s, const char* reason, bool retry = false);
  void retry_shard(uint64_t shard);
  void on_identity(const DiskCompletion& done);
  void tick();
  void ensure_tick();

  // LeaseListener
  void on_lease_acquired(const lease::LeaseView& lease) override;
  void on_lease_lost(lease::ResourceId resource, uint64_t epoch, lease::EndReason reason) override;

  Shard* find_shard(uint64_t shard);
  const Shard* find_shard(uint64_t shard) const;
  NodeId leader_hint(const Shard* s, uint64_t shard) const;
  uint64_t disk_op(DiskOp op);

  // What handling a message touches comes first, in the object's first cache lines (a catalog is cold
  // whenever a message reaches it); the store, the directory and the membership state follow.
  Runtime& runtime_;
  std::shared_ptr<const DataPathConfig> config_;
  NodeId self_;
  bool bug_gc_current_ = false;
  bool bug_diverge_replica_ = false;
  bool bug_abandon_current_ = false;
  std::unique_ptr<flease::FleaseNode> flease_;
  std::map<uint64_t, std::unique_ptr<Shard>> shards_;
  // After a restart, shards read their logs back only once the identity file has been looked for.
  bool identity_known_ = false;
  bool disk_replaced_ = false;  // it was not found: every shard stays out (catalog.disk_replaced)
  std::vector<uint64_t> dirty_;  // shards with frames to write
  std::unordered_map<uint64_t, DiskOp> disk_ops_;
  uint64_t next_disk_op_ = 1;
  uint64_t next_request_id_ = 1;
  TraceTableId commits_table_ = 0;
  TraceTableId collections_table_ = 0;
  TraceTableId abandons_table_ = 0;
  TimerId tick_timer_ = 0;
  CatalogOptions options_;
  RecordStore store_;
  CatalogDirectory directory_;
  std::unique_ptr<Runtime> flease_runtime_;  // the embedded FleaseNode's view: acceptor port -> ours
  std::vector<bool> alive_;
  std::vector<TimeNs> dead_since_local_ns_;  // by node: when membership first reported it gone (-1: alive)
  std::shared_ptr<const Placement> placement_;  // over alive nodes, rebuilt when membership changes (shared: config.placements)
  std::vector<RecordStore::Slot> scratch_slots_;
  GroupListener group_listener_;
  std::vector<std::pair<NodeId, uint64_t>> persisted_scratch_;  // advance_commit's working space
  std::vector<uint64_t> majority_scratch_;
};

// A shard's group as published in the coordination service: one persistent znode per version,
// "<kCatalogGroupsRoot>/<shard>.<version>", holding the members (u32 count, then u32 node ids). A new
// version is a new znode (never an overwrite), so a late announcement of an older version is harmless.
inline constexpr const char* kCatalogGroupsRoot = "/catalog-groups";
std::string catalog_group_znode(uint64_t shard, uint64_t version);
struct CatalogGroupName {
  uint64_t shard = 0;
  uint64_t version = 0;
};
std::optional<CatalogGroupName> parse_catalog_group_name(const std::string& child);  // "<shard>.<version>"
Bytes encode_catalog_group(const std::vector<NodeId>& members);
std::optional<std::vector<NodeId>> decode_catalog_group(const Bytes& data);  // nullopt: malformed

// Joint consensus: the highest log index that a majority of every group in `groups` has persisted,
// given (node, persisted index) pairs (nodes not listed count as 0). majority_index(): one group's
// (0 for an empty group), with `scratch` as working space.
uint64_t majority_index(const std::vector<NodeId>& group, const std::vector<std::pair<NodeId, uint64_t>>& persisted,
                        std::vector<uint64_t>& scratch);
uint64_t joint_majority_index(const std::vector<std::vector<NodeId>>& groups,
                              const std::vector<std::pair<NodeId, uint64_t>>& persisted);

}  // namespace pbfs::datapath
