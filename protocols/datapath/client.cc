// The data-path client: operation slots, the write path (seal, code, place, store, commit), the read path
// (query, visible pieces, direct windows or any-k whole fragments, verify, decode, merge) and compaction.
// Each operation has one timer (its earliest request deadline, or a backoff) and request ids that name
// its slot, the slot's generation and what the request was for, so stale replies are recognised cheaply.
#include "protocols/datapath/client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "coding/checksum.h"
#include "protocols/datapath/provenance.h"

namespace pbfs::datapath {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs client: broken invariant: %s\n", what);
    std::abort();
  }
}

enum class Phase : uint8_t { kWaiting, kStore, kCommit, kQuery, kFetch, kFinishing };
// kSuspect: a data fragment whose window failed authentication; asked first for its whole fragment so
// its server's CRC check names the culprit (and reports it for repair).
enum SlotState : uint8_t { kUntried = 0, kAsked = 1, kHealthy = 2, kFailed = 3, kAbandoned = 4, kSuspect = 5 };

// request id = generation (20 bits) | slot (22 bits) | sub (22 bits). Subs: fragment index for stores;
// whole flag (bit 21) | record (12 bits) | fragment index (9 bits) for fetches; all ones for catalog requests.
constexpr uint32_t kSubBits = 22;
constexpr uint32_t kSlotBits = 22;
constexpr uint64_t kGenerationMask = (uint64_t{1} << 20) - 1;
constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
constexpr uint32_t kSubMask = (1u << kSubBits) - 1;
constexpr uint32_t kSubCatalog = kSubMask;
constexpr uint32_t kIndexBits = 9;
constexpr uint32_t kRecordBits = 12;
constexpr uint32_t kWholeBit = 1u << (kIndexBits + kRecordBits);
constexpr uint32_t kReadRecordsMax = (1u << kRecordBits) - 1;

// Timer tags: kind (top 4 bits) | generation | slot; the epoch file's disk tags use kind 0xF.
enum TimerKind : uint64_t { kTimerOp = 1, kTimerFinish = 2 };
constexpr uint64_t kDiskEpochRead = uint64_t{0xF} << 60 | 1;
constexpr uint64_t kDiskEpochWrite = uint64_t{0xF} << 60 | 2;
constexpr uint64_t kDiskEpochSync = uint64_t{0xF} << 60 | 3;
constexpr const char* kEpochFile = "client/epoch";
constexpr uint64_t kEpochCheck = 0x5a17c0ffee15900dull;
constexpr uint32_t kCounterBits = 40;
constexpr uint64_t kEpochMax = (uint64_t{1} << (63 - kCounterBits)) - 1;

}  // namespace

const char* operation_kind_name(OperationKind kind) {
  switch (kind) {
    case OperationKind::kWrite: return "write";
    case OperationKind::kRead: return "read";
    case OperationKind::kCompact: return "compact";
  }
  return "?";
}

struct FragmentSlot {
  NodeId node = kNoNode;
  TimeNs deadline_ns = 0;
  uint8_t state = kUntried;
  uint8_t depth = 0;  // round trip this request belongs to
};

struct Client::RecordRead {
  CatalogEntry entry;
  std::vector<Extent> ranges;          // visible ranges, offsets inside the record
  std::vector<uint64_t> out_offsets;   // where each lands in the read's result
  std::vector<FragmentSlot> slots;     // by fragment index
  std::vector<Payload> data;           // what arrived, by fragment index
  std::vector<uint64_t> window_offset;  // direct reads: the body window asked of each data fragment
  std::vector<uint64_t> window_length;
  uint32_t windows = 0;
  uint32_t healthy = 0;
  uint32_t outstanding = 0;
  bool whole = false;
  bool done = false;
};

struct Client::Op {
  bool in_use = false;
  uint32_t generation = 0;
  Phase phase = Phase::kWaiting;
  OperationKind kind = OperationKind::kWrite;
  uint64_t id = 0;
  FileId file = 0;
  Extent extent;
  uint64_t shard = 0;
  TimeNs start_trace_ns = 0;
  OperationCallback done;
  StatusCode status = StatusCode::kOk;
  uint64_t bytes_sent = 0, bytes_received = 0;
  uint32_t messages = 0, round_trips = 0, fragments = 0, records = 0;
  uint8_t depth = 0;  // round trip of the reply or timeout being handled
  TimerId timer = 0;
  // The catalog request in progress (commit or query).
  std::shared_ptr<const Message> catalog_request;
  NodeId catalog_node = kNoNode;
  TimeNs catalog_deadline_ns = 0;
  uint32_t catalog_attempts = 0, catalog_redirects = 0;
  uint8_t catalog_depth = 0;
  bool catalog_outstanding = false, catalog_backoff = false;
  // Writes and compactions.
  WriteRecord record;
  std::vector<FragmentSlot> stores;
  std::vector<std::shared_ptr<const StoreFragment>> store_messages;
  std::vector<NodeId> failed_nodes;
  uint32_t stored = 0, replacements = 0;
  uint64_t sequence = 0;
  std::vector<RecordId> supersedes;
  std::vector<ReadPiece> sources;  // compactions: what the new record's bytes were copied from
  // Reads.
  uint64_t pin = 0;
  NodeId pin_node = kNoNode;
  std::vector<ReadPiece> pieces;
  std::vector<RecordRead> reads;
  uint32_t reads_done = 0;
  Bytes data;
  uint32_t overlap = 0;
  std::vector<std::pair<RecordId, Extent>> overlapping;  // kept when the read may trigger a compaction
  std::optional<FileKey> file_key;

  bool alive(uint32_t gen) const { return in_use && generation == gen; }
  void reset() {
    phase = Phase::kWaiting;
    status = StatusCode::kOk;
    bytes_sent = bytes_received = 0;
    messages = round_trips = fragments = records = 0;
    depth = 0;
    timer = 0;
    catalog_request.reset();
    catalog_node = kNoNode;
    catalog_attempts = catalog_redirects = 0;
    catalog_outstanding = catalog_backoff = false;
    record = WriteRecord{};
    stores.clear();
    store_messages.clear();
    failed_nodes.clear();
    stored = replacements = 0;
    sequence = 0;
    supersedes.clear();
    sources.clear();
    pin = 0;
    pin_node = kNoNode;
    pieces.clear();
    reads.clear();
    reads_done = 0;
    data.clear();
    overlap = 0;
    overlapping.clear();
    file_key.reset();
  }
};

Client::Client(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, ClientOptions options)
    : runtime_(runtime), config_(std::move(config)), options_(options),
      stale_read_(config_->inject_bug == "stale_read"), catalogs_(config_) {
  options_.records_per_read_max = std::min(options_.records_per_read_max, kReadRecordsMax);
  leader_hint_.assign(config_->shards, kNoNode);
  std::vector<bool> alive;
  for (const PlacementNode& n : config_->nodes) {
    if (alive.size() <= n.id) alive.resize(n.id + 1, false);
    alive[n.id] = n.alive;
  }
  set_alive(std::move(alive));
  if (options_.trace) {
    operations_table_ = runtime_.trace_table(operations_schema());
    read_pieces_table_ = runtime_.trace_table(read_pieces_schema());
    compaction_sources_table_ = runtime_.trace_table(compaction_sources_schema());
  }
}

Client::~Client() = default;

void Client::set_alive(std::vector<bool> alive) {
  alive_ = std::move(alive);
  placement_ = placement_over(*config_, [this](NodeId n) { return this->alive(n); });
}

// ---- boot: the record-id epoch ----

void Client::start() { runtime_.disk_read(kEpochFile, 0, 16, kDiskEpochRead); }

void Client::on_disk(const DiskCompletion& done) {
  if (done.tag == kDiskEpochRead) {
    epoch_ = 0;
    if (done.status.is_ok() && done.data.is_real() && done.data.size == 16) {
      WireReader r(*done.data.bytes);
      uint64_t last = 0, check = 0;
      if (r.u64(last) && r.u64(check) && (last ^ kEpochCheck) == check) epoch_ = last + 1;
    }
    require(epoch_ <= kEpochMax, "record-id epoch exhausted");
    Bytes value;
    WireWriter w(value);
    w.u64(epoch_);
    w.u64(epoch_ ^ kEpochCheck);
    runtime_.disk_write(kEpochFile, 0, Payload::real(std::move(value)), kDiskEpochWrite);
    runtime_.disk_sync(kEpochFile, kDiskEpochSync);
    return;
  }
  if (done.tag != kDiskEpochSync) return;
  if (!done.status.is_ok()) runtime_.count("datapath.client_epoch_unpersisted");
  ready_ = true;
  std::vector<uint32_t> waiting;
  waiting.swap(waiting_);
  for (uint32_t slot : waiting) {
    if (ops_[slot]->in_use && ops_[slot]->phase == Phase::kWaiting) begin(slot);
  }
}

RecordId Client::next_record_id(bool compaction) {
  require(next_record_ < (uint64_t{1} << kCounterBits), "record counter exhausted");
  uint64_t sequence = (epoch_ << kCounterBits) | next_record_++;
  if (compaction) sequence |= kCompactionSequenceBit;
  return RecordId{runtime_.node_id(), sequence};
}

// ---- operation slots ----

uint32_t Client::allocate(OperationKind kind, FileId file, uint64_t offset, uint64_t length, OperationCallback done) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    require(ops_.size() < kSlotMask, "too many operation slots");
    slot = static_cast<uint32_t>(ops_.size());
    ops_.push_back(std::make_unique<Op>());
  }
  Op& op = *ops_[slot];
  op.reset();
  op.in_use = true;
  op.kind = kind;
  op.id = next_operation_++;
  op.file = file;
  op.extent = Extent{offset, length};
  op.shard = shard_of(*config_, file);
  op.start_trace_ns = runtime_.trace_now_ns();
  op.done = std::move(done);
  ++in_flight_;
  return slot;
}

uint64_t Client::request_id(uint32_t slot, uint32_t sub) const {
  return ((ops_[slot]->generation & kGenerationMask) << (kSlotBits + kSubBits)) | (uint64_t{slot} << kSubBits) | sub;
}

Client::Op* Client::find(uint64_t request_id, uint32_t* slot, uint32_t* sub) {
  *slot = static_cast<uint32_t>((request_id >> kSubBits) & kSlotMask);
  *sub = static_cast<uint32_t>(request_id & kSubMask);
  if (*slot >= ops_.size()) return nullptr;
  Op& op = *ops_[*slot];
  if (!op.in_use || (op.generation & kGenerationMask) != (request_id >> (kSlotBits + kSubBits))) return nullptr;
  return &op;
}

uint64_t Client::submit(OperationKind kind, FileId file, uint64_t offset, uint64_t length, OperationCallback done) {
  const bool over = in_flight_ >= options_.operations_max;
  const uint32_t slot = allocate(kind, file, offset, length, std::move(done));
  Op& op = *ops_[slot];
  if (length == 0 || offset + length < offset) {
    fail_soon(slot, StatusCode::kInvalidArgument);
  } else if (over) {
    runtime_.count("datapath.client_overloaded");
    fail_soon(slot, StatusCode::kUnavailable);
  } else if (!ready_) {
    waiting_.push_back(slot);
  } else {
    begin(slot);
  }
  return op.id;
}

uint64_t Client::write(FileId file, uint64_t offset, uint64_t length, OperationCallback done) {
  return submit(OperationKind::kWrite, file, offset, length, std::move(done));
}

uint64_t Client::read(FileId file, uint64_t offset, uint64_t length, OperationCallback done) {
  return submit(OperationKind::kRead, file, offset, length, std::move(done));
}

void Client::begin(uint32_t slot) {
  Op& op = *ops_[slot];
  if (op.kind == OperationKind::kRead) {
    auto query = std::make_shared<QueryRange>();
    query->request_id = request_id(slot, kSubCatalog);
    query->file_id = op.file;
    query->extent = op.extent;
    op.catalog_request = std::move(query);
    op.phase = Phase::kQuery;
    op.catalog_node = catalog_target(op.shard);
    if (op.catalog_node == kNoNode) {
      fail_soon(slot, StatusCode::kUnavailable);
      return;
    }
    send_catalog(slot, op);
    return;
  }
  op.record.record_id = next_record_id(false);
  Bytes plaintext;
  if (config_->real_payload) {
    plaintext.resize(op.extent.length);
    fill_provenance(op.record.record_id, op.extent.offset, plaintext);
  }
  start_record_write(slot, plaintext);
}

void Client::fail_soon(uint32_t slot, StatusCode status) {
  // Never inside write()/read() or a loop over requests: the callback may start new operations.
  Op& op = *ops_[slot];
  op.status = status;
  op.phase = Phase::kFinishing;
  if (op.timer != 0) runtime_.cancel_timer(op.timer);
  op.timer = runtime_.set_timer(0, (kTimerFinish << 60) | ((op.generation & kGenerationMask) << kSlotBits) | slot);
}

void Client::finish(uint32_t slot, StatusCode status) {
  Op& op = *ops_[slot];
  require(op.in_use, "finishing a free operation slot");
  op.status = status;
  if (op.timer != 0) runtime_.cancel_timer(op.timer);
  op.timer = 0;
  if (op.kind == OperationKind::kRead && op.pin != 0) {
    auto release = std::make_shared<ReleasePin>();
    release->file_id = op.file;
    release->pin = op.pin;
    send(op, op.pin_node, kPortCatalog, std::move(release));
    op.pin = 0;
  }
  if (options_.trace) trace_operation(op);
  OperationResult result;
  result.id = op.id;
  result.kind = op.kind;
  result.status = status;
  result.file = op.file;
  result.extent = op.extent;
  if (op.kind != OperationKind::kRead) {
    result.record = op.record.record_id;
    result.sequence = status == StatusCode::kOk ? op.sequence : 0;
  } else if (status == StatusCode::kOk) {
    result.pieces = std::move(op.pieces);
    result.data = std::move(op.data);
    result.depth = op.overlap;
  }
  if (op.kind == OperationKind::kRead && status == StatusCode::kOk) maybe_compact(op, result);
  if (op.kind == OperationKind::kCompact) compacting_.erase(op.file);
  OperationCallback done = std::move(op.done);
  const OperationKind kind = op.kind;
  op.in_use = false;
  ++op.generation;
  op.reads.clear();
  op.store_messages.clear();
  free_slots_.push_back(slot);
  --in_flight_;
  if (done) done(result);
  if (kind == OperationKind::kCompact && compaction_listener_) compaction_listener_(result);
}

void Client::trace_operation(const Op& op) {
  OperationRow row;
  row.client = runtime_.node_id();
  set_chars(row.kind, operation_kind_name(op.kind));
  row.file = op.file;
  row.offset = op.extent.offset;
  row.length = op.extent.length;
  row.start_ns = op.start_trace_ns;
  row.end_ns = runtime_.trace_now_ns();
  row.status = static_cast<uint8_t>(op.status);
  row.bytes_sent = op.bytes_sent;
  row.bytes_received = op.bytes_received;
  row.records = op.kind == OperationKind::kRead ? static_cast<uint32_t>(op.reads.size())
                                                : 1 + static_cast<uint32_t>(op.supersedes.size());
  row.fragments = op.fragments;
  row.messages = op.messages;
  row.round_trips = op.round_trips;
  runtime_.trace(operations_table_, &row);
}

// ---- messages, timers, CPU ----

void Client::send(Op& op, NodeId to, PortId port, std::shared_ptr<const Message> m) {
  op.bytes_sent += frame_size(*m);
  ++op.messages;
  runtime_.send(to, port, std::move(m));
}

void Client::received(Op& op, const Message& m, uint8_t depth) {
  op.bytes_received += frame_size(m);
  ++op.messages;
  op.depth = depth;
  op.round_trips = std::max<uint32_t>(op.round_trips, depth);
}

void Client::charge(const CostOp& op, uint64_t bytes) {
  if (config_->cost_model) runtime_.charge_cpu(config_->cost_model->cost_ns(op, bytes));
}

void Client::arm(uint32_t slot, Op& op, TimeNs delay_ns) {
  if (op.timer != 0) runtime_.cancel_timer(op.timer);
  op.timer = runtime_.set_timer(std::max<TimeNs>(delay_ns, 0),
                                (kTimerOp << 60) | ((op.generation & kGenerationMask) << kSlotBits) | slot);
}

void Client::ensure_timer(uint32_t slot, Op& op, TimeNs deadline_ns) {
  // Every request waits request_timeout_ns from its sending, so the armed timer is never later than a
  // new request's deadline; expire() re-arms for the earliest one left.
  if (op.timer == 0) arm(slot, op, deadline_ns - runtime_.local_now_ns());
}

void Client::on_timer(TimerId id, uint64_t tag) {
  const uint32_t slot = static_cast<uint32_t>(tag & kSlotMask);
  const uint64_t generation = (tag >> kSlotBits) & kGenerationMask;
  if (slot >= ops_.size()) return;
  Op& op = *ops_[slot];
  if (!op.in_use || (op.generation & kGenerationMask) != generation || op.timer != id) return;
  op.timer = 0;
  if ((tag >> 60) == kTimerFinish) {
    finish(slot, op.status);
    return;
  }
  expire(slot, op);
}

void Client::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_->cpu_per_message_ns);
  switch (message.type()) {
    case types::kStoreFragmentReply: on_store_reply(from, static_cast<const StoreFragmentReply&>(message)); break;
    case types::kCommitReply: on_commit_reply(from, static_cast<const CommitReply&>(message)); break;
    case types::kQueryReply: on_query_reply(from, static_cast<const QueryReply&>(message)); break;
    case types::kFetchFragmentReply: on_fetch_reply(from, static_cast<const FetchFragmentReply&>(message)); break;
    default: runtime_.count("datapath.client_unexpected_message"); break;
  }
}

// Requests whose deadline passed count as failed; then the timer is re-armed for the earliest left.
void Client::expire(uint32_t slot, Op& op) {
  const uint32_t gen = op.generation;
  const TimeNs now = runtime_.local_now_ns();
  TimeNs next = 0;
  auto later = [&](TimeNs deadline) { next = next == 0 ? deadline : std::min(next, deadline); };
  if (op.phase == Phase::kStore) {
    for (uint32_t i = 0; i < op.stores.size() && op.alive(gen); ++i) {
      if (op.stores[i].state != kAsked || op.stores[i].deadline_ns > now) continue;
      runtime_.count("datapath.store_timeout");
      note_timeout(op.stores[i].node);
      op.depth = op.stores[i].depth;
      op.round_trips = std::max<uint32_t>(op.round_trips, op.depth);
      replace_fragment(slot, op, i);
    }
    if (!op.alive(gen)) return;
    for (const FragmentSlot& s : op.stores) {
      if (s.state == kAsked) later(s.deadline_ns);
    }
  } else if (op.phase == Phase::kCommit || op.phase == Phase::kQuery) {
    if (op.catalog_backoff) {
      op.catalog_backoff = false;
      send_catalog(slot, op);
      return;
    }
    if (op.catalog_outstanding && op.catalog_deadline_ns <= now) {
      runtime_.count("datapath.catalog_timeout");
      op.depth = op.catalog_depth;
      op.round_trips = std::max<uint32_t>(op.round_trips, op.depth);
      catalog_retry(slot, op, /*rotate=*/true, /*backoff=*/false);
      return;
    }
    if (op.catalog_outstanding) later(op.catalog_deadline_ns);
  } else if (op.phase == Phase::kFetch) {
    for (uint32_t r = 0; r < op.reads.size() && op.alive(gen); ++r) expire_record(slot, op, r, now);
    if (!op.alive(gen) || op.phase != Phase::kFetch) return;
    for (const RecordRead& rr : op.reads) {
      if (rr.done) continue;
      for (const FragmentSlot& s : rr.slots) {
        if (s.state == kAsked) later(s.deadline_ns);
      }
    }
  }
  if (next != 0) ensure_timer(slot, op, next);
}

void Client::expire_record(uint32_t slot, Op& op, uint32_t r, TimeNs now) {
  RecordRead& rr = op.reads[r];
  if (rr.done) return;
  bool failed = false;
  for (FragmentSlot& s : rr.slots) {
    if (s.state != kAsked || s.deadline_ns > now) continue;
    s.state = kFailed;
    --rr.outstanding;
    failed = true;
    op.depth = s.depth;
    op.round_trips = std::max<uint32_t>(op.round_trips, op.depth);
    runtime_.count("datapath.fetch_timeout");
    note_timeout(s.node);
  }
  if (!failed) return;
  if (rr.whole) ask_whole(slot, op, r);
  else switch_to_whole(slot, op, r, /*suspect=*/false);
}

// ---- write path ----

void Client::start_record_write(uint32_t slot, ByteSpan plaintext) {
  Op& op = *ops_[slot];
  const CodingParams& coding = config_->coding;
  WriteRecord& r = op.record;
  r.file_id = op.file;
  r.extent = op.extent;
  CryptoParams crypto;
  crypto.algorithm = config_->aead;
  crypto.segment_bytes = config_->segment_bytes;
  for (size_t i = 0; i < crypto.key_salt.size(); i += 8) {
    const uint64_t x = runtime_.random()();
    for (size_t j = 0; j < 8 && i + j < crypto.key_salt.size(); ++j) crypto.key_salt[i + j] = static_cast<uint8_t>(x >> (8 * j));
  }
  const uint64_t sealed = aead_sealed_bytes(op.extent.length, crypto.segment_bytes);
  charge(CostOp::aead_seal(crypto.algorithm), op.extent.length);
  charge(CostOp::ec_encode(coding.k, coding.m, coding.backend), sealed);
  if (config_->real_payload) {
    WriteRequest request{op.file, op.extent, r.record_id, crypto, coding};
    Status encoded = codec_.encode_write(derive_file_key(config_->master_key, op.file), request, plaintext, encoded_);
    if (!encoded.is_ok()) {
      fail_soon(slot, encoded.code());
      return;
    }
    r = encoded_.record;
  } else {
    Result<ErasureCoder*> coder = codec_.coder(coding);
    Result<StripeLayout> layout = coder.is_ok() ? (*coder)->layout(sealed) : Result<StripeLayout>(coder.status());
    if (!layout.is_ok()) {
      fail_soon(slot, layout.status().code());
      return;
    }
    r.layout = *layout;
    r.crypto = crypto;
    r.fragments.assign(r.layout.fragment_count(), FragmentEntry{});
  }
  const uint32_t n = r.layout.fragment_count();
  charge(CostOp::checksum(), r.layout.fragment_bytes * n);
  if (!place(op)) {
    runtime_.count("datapath.write_unplaceable");
    fail_soon(slot, StatusCode::kUnavailable);
    return;
  }
  op.stores.assign(n, FragmentSlot{});
  op.store_messages.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto store = std::make_shared<StoreFragment>();
    store->request_id = request_id(slot, i);
    store->file_id = op.file;
    store->record_id = r.record_id;
    store->index = i;
    store->data = config_->real_payload
                      ? Payload::real(encode_fragment(make_fragment_header(r, i), encoded_.stripe.fragment(i)))
                      : Payload::synthetic(kFragmentHeaderBytes + r.layout.fragment_bytes);
    op.store_messages[i] = std::move(store);
  }
  op.phase = Phase::kStore;
  for (uint32_t i = 0; i < n; ++i) send_store(slot, op, i);
}

bool Client::place(Op& op) {
  if (!placement_) return false;
  const uint32_t n = op.record.layout.fragment_count();
  Result<std::vector<uint32_t>> nodes = rank(op.record.record_id, n);
  if (!nodes.is_ok() || nodes->size() < n) return false;
  for (uint32_t i = 0; i < n; ++i) op.record.fragments[i].node = (*nodes)[i];
  return true;
}

Result<std::vector<uint32_t>> Client::rank(const RecordId& record, uint32_t want) const {
  if (avoided_.empty()) return placement_->place_record(record, want);
  const auto longer = std::min<uint32_t>(placement_->alive_count(), want + static_cast<uint32_t>(avoided_.size()));
  Result<std::vector<uint32_t>> ranked = placement_->place_record(record, longer);
  if (!ranked.is_ok()) return placement_->place_record(record, want);
  std::stable_partition(ranked->begin(), ranked->end(), [this](uint32_t node) { return responsive(node); });
  return ranked;
}

// As long as membership would take to report the node gone, about: a few request timeouts.
constexpr uint32_t kAvoidTimeouts = 4;

bool Client::responsive(NodeId node) const {
  if (!alive(node)) return false;
  for (const auto& [avoided, until] : avoided_) {
    if (avoided == node) return runtime_.local_now_ns() >= until;
  }
  return true;
}

void Client::note_timeout(NodeId node) {
  const TimeNs now = runtime_.local_now_ns();
  std::erase_if(avoided_, [&](const auto& a) { return a.second <= now || a.first == node; });
  avoided_.emplace_back(node, now + kAvoidTimeouts * config_->request_timeout_ns);
  runtime_.count("datapath.node_avoided");
}

void Client::note_reply(NodeId node) {
  if (!avoided_.empty()) std::erase_if(avoided_, [&](const auto& a) { return a.first == node; });
}

void Client::send_store(uint32_t slot, Op& op, uint32_t index) {
  FragmentSlot& s = op.stores[index];
  s.node = op.record.fragments[index].node;
  s.state = kAsked;
  s.depth = static_cast<uint8_t>(std::min<uint32_t>(op.depth + 1, 255));
  s.deadline_ns = runtime_.local_now_ns() + config_->request_timeout_ns;
  send(op, s.node, kPortFragmentServer, op.store_messages[index]);
  ensure_timer(slot, op, s.deadline_ns);
}

void Client::on_store_reply(const Envelope& from, const StoreFragmentReply& m) {
  note_reply(from.from);
  uint32_t slot, sub;
  Op* found = find(m.request_id, &slot, &sub);
  if (found == nullptr || found->phase != Phase::kStore || sub >= found->stores.size()) return;
  Op& op = *found;
  FragmentSlot& s = op.stores[sub];
  if (s.state != kAsked || s.node != from.from) return;  // a reply from a node since replaced
  received(op, m, s.depth);
  if (m.status != StatusCode::kOk) {
    runtime_.count("datapath.store_error");
    replace_fragment(slot, op, sub);
    return;
  }
  s.state = kHealthy;
  ++op.stored;
  ++op.fragments;
  if (op.stored == op.stores.size()) start_commit(slot, op);
}

// A store failed or timed out: the fragment goes to the next node in the record's placement ranking
// that holds none of its fragments and has not failed it.
void Client::replace_fragment(uint32_t slot, Op& op, uint32_t index) {
  FragmentSlot& s = op.stores[index];
  s.state = kFailed;
  op.failed_nodes.push_back(s.node);
  const uint32_t n = static_cast<uint32_t>(op.stores.size());
  if (++op.replacements > config_->retries_max + op.record.layout.m || !placement_) {
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  const uint32_t want = std::min<uint32_t>(placement_->alive_count(), n + static_cast<uint32_t>(op.failed_nodes.size()));
  Result<std::vector<uint32_t>> ranked = rank(op.record.record_id, want);
  NodeId chosen = kNoNode;
  if (ranked.is_ok()) {
    for (uint32_t candidate : *ranked) {
      const bool used = std::any_of(op.record.fragments.begin(), op.record.fragments.end(),
                                    [&](const FragmentEntry& f) { return f.node == candidate; });
      const bool failed = std::find(op.failed_nodes.begin(), op.failed_nodes.end(), candidate) != op.failed_nodes.end();
      if (!used && !failed) {
        chosen = candidate;
        break;
      }
    }
  }
  if (chosen == kNoNode) {
    runtime_.count("datapath.store_no_replacement");
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  runtime_.count("datapath.store_replaced");
  op.record.fragments[index].node = chosen;
  send_store(slot, op, index);
}

void Client::start_commit(uint32_t slot, Op& op) {
  auto commit = std::make_shared<CommitRecord>();
  commit->request_id = request_id(slot, kSubCatalog);
  commit->record = op.record;
  commit->supersedes = op.supersedes;
  op.catalog_request = std::move(commit);
  op.phase = Phase::kCommit;
  op.catalog_node = catalog_target(op.shard);
  if (op.catalog_node == kNoNode) {
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  send_catalog(slot, op);
}

void Client::on_commit_reply(const Envelope& from, const CommitReply& m) {
  uint32_t slot, sub;
  Op* found = find(m.request_id, &slot, &sub);
  if (found == nullptr || found->phase != Phase::kCommit || sub != kSubCatalog) return;
  Op& op = *found;
  if (m.status == StatusCode::kOk) {
    // Any attempt's acknowledgement commits the record, even one that had timed out.
    received(op, m, op.catalog_depth);
    leader_hint_[op.shard] = from.from;
    op.sequence = m.sequence;
    if (op.kind == OperationKind::kCompact && options_.trace) {
      for (const ReadPiece& p : op.sources) {
        CompactionSourceRow row{op.file, op.record.record_id.client, op.record.record_id.sequence, p.offset, p.length,
                                p.record.client, p.record.sequence, runtime_.trace_now_ns()};
        runtime_.trace(compaction_sources_table_, &row);
      }
    }
    finish(slot, StatusCode::kOk);
    return;
  }
  if (!op.catalog_outstanding || from.from != op.catalog_node) return;
  received(op, m, op.catalog_depth);
  on_catalog_refusal(slot, op, m.status, m.leader_hint);
}

// ---- catalog requests ----

NodeId Client::catalog_target(uint64_t shard) {
  if (leader_hint_[shard] != kNoNode) return leader_hint_[shard];
  const std::vector<NodeId>& group = catalogs_.group(shard);
  return group.empty() ? kNoNode : group.front();
}

void Client::send_catalog(uint32_t slot, Op& op) {
  op.catalog_outstanding = true;
  op.catalog_depth = static_cast<uint8_t>(std::min<uint32_t>(op.depth + 1, 255));
  op.catalog_deadline_ns = runtime_.local_now_ns() + config_->request_timeout_ns;
  send(op, op.catalog_node, kPortCatalog, op.catalog_request);
  ensure_timer(slot, op, op.catalog_deadline_ns);
}

void Client::on_catalog_refusal(uint32_t slot, Op& op, StatusCode status, NodeId hint) {
  op.catalog_outstanding = false;
  const size_t group_size = catalogs_.group(op.shard).size();
  switch (status) {
    case StatusCode::kNotLeader:
      runtime_.count("datapath.catalog_redirect");
      if (hint != kNoNode && hint != op.catalog_node && op.catalog_redirects < 2 * group_size + 2) {
        ++op.catalog_redirects;
        leader_hint_[op.shard] = hint;
        op.catalog_node = hint;
        send_catalog(slot, op);
        return;
      }
      leader_hint_[op.shard] = kNoNode;  // nobody knows yet (an election is running): ask around, slowly
      catalog_retry(slot, op, /*rotate=*/true, /*backoff=*/true);
      return;
    case StatusCode::kUnavailable:
      catalog_retry(slot, op, /*rotate=*/false, /*backoff=*/true);
      return;
    default:
      finish(slot, status == StatusCode::kOk ? StatusCode::kUnavailable : status);  // kConflict, kInvalidArgument, ...
      return;
  }
}

void Client::catalog_retry(uint32_t slot, Op& op, bool rotate, bool backoff) {
  op.catalog_outstanding = false;
  if (++op.catalog_attempts > config_->retries_max) {
    runtime_.count("datapath.catalog_gave_up");
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  if (rotate) {
    const std::vector<NodeId>& group = catalogs_.group(op.shard);
    auto at = std::find(group.begin(), group.end(), op.catalog_node);
    op.catalog_node = (at == group.end() || at + 1 == group.end()) ? group.front() : *(at + 1);
    if (leader_hint_[op.shard] != kNoNode && leader_hint_[op.shard] != op.catalog_node) leader_hint_[op.shard] = kNoNode;
  }
  if (!backoff) {
    send_catalog(slot, op);
    return;
  }
  // Exponential backoff from 10 ms, never beyond the request timeout.
  const uint32_t shift = std::min<uint32_t>(op.catalog_attempts, 8);
  const TimeNs delay = std::min<TimeNs>(config_->request_timeout_ns, (10 * kMillisecond) << shift >> 1);
  op.catalog_backoff = true;
  arm(slot, op, delay);
}

// ---- read path ----

void Client::on_query_reply(const Envelope& from, const QueryReply& m) {
  uint32_t slot, sub;
  Op* found = find(m.request_id, &slot, &sub);
  if (found == nullptr || sub != kSubCatalog) return;
  Op& op = *found;
  if (op.phase != Phase::kQuery) {
    if (m.status == StatusCode::kOk && m.pin != 0) {  // an earlier attempt's answer: give its pin back
      auto release = std::make_shared<ReleasePin>();
      release->file_id = op.file;
      release->pin = m.pin;
      send(op, from.from, kPortCatalog, std::move(release));
    }
    return;
  }
  if (m.status == StatusCode::kOk) {
    received(op, m, op.catalog_depth);
    op.catalog_outstanding = false;
    leader_hint_[op.shard] = from.from;
    op.pin = m.pin;
    op.pin_node = from.from;
    plan(slot, op, m);
    return;
  }
  if (!op.catalog_outstanding || from.from != op.catalog_node) return;
  received(op, m, op.catalog_depth);
  on_catalog_refusal(slot, op, m.status, m.leader_hint);
}

// Works out the visible pieces and which records supply them, then starts fetching.
void Client::plan(uint32_t slot, Op& op, const QueryReply& m) {
  const uint32_t gen = op.generation;
  op.phase = Phase::kFetch;
  if (op.timer != 0) runtime_.cancel_timer(op.timer);
  op.timer = 0;
  for (const CatalogEntry& e : m.entries) {
    const Extent& x = e.record.extent;
    if (x.offset >= op.extent.end() || x.end() <= op.extent.offset) continue;
    if (e.record.file_id != op.file || e.record.fragments.size() != e.record.layout.fragment_count() ||
        e.record.layout.k == 0 || e.record.layout.fragment_bytes == 0) {
      runtime_.count("datapath.query_bad_entry");
      finish(slot, StatusCode::kMalformed);
      return;
    }
    ++op.overlap;
    if (config_->compaction_depth > 0) op.overlapping.push_back({e.record.record_id, x});
  }
  visible_pieces(m.entries, op.extent, stale_read_, visible_);
  std::vector<int32_t> read_of(m.entries.size(), -1);
  for (const VisiblePiece& v : visible_) {
    if (v.entry < 0) {
      op.pieces.push_back({v.offset, v.length, kNoRecord});
      continue;
    }
    const CatalogEntry& e = m.entries[v.entry];
    op.pieces.push_back({v.offset, v.length, e.record.record_id});
    if (read_of[v.entry] < 0) {
      read_of[v.entry] = static_cast<int32_t>(op.reads.size());
      op.reads.emplace_back();
      op.reads.back().entry = e;
    }
    RecordRead& rr = op.reads[read_of[v.entry]];
    rr.ranges.push_back({v.offset - e.record.extent.offset, v.length});
    rr.out_offsets.push_back(v.offset - op.extent.offset);
  }
  if (op.reads.size() > options_.records_per_read_max) {
    runtime_.count("datapath.read_too_many_records");
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  if (config_->real_payload) op.data.assign(op.extent.length, 0);
  if (op.reads.empty()) {
    complete_read(slot, op);
    return;
  }
  for (uint32_t r = 0; r < op.reads.size() && op.alive(gen); ++r) start_record_read(slot, op, r);
}

void Client::start_record_read(uint32_t slot, Op& op, uint32_t r) {
  RecordRead& rr = op.reads[r];
  const WriteRecord& rec = rr.entry.record;
  const uint32_t n = rec.layout.fragment_count();
  rr.slots.assign(n, FragmentSlot{});
  for (uint32_t i = 0; i < n; ++i) rr.slots[i].node = rec.fragments[i].node;
  rr.data.assign(n, Payload{});
  rr.window_offset.assign(n, 0);
  rr.window_length.assign(n, 0);
  bool direct = options_.partial_reads && config_->extra_fragments == 0;
  if (direct) {
    // One window per data fragment: the span of every segment the visible ranges need from it.
    for (const Extent& range : rr.ranges) {
      for (const FragmentWindow& w : plan_read(rec, range.offset, range.length)) {
        uint64_t& off = rr.window_offset[w.index];
        uint64_t& len = rr.window_length[w.index];
        const uint64_t lo = len == 0 ? w.offset : std::min(off, w.offset);
        const uint64_t hi = std::max(len == 0 ? 0 : off + len, w.offset + w.length);
        off = lo;
        len = hi - lo;
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      if (rr.window_length[i] > 0 && (rec.fragments[i].node == kUnplacedNode || !responsive(rec.fragments[i].node))) direct = false;
    }
  }
  if (!direct) {
    rr.whole = true;
    ask_whole(slot, op, r);
    return;
  }
  const TimeNs deadline = runtime_.local_now_ns() + config_->request_timeout_ns;
  for (uint32_t i = 0; i < n; ++i) {
    if (rr.window_length[i] == 0) continue;
    auto fetch = std::make_shared<FetchFragment>();
    fetch->request_id = request_id(slot, (r << kIndexBits) | i);
    fetch->file_id = op.file;
    fetch->record_id = rec.record_id;
    fetch->index = i;
    fetch->offset = rr.window_offset[i];
    fetch->length = rr.window_length[i];
    FragmentSlot& s = rr.slots[i];
    s.state = kAsked;
    s.depth = static_cast<uint8_t>(std::min<uint32_t>(op.depth + 1, 255));
    s.deadline_ns = deadline;
    ++rr.windows;
    ++rr.outstanding;
    send(op, s.node, kPortFragmentServer, std::move(fetch));
  }
  ensure_timer(slot, op, deadline);
}

// Whole fragments from the nearest untried ones (responsive before dead or avoided, data before parity at
// equal distance) until k + extra_fragments are healthy or on their way; the first k healthy ones are used.
void Client::ask_whole(uint32_t slot, Op& op, uint32_t r) {
  RecordRead& rr = op.reads[r];
  const WriteRecord& rec = rr.entry.record;
  const uint32_t n = rec.layout.fragment_count();
  const uint32_t k = rec.layout.k;
  const uint32_t want = std::min(n, k + config_->extra_fragments);
  std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> candidates;  // (order, distance, index)
  for (uint32_t i = 0; i < n; ++i) {
    const FragmentSlot& s = rr.slots[i];
    if ((s.state != kUntried && s.state != kAbandoned && s.state != kSuspect) || s.node == kUnplacedNode) continue;
    const uint32_t order = (s.state == kSuspect ? 0 : s.state == kAbandoned ? 3 : 1) + (responsive(s.node) ? 0 : 1);
    candidates.emplace_back(order, node_distance(config_->nodes, runtime_.node_id(), s.node) * 2 + (i >= k ? 1 : 0), i);
  }
  std::sort(candidates.begin(), candidates.end());
  const TimeNs deadline = runtime_.local_now_ns() + config_->request_timeout_ns;
  bool asked = false;
  for (const auto& [order, distance, i] : candidates) {
    if (rr.healthy + rr.outstanding >= want) break;
    auto fetch = std::make_shared<FetchFragment>();
    fetch->request_id = request_id(slot, kWholeBit | (r << kIndexBits) | i);
    fetch->file_id = op.file;
    fetch->record_id = rec.record_id;
    fetch->index = i;
    FragmentSlot& s = rr.slots[i];
    s.state = kAsked;
    s.depth = static_cast<uint8_t>(std::min<uint32_t>(op.depth + 1, 255));
    s.deadline_ns = deadline;
    ++rr.outstanding;
    asked = true;
    send(op, s.node, kPortFragmentServer, std::move(fetch));
  }
  if (rr.healthy + rr.outstanding < k) {
    runtime_.count("datapath.read_unavailable");
    finish(slot, StatusCode::kUnavailable);
    return;
  }
  if (asked) ensure_timer(slot, op, deadline);
}

void Client::switch_to_whole(uint32_t slot, Op& op, uint32_t r, bool suspect) {
  RecordRead& rr = op.reads[r];
  runtime_.count("datapath.read_fallback");
  rr.whole = true;
  for (FragmentSlot& s : rr.slots) {
    if (s.state == kAsked) s.state = kAbandoned;  // its window reply will be ignored
    else if (s.state == kHealthy) s.state = suspect ? kSuspect : kUntried;
  }
  for (Payload& p : rr.data) p = Payload{};
  rr.healthy = 0;
  rr.outstanding = 0;
  rr.windows = 0;
  ask_whole(slot, op, r);
}

void Client::on_fetch_reply(const Envelope& from, const FetchFragmentReply& m) {
  note_reply(from.from);
  uint32_t slot, sub;
  Op* found = find(m.request_id, &slot, &sub);
  if (found == nullptr || found->phase != Phase::kFetch || sub == kSubCatalog) return;
  Op& op = *found;
  const bool whole = (sub & kWholeBit) != 0;
  const uint32_t r = (sub & ~kWholeBit) >> kIndexBits;
  const uint32_t i = sub & ((1u << kIndexBits) - 1);
  if (r >= op.reads.size()) return;
  RecordRead& rr = op.reads[r];
  if (rr.done || i >= rr.slots.size()) {  // late binding: an answer nobody waits for any more
    op.bytes_received += frame_size(m);
    ++op.messages;
    return;
  }
  FragmentSlot& s = rr.slots[i];
  if (s.state != kAsked || s.node != from.from || whole != rr.whole) return;
  received(op, m, s.depth);
  --rr.outstanding;
  const WriteRecord& rec = rr.entry.record;
  const bool real = config_->real_payload;
  if (!rr.whole) {
    const bool ok = m.status == StatusCode::kOk && m.offset == rr.window_offset[i] && m.data.size == rr.window_length[i] &&
                    m.data.is_real() == real && m.data.rot_flips == 0;
    if (!ok) {
      // Rot in a synthetic window is what a failed authentication looks like in real mode: every window
      // becomes a suspect. Anything else (error, timeout, short data) just rules this fragment out.
      const bool rotten = m.status == StatusCode::kOk && m.data.rot_flips > 0;
      s.state = rotten ? kHealthy : kFailed;
      if (rotten) runtime_.count("datapath.read_direct_corrupt");
      switch_to_whole(slot, op, r, rotten);
      return;
    }
    s.state = kHealthy;
    rr.data[i] = m.data;
    ++rr.healthy;
    ++op.fragments;
    if (rr.healthy == rr.windows) decode_record(slot, op, r);
    return;
  }
  bool ok = m.status == StatusCode::kOk && m.data.size == kFragmentHeaderBytes + rec.layout.fragment_bytes &&
            m.data.is_real() == real;
  if (ok) {
    charge(CostOp::checksum(), rec.layout.fragment_bytes);
    if (real) {
      const ByteSpan stored(*m.data.bytes);
      Result<FragmentHeader> header = decode_fragment_header(stored);
      ok = header.is_ok() && header->file_id == op.file && header->record_id == rec.record_id && header->index == i &&
           header->layout == rec.layout && crc32c(stored.subspan(kFragmentHeaderBytes)) == rec.fragments[i].crc32c;
    } else {
      ok = m.data.rot_flips == 0;
    }
    if (!ok) runtime_.count("datapath.read_fragment_corrupt");
  }
  if (m.status == StatusCode::kCorrupt) runtime_.count("datapath.read_fragment_corrupt");
  if (!ok) {
    s.state = kFailed;
    ask_whole(slot, op, r);
    return;
  }
  s.state = kHealthy;
  rr.data[i] = m.data;
  ++rr.healthy;
  ++op.fragments;
  if (rr.healthy == rec.layout.k) decode_record(slot, op, r);
}

void Client::decode_record(uint32_t slot, Op& op, uint32_t r) {
  RecordRead& rr = op.reads[r];
  const WriteRecord& rec = rr.entry.record;
  const uint32_t k = rec.layout.k;
  // CPU, the same in both fidelities: open the segments of every visible range, and rebuild the data
  // windows whose fragment is not among those that arrived.
  uint32_t lost = 0;
  uint64_t rebuild_bytes = 0;
  for (const Extent& range : rr.ranges) {
    const SealedRange sealed = aead_sealed_range(rec.extent.length, rec.crypto.segment_bytes, range.offset, range.length);
    charge(CostOp::aead_open(rec.crypto.algorithm), sealed.end - sealed.first);
    if (!rr.whole) continue;
    for (const FragmentWindow& w : plan_read(rec, range.offset, range.length)) {
      if (rr.slots[w.index].state == kHealthy) continue;
      ++lost;
      rebuild_bytes = std::max(rebuild_bytes, rebuild_window(rec, w).length);
    }
  }
  if (lost > 0) {
    charge(CostOp::ec_decode(k, rec.layout.m, rec.layout.backend, std::min(lost, rec.layout.m)), uint64_t{k} * rebuild_bytes);
    runtime_.count("datapath.read_degraded");
  }
  if (config_->real_payload) {
    std::vector<FragmentPiece> pieces;
    for (uint32_t i = 0; i < rr.slots.size(); ++i) {
      if (rr.slots[i].state != kHealthy) continue;
      const ByteSpan bytes(*rr.data[i].bytes);
      if (rr.whole) pieces.push_back({i, 0, bytes.subspan(kFragmentHeaderBytes)});
      else pieces.push_back({i, rr.window_offset[i], bytes});
    }
    if (!op.file_key) op.file_key = derive_file_key(config_->master_key, op.file);
    for (size_t j = 0; j < rr.ranges.size(); ++j) {
      std::span<uint8_t> out(op.data.data() + rr.out_offsets[j], rr.ranges[j].length);
      Status decoded = codec_.decode_read(*op.file_key, rec, rr.ranges[j].offset, out, pieces);
      if (decoded.is_ok()) continue;
      if (!rr.whole) {  // a partial window cannot be CRC-checked: find the bad fragment with whole ones
        runtime_.count("datapath.read_direct_corrupt");
        switch_to_whole(slot, op, r, /*suspect=*/true);
        return;
      }
      runtime_.count("datapath.read_decode_failed");
      finish(slot, decoded.code() == StatusCode::kUnavailable ? StatusCode::kUnavailable : StatusCode::kCorrupt);
      return;
    }
  }
  rr.done = true;
  rr.data.clear();
  if (++op.reads_done == op.reads.size()) complete_read(slot, op);
}

void Client::complete_read(uint32_t slot, Op& op) {
  if (config_->real_payload) {
    // The client checks its own result: every byte must be what the record it names wrote there.
    for (const ReadPiece& p : op.pieces) {
      if (p.record == kNoRecord) continue;
      if (is_compaction_record(p.record)) {
        runtime_.count("datapath.read_unverified");  // copies of older records: see compaction_sources
        continue;
      }
      const ByteSpan bytes(op.data.data() + (p.offset - op.extent.offset), p.length);
      if (provenance_mismatches(p.record, p.offset, bytes) > 0) runtime_.count("datapath.read_mismatch");
    }
  }
  if (options_.trace) {
    const TimeNs end = runtime_.trace_now_ns();
    for (const ReadPiece& p : op.pieces) {
      ReadPieceRow row{op.id, runtime_.node_id(), op.file, p.offset, p.length, p.record.client, p.record.sequence,
                       op.start_trace_ns, end};
      runtime_.trace(read_pieces_table_, &row);
    }
  }
  finish(slot, StatusCode::kOk);
}

// ---- compaction ----

// A read that found its range covered by more than compaction_depth records writes the merged bytes back
// as one record over [lo, hi) (the read range clipped to the records) that supersedes every record lying
// entirely inside it. Records sticking out of it stay current; the new record wins where they overlap.
void Client::maybe_compact(const Op& op, const OperationResult& result) {
  const uint32_t threshold = config_->compaction_depth;
  if (threshold == 0 || op.overlap <= threshold || compacting_.count(op.file) > 0 ||
      compacting_.size() >= options_.compactions_in_flight_max || in_flight_ >= options_.operations_max) {
    return;
  }
  uint64_t lo = ~uint64_t{0}, hi = 0;
  for (const auto& [id, x] : op.overlapping) {
    lo = std::min(lo, std::max(x.offset, op.extent.offset));
    hi = std::max(hi, std::min(x.end(), op.extent.end()));
  }
  std::vector<RecordId> supersedes;
  for (const auto& [id, x] : op.overlapping) {
    if (x.offset >= lo && x.end() <= hi) supersedes.push_back(id);
  }
  if (supersedes.empty() || lo >= hi) {
    runtime_.count("datapath.compaction_skipped");
    return;
  }
  const uint32_t slot = allocate(OperationKind::kCompact, op.file, lo, hi - lo, nullptr);
  Op& c = *ops_[slot];
  c.supersedes = std::move(supersedes);
  for (const ReadPiece& p : result.pieces) {
    const uint64_t a = std::max(p.offset, lo), b = std::min(p.offset + p.length, hi);
    if (a < b) c.sources.push_back({a, b - a, p.record});
  }
  c.record.record_id = next_record_id(true);
  compacting_.insert(op.file);
  runtime_.count("datapath.compaction_started");
  ByteSpan plaintext;
  if (config_->real_payload) plaintext = ByteSpan(result.data).subspan(lo - op.extent.offset, hi - lo);
  start_record_write(slot, plaintext);
}

}  // namespace pbfs::datapath
