// The catalog role (catalog.h): client requests (commit, query, pins), applying committed log entries
// to the record store, garbage collection of superseded records, abandoning orphans' records (record
// status), repair of lost or corrupt fragments, and the plumbing around the embedded Flease node. The replicated log itself is in
// catalog_replication.cc.
#include "protocols/datapath/catalog.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "protocols/flease/flease_messages.h"

namespace pbfs::datapath {
namespace {

constexpr uint64_t kTagMarker = 0xCAull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;
constexpr uint64_t kTagKindShift = 48;
constexpr uint64_t kTagValueMask = (1ull << 48) - 1;
enum TagKind : uint64_t { kTagTick = 1, kTagDisk = 2, kTagRetry = 3, kTagIdentity = 4 };

constexpr size_t kWaitersMax = 16;       // retries of one commit waiting for it to be applied
constexpr uint64_t kIdentityBytes = 8;  // the node id, u64

constexpr uint64_t make_tag(uint64_t kind, uint64_t value) { return kTagMarker | (kind << kTagKindShift) | (value & kTagValueMask); }
constexpr bool own_tag(uint64_t tag) { return (tag & kTagMarkerMask) == kTagMarker; }

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs catalog: broken invariant: %s\n", what);
    std::abort();
  }
}

uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The embedded Flease node addresses acceptors on kPortFleaseAcceptor; here every catalog replica is
// also its shards' acceptor, on the catalog's own port. Everything else passes straight through.
class AcceptorOnCatalogPort final : public Runtime {
 public:
  explicit AcceptorOnCatalogPort(Runtime& inner) : inner_(inner) {}
  NodeId node_id() const override { return inner_.node_id(); }
  TimeNs local_now_ns() const override { return inner_.local_now_ns(); }
  TimeNs trace_now_ns() const override { return inner_.trace_now_ns(); }
  void send(NodeId to, PortId port, std::shared_ptr<const Message> message) override {
    inner_.send(to, port == kPortFleaseAcceptor ? PortId{kPortCatalog} : port, std::move(message));
  }
  TimerId set_timer(TimeNs delay_ns, uint64_t tag) override { return inner_.set_timer(delay_ns, tag); }
  void cancel_timer(TimerId id) override { inner_.cancel_timer(id); }
  DiskOpId disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) override {
    return inner_.disk_write(file, offset, std::move(data), tag);
  }
  DiskOpId disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) override {
    return inner_.disk_read(file, offset, length, tag);
  }
  DiskOpId disk_sync(const std::string& file, uint64_t tag) override { return inner_.disk_sync(file, tag); }
  DiskOpId disk_remove(const std::string& file, uint64_t tag) override { return inner_.disk_remove(file, tag); }
  DiskOpId disk_chain(std::vector<DiskStep> steps, uint64_t tag) override { return inner_.disk_chain(std::move(steps), tag); }
  Rng& random() override { return inner_.random(); }
  void charge_cpu(TimeNs cost_ns) override { inner_.charge_cpu(cost_ns); }
  TraceTableId trace_table(const TableSchema& schema) override { return inner_.trace_table(schema); }
  void trace(TraceTableId table, const void* row) override { inner_.trace(table, row); }
  void count(const char* counter) override { inner_.count(counter); }

 private:
  Runtime& inner_;
};

flease::FleaseConfig lease_config(const DataPathConfig& config, const CatalogOptions& options) {
  flease::FleaseConfig c;
  c.lease_ns = config.lease_ns;
  c.epsilon_ns = config.lease_epsilon_ns;
  c.message_timeout_ns = std::min<TimeNs>(500 * kMillisecond, std::max<TimeNs>(config.lease_ns / 10, kMillisecond));
  c.renew_before_ns = std::min<TimeNs>(4 * kSecond, config.lease_ns / 2);
  c.silent_at_start = !options.first_boot;
  c.cpu_per_message_ns = 0;  // the catalog charges every message it receives once
  return c;
}

}  // namespace

std::string catalog_log_file(uint64_t shard) { return "catalog/" + std::to_string(shard) + ".log"; }

const TableSchema& commit_schema() {
  static const TableSchema schema{
      "commits",
      "one row per commit a catalog primary applied and acknowledged",
      sizeof(CommitRow),
      {PBFS_FIELD(CommitRow, file, "file id"),
       PBFS_FIELD(CommitRow, sequence, "the file's sequence number assigned to the record"),
       PBFS_FIELD(CommitRow, record_client, "record id: writing client"),
       PBFS_FIELD(CommitRow, record_seq, "record id: the client's counter"),
       PBFS_FIELD(CommitRow, offset, "first byte the record writes"),
       PBFS_FIELD(CommitRow, length, "bytes the record writes"),
       PBFS_FIELD(CommitRow, kind, "1 write, 2 compaction"),
       PBFS_FIELD(CommitRow, superseded, "records it replaced"),
       PBFS_FIELD(CommitRow, time_ns, "trace-clock time of the acknowledgement")}};
  return schema;
}

namespace {

TableSchema record_fate_schema(const char* name, const char* description, const char* time_description) {
  return TableSchema{name,
                     description,
                     sizeof(RecordFateRow),
                     {PBFS_FIELD(RecordFateRow, file, "file id"),
                      PBFS_FIELD(RecordFateRow, record_client, "record id: writing client"),
                      PBFS_FIELD(RecordFateRow, record_seq, "record id: the client's counter"),
                      PBFS_FIELD(RecordFateRow, time_ns, time_description)}};
}

}  // namespace

const TableSchema& collection_schema() {
  static const TableSchema schema = record_fate_schema(
      "collections", "one row per superseded record a catalog primary garbage-collected",
      "trace-clock time of the collection");
  return schema;
}

const TableSchema& abandon_schema() {
  static const TableSchema schema = record_fate_schema(
      "abandons", "one row per record id a catalog primary tombstoned because a fragment server held orphans of it",
      "trace-clock time the tombstone was applied");
  return schema;
}

Catalog::Catalog(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, CatalogOptions options)
    : runtime_(runtime),
      config_(std::move(config)),
      self_(runtime.node_id()),
      options_(options),
      directory_(config_) {
  require(options_.batch_entries_max > 0 && options_.log_tail_entries > 0, "catalog batch and tail sizes");
  bug_gc_current_ = config_->inject_bug == "gc_current";
  bug_diverge_replica_ = config_->inject_bug == "diverge_replica";
  bug_abandon_current_ = config_->inject_bug == "abandon_current";
  flease::FleaseConfig lease = lease_config(*config_, options_);
  lease.group_of = [this](lease::ResourceId shard) { return lease_group(shard); };
  flease_runtime_ = std::make_unique<AcceptorOnCatalogPort>(runtime_);
  flease_ = std::make_unique<flease::FleaseNode>(*flease_runtime_, std::move(lease));
  flease_->add_listener(this);
  for (uint64_t shard = 0; shard < config_->shards; ++shard) {
    const std::vector<NodeId>& group = directory_.group(shard);
    if (std::find(group.begin(), group.end(), self_) == group.end()) continue;
    auto s = std::make_unique<Shard>();
    s->id = shard;
    s->configs.push_back(GroupConfig{1, group, 0});
    s->log_file = catalog_log_file(shard);
    shards_.emplace(shard, std::move(s));
  }
  commits_table_ = runtime_.trace_table(commit_schema());
  collections_table_ = runtime_.trace_table(collection_schema());
  abandons_table_ = runtime_.trace_table(abandon_schema());
  placement_ = placement_over(*config_, nullptr);
}

Catalog::~Catalog() { flease_->remove_listener(this); }

void Catalog::start() {
  flease_->start();
  if (!options_.first_boot) {
    runtime_.disk_read(kCatalogIdentityFile, 0, kIdentityBytes, make_tag(kTagIdentity, 0));
    return;
  }
  Bytes identity;
  WireWriter(identity).u64(self_);
  runtime_.disk_chain({DiskStep::write(kCatalogIdentityFile, 0, Payload::real(std::move(identity))), DiskStep::sync(kCatalogIdentityFile)},
                      make_tag(kTagIdentity, 0));
  identity_known_ = true;
  for (auto& [id, s] : shards_) begin_recovery(*s);
}

// A boot after the first looked for the identity file. Without it the disk is not the one this node
// wrote its logs to (it failed and was replaced): what the logs held, some of it acknowledged, is gone,
// and a replica that took part again with what it finds could help elect a primary that lacks it.
void Catalog::on_identity(const DiskCompletion& done) {
  if (identity_known_) return;  // the first boot's write
  identity_known_ = true;
  disk_replaced_ = !done.status.is_ok() || done.data.size != kIdentityBytes;
  if (disk_replaced_) runtime_.count("catalog.disk_replaced");
  for (auto& [id, s] : shards_) begin_recovery(*s);
}

// Housekeeping runs only while this node leads (or is becoming the leader of) some shard: backups
// have nothing periodic to do, so a large cluster does not pay a timer per node.
void Catalog::ensure_tick() {
  if (tick_timer_ == 0) tick_timer_ = runtime_.set_timer(options_.tick_ns, make_tag(kTagTick, 0));
}

uint64_t Catalog::disk_op(DiskOp op) {
  const uint64_t id = next_disk_op_++;
  disk_ops_.emplace(id, op);
  return make_tag(kTagDisk, id);
}

void Catalog::on_timer(TimerId id, uint64_t tag) {
  if (flease::FleaseNode::owns_tag(tag)) {
    flease_->on_timer(id, tag);  // lease callbacks may append (a new primary's barrier)
    return flush_dirty();
  }
  if (own_tag(tag) && (tag >> kTagKindShift & 0xFF) == kTagRetry) {
    retry_shard(tag & kTagValueMask);
  } else if (own_tag(tag) && (tag >> kTagKindShift & 0xFF) == kTagTick && id == tick_timer_) {
    tick_timer_ = 0;
    tick();
    for (const auto& [shard, s] : shards_) {
      if (s->mode == Mode::kPrimary || s->mode == Mode::kSyncing) {
        ensure_tick();
        break;
      }
    }
  }
  flush_dirty();
}

void Catalog::on_disk(const DiskCompletion& done) {
  on_disk_done(done);
  flush_dirty();
}

void Catalog::on_disk_done(const DiskCompletion& done) {
  if (flease::FleaseNode::owns_tag(done.tag)) return flease_->on_disk(done);
  if (!own_tag(done.tag)) return;
  if ((done.tag >> kTagKindShift & 0xFF) == kTagIdentity) return on_identity(done);
  auto it = disk_ops_.find(done.tag & kTagValueMask);
  if (it == disk_ops_.end()) return;
  const DiskOp op = it->second;
  disk_ops_.erase(it);
  Shard* s = find_shard(op.shard);
  if (s == nullptr || s->mode == Mode::kBroken) return;
  switch (op.kind) {
    case DiskKind::kSync:
      return on_log_synced(*s, done);
    case DiskKind::kRecoveryRead:
      return on_recovery_read(*s, done);
    case DiskKind::kCatchupRead:
      return on_catchup_read(*s, op, done);
  }
}

void Catalog::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_->cpu_per_message_ns);
  if (flease::is_flease_message(message.type())) {
    if (lease_message_allowed(from, message)) flease_->on_message(from, message);
  } else {
    handle(from, message);
  }
  flush_dirty();
}

void Catalog::handle(const Envelope& from, const Message& message) {
  switch (message.type()) {
    case types::kCommitRecord: return on_commit(from, static_cast<const CommitRecord&>(message));
    case types::kQueryRange: return on_query(from, static_cast<const QueryRange&>(message));
    case types::kReleasePin: return on_release_pin(static_cast<const ReleasePin&>(message));
    case types::kReplicate: return on_replicate(from, static_cast<const Replicate&>(message));
    case types::kReplicateAck: return on_replicate_ack(from, static_cast<const ReplicateAck&>(message));
    case types::kSyncRequest: return on_sync_request(from, static_cast<const SyncRequest&>(message));
    case types::kSyncReply: return on_sync_reply(from, static_cast<const SyncReply&>(message));
    case types::kUpdateFragment: return on_update_fragment(static_cast<const UpdateFragment&>(message));
    case types::kFragmentCorrupt: return on_fragment_corrupt(from, static_cast<const FragmentCorrupt&>(message));
    case types::kRebuildFragmentReply: return on_rebuild_reply(from, static_cast<const RebuildFragmentReply&>(message));
    case types::kRecordStatus: return on_record_status(from, static_cast<const RecordStatus&>(message));
    default: runtime_.count("catalog.unexpected_message");
  }
}

// ---------------------------------------------------------------------------------------------------
// Client requests

Catalog::Shard* Catalog::find_shard(uint64_t shard) {
  auto it = shards_.find(shard);
  return it == shards_.end() ? nullptr : it->second.get();
}
const Catalog::Shard* Catalog::find_shard(uint64_t shard) const {
  auto it = shards_.find(shard);
  return it == shards_.end() ? nullptr : it->second.get();
}

NodeId Catalog::leader_hint(const Shard* s, uint64_t shard) const {
  if (s == nullptr) return kNoNode;
  const lease::LeaseView view = flease_->lease(shard);
  if (view.holder != kNoNode && view.holder != self_) return view.holder;
  if (s->primary != kNoNode && s->primary != self_) return s->primary;
  return kNoNode;
}

bool Catalog::serving(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  if (s == nullptr || s->mode != Mode::kPrimary || s->barrier_index == 0 || s->applied_index < s->barrier_index) {
    return false;
  }
  const lease::LeaseView view = flease_->lease(shard);
  return view.held && view.epoch == s->epoch;
}

void Catalog::reply_commit(const Envelope& to, uint64_t request_id, StatusCode status, uint64_t sequence, NodeId hint) {
  auto reply = std::make_shared<CommitReply>();
  reply->request_id = request_id;
  reply->status = status;
  reply->sequence = sequence;
  reply->leader_hint = hint;
  runtime_.send(to.from, to.from_port, std::move(reply));
}

// Answers a client request (commit, query or record status) with a refusal of the right reply type.
void Catalog::refuse(const Envelope& to, const Message& request, StatusCode status, NodeId hint) {
  auto send_refusal = [&]<typename Reply, typename Request>(const Request& r) {
    auto reply = std::make_shared<Reply>();
    reply->request_id = r.request_id;
    reply->status = status;
    reply->leader_hint = hint;
    runtime_.send(to.from, to.from_port, std::move(reply));
  };
  switch (request.type()) {
    case types::kCommitRecord:
      return reply_commit(to, static_cast<const CommitRecord&>(request).request_id, status, 0, hint);
    case types::kQueryRange:
      return send_refusal.operator()<QueryReply>(static_cast<const QueryRange&>(request));
    case types::kRecordStatus:
      return send_refusal.operator()<RecordStatusReply>(static_cast<const RecordStatus&>(request));
    default: require(false, "refusing a request of an unknown type");
  }
}

Catalog::Shard* Catalog::serving_shard(uint64_t shard, const Envelope& from, const Message& message) {
  Shard* s = find_shard(shard);
  if (s != nullptr && serving(shard)) return s;
  StatusCode status = StatusCode::kNotLeader;
  if (s != nullptr && (s->mode == Mode::kSyncing || s->mode == Mode::kPrimary)) {
    // A new primary still syncing or committing its barrier: hold the request until it serves.
    if (s->queued.size() < options_.queued_requests_max) {
      std::shared_ptr<const Message> copy;
      switch (message.type()) {
        case types::kQueryRange: copy = std::make_shared<QueryRange>(static_cast<const QueryRange&>(message)); break;
        case types::kCommitRecord: copy = std::make_shared<CommitRecord>(static_cast<const CommitRecord&>(message)); break;
        default: copy = std::make_shared<RecordStatus>(static_cast<const RecordStatus&>(message)); break;
      }
      s->queued.push_back(Queued{from, std::move(copy)});
      return nullptr;
    }
    status = StatusCode::kUnavailable;
  }
  const NodeId hint = leader_hint(s, shard);
  switch (message.type()) {
    case types::kQueryRange: runtime_.count("catalog.query_redirected"); break;
    case types::kCommitRecord: runtime_.count("catalog.commit_redirected"); break;
    default: runtime_.count("catalog.record_status_redirected"); break;
  }
  refuse(from, message, status, hint);
  return nullptr;
}

StatusCode Catalog::check_supersedes(Shard& s, const CommitRecord& m) {
  std::vector<RecordId> ids = m.supersedes;
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return StatusCode::kInvalidArgument;
  for (const RecordId& id : ids) {
    if (id == m.record.record_id) return StatusCode::kInvalidArgument;
    const RecordStore::Slot slot = store_.find(id);
    if (slot == RecordStore::kNoSlot || store_.file(slot) != m.record.file_id || !store_.current(slot) ||
        s.pending_superseded.count(id) != 0) {
      return StatusCode::kConflict;
    }
  }
  if (ids.empty()) return StatusCode::kOk;  // a plain write: never conditional
  // The compactor copied what was current when it read. A write to the same bytes committed since
  // (applied, or appended and still replicating) is newer than everything it listed: the compaction
  // would hide it behind a higher sequence (a lost update), so it loses the race instead.
  uint64_t newest_listed = 0;
  for (const RecordId& id : ids) newest_listed = std::max(newest_listed, store_.sequence(store_.find(id)));
  const Extent extent = m.record.extent;
  auto overlaps = [&](const Extent& other) { return other.offset < extent.end() && extent.offset < other.end(); };
  std::vector<RecordStore::Slot> overlapping;
  store_.query(m.record.file_id, extent, overlapping);
  for (RecordStore::Slot slot : overlapping) {
    if (store_.sequence(slot) > newest_listed && !std::binary_search(ids.begin(), ids.end(), store_.record_id(slot))) {
      return StatusCode::kConflict;
    }
  }
  for (uint64_t index = s.applied_index + 1; index <= s.last_index; ++index) {
    const CatalogLogEntry* e = entry_at(s, index);
    if (e != nullptr && e->op == CatalogOp::kCommit && e->entry.record.file_id == m.record.file_id &&
        overlaps(e->entry.record.extent)) {
      return StatusCode::kConflict;
    }
  }
  return StatusCode::kOk;
}

void Catalog::on_commit(const Envelope& from, const CommitRecord& m) {
  Shard* found = serving_shard(shard_of(*config_, m.record.file_id), from, m);
  if (found == nullptr) return;
  Shard& s = *found;
  const RecordId& id = m.record.record_id;
  if (!validate_write_record(m.record).is_ok()) return reply_commit(from, m.request_id, StatusCode::kInvalidArgument, 0, kNoNode);
  // A retry of a commit that already happened (or is on its way) gets the same answer, also once its
  // record has been replaced by a compaction and collected.
  auto answer_again = [&](const char* counter, FileId file, uint64_t sequence) {
    runtime_.count(counter);
    const bool same_file = file == m.record.file_id;
    reply_commit(from, m.request_id, same_file ? StatusCode::kOk : StatusCode::kInvalidArgument, same_file ? sequence : 0,
                 kNoNode);
  };
  const RecordStore::Slot slot = store_.find(id);
  if (slot != RecordStore::kNoSlot) return answer_again("catalog.commit_duplicate", store_.file(slot), store_.sequence(slot));
  if (auto c = s.collected.find(id); c != s.collected.end()) {
    return answer_again("catalog.commit_duplicate_collected", c->second.first, c->second.second);
  }
  // An abandoned record never commits: its fragments are being (or have been) deleted as orphans.
  if (s.abandoned.count(id) != 0) {
    runtime_.count("catalog.commit_refused_abandoned");
    return reply_commit(from, m.request_id, StatusCode::kConflict, 0, kNoNode);
  }
  if (auto it = s.pending.find(id); it != s.pending.end()) {
    if (it->second.waiters.size() >= kWaitersMax) return reply_commit(from, m.request_id, StatusCode::kUnavailable, 0, kNoNode);
    it->second.waiters.push_back(Waiter{from, m.request_id});
    return;
  }
  if (s.last_index - s.commit_index >= options_.uncommitted_max) {
    runtime_.count("catalog.commit_backlog_full");
    return reply_commit(from, m.request_id, StatusCode::kUnavailable, 0, kNoNode);
  }
  const StatusCode check = check_supersedes(s, m);
  if (check != StatusCode::kOk) {
    runtime_.count(check == StatusCode::kConflict ? "catalog.commit_conflict" : "catalog.commit_invalid");
    return reply_commit(from, m.request_id, check, 0, kNoNode);
  }
  const FileId file = m.record.file_id;
  auto pending_seq = s.pending_sequence.find(file);
  const uint64_t sequence =
      std::max(store_.last_sequence(file), pending_seq == s.pending_sequence.end() ? 0 : pending_seq->second) + 1;
  CatalogLogEntry entry;
  entry.op = CatalogOp::kCommit;
  entry.entry.sequence = sequence;
  entry.entry.record = m.record;
  entry.superseded = m.supersedes;
  const uint64_t index = append(s, std::move(entry));
  s.pending[id] = Pending{index, {Waiter{from, m.request_id}}};
  s.pending_sequence[file] = sequence;
  for (const RecordId& old : m.supersedes) s.pending_superseded.insert(old);
}

void Catalog::on_query(const Envelope& from, const QueryRange& m) {
  Shard* found = serving_shard(shard_of(*config_, m.file_id), from, m);
  if (found == nullptr) return;
  Shard& s = *found;
  auto reply = std::make_shared<QueryReply>();
  reply->request_id = m.request_id;
  store_.query(m.file_id, m.extent, scratch_slots_);
  if (!scratch_slots_.empty()) {
    if (s.pins.size() >= options_.pins_max) {
      runtime_.count("catalog.pins_full");
      reply->status = StatusCode::kUnavailable;
      runtime_.send(from.from, from.from_port, std::move(reply));
      return;
    }
    // Pin ids carry the epoch, so a ReleasePin meant for an earlier primary's pin releases nothing here.
    reply->pin = (s.epoch << 32) | s.next_pin++;
    s.pins.emplace(reply->pin, Pin{s.applied_index, runtime_.local_now_ns() + config_->pin_timeout_ns});
    s.pin_indexes.insert(s.applied_index);
  }
  reply->entries.reserve(scratch_slots_.size());
  for (RecordStore::Slot slot : scratch_slots_) reply->entries.push_back(CatalogEntry{store_.sequence(slot), store_.write_record(slot)});
  runtime_.send(from.from, from.from_port, std::move(reply));
}

void Catalog::on_release_pin(const ReleasePin& m) {
  Shard* s = find_shard(shard_of(*config_, m.file_id));
  if (s == nullptr || s->mode != Mode::kPrimary) return;
  auto it = s->pins.find(m.pin);
  if (it == s->pins.end()) return;
  s->pin_indexes.erase(s->pin_indexes.find(it->second.applied_index));
  s->pins.erase(it);
}

// ---------------------------------------------------------------------------------------------------
// Applying committed entries (every replica, in log order)

void Catalog::fold_digest(Shard& s, uint64_t value) { s.digest = mix(s.digest ^ mix(value)); }

void Catalog::apply_committed(Shard& s) {
  const bool as_primary = s.mode == Mode::kPrimary;
  while (s.applied_index < s.commit_index && s.applied_index < s.last_index) {
    const CatalogLogEntry* e = entry_at(s, s.applied_index + 1);
    require(e != nullptr, "unapplied entries stay in memory");
    fold_digest(s, e->log_index);
    fold_digest(s, static_cast<uint64_t>(e->op));
    apply_entry(s, *e, as_primary);
    ++s.applied_index;
    s.digests.emplace_back(s.applied_index, s.digest);
    if (s.digests.size() > kDigestHistory) s.digests.pop_front();
  }
  trim_tail(s);
  if (as_primary && !s.ready && s.barrier_index != 0 && s.applied_index >= s.barrier_index) {
    become_serving_primary(s);
  }
}

void Catalog::apply_entry(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  switch (e.op) {
    case CatalogOp::kCommit: return apply_commit(s, e, as_primary);
    case CatalogOp::kUpdateFragment: return apply_update(s, e, as_primary);
    case CatalogOp::kCollect: return apply_collect(s, e, as_primary);
    case CatalogOp::kAbandon: return apply_abandon(s, e, as_primary);
    case CatalogOp::kReconfigure: return apply_reconfigure(s, e, as_primary);
  }
}

void Catalog::apply_commit(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  const WriteRecord& record = e.entry.record;
  uint64_t sequence = e.entry.sequence;
  if (bug_diverge_replica_ && !as_primary) ++sequence;  // deliberate bug: a backup mis-orders the file
  fold_digest(s, record.record_id.client);
  fold_digest(s, record.record_id.sequence);
  fold_digest(s, sequence);
  if (s.abandoned.count(record.record_id) != 0) return refuse_abandoned_commit(s, e, as_primary);
  if (store_.find(record.record_id) != RecordStore::kNoSlot || s.collected.count(record.record_id) != 0) {
    runtime_.count("catalog.apply_duplicate_record");  // only a corrupt log could get here
    return;
  }
  store_.add(record, sequence);
  uint32_t replaced = 0;
  for (const RecordId& old : e.superseded) {
    fold_digest(s, old.client);
    fold_digest(s, old.sequence);
    const RecordStore::Slot slot = store_.find(old);
    if (slot == RecordStore::kNoSlot || !store_.current(slot)) continue;
    store_.supersede(slot);
    s.superseded.push_back(Superseded{old, e.log_index});
    ++replaced;
  }
  if (!as_primary) return;
  CommitRow row{};
  row.file = record.file_id;
  row.sequence = sequence;
  row.record_client = record.record_id.client;
  row.record_seq = record.record_id.sequence;
  row.offset = record.extent.offset;
  row.length = record.extent.length;
  row.kind = e.superseded.empty() ? 1 : 2;
  row.superseded = replaced;
  row.time_ns = runtime_.trace_now_ns();
  runtime_.trace(commits_table_, &row);
  auto it = s.pending.find(record.record_id);
  if (it != s.pending.end()) {
    for (const Waiter& w : it->second.waiters) reply_commit(w.from, w.request_id, StatusCode::kOk, sequence, kNoNode);
    s.pending.erase(it);
  }
  auto seq = s.pending_sequence.find(record.file_id);
  if (seq != s.pending_sequence.end() && seq->second <= sequence) s.pending_sequence.erase(seq);
  for (const RecordId& old : e.superseded) s.pending_superseded.erase(old);
}

void Catalog::apply_update(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  const WriteRecord& moved = e.entry.record;
  fold_digest(s, moved.record_id.client);
  fold_digest(s, moved.record_id.sequence);
  const RecordStore::Slot slot = store_.find(moved.record_id);
  for (uint32_t i = 0; i < moved.fragments.size(); ++i) {
    const FragmentEntry& f = moved.fragments[i];
    if (f.node == kUnplacedNode) continue;  // not moved by this entry
    fold_digest(s, (uint64_t{i} << 32) | f.node);
    if (slot == RecordStore::kNoSlot || i >= store_.fragment_count(slot)) continue;
    const NodeId old_node = store_.fragment_node(slot, i);
    store_.set_fragment(slot, i, f.node, f.crc32c);
    if (as_primary && e.epoch == s.epoch && old_node != f.node && old_node != kUnplacedNode && alive(old_node)) {
      // A move (rebalance) leaves a copy behind on a live node: delete it now that the map is durable.
      // Only the tenure that made the move does: a new primary also applies entries its predecessors
      // applied (and acted on) already, and a fragment moved away and later back would then lose its
      // current copy. A copy left behind by a predecessor that crashed first is an orphan question's job.
      auto del = std::make_shared<DeleteFragments>();
      del->file_id = moved.file_id;
      del->fragments.emplace_back(moved.record_id, i);
      runtime_.send(old_node, kPortFragmentServer, std::move(del));
    }
    if (as_primary) {
      runtime_.count("catalog.repair_committed");
      s.repairing.erase({moved.record_id, i});
    }
  }
}

void Catalog::apply_collect(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  std::map<std::pair<NodeId, FileId>, std::vector<std::pair<RecordId, uint32_t>>> deletes;
  for (const RecordId& id : e.superseded) {
    fold_digest(s, id.client);
    fold_digest(s, id.sequence);
    const RecordStore::Slot slot = store_.find(id);
    if (slot == RecordStore::kNoSlot) continue;
    const FileId file = store_.file(slot);
    if (as_primary) {
      CollectionRow row{file, id.client, id.sequence, runtime_.trace_now_ns()};
      runtime_.trace(collections_table_, &row);
      for (uint32_t i = 0; i < store_.fragment_count(slot); ++i) {
        const NodeId node = store_.fragment_node(slot, i);
        if (node != kUnplacedNode) deletes[{node, file}].emplace_back(id, i);
      }
    }
    s.collected.emplace(id, std::pair<FileId, uint64_t>{file, store_.sequence(slot)});
    store_.erase(slot);
  }
  // The queue of superseded records is consumed from the front as its records go.
  while (!s.superseded.empty() && store_.find(s.superseded.front().id) == RecordStore::kNoSlot) s.superseded.pop_front();
  if (!as_primary) return;
  if (e.log_index == s.collect_index) s.collect_index = 0;
  for (auto& [where, fragments] : deletes) {
    auto m = std::make_shared<DeleteFragments>();
    m->file_id = where.second;
    m->fragments = std::move(fragments);
    runtime_.send(where.first, kPortFragmentServer, std::move(m));
  }
}

// A commit appended while an abandon of the same record id was already ahead of it in the log: the
// abandon won, so every replica skips the commit and the primary refuses it.
void Catalog::refuse_abandoned_commit(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  fold_digest(s, 0xab);  // the refusal is part of what was applied
  if (!as_primary) return;
  const WriteRecord& record = e.entry.record;
  runtime_.count("catalog.commit_refused_abandoned");
  auto it = s.pending.find(record.record_id);
  if (it != s.pending.end()) {
    for (const Waiter& w : it->second.waiters) reply_commit(w.from, w.request_id, StatusCode::kConflict, 0, kNoNode);
    s.pending.erase(it);
  }
  auto seq = s.pending_sequence.find(record.file_id);
  if (seq != s.pending_sequence.end() && seq->second <= e.entry.sequence) s.pending_sequence.erase(seq);
  for (const RecordId& old : e.superseded) s.pending_superseded.erase(old);
}

void Catalog::apply_abandon(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  fold_digest(s, e.file_id);
  for (const RecordId& id : e.superseded) {
    fold_digest(s, id.client);
    fold_digest(s, id.sequence);
    // A commit of the same id earlier in the log won: the record is live and stays. (The deliberate
    // bug "abandon_current" tombstones it anyway.)
    if (store_.find(id) != RecordStore::kNoSlot && !bug_abandon_current_) continue;
    if (!s.abandoned.insert(id).second) continue;
    fold_digest(s, 1);
    if (!as_primary) continue;
    runtime_.count("catalog.record_abandoned");
    AbandonRow row{e.file_id, id.client, id.sequence, runtime_.trace_now_ns()};
    runtime_.trace(abandons_table_, &row);
  }
  if (!as_primary) return;
  while (!s.status_waiters.empty() && s.status_waiters.front().log_index <= e.log_index) {
    const StatusWaiter w = std::move(s.status_waiters.front());
    s.status_waiters.pop_front();
    reply_record_status(s, w.from, w.request_id, w.records);
  }
}

bool Catalog::places_fragment_on(const Shard& s, RecordStore::Slot slot, NodeId node) const {
  for (uint32_t i = 0; i < store_.fragment_count(slot); ++i) {
    if (store_.fragment_node(slot, i) == node) return true;
  }
  // A fragment of it being rebuilt or moved (queued, in flight, or its new place not yet applied) may be
  // landing on `node`: not stale until that settles.
  const RecordId id = store_.record_id(slot);
  auto repairing = s.repairing.lower_bound({id, 0});
  return repairing != s.repairing.end() && repairing->first == id;
}

void Catalog::reply_record_status(const Shard& s, const Envelope& to, uint64_t request_id, const std::vector<RecordId>& records) {
  auto reply = std::make_shared<RecordStatusReply>();
  reply->request_id = request_id;
  reply->records.reserve(records.size());
  for (const RecordId& id : records) {
    const RecordStore::Slot slot = store_.find(id);
    RecordFate fate = RecordFate::kAbandoned;
    if (s.abandoned.count(id) == 0) {
      // Live, or collected while the abandon of the others replicated: either way the server keeps the
      // fragment for now, and a collected record is abandoned when it asks again.
      fate = slot != RecordStore::kNoSlot && store_.current(slot) ? RecordFate::kCurrent : RecordFate::kSuperseded;
      if (slot != RecordStore::kNoSlot && !places_fragment_on(s, slot, to.from)) fate = RecordFate::kStale;
    }
    reply->records.emplace_back(id, fate);
  }
  runtime_.send(to.from, to.from_port, std::move(reply));
}

void Catalog::on_record_status(const Envelope& from, const RecordStatus& m) {
  // Every record named must be of a file of the shard, and named once.
  std::vector<RecordId> ids;
  ids.reserve(m.records.size());
  bool valid = !m.records.empty() && m.shard < config_->shards;
  for (const FileRecord& r : m.records) {
    valid = valid && shard_of(*config_, r.file) == m.shard;
    ids.push_back(r.record);
  }
  std::vector<RecordId> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  if (!valid || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return refuse(from, m, StatusCode::kInvalidArgument, kNoNode);
  }
  Shard* found = serving_shard(m.shard, from, m);
  if (found == nullptr) return;
  Shard& s = *found;
  runtime_.count("catalog.record_status_asked");
  // Live records are answered from the store; any other id is abandoned first. An id whose commit is
  // still replicating is abandoned too: the log orders the two, and apply_abandon skips it if the
  // commit came first.
  std::vector<FileRecord> abandon;  // by file, then record: one kAbandon entry per file
  for (const FileRecord& r : m.records) {
    const bool live = store_.find(r.record) != RecordStore::kNoSlot && !bug_abandon_current_;
    if (!live && s.abandoned.count(r.record) == 0) abandon.push_back(r);
  }
  if (abandon.empty()) return reply_record_status(s, from, m.request_id, ids);
  if (s.last_index - s.commit_index >= options_.uncommitted_max || s.status_waiters.size() >= options_.queued_requests_max) {
    runtime_.count("catalog.record_status_backlog_full");
    return refuse(from, m, StatusCode::kUnavailable, kNoNode);
  }
  std::sort(abandon.begin(), abandon.end());
  uint64_t last = 0;
  for (size_t at = 0; at < abandon.size();) {
    CatalogLogEntry entry;
    entry.op = CatalogOp::kAbandon;
    entry.file_id = abandon[at].file;
    for (; at < abandon.size() && abandon[at].file == entry.file_id; ++at) entry.superseded.push_back(abandon[at].record);
    last = append(s, std::move(entry));
  }
  s.status_waiters.push_back(StatusWaiter{last, from, m.request_id, std::move(ids)});
}

// ---------------------------------------------------------------------------------------------------
// Serving, pins and garbage collection

void Catalog::become_serving_primary(Shard& s) {
  runtime_.count("catalog.primary_serving");
  s.ready = true;
  if (s.configs.front().version > 1 && group_listener_) {
    group_listener_(s.id, s.configs.front().version, s.configs.front().members);
  }
  const TimeNs now = runtime_.local_now_ns();
  // Pins handed out by earlier primaries are unknown here: collect nothing until they have surely lapsed.
  s.gc_after_local_ns = now + config_->pin_timeout_ns + 2 * config_->lease_epsilon_ns;
  s.gc_next_local_ns = s.gc_after_local_ns;
  std::vector<Queued> queued = std::move(s.queued);
  s.queued.clear();
  for (const Queued& q : queued) handle(q.from, *q.message);
  for (NodeId node = 0; node < alive_.size(); ++node) {
    if (!alive_[node]) {
      scan_for_repairs(s);
      pump_repairs(s);
      break;
    }
  }
}

void Catalog::expire_pins(Shard& s, TimeNs now) {
  // Pins expire in creation order (one timeout, one primary tenure), which is id order.
  while (!s.pins.empty() && s.pins.begin()->second.expiry_local_ns <= now) {
    runtime_.count("catalog.pin_expired");
    s.pin_indexes.erase(s.pin_indexes.find(s.pins.begin()->second.applied_index));
    s.pins.erase(s.pins.begin());
  }
}

void Catalog::collect_garbage(Shard& s, TimeNs now) {
  if (now < s.gc_after_local_ns || s.collect_index != 0) return;
  // A record superseded by entry i is invisible to every query answered after applying i; pins taken
  // before (applied index < i) may still read it.
  const uint64_t oldest_pin = s.pin_indexes.empty() ? ~uint64_t{0} : *s.pin_indexes.begin();
  std::vector<RecordId> ids;
  for (const Superseded& item : s.superseded) {
    if (ids.size() >= options_.collect_batch_max || item.log_index > oldest_pin) break;
    const RecordStore::Slot slot = store_.find(item.id);
    if (slot != RecordStore::kNoSlot && !store_.current(slot)) ids.push_back(item.id);
  }
  if (!ids.empty() && oldest_pin != ~uint64_t{0}) runtime_.count("catalog.gc_limited_by_pins");
  if (bug_gc_current_) {
    // Deliberate bug: also collect the oldest current record of a file that has two or more.
    bool picked = false;
    std::vector<RecordStore::Slot> current;
    store_.for_each_file([&](FileId file) {
      if (picked || shard_of(*config_, file) != s.id) return;
      store_.current_records(file, current);
      if (current.size() < 2) return;
      const auto oldest = std::min_element(current.begin(), current.end(), [&](RecordStore::Slot a, RecordStore::Slot b) {
        return store_.sequence(a) < store_.sequence(b);
      });
      if (s.pending_superseded.count(store_.record_id(*oldest)) != 0) return;
      ids.push_back(store_.record_id(*oldest));
      picked = true;
    });
  }
  if (ids.empty()) return;
  CatalogLogEntry entry;
  entry.op = CatalogOp::kCollect;
  entry.superseded = std::move(ids);
  s.collect_index = append(s, std::move(entry));
}

// ---------------------------------------------------------------------------------------------------
// Repair

void Catalog::on_membership(const std::vector<bool>& alive) {
  bool joined = false;
  for (NodeId n = 0; n < alive.size(); ++n) joined = joined || (alive[n] && !this->alive(n));
  alive_ = alive;
  const TimeNs now = runtime_.local_now_ns();
  if (dead_since_local_ns_.size() < alive_.size()) dead_since_local_ns_.resize(alive_.size(), -1);
  for (NodeId n = 0; n < dead_since_local_ns_.size(); ++n) {
    if (this->alive(n)) {
      dead_since_local_ns_[n] = -1;
    } else if (dead_since_local_ns_[n] < 0) {
      dead_since_local_ns_[n] = now;
    }
  }
  if (auto placement = placement_over(*config_, [this](NodeId n) { return this->alive(n); })) placement_ = std::move(placement);
  for (auto& [id, s] : shards_) {
    if (!serving(id)) continue;
    scan_for_repairs(*s);
    if (joined) scan_for_rebalance(*s);
    pump_repairs(*s);
  }
  flush_dirty();
}

void Catalog::scan_for_rebalance(Shard& s) {
  // A join changes where records belong: the fragments whose place moved (and only those, thanks to
  // stable_reassign) are rebuilt on their new node; the old copy is deleted once the move commits.
  if (!placement_) return;
  std::vector<RecordStore::Slot> slots;
  store_.for_each_file([&](FileId file) {
    if (shard_of(*config_, file) != s.id) return;
    store_.current_records(file, slots);
    for (RecordStore::Slot slot : slots) {
      const uint32_t count = store_.fragment_count(slot);
      Result<std::vector<uint32_t>> target = placement_->place_record(store_.record_id(slot), count);
      if (!target.is_ok()) continue;
      std::vector<uint32_t> current(count);
      for (uint32_t i = 0; i < count; ++i) current[i] = store_.fragment_node(slot, i);
      const std::vector<uint32_t> moved = stable_reassign(current, *target);
      for (uint32_t i = 0; i < count && i < moved.size(); ++i) {
        if (moved[i] == current[i] || current[i] == kUnplacedNode || !alive(current[i])) continue;
        runtime_.count("catalog.rebalance_queued");
        enqueue_repair(s, store_.record_id(slot), i, moved[i]);
      }
    }
  });
}

void Catalog::scan_for_repairs(Shard& s) {
  std::vector<RecordStore::Slot> slots;
  store_.for_each_file([&](FileId file) {
    if (shard_of(*config_, file) != s.id) return;
    store_.current_records(file, slots);
    for (RecordStore::Slot slot : slots) {
      for (uint32_t i = 0; i < store_.fragment_count(slot); ++i) {
        const NodeId node = store_.fragment_node(slot, i);
        if (node != kUnplacedNode && !alive(node)) enqueue_repair(s, store_.record_id(slot), i, kNoNode);
      }
    }
  });
}

void Catalog::enqueue_repair(Shard& s, const RecordId& id, uint32_t index, NodeId target) {
  if (!s.repairing.insert({id, index}).second) return;
  Repair r;
  r.id = id;
  r.index = index;
  r.target = target;
  s.repair_queue.push_back(r);
  runtime_.count("catalog.repair_queued");
}

NodeId Catalog::repair_target(const RecordStore::Slot slot, uint32_t index) const {
  if (!placement_) return kNoNode;
  const uint32_t count = store_.fragment_count(slot);
  Result<std::vector<uint32_t>> target = placement_->place_record(store_.record_id(slot), count);
  if (!target.is_ok()) return kNoNode;
  std::vector<uint32_t> current(count);
  for (uint32_t i = 0; i < count; ++i) current[i] = store_.fragment_node(slot, i);
  const std::vector<uint32_t> moved = stable_reassign(current, *target);
  return index < moved.size() ? moved[index] : kNoNode;
}

void Catalog::pump_repairs(Shard& s) {
  const TimeNs now = runtime_.local_now_ns();
  while (s.repairs.size() < options_.repairs_in_flight_max && !s.repair_queue.empty()) {
    Repair r = s.repair_queue.front();
    s.repair_queue.pop_front();
    const RecordStore::Slot slot = store_.find(r.id);
    if (slot == RecordStore::kNoSlot || r.index >= store_.fragment_count(slot)) {
      s.repairing.erase({r.id, r.index});
      continue;
    }
    if (r.target == kNoNode) r.target = repair_target(slot, r.index);
    if (r.target == kNoNode || !alive(r.target)) {
      runtime_.count("catalog.repair_no_target");
      s.repairing.erase({r.id, r.index});
      continue;
    }
    auto m = std::make_shared<RebuildFragment>();
    m->request_id = next_request_id_++;
    m->record = store_.write_record(slot);
    m->index = r.index;
    ++r.attempts;
    r.deadline_local_ns = now + options_.repair_timeout_ns;
    s.repairs.emplace(m->request_id, r);
    runtime_.send(r.target, kPortFragmentServer, std::move(m));
  }
}

void Catalog::on_rebuild_reply(const Envelope& from, const RebuildFragmentReply& m) {
  for (auto& [id, owned] : shards_) {
    Shard& s = *owned;
    auto it = s.repairs.find(m.request_id);
    if (it == s.repairs.end()) continue;
    Repair r = it->second;
    s.repairs.erase(it);
    if (m.status == StatusCode::kOk && from.from == r.target && serving(s.id)) {
      const RecordStore::Slot slot = store_.find(r.id);
      if (slot == RecordStore::kNoSlot) {
        s.repairing.erase({r.id, r.index});
      } else {
        commit_fragment_move(s, r.id, r.index, r.target, store_.fragment_crc(slot, r.index));
      }
    } else if (r.attempts < options_.repair_attempts_max) {
      // Refused (a busy or restarting target) or failed: back off before asking again, so a burst of
      // moves onto a newly joined node does not burn its attempts at once. The tick re-queues it.
      runtime_.count("catalog.repair_retry");
      r.deadline_local_ns = runtime_.local_now_ns() + options_.tick_ns * 4 * r.attempts;
      s.repairs.emplace(m.request_id, r);
    } else {
      runtime_.count("catalog.repair_gave_up");
      s.repairing.erase({r.id, r.index});
    }
    pump_repairs(s);
    return;
  }
  runtime_.count("catalog.rebuild_reply_unknown");
}

void Catalog::commit_fragment_move(Shard& s, const RecordId& id, uint32_t index, NodeId node, uint32_t crc32c) {
  const RecordStore::Slot slot = store_.find(id);
  if (slot == RecordStore::kNoSlot || index >= store_.fragment_count(slot)) return;
  CatalogLogEntry entry;
  entry.op = CatalogOp::kUpdateFragment;
  entry.entry.sequence = store_.sequence(slot);
  entry.entry.record = store_.write_record(slot);
  for (FragmentEntry& f : entry.entry.record.fragments) f = FragmentEntry{};  // kUnplacedNode: unchanged
  entry.entry.record.fragments[index] = FragmentEntry{node, crc32c};
  append(s, std::move(entry));
}

void Catalog::on_fragment_corrupt(const Envelope& from, const FragmentCorrupt& m) {
  const uint64_t shard = shard_of(*config_, m.file_id);
  Shard* s = find_shard(shard);
  if (s == nullptr) return;
  if (!serving(shard)) {
    // Pass it on to the primary, once: never forward what another replica forwarded.
    const NodeId hint = leader_hint(s, shard);
    const bool from_replica = in_any_group(*s, from.from);
    if (hint != kNoNode && !from_replica) runtime_.send(hint, kPortCatalog, std::make_shared<FragmentCorrupt>(m));
    return;
  }
  const RecordStore::Slot slot = store_.find(m.record_id);
  if (slot == RecordStore::kNoSlot || m.index >= store_.fragment_count(slot)) return;
  runtime_.count("catalog.fragment_corrupt_reported");
  const NodeId holder = store_.fragment_node(slot, m.index);
  enqueue_repair(*s, m.record_id, m.index, holder != kUnplacedNode && alive(holder) ? holder : kNoNode);
  pump_repairs(*s);
}

void Catalog::on_update_fragment(const UpdateFragment& m) {
  const uint64_t shard = shard_of(*config_, m.file_id);
  Shard* s = find_shard(shard);
  if (s == nullptr || !serving(shard)) return;
  commit_fragment_move(*s, m.record_id, m.index, m.node, m.crc32c);
}

// ---------------------------------------------------------------------------------------------------
// Reconfiguration: replacing dead group members (catalog.h)

uint64_t majority_index(const std::vector<NodeId>& group, const std::vector<std::pair<NodeId, uint64_t>>& persisted,
                        std::vector<uint64_t>& scratch) {
  if (group.empty()) return 0;
  scratch.clear();
  for (NodeId node : group) {
    uint64_t index = 0;
    for (const auto& [n, i] : persisted) {
      if (n == node) index = std::max(index, i);
    }
    scratch.push_back(index);
  }
  std::sort(scratch.begin(), scratch.end(), std::greater<>());
  return scratch[scratch.size() / 2];  // the majority-th highest
}

uint64_t joint_majority_index(const std::vector<std::vector<NodeId>>& groups,
                              const std::vector<std::pair<NodeId, uint64_t>>& persisted) {
  if (groups.empty()) return 0;
  std::vector<uint64_t> scratch;
  uint64_t result = ~uint64_t{0};
  for (const std::vector<NodeId>& group : groups) result = std::min(result, majority_index(group, persisted, scratch));
  return result;
}

std::string catalog_group_znode(uint64_t shard, uint64_t version) {
  return std::string(kCatalogGroupsRoot) + "/" + std::to_string(shard) + "." + std::to_string(version);
}

std::optional<CatalogGroupName> parse_catalog_group_name(const std::string& child) {
  const size_t dot = child.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == child.size() || child.size() > 41) return std::nullopt;
  CatalogGroupName name;
  for (size_t i = 0; i < child.size(); ++i) {
    if (i == dot) continue;
    if (child[i] < '0' || child[i] > '9') return std::nullopt;
    uint64_t& field = i < dot ? name.shard : name.version;
    if (field > (~uint64_t{0} - 9) / 10) return std::nullopt;  // would overflow
    field = field * 10 + static_cast<uint64_t>(child[i] - '0');
  }
  if (name.version < 2) return std::nullopt;  // version 1 is the placement, never published
  return name;
}

Bytes encode_catalog_group(const std::vector<NodeId>& members) {
  Bytes out;
  WireWriter w(out);
  w.u32(static_cast<uint32_t>(members.size()));
  for (NodeId n : members) w.u32(n);
  return out;
}

std::optional<std::vector<NodeId>> decode_catalog_group(const Bytes& data) {
  WireReader r(data);
  uint32_t count = 0;
  if (!r.u32(count) || count == 0 || count > kCatalogMembersMax || r.remaining() != 4ull * count) return std::nullopt;
  std::vector<NodeId> members;
  for (uint32_t i = 0; i < count; ++i) {
    NodeId n = 0;
    if (!r.u32(n) || std::find(members.begin(), members.end(), n) != members.end()) return std::nullopt;
    members.push_back(n);
  }
  return members;
}

bool Catalog::majorities(const Shard& s, const std::vector<NodeId>& nodes) const {
  for (const GroupConfig& c : s.configs) {
    size_t in = 0;
    for (NodeId n : c.members) in += contains(nodes, n) ? 1 : 0;
    if (in < c.members.size() / 2 + 1) return false;
  }
  return true;
}

bool Catalog::in_any_group(const Shard& s, NodeId node) const {
  for (const GroupConfig& c : s.configs) {
    if (contains(c.members, node)) return true;
  }
  return false;
}

std::vector<NodeId> Catalog::lease_group(uint64_t shard) {
  if (const Shard* s = find_shard(shard)) return acting_group(*s);
  return directory_.group(shard);
}

// A shard this node never held (or held before a restart that did not know it): its log file says
// whether we are in its group; an empty one means "not yet" (a learner about to be caught up).
Catalog::Shard* Catalog::adopt_shard(uint64_t shard) {
  if (shard >= config_->shards) return nullptr;
  if (Shard* s = find_shard(shard)) return s;
  runtime_.count("catalog.shard_adopted");
  auto owned = std::make_unique<Shard>();
  Shard* s = owned.get();
  s->id = shard;
  s->configs.push_back(GroupConfig{1, directory_.group(shard), 0});
  s->log_file = catalog_log_file(shard);
  shards_.emplace(shard, std::move(owned));
  begin_recovery(*s);
  return s;
}

void Catalog::break_shard(Shard& s, const char* reason, bool retry) {
  runtime_.count(reason);
  if (s.mode == Mode::kPrimary || s.mode == Mode::kSyncing) step_down(s, "catalog.step_down_broken");
  s.mode = Mode::kBroken;
  s.out_for_good = !retry;
  flease_->release(s.id);
  if (retry) runtime_.set_timer(config_->catalog_disk_retry_ns, make_tag(kTagRetry, s.id));
}

// A replica broken by a disk error starts over as after a restart: its state and its files' records are
// dropped (disk operations still in flight find no shard of theirs) and rebuilt from the log file. Entries it had
// persisted may have counted toward commits, so if the file no longer holds them all (the disk was
// replaced, or lost data) it must not take part again: finish_recovery breaks it for good.
void Catalog::retry_shard(uint64_t shard) {
  Shard* s = find_shard(shard);
  if (s == nullptr || s->mode != Mode::kBroken) return;
  const uint64_t must_reach = std::max(s->must_recover_index, s->persisted_index);
  std::erase_if(disk_ops_, [shard](const auto& op) { return op.second.shard == shard; });
  shards_.erase(shard);
  store_.erase_files([&](FileId file) { return shard_of(*config_, file) == shard; });
  runtime_.count("catalog.shard_retried");
  Shard* fresh = adopt_shard(shard);
  if (fresh != nullptr) fresh->must_recover_index = must_reach;
}

// Lease safety across a group change. Flease is safe while any two quorums that can grant leases of
// a shard intersect. Proposers ask the group they act on (lease_group), so around a change some ask
// the old group and some the new one; a majority of an old group {A,B,C} and one of the new group
// {A,B,D} can be disjoint only if one holds the removed C and the other the added D. Hence:
//  1. An acceptor answers for a shard only while its acting group holds both itself and the proposer:
//     a removed member that comes back is refused by every node that holds the change.
//  2. An added member stays silent for lease + 2ε + message timeout after it first acts on a group
//     holding it (the bound of Flease's restart silence, Rule 7). Until then every quorum of the new
//     group is made of survivors, which intersects every quorum of the old group; after it, every lease
//     granted before it joined (possibly by a quorum that needed C) has expired on every clock.
// What remains assumed: a removed member is gone (membership had it dead for replace_after); if it
// returns while the survivors still act on the old group, the old group's rules hold for it as before.
bool Catalog::lease_message_allowed(const Envelope& from, const Message& message) {
  lease::ResourceId resource = 0;
  if (message.type() == flease::Prepare::kType) {
    resource = static_cast<const flease::Prepare&>(message).resource;
  } else if (message.type() == flease::Accept::kType) {
    resource = static_cast<const flease::Accept&>(message).resource;
  } else {
    return true;  // replies reach our own proposer
  }
  Shard* s = find_shard(resource);
  if (s == nullptr) {
    adopt_shard(resource);  // a proposer counts on us: our log says whether it may
    runtime_.count("catalog.lease_refused_unknown_shard");
    return false;
  }
  const std::vector<NodeId>& group = acting_group(*s);
  if (!contains(group, self_) || !contains(group, from.from)) {
    runtime_.count("catalog.lease_refused_not_member");
    return false;
  }
  if (runtime_.local_now_ns() < s->lease_silent_until_local_ns) {
    runtime_.count("catalog.lease_silent_new_member");
    return false;
  }
  return true;
}

void Catalog::note_config(Shard& s, const CatalogLogEntry& e, bool live) {
  if (e.op != CatalogOp::kReconfigure) return;
  const bool was_member = contains(acting_group(s), self_);
  s.configs.push_back(GroupConfig{e.config_version, e.members, e.log_index});
  if (live) acting_group_changed(s, was_member);
}

void Catalog::acting_group_changed(Shard& s, bool was_member) {
  const bool is_member = contains(acting_group(s), self_);
  if (is_member && !was_member) {
    // Rule 2 of lease_message_allowed.
    s.lease_silent_until_local_ns = runtime_.local_now_ns() + config_->lease_ns + 2 * config_->lease_epsilon_ns +
                                    flease_->config().message_timeout_ns;
    runtime_.count("catalog.joined_group");
    if (s.mode != Mode::kRecovering && s.mode != Mode::kBroken) flease_->acquire(s.id);
  } else if (!is_member && was_member) {
    runtime_.count("catalog.left_group");
    step_down(s, "catalog.step_down_removed");
    flease_->release(s.id);
  }
  if (s.mode == Mode::kPrimary) refresh_peers(s);
}

void Catalog::apply_reconfigure(Shard& s, const CatalogLogEntry& e, bool as_primary) {
  fold_digest(s, e.config_version);
  for (NodeId node : e.members) fold_digest(s, node);
  while (s.configs.size() > 1 && s.configs[1].log_index <= e.log_index) s.configs.erase(s.configs.begin());
  runtime_.count("catalog.group_applied");
  if (!as_primary) return;
  if (group_listener_) group_listener_(s.id, e.config_version, e.members);
  if (!s.change_target.empty()) {
    runtime_.count(s.change_index == e.log_index ? "catalog.replacement_committed" : "catalog.replacement_superseded");
    s.change_target.clear();
    s.change_index = 0;
  }
  refresh_peers(s);
}

// The primary's peers: every other node of every group in the log (voters), then the learners.
void Catalog::refresh_peers(Shard& s) {
  std::vector<NodeId> wanted;
  for (const GroupConfig& c : s.configs) {
    for (NodeId n : c.members) {
      if (n != self_ && !contains(wanted, n)) wanted.push_back(n);
    }
  }
  const size_t voters = wanted.size();
  for (NodeId n : s.change_target) {
    if (n != self_ && !contains(wanted, n)) wanted.push_back(n);
  }
  std::vector<Peer> peers;
  for (size_t i = 0; i < wanted.size(); ++i) {
    auto it = std::find_if(s.peers.begin(), s.peers.end(), [&](const Peer& p) { return p.node == wanted[i]; });
    Peer p;
    if (it != s.peers.end()) {
      p = *it;
    } else {
      p.node = wanted[i];
      p.next_index = i >= voters ? 1 : s.last_index + 1;  // a learner is replicated the whole log
    }
    p.learner = i >= voters;
    peers.push_back(p);
  }
  s.peers = std::move(peers);
}

void Catalog::cancel_change(Shard& s, const char* reason) {
  runtime_.count(reason);
  s.change_target.clear();
  s.change_index = 0;
  refresh_peers(s);
}

// Serving primary, every tick: start replacing members dead for replace_after, or push the change on.
void Catalog::maybe_replace(Shard& s, TimeNs now) {
  const TimeNs after = config_->catalog_replace_after_ns;
  if (after <= 0 || !placement_) return;
  if (!s.change_target.empty()) {
    if (s.change_index != 0) return;  // appended: it commits, or a successor's barrier commits it
    for (NodeId n : s.change_target) {
      if (!alive(n) || contains(s.lost_members, n)) return cancel_change(s, "catalog.replacement_learner_lost");
    }
    if (now - s.change_started_local_ns > std::max<TimeNs>(4 * after, 10 * kSecond)) {
      return cancel_change(s, "catalog.replacement_timed_out");
    }
    return maybe_append_reconfigure(s);
  }
  if (s.configs.size() > 1) return;  // an earlier tenure's change is still being committed
  const std::vector<NodeId>& group = acting_group(s);
  std::vector<NodeId> survivors;
  for (NodeId n : group) {
    const bool dead = !alive(n) && n < dead_since_local_ns_.size() && dead_since_local_ns_[n] >= 0 &&
                      now - dead_since_local_ns_[n] >= after;
    if (!dead && !contains(s.lost_members, n)) survivors.push_back(n);
  }
  if (survivors.size() == group.size()) return;
  // Placement ranks alive nodes, lost members among them: ask for enough to pass over those.
  const auto wanted = static_cast<uint32_t>(group.size() + s.lost_members.size());
  Result<std::vector<uint32_t>> placed = placement_->place_catalog(s.id, wanted);
  if (!placed.is_ok()) return runtime_.count("catalog.replacement_unplaceable");
  std::vector<NodeId> target = survivors;
  for (NodeId n : placed.value()) {
    if (target.size() < group.size() && alive(n) && !contains(target, n) && !contains(s.lost_members, n)) target.push_back(n);
  }
  if (target.size() == survivors.size()) return runtime_.count("catalog.replacement_no_candidate");
  if (target.size() == group.size()) target = stable_reassign(group, target);  // survivors keep their place
  s.change_target = std::move(target);
  s.change_started_local_ns = now;
  s.change_index = 0;
  runtime_.count("catalog.replacement_started");
  refresh_peers(s);
  for (Peer& p : s.peers) {
    if (p.learner) send_to_peer(s, p, true);
  }
}

// Catch-up first: the group changes only once every learner holds everything committed, so the new
// group's majorities can commit at once.
void Catalog::maybe_append_reconfigure(Shard& s) {
  if (s.change_target.empty() || s.change_index != 0 || s.configs.size() > 1 || !serving(s.id)) return;
  for (const Peer& p : s.peers) {
    if (p.learner && p.match_index < s.commit_index) return;
  }
  CatalogLogEntry e;
  e.op = CatalogOp::kReconfigure;
  e.config_version = s.configs.back().version + 1;
  e.members = s.change_target;
  s.change_index = append(s, std::move(e));
  runtime_.count("catalog.reconfigure_appended");
  replicate(s);
}

// ---------------------------------------------------------------------------------------------------
// Introspection

std::vector<uint64_t> Catalog::shards() const {
  std::vector<uint64_t> out;
  for (const auto& [id, s] : shards_) out.push_back(id);
  return out;
}

const WriteRecord* Catalog::unapplied_commit(uint64_t shard, const RecordId& id) const {
  const Shard* s = find_shard(shard);
  if (s == nullptr) return nullptr;
  for (const CatalogLogEntry& e : s->tail) {  // entries past the applied index are always in memory
    if (e.log_index > s->applied_index && e.op == CatalogOp::kCommit && e.entry.record.record_id == id) return &e.entry.record;
  }
  return nullptr;
}

bool Catalog::recovered(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s != nullptr && s->mode != Mode::kRecovering;
}
uint64_t Catalog::epoch(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->known_epoch : 0;
}
uint64_t Catalog::applied_index(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->applied_index : 0;
}
uint64_t Catalog::commit_index(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->commit_index : 0;
}
uint64_t Catalog::last_index(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->last_index : 0;
}
uint64_t Catalog::log_digest(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->digest : 0;
}
std::optional<uint64_t> Catalog::log_digest_at(uint64_t shard, uint64_t index) const {
  const Shard* s = find_shard(shard);
  if (s == nullptr) return std::nullopt;
  if (index == 0) return uint64_t{0};
  for (const auto& [i, digest] : s->digests) {
    if (i == index) return digest;
  }
  return std::nullopt;
}
uint64_t Catalog::config_version(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->configs.front().version : 0;
}
std::vector<NodeId> Catalog::members(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->configs.front().members : std::vector<NodeId>{};
}
bool Catalog::member(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s != nullptr && contains(acting_group(*s), self_);
}
bool Catalog::reconfiguring(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s != nullptr && (!s->change_target.empty() || s->configs.size() > 1);
}
size_t Catalog::pins(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->pins.size() : 0;
}
size_t Catalog::superseded_pending(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  if (s == nullptr) return 0;
  size_t n = 0;
  for (const Superseded& item : s->superseded) n += store_.find(item.id) != RecordStore::kNoSlot ? 1 : 0;
  return n;
}
size_t Catalog::repairs_pending(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->repairing.size() : 0;
}
bool Catalog::abandoned(uint64_t shard, const RecordId& id) const {
  const Shard* s = find_shard(shard);
  return s != nullptr && s->abandoned.count(id) != 0;
}
size_t Catalog::abandoned_records(uint64_t shard) const {
  const Shard* s = find_shard(shard);
  return s ? s->abandoned.size() : 0;
}

size_t Catalog::memory_bytes() const {
  size_t bytes = store_.memory_bytes();
  for (const auto& [id, s] : shards_) {
    bytes += sizeof(Shard) + s->offsets.memory_bytes() + s->superseded.size() * sizeof(Superseded);
    // Tombstones: a node of the hash set (id, hash, next pointer) plus its bucket pointer.
    bytes += s->abandoned.size() * (sizeof(RecordId) + 2 * sizeof(void*)) + s->abandoned.bucket_count() * sizeof(void*);
    for (const CatalogLogEntry& e : s->tail) {
      bytes += sizeof(CatalogLogEntry) + e.entry.record.fragments.capacity() * sizeof(FragmentEntry) +
               e.superseded.capacity() * sizeof(RecordId);
    }
  }
  return bytes;
}

}  // namespace pbfs::datapath
