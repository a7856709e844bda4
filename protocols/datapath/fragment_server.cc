// Fragment server: store (write + fsync + manifest fsync, then reply), fetch (CRC-checked whole
// fragments, or body windows), delete, rebuild from any k others, and a periodic scrub. Every effect goes
// through the Runtime; the only state that survives a crash is what is on disk (fragments and manifest).
#include "protocols/datapath/fragment_server.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <tuple>

#include "coding/checksum.h"

namespace pbfs::datapath {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs fragment server: broken invariant: %s\n", what);
    std::abort();
  }
}

// Disk and timer tags: kind in the top byte, an id (store, fetch, rebuild, or sync cover) below.
enum TagKind : uint64_t {
  kTagBatch = 4,
  kTagFetchRead = 5,
  kTagRemove = 6,
  kTagManifestRead = 7,
  kTagScrubTimer = 8,
  kTagRebuildTimer = 9,
  kTagOrphanTimer = 10,
  kTagOrphanRequest = 11,
  kTagManifestCheck = 12,
};
constexpr uint64_t kTagIdMask = (uint64_t{1} << 56) - 1;
constexpr uint64_t make_tag(uint64_t kind, uint64_t id) { return (kind << 56) | (id & kTagIdMask); }
constexpr uint64_t tag_kind(uint64_t tag) { return tag >> 56; }
constexpr uint64_t tag_id(uint64_t tag) { return tag & kTagIdMask; }

// Manifest entry: u8 op, u8 version, u16 fragment index, u64 file, u64 client, u64 seq, u32 log,
// u32 offset, u32 size, u32 CRC32C of the 40 bytes before it. Deletions carry no location (zeros). A
// fragment index is below 256 (k + m <= 256) and a fragment lies within its log, whose size the
// configuration keeps below 4 GiB, so 32 bits hold each.
constexpr uint8_t kManifestAdd = 1;
constexpr uint8_t kManifestDelete = 2;
constexpr uint8_t kManifestVersion = 3;
constexpr uint64_t kManifestChunkBytes = 64 * 1024;

struct ManifestEntry {
  uint8_t op = 0;
  FragmentKey key;
  FragmentLocation location;
};

void encode_manifest_entry(const ManifestEntry& e, Bytes& out) {
  require(e.key.index <= 0xffff && e.location.offset <= 0xffffffffu, "manifest entry fields fit");
  const size_t at = out.size();
  WireWriter w(out);
  w.u8(e.op);
  w.u8(kManifestVersion);
  w.u16(static_cast<uint16_t>(e.key.index));
  w.u64(e.key.file);
  w.u64(e.key.record.client);
  w.u64(e.key.record.sequence);
  w.u32(e.location.log);
  w.u32(static_cast<uint32_t>(e.location.offset));
  w.u32(e.location.size);
  w.u32(crc32c(ByteSpan(out).subspan(at)));
  require(out.size() - at == kManifestEntryBytes, "manifest entry size");
}

// False for an entry that is torn, rotten or of another version.
bool decode_manifest_entry(ByteSpan entry, ManifestEntry& e) {
  WireReader r(entry.first(kManifestEntryBytes));
  uint8_t version = 0;
  uint16_t index = 0;
  uint32_t offset = 0;
  uint32_t crc = 0;
  const bool ok = r.u8(e.op) && r.u8(version) && r.u16(index) && r.u64(e.key.file) && r.u64(e.key.record.client) &&
                  r.u64(e.key.record.sequence) && r.u32(e.location.log) && r.u32(offset) && r.u32(e.location.size) &&
                  r.u32(crc) && version == kManifestVersion && crc == crc32c(entry.first(kManifestEntryBytes - 4));
  e.key.index = index;
  e.location.offset = offset;
  return ok;
}

// Calls f(entry, its bytes) for every whole entry of `manifest` that decodes, in order; returns how many
// did not (a trailing partial entry is neither).
template <typename F>
size_t for_each_manifest_entry(ByteSpan manifest, F&& f) {
  size_t corrupt = 0;
  ManifestEntry e;
  for (size_t at = 0; at + kManifestEntryBytes <= manifest.size(); at += kManifestEntryBytes) {
    const ByteSpan bytes = manifest.subspan(at, kManifestEntryBytes);
    if (decode_manifest_entry(bytes, e)) f(e, bytes);
    else ++corrupt;
  }
  return corrupt;
}

// Adds a read's bytes to `carry` and calls f(entry) for every whole entry there that decodes, keeping a
// trailing partial entry in `carry` for the next read; returns how many entries did not decode.
template <typename F>
size_t consume_manifest_read(Bytes& carry, const Payload& read, F&& f) {
  if (read.is_real()) carry.insert(carry.end(), read.bytes->begin(), read.bytes->end());
  else carry.resize(carry.size() + read.size, 0);  // cannot happen: the manifest is always real bytes
  const size_t corrupt = for_each_manifest_entry(carry, [&](const ManifestEntry& e, ByteSpan) { f(e); });
  const size_t used = carry.size() / kManifestEntryBytes * kManifestEntryBytes;  // whole entries
  carry.erase(carry.begin(), carry.begin() + static_cast<std::ptrdiff_t>(used));
  return corrupt;
}

// Rebuild fetches carry (rebuild id << 9 | fragment index) as their request id.
constexpr uint64_t kRebuildIndexBits = 9;

// The orphan pass runs twice per grace period, so a fragment is asked about at most half a period after
// its grace ends. A server's due fragments spread over every shard: the longer the period, the more
// records each question carries.
// A pass every grace: a fragment is asked about between one and two graces after it was stored. A
// server's fragments spread over every shard, so the longer the period, the more records a question
// carries (half as many questions as with a pass every half grace).
TimeNs orphan_period_ns(const DataPathConfig& config) { return std::max<TimeNs>(config.orphan_grace_ns, kMillisecond); }

enum FragmentState : uint8_t { kUntried = 0, kAsked = 1, kHealthy = 2, kFailed = 3 };

}  // namespace

std::string fragment_log_file(uint32_t log) { return "frag/log/" + std::to_string(log); }

FragmentTable<FragmentLocation> read_manifest(ByteSpan manifest) {
  FragmentTable<FragmentLocation> stored;
  stored.reserve(manifest.size() / kManifestEntryBytes);  // at most one fragment per entry
  for_each_manifest_entry(manifest, [&](const ManifestEntry& e, ByteSpan) {
    if (e.op == kManifestAdd) *stored.try_emplace(e.key).first = e.location;
    else if (e.op == kManifestDelete) stored.erase(e.key);
  });
  return stored;
}

struct FragmentServer::Rebuild {
  Envelope reply_to;
  uint64_t request_id = 0;
  WriteRecord record;
  uint32_t index = 0;
  std::vector<uint8_t> state;
  std::vector<TimeNs> deadline_ns;
  std::vector<Payload> data;
  uint32_t healthy = 0;
  uint32_t outstanding = 0;
  TimerId timer = 0;
  bool storing = false;
};

FragmentServer::FragmentServer(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, FragmentServerOptions options)
    : runtime_(runtime), config_(std::move(config)), skip_fsync_(config_->inject_bug == "skip_fsync"),
      options_(options), catalogs_(config_) {
  require(config_->log_file_bytes <= kLogFileBytesMax, "fragment log size at most 4 GiB");
}

FragmentServer::~FragmentServer() = default;

const FragmentLocation* FragmentServer::location(FileId file, const RecordId& record, uint32_t index) const {
  const Stored* found = index_.find(Key{file, record, index});
  return found == nullptr ? nullptr : &found->location;
}

bool FragmentServer::holds(FileId file, const RecordId& record, uint32_t index) const {
  return index_.contains(Key{file, record, index});
}

bool FragmentServer::confirmed(FileId file, const RecordId& record, uint32_t index) const {
  const Stored* found = index_.find(Key{file, record, index});
  return found != nullptr && found->confirmed;
}

void FragmentServer::charge_checksum(uint64_t bytes) {
  if (config_->cost_model) runtime_.charge_cpu(config_->cost_model->cost_ns(CostOp::checksum(), bytes));
}

// ---- start and manifest replay ----

void FragmentServer::start() {
  if (config_->scrub_interval_ns > 0) runtime_.set_timer(config_->scrub_interval_ns, make_tag(kTagScrubTimer, 0));
  if (config_->orphan_grace_ns > 0) runtime_.set_timer(orphan_period_ns(*config_), make_tag(kTagOrphanTimer, 0));
  runtime_.disk_read(kFragmentManifestFile, 0, kManifestChunkBytes, make_tag(kTagManifestRead, 0));
}

void FragmentServer::replay_manifest(const DiskCompletion& done) {
  if (!done.status.is_ok()) {  // no manifest yet (kNotFound) or a failed disk: nothing is stored
    if (done.status.code() != StatusCode::kNotFound) runtime_.count("datapath.manifest_unreadable");
    finish_recovery();
    return;
  }
  const uint64_t got = done.data.size;
  const size_t corrupt = consume_manifest_read(replay_carry_, done.data, [&](const ManifestEntry& e) {
    if (e.op == kManifestAdd) {
      *index_.try_emplace(e.key).first = Stored{e.location, 0, false};
    } else if (e.op == kManifestDelete) {
      index_.erase(e.key);
    }
  });
  for (size_t i = 0; i < corrupt; ++i) runtime_.count("datapath.manifest_entry_corrupt");
  replay_offset_ += got;
  if (got == kManifestChunkBytes) {
    runtime_.disk_read(kFragmentManifestFile, replay_offset_, kManifestChunkBytes, make_tag(kTagManifestRead, 0));
    return;
  }
  // A torn last entry is overwritten by the next append, so entries stay aligned.
  manifest_bytes_ = replay_offset_ / kManifestEntryBytes * kManifestEntryBytes;
  finish_recovery();
}

void FragmentServer::finish_recovery() {
  ready_ = true;
  replay_carry_.clear();
  // Live bytes per log; appends go to a fresh log. Logs below it that hold nothing live are removed
  // (their removal may have been lost in the crash; removing a missing file is harmless).
  logs_.clear();
  uint32_t next_log = 0;
  index_.for_each([&](const Key&, const Stored& stored) {
    logs_[stored.location.log].live_bytes += stored.location.size;
    next_log = std::max(next_log, stored.location.log + 1);
  });
  for (uint32_t log = 0; log < next_log; ++log) {
    if (logs_.count(log) == 0) runtime_.disk_remove(fragment_log_file(log), make_tag(kTagRemove, 0));
  }
  open_log_ = next_log;
  log_open_ = false;
  open_log();
  std::vector<uint32_t> sealed;
  for (const auto& [log, file] : logs_) {
    if (log != open_log_) sealed.push_back(log);
  }
  for (uint32_t log : sealed) tend_log(log);
  // Store times are not in the manifest (and the local clock may have restarted): the grace starts over.
  const TimeNs now = runtime_.local_now_ns();
  index_.for_each([&](const Key&, Stored& stored) { stored.checked_local_ns = now; });
  std::vector<Deferred> waiting;
  waiting.swap(deferred_);
  for (const Deferred& d : waiting) handle(d.from, *d.message);
}

void FragmentServer::defer(const Envelope& from, const Message& message) {
  if (deferred_.size() >= options_.deferred_max) {
    runtime_.count("datapath.fragment_server_deferred_full");
    if (message.type() == types::kStoreFragment) {
      auto reply = std::make_shared<StoreFragmentReply>();
      reply->request_id = static_cast<const StoreFragment&>(message).request_id;
      reply->status = StatusCode::kUnavailable;
      runtime_.send(from.from, from.from_port, std::move(reply));
    }
    return;  // fetches time out at the reader, which asks another fragment
  }
  std::shared_ptr<const Message> copy;
  switch (message.type()) {
    case types::kStoreFragment: copy = std::make_shared<StoreFragment>(static_cast<const StoreFragment&>(message)); break;
    case types::kFetchFragment: copy = std::make_shared<FetchFragment>(static_cast<const FetchFragment&>(message)); break;
    case types::kDeleteFragments: copy = std::make_shared<DeleteFragments>(static_cast<const DeleteFragments&>(message)); break;
    case types::kRebuildFragment: copy = std::make_shared<RebuildFragment>(static_cast<const RebuildFragment&>(message)); break;
    default: return;  // replies to rebuilds of an earlier incarnation
  }
  deferred_.push_back({from, std::move(copy)});
}

// ---- dispatch ----

void FragmentServer::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_->cpu_per_message_ns);
  if (!ready_) {
    defer(from, message);
    return;
  }
  handle(from, message);
}

void FragmentServer::handle(const Envelope& from, const Message& message) {
  switch (message.type()) {
    case types::kStoreFragment: on_store(from, static_cast<const StoreFragment&>(message)); break;
    case types::kFetchFragment: on_fetch(from, static_cast<const FetchFragment&>(message)); break;
    case types::kDeleteFragments: on_delete(static_cast<const DeleteFragments&>(message)); break;
    case types::kRebuildFragment: on_rebuild(from, static_cast<const RebuildFragment&>(message)); break;
    case types::kFetchFragmentReply: on_rebuild_fetch_reply(from, static_cast<const FetchFragmentReply&>(message)); break;
    case types::kRecordStatusReply: on_record_status_reply(from, static_cast<const RecordStatusReply&>(message)); break;
    default: runtime_.count("datapath.fragment_server_unexpected_message"); break;
  }
}

void FragmentServer::on_timer(TimerId id, uint64_t tag) {
  if (tag_kind(tag) == kTagScrubTimer) {
    runtime_.set_timer(config_->scrub_interval_ns, make_tag(kTagScrubTimer, 0));
    start_scrub();
    return;
  }
  if (tag_kind(tag) == kTagOrphanTimer) {
    runtime_.set_timer(orphan_period_ns(*config_), make_tag(kTagOrphanTimer, 0));
    start_orphan_pass();
    return;
  }
  if (tag_kind(tag) == kTagOrphanRequest) return on_orphan_timeout(tag_id(tag));
  if (tag_kind(tag) != kTagRebuildTimer) return;
  auto it = rebuilds_.find(tag_id(tag));
  if (it == rebuilds_.end() || it->second->timer != id) return;
  it->second->timer = 0;
  rebuild_fail_expired(it->first, *it->second);
}

void FragmentServer::on_disk(const DiskCompletion& done) {
  const uint64_t id = tag_id(done.tag);
  switch (tag_kind(done.tag)) {
    case kTagBatch: batch_done(id, done.status); break;
    case kTagFetchRead: fetch_disk_done(id, done); break;
    case kTagManifestRead: replay_manifest(done); break;
    case kTagManifestCheck: manifest_check_read(done); break;
    default: break;  // removals: nothing waits for them
  }
}

// ---- store ----

void FragmentServer::on_store(const Envelope& from, const StoreFragment& m) {
  StatusCode status = StatusCode::kOk;
  const uint64_t body_bytes = m.data.size >= kFragmentHeaderBytes ? m.data.size - kFragmentHeaderBytes : 0;
  charge_checksum(body_bytes);
  if (stores_.size() >= options_.stores_max) {
    status = StatusCode::kUnavailable;
  } else if (m.data.size < kFragmentHeaderBytes || m.data.size > kFragmentBytesMax) {
    status = StatusCode::kInvalidArgument;
  } else if (m.data.is_real()) {
    // Refuse what arrived damaged or filed under the wrong name before it reaches the disk.
    Result<FragmentParts> parts = decode_fragment(*m.data.bytes);
    if (!parts.is_ok()) status = parts.status().code();
    else if (parts->header.file_id != m.file_id || parts->header.record_id != m.record_id || parts->header.index != m.index)
      status = StatusCode::kInvalidArgument;
  } else if (m.data.rot_flips > 0) {
    status = StatusCode::kCorrupt;
  }
  if (status != StatusCode::kOk) {
    runtime_.count("datapath.store_refused");
    auto reply = std::make_shared<StoreFragmentReply>();
    reply->request_id = m.request_id;
    reply->status = status;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  auto store = std::make_unique<Store>();
  store->key = Key{m.file_id, m.record_id, m.index};
  store->reply_to = from;
  store->request_id = m.request_id;
  begin_store(std::move(store), m.data);
}

// ---- log files ----

FragmentLocation FragmentServer::allocate(uint64_t size) {
  if (!log_open_ || (open_log_bytes_ > 0 && open_log_bytes_ + size > config_->log_file_bytes)) open_log();
  const FragmentLocation location{.log = open_log_, .size = static_cast<uint32_t>(size), .offset = open_log_bytes_};
  open_log_bytes_ += size;
  ++logs_[open_log_].stores_in_flight;
  if (unsynced_logs_.empty() || unsynced_logs_.back() != open_log_) unsynced_logs_.push_back(open_log_);
  return location;
}

void FragmentServer::open_log() {
  const bool seal = log_open_;
  const uint32_t sealed = open_log_;
  if (seal) ++open_log_;
  log_open_ = true;
  open_log_bytes_ = 0;
  open_log_name_ = fragment_log_file(open_log_);
  logs_[open_log_];
  // Whatever an earlier incarnation left under this name is not in the manifest: start empty.
  runtime_.disk_remove(open_log_name_, make_tag(kTagRemove, 0));
  if (seal) tend_log(sealed);
}

void FragmentServer::add_live(const FragmentLocation& location) { logs_[location.log].live_bytes += location.size; }

void FragmentServer::remove_live(const FragmentLocation& location) {
  auto it = logs_.find(location.log);
  require(it != logs_.end() && it->second.live_bytes >= location.size, "live bytes of a log");
  it->second.live_bytes -= location.size;
  tend_log(location.log);
}

// A sealed log with nothing live and nothing being written is removed; one mostly dead is cleaned.
void FragmentServer::tend_log(uint32_t log) {
  auto it = logs_.find(log);
  if (it == logs_.end() || (log_open_ && log == open_log_) || it->second.stores_in_flight > 0) return;
  if (it->second.live_bytes == 0) {
    logs_.erase(it);
    runtime_.disk_remove(fragment_log_file(log), make_tag(kTagRemove, 0));
    ++logs_removed_;
    runtime_.count("datapath.fragment_log_removed");
    if (cleaning_ && cleaning_log_ == log) cleaning_ = false;
  }
  start_cleaning();
}

// ---- store ----

void FragmentServer::begin_store(std::unique_ptr<Store> store, Payload data) {
  store->location = allocate(data.size);
  const FragmentLocation location = store->location;
  if (batch_writes_.capacity() == 0) batch_writes_.reserve(8);  // a new batch: room for a typical one at once
  batch_writes_.push_back(DiskStep::write(log_name(location.log), location.offset, std::move(data)));
  store->manifest_batch = append_manifest(kManifestAdd, store->key, location);
  stores_.push_back(std::move(store));
  flush_manifest();
}

// Entries and fragment writes queue up while a batch is on the disk; the next batch takes all of them
// as one chain (group commit): the fragments are appended to their logs, the logs written since the last
// batch are synced, then the manifest entries are appended and synced. A batch that fails fails all of
// its stores, and its manifest entries never land.
uint64_t FragmentServer::append_manifest(uint8_t op, const Key& key, const FragmentLocation& location) {
  // Each batch starts a new buffer (the last one went to the disk): room for a typical batch at once,
  // instead of growing field by field from nothing.
  if (manifest_pending_.capacity() == 0) manifest_pending_.reserve(16 * kManifestEntryBytes);
  encode_manifest_entry(ManifestEntry{op, key, location}, manifest_pending_);
  if (op != kManifestAdd) flush_manifest();  // a store flushes once it has queued its write too
  return manifest_next_batch_;
}

void FragmentServer::flush_manifest() {
  if (manifest_flush_in_flight_ || manifest_pending_.empty()) return;
  const uint64_t batch = manifest_next_batch_++;
  std::vector<DiskStep> steps = std::move(batch_writes_);
  batch_writes_.clear();
  steps.reserve(steps.size() + unsynced_logs_.size() + 2);
  // skip_fsync (deliberate bug): acknowledge once everything reached the cache, never sync.
  if (!skip_fsync_) {
    for (uint32_t log : unsynced_logs_) steps.push_back(DiskStep::sync(log_name(log)));
  }
  unsynced_logs_.clear();
  Payload entries = Payload::real(std::move(manifest_pending_));  // shared with the disk, not copied
  manifest_pending_ = Bytes{};
  manifest_flushing_ = entries.bytes;
  steps.push_back(DiskStep::write(kFragmentManifestFile, manifest_bytes_, std::move(entries)));
  manifest_bytes_ += manifest_flushing_->size();
  if (!skip_fsync_) steps.push_back(DiskStep::sync(kFragmentManifestFile));
  manifest_flush_in_flight_ = true;
  runtime_.disk_chain(std::move(steps), make_tag(kTagBatch, batch));
}

void FragmentServer::batch_done(uint64_t batch, const Status& status) {
  manifest_flush_in_flight_ = false;
  bool flush_now = true;
  if (!status.is_ok()) {
    runtime_.count("datapath.manifest_write_failed");
    stores_.for_each_while([&](Store& store) {
      if (store.manifest_batch == batch && store.status == StatusCode::kOk) store.status = status.code();
      return true;
    });
    // Nothing after the failed step landed: the next batch reuses the manifest's space and carries the
    // deletions again (the failed stores' entries are dropped with them). They wait
    // for the next entry to be appended rather than retrying against a disk that just failed.
    manifest_bytes_ -= manifest_flushing_->size();
    flush_now = !manifest_pending_.empty();
    Bytes retry;
    for_each_manifest_entry(*manifest_flushing_, [&](const ManifestEntry& e, ByteSpan bytes) {
      if (e.op != kManifestAdd) retry.insert(retry.end(), bytes.begin(), bytes.end());
    });
    retry.insert(retry.end(), manifest_pending_.begin(), manifest_pending_.end());
    manifest_pending_ = std::move(retry);
  }
  manifest_flushing_.reset();
  manifest_durable_batch_ = std::max(manifest_durable_batch_, batch);
  finish_stores();
  if (flush_now) flush_manifest();
}

void FragmentServer::finish_stores() {
  // Every store joins the next batch when it begins and batches finish in order, so stores finish in
  // the order they began: from the front.
  while (!stores_.empty() && stores_.front().manifest_batch <= manifest_durable_batch_) {
    const std::unique_ptr<Store> store = stores_.pop_front();
    finish_store(*store);
  }
}

void FragmentServer::finish_store(Store& store) {
  if (store.move && store.status == StatusCode::kOk) {
    // Deleted or replaced while the move's batch was being synced: the copy is dead space (its manifest
    // entry comes before the delete's, or names an identical copy), and the fragment must not come back.
    const Stored* current = index_.find(store.key);
    if (current == nullptr || current->location != store.moved_from) store.status = StatusCode::kConflict;
  }
  const StatusCode status = store.status;
  LogFile& log = logs_[store.location.log];
  require(log.stores_in_flight > 0, "stores in flight of a log");
  --log.stores_in_flight;
  if (status == StatusCode::kOk) {
    add_live(store.location);  // before the old copy is let go: both may be in one log
    auto [found, inserted] = index_.try_emplace(store.key);
    Stored& stored = *found;
    const FragmentLocation old = stored.location;
    const bool confirmed = !inserted && stored.confirmed;
    stored = Stored{store.location, runtime_.local_now_ns(), confirmed};
    if (!inserted) remove_live(old);  // stored again (a rebuild) or moved: the old copy is dead
  } else if (!store.move) {
    runtime_.count("datapath.store_failed");
  }
  if (store.move) {
    if (clean_in_flight_ > 0) --clean_in_flight_;
    if (status == StatusCode::kOk) runtime_.count("datapath.fragment_moved");
  } else if (store.rebuild == 0) {
    auto reply = std::make_shared<StoreFragmentReply>();
    reply->request_id = store.request_id;
    reply->status = status;
    runtime_.send(store.reply_to.from, store.reply_to.from_port, std::move(reply));
  }
  tend_log(store.location.log);
  if (store.rebuild != 0) rebuild_reply(store.rebuild, status);
  if (store.move) clean_next();
}

// ---- fetch ----

void FragmentServer::on_fetch(const Envelope& from, const FetchFragment& m) {
  const Key key{m.file_id, m.record_id, m.index};
  const Stored* found = index_.find(key);
  StatusCode status = StatusCode::kOk;
  if (fetches_.size() >= options_.fetches_max) status = StatusCode::kUnavailable;
  else if (found == nullptr) status = StatusCode::kNotFound;
  else if (m.length > 0 && (m.offset > found->location.size - kFragmentHeaderBytes ||
                            m.length > found->location.size - kFragmentHeaderBytes - m.offset))
    status = StatusCode::kInvalidArgument;
  if (status != StatusCode::kOk) {
    auto reply = std::make_shared<FetchFragmentReply>();
    reply->request_id = m.request_id;
    reply->status = status;
    reply->index = m.index;
    reply->offset = m.offset;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  const FragmentLocation location = found->location;
  const bool whole = m.length == 0;
  Fetch fetch;
  fetch.reply_to = from;
  fetch.request_id = m.request_id;
  fetch.offset = m.offset;
  fetch.whole = whole;
  if (whole) read_fragment(key, location, std::move(fetch), 0, location.size);
  else read_fragment(key, location, std::move(fetch), kFragmentHeaderBytes + m.offset, m.length);
}

void FragmentServer::read_fragment(const Key& key, const FragmentLocation& location, Fetch fetch, uint64_t offset,
                                   uint64_t length) {
  const uint64_t id = next_id_++;
  fetch.key = key;
  fetch.location = location;
  fetches_.emplace(id, std::move(fetch));
  runtime_.disk_read(log_name(location.log), location.offset + offset, length, make_tag(kTagFetchRead, id));
}

StatusCode FragmentServer::check_whole(const Key& key, uint64_t size, const Payload& data) const {
  if (data.size != size) return StatusCode::kCorrupt;  // torn or truncated
  if (!data.is_real()) return data.rot_flips > 0 ? StatusCode::kCorrupt : StatusCode::kOk;
  Result<FragmentParts> parts = decode_fragment(*data.bytes);
  if (!parts.is_ok()) return StatusCode::kCorrupt;  // a wrong CRC, or rot in the header itself
  const FragmentHeader& h = parts->header;
  if (h.file_id != key.file || h.record_id != key.record || h.index != key.index) return StatusCode::kCorrupt;
  return StatusCode::kOk;
}

void FragmentServer::report_corrupt(const Key& key) {
  // Simplest routing that always reaches the primary: every replica of the shard (backups ignore it).
  for (NodeId replica : catalogs_.group_of_file(key.file)) {
    auto m = std::make_shared<FragmentCorrupt>();
    m->file_id = key.file;
    m->record_id = key.record;
    m->index = key.index;
    runtime_.send(replica, kPortCatalog, std::move(m));
  }
}

void FragmentServer::fetch_disk_done(uint64_t id, const DiskCompletion& done) {
  auto it = fetches_.find(id);
  if (it == fetches_.end()) return;
  const Fetch fetch = std::move(it->second);
  fetches_.erase(it);
  StatusCode status = done.status.code();
  if (status == StatusCode::kNotFound) forget_missing(fetch.key);
  if (status == StatusCode::kOk && fetch.whole) {
    charge_checksum(done.data.size > kFragmentHeaderBytes ? done.data.size - kFragmentHeaderBytes : 0);
    status = check_whole(fetch.key, fetch.location.size, done.data);
    if (status == StatusCode::kOk && fetch.purpose == Fetch::For::kScrub) {
      Stored* stored = index_.find(fetch.key);
      if (stored != nullptr && stored->location == fetch.location) stored->scrubbed = true;
    }
    if (status == StatusCode::kCorrupt) {
      runtime_.count(fetch.purpose == Fetch::For::kScrub      ? "datapath.scrub_corrupt"
                     : fetch.purpose == Fetch::For::kCleaner ? "datapath.clean_corrupt"
                                                             : "datapath.fetch_corrupt");
      report_corrupt(fetch.key);
    }
  }
  switch (fetch.purpose) {
    case Fetch::For::kScrub:
      --scrub_in_flight_;
      return scrub_next();
    case Fetch::For::kCleaner:
      return cleaner_read_done(fetch, status, done.data);
    case Fetch::For::kReader: break;
  }
  auto reply = std::make_shared<FetchFragmentReply>();
  reply->request_id = fetch.request_id;
  reply->status = status;
  reply->index = fetch.key.index;
  reply->offset = fetch.offset;
  if (status == StatusCode::kOk) reply->data = done.data;
  runtime_.send(fetch.reply_to.from, fetch.reply_to.from_port, std::move(reply));
}

// ---- delete ----

void FragmentServer::on_delete(const DeleteFragments& m) {
  for (const auto& [record, index] : m.fragments) {
    drop_fragment(Key{m.file_id, record, index});
    runtime_.count("datapath.fragment_deleted");
  }
}

bool FragmentServer::drop_fragment(const Key& key) {
  const std::optional<Stored> dropped = index_.erase(key);
  if (!dropped) return false;
  // Durable with the next batch; a delete lost in a crash brings the fragment back after the restart,
  // where the next orphan question (or recheck) deletes it again.
  append_manifest(kManifestDelete, key, FragmentLocation{});
  remove_live(dropped->location);
  return true;
}

void FragmentServer::forget_missing(const Key& key) {
  if (drop_fragment(key)) runtime_.count("datapath.fragment_missing");
}

// ---- scrub ----

void FragmentServer::start_scrub() {
  if (scrub_running_ || !ready_) return;
  scrub_queue_.clear();
  scrub_queue_.reserve(index_.size());
  index_.for_each([&](const Key& key, Stored& stored) {
    scrub_queue_.push_back(key);
    stored.scrubbed = false;
  });
  std::sort(scrub_queue_.begin(), scrub_queue_.end());
  scrub_position_ = 0;
  scrub_running_ = true;
  scrub_manifest_checked_ = false;
  scrub_next();
}

void FragmentServer::scrub_next() {
  while (scrub_in_flight_ < options_.scrub_reads_in_flight && scrub_position_ < scrub_queue_.size()) {
    const Key key = scrub_queue_[scrub_position_++];
    const Stored* found = index_.find(key);
    if (found == nullptr) continue;  // deleted since the pass began
    ++scrub_in_flight_;
    Fetch fetch;
    fetch.whole = true;
    fetch.purpose = Fetch::For::kScrub;
    read_fragment(key, found->location, std::move(fetch), 0, found->location.size);
  }
  if (!scrub_running_ || scrub_in_flight_ > 0 || scrub_position_ < scrub_queue_.size() || manifest_check_) return;
  if (!scrub_manifest_checked_) {  // every fragment read: now the manifest
    scrub_manifest_checked_ = true;
    manifest_check_ = std::make_unique<ManifestCheck>();
    return read_manifest_for_check();
  }
  scrub_running_ = false;
  ++scrub_passes_;
  runtime_.count("datapath.scrub_pass");
}

// Reads the next stretch of the manifest's durable bytes, or compares once it has read them all. Bytes
// below the durable end never change (a failed batch rewinds only its own, later, bytes) but by rot.
void FragmentServer::read_manifest_for_check() {
  const uint64_t end = durable_manifest_bytes();
  if (manifest_check_->offset >= end) return finish_manifest_check();
  manifest_check_->asked = std::min(kManifestChunkBytes, end - manifest_check_->offset);
  runtime_.disk_read(kFragmentManifestFile, manifest_check_->offset, manifest_check_->asked, make_tag(kTagManifestCheck, 0));
}

void FragmentServer::manifest_check_read(const DiskCompletion& done) {
  if (!manifest_check_) return;
  if (!done.status.is_ok()) {  // a failed disk: the pass ends without the check
    runtime_.count("datapath.manifest_check_failed");
    manifest_check_.reset();
    return scrub_next();
  }
  ManifestCheck& check = *manifest_check_;
  check.offset += done.data.size;
  consume_manifest_read(check.carry, done.data, [&](const ManifestEntry& e) {
    if (e.op == kManifestAdd) *check.listed.try_emplace(e.key).first = e.location;
    else if (e.op == kManifestDelete) check.listed.erase(e.key);
  });
  // Shorter than asked: the file lost bytes it had (a disk replaced under the server). What it lacks is
  // compared as missing.
  if (done.data.size < check.asked) return finish_manifest_check();
  read_manifest_for_check();
}

// The manifest's durable bytes are all read: with the entries not yet durable (the batch on the disk and
// the next one), they are every entry appended, and the index reflects every durable one. So a fragment
// not named by a pending entry must be listed exactly where the index has it, and one the index no longer
// holds must not be listed; an entry that says otherwise rotted (or was lost), and is appended again. A
// fragment's entry only if this pass read the fragment back sound: the manifest may be short because the
// disk was replaced under the server, and then the fragment's bytes went with it.
void FragmentServer::finish_manifest_check() {
  const std::unique_ptr<ManifestCheck> check = std::move(manifest_check_);
  std::vector<Key> pending;
  const auto collect = [&](ByteSpan entries) {
    for_each_manifest_entry(entries, [&](const ManifestEntry& e, ByteSpan) { pending.push_back(e.key); });
  };
  if (manifest_flushing_) collect(*manifest_flushing_);
  collect(manifest_pending_);
  std::sort(pending.begin(), pending.end());
  const auto settled = [&](const Key& key) { return !std::binary_search(pending.begin(), pending.end(), key); };
  std::vector<std::pair<Key, FragmentLocation>> rewrite;  // appended after the walks (a delete flushes at once)
  index_.for_each([&](const Key& key, const Stored& stored) {
    const FragmentLocation* listed = check->listed.find(key);
    if ((listed == nullptr || *listed != stored.location) && stored.scrubbed && settled(key)) {
      rewrite.emplace_back(key, stored.location);
    }
  });
  const size_t adds = rewrite.size();
  check->listed.for_each([&](const Key& key, const FragmentLocation&) {
    if (!index_.contains(key) && settled(key)) rewrite.emplace_back(key, FragmentLocation{});
  });
  for (size_t i = 0; i < rewrite.size(); ++i) {
    append_manifest(i < adds ? kManifestAdd : kManifestDelete, rewrite[i].first, rewrite[i].second);
    runtime_.count("datapath.manifest_entry_rewritten");
  }
  flush_manifest();
  scrub_next();
}

// ---- cleaning ----

void FragmentServer::start_cleaning() {
  if (cleaning_ || !ready_) return;
  // The sealed log with the fewest live bytes, if it is below the threshold and not being written.
  const double threshold = config_->log_clean_below * static_cast<double>(config_->log_file_bytes);
  std::optional<uint32_t> pick;
  uint64_t least = 0;
  for (const auto& [log, file] : logs_) {
    if ((log_open_ && log == open_log_) || file.stores_in_flight > 0 || static_cast<double>(file.live_bytes) >= threshold) continue;
    if (!pick || file.live_bytes < least) {
      pick = log;
      least = file.live_bytes;
    }
  }
  if (!pick) return;
  cleaning_ = true;
  cleaning_log_ = *pick;
  clean_queue_.clear();
  std::vector<std::pair<uint64_t, Key>> live;
  index_.for_each([&](const Key& key, const Stored& stored) {
    if (stored.location.log == cleaning_log_) live.emplace_back(stored.location.offset, key);
  });
  std::sort(live.begin(), live.end());
  for (const auto& [offset, key] : live) clean_queue_.push_back(key);
  clean_position_ = 0;
  runtime_.count("datapath.fragment_log_cleaned");
  clean_next();
}

void FragmentServer::clean_next() {
  if (!cleaning_) return;
  while (clean_in_flight_ < std::max<uint32_t>(options_.clean_reads_in_flight, 1) && clean_position_ < clean_queue_.size()) {
    const Key key = clean_queue_[clean_position_++];
    const Stored* found = index_.find(key);
    if (found == nullptr || found->location.log != cleaning_log_) continue;  // gone or moved since
    ++clean_in_flight_;
    Fetch fetch;
    fetch.whole = true;
    fetch.purpose = Fetch::For::kCleaner;
    read_fragment(key, found->location, std::move(fetch), 0, found->location.size);
  }
  if (clean_in_flight_ == 0 && clean_position_ >= clean_queue_.size()) {
    // Done: the log is removed once its last live byte is gone (tend_log); fragments that could not be
    // moved keep it until a later pass.
    cleaning_ = false;
    tend_log(cleaning_log_);
  }
}

void FragmentServer::cleaner_read_done(const Fetch& fetch, StatusCode status, const Payload& data) {
  const Stored* found = index_.find(fetch.key);
  const bool still_there = found != nullptr && found->location == fetch.location;
  if (still_there && status == StatusCode::kOk) {
    auto store = std::make_unique<Store>();
    store->key = fetch.key;
    store->move = true;
    store->moved_from = fetch.location;
    return begin_store(std::move(store), data);  // the read's slot passes to the move
  }
  // A corrupt copy is not carried forward: it was reported to the catalog (which has it rebuilt) and is
  // dropped here, so the log can go.
  if (still_there && status == StatusCode::kCorrupt) drop_fragment(fetch.key);
  --clean_in_flight_;
  clean_next();
}

// ---- orphan collection ----

void FragmentServer::take_due(TimeNs now, std::vector<Key>& due) {
  // One scan of the index per pass: each fragment carries its own time, so a clock step back merely
  // delays the fragments it concerns, and a fragment deleted since its last question is not asked about.
  const TimeNs grace = config_->orphan_grace_ns;
  const TimeNs recheck = config_->orphan_recheck_ns;
  index_.for_each([&](const Key& key, Stored& stored) {
    const TimeNs wait = stored.confirmed ? recheck : grace;
    if (wait <= 0 || now - stored.checked_local_ns < wait) return;
    stored.checked_local_ns = now;
    due.push_back(key);
  });
}

void FragmentServer::ask_again_later(const OrphanQuery& query) {
  // Unconfirmed again, so asked about after another grace (a confirmation being rechecked included).
  const TimeNs now = runtime_.local_now_ns();
  for (const Key& key : query.fragments) {
    if (Stored* stored = index_.find(key)) *stored = Stored{stored->location, now, false};
  }
}

void FragmentServer::start_orphan_pass() {
  if (orphan_running_ || !ready_) return;
  const TimeNs now = runtime_.local_now_ns();
  std::vector<Key> due;
  take_due(now, due);
  // By shard, then file, record and index: each query asks about records of one shard.
  std::vector<std::pair<uint64_t, Key>> by_shard;
  by_shard.reserve(due.size());
  for (const Key& key : due) by_shard.emplace_back(shard_of(*config_, key.file), key);
  std::sort(by_shard.begin(), by_shard.end());
  by_shard.erase(std::unique(by_shard.begin(), by_shard.end()), by_shard.end());  // checked twice at the same time
  const size_t batch = std::clamp<size_t>(options_.orphan_batch_records, 1, RecordStatus::kRecordsMax);
  for (const auto& [shard, key] : by_shard) {
    const FileRecord record{key.file, key.record};
    const bool same_record = !orphan_queue_.empty() && orphan_queue_.back().shard == shard &&
                             orphan_queue_.back().records.back() == record;
    if (!same_record && (orphan_queue_.empty() || orphan_queue_.back().shard != shard ||
                         orphan_queue_.back().records.size() >= batch)) {
      orphan_queue_.push_back(OrphanQuery{});
      orphan_queue_.back().shard = shard;
    }
    OrphanQuery& q = orphan_queue_.back();
    if (!same_record) q.records.push_back(record);
    q.fragments.push_back(key);
  }
  orphan_running_ = true;
  pump_orphan_queries();
}

void FragmentServer::pump_orphan_queries() {
  while (orphan_queries_.size() < std::max<uint32_t>(options_.orphan_queries_max, 1) && !orphan_queue_.empty()) {
    OrphanQuery q = std::move(orphan_queue_.front());
    orphan_queue_.pop_front();
    send_orphan_query(std::move(q));
  }
  if (orphan_running_ && orphan_queue_.empty() && orphan_queries_.empty()) {
    orphan_running_ = false;
    ++orphan_passes_;
    runtime_.count("datapath.orphan_pass");
  }
}

void FragmentServer::send_orphan_query(OrphanQuery q) {
  const uint64_t shard = q.shard;
  const std::vector<NodeId>& group = catalogs_.group(shard);
  if (group.empty()) {
    runtime_.count("datapath.orphan_query_no_catalog");
    ask_again_later(q);
    return;
  }
  if (q.target == kNoNode) {
    auto hint = leader_hints_.find(shard);
    q.target = hint != leader_hints_.end() ? hint->second : group.front();
  }
  const uint64_t id = next_id_++;
  auto m = std::make_shared<RecordStatus>();
  m->request_id = id;
  m->shard = q.shard;
  m->records = q.records;
  runtime_.send(q.target, kPortCatalog, std::move(m));
  runtime_.set_timer(config_->request_timeout_ns, make_tag(kTagOrphanRequest, id));
  orphan_queries_.emplace(id, std::move(q));
}

// No answer in time (or a refusal without a better node to ask): ask the next group member, a bounded
// number of times. A query given up leaves its fragments for the next pass.
void FragmentServer::on_orphan_timeout(uint64_t request_id) {
  auto it = orphan_queries_.find(request_id);
  if (it == orphan_queries_.end()) return;
  OrphanQuery q = std::move(it->second);
  orphan_queries_.erase(it);
  runtime_.count("datapath.orphan_query_timeout");
  if (++q.attempts > config_->retries_max) {
    runtime_.count("datapath.orphan_query_gave_up");
    ask_again_later(q);
    return pump_orphan_queries();
  }
  const uint64_t shard = q.shard;
  const std::vector<NodeId>& group = catalogs_.group(shard);
  auto at = std::find(group.begin(), group.end(), q.target);
  q.target = (at == group.end() || at + 1 == group.end()) ? group.front() : *(at + 1);
  leader_hints_.erase(shard);
  send_orphan_query(std::move(q));
  pump_orphan_queries();
}

void FragmentServer::on_record_status_reply(const Envelope& from, const RecordStatusReply& m) {
  auto it = orphan_queries_.find(m.request_id);
  if (it == orphan_queries_.end() || it->second.target != from.from) return;  // late, or not whom we asked
  const uint64_t shard = it->second.shard;
  if (m.status == StatusCode::kOk) {
    const OrphanQuery q = std::move(it->second);
    orphan_queries_.erase(it);
    leader_hints_[shard] = from.from;
    apply_fates(q, m);
    return pump_orphan_queries();
  }
  OrphanQuery& q = it->second;
  const size_t group_size = catalogs_.group(shard).size();
  if (m.status == StatusCode::kNotLeader && m.leader_hint != kNoNode && m.leader_hint != q.target &&
      q.redirects < 2 * group_size + 2) {
    OrphanQuery redirected = std::move(q);
    orphan_queries_.erase(it);
    ++redirected.redirects;
    redirected.target = m.leader_hint;
    leader_hints_[shard] = m.leader_hint;
    return send_orphan_query(std::move(redirected));
  }
  if (m.status == StatusCode::kNotLeader || m.status == StatusCode::kUnavailable) return;  // the timeout retries
  runtime_.count("datapath.orphan_query_refused");
  ask_again_later(q);
  orphan_queries_.erase(it);
  pump_orphan_queries();
}

void FragmentServer::apply_fates(const OrphanQuery& q, const RecordStatusReply& m) {
  // One fate per asked record, in the request's order; the fragments are in the same order.
  if (m.records.size() != q.records.size()) {
    runtime_.count("datapath.orphan_reply_mismatch");
    ask_again_later(q);
    return;
  }
  const TimeNs now = runtime_.local_now_ns();
  size_t at = 0;
  for (const Key& key : q.fragments) {
    while (at < q.records.size() && q.records[at] < FileRecord{key.file, key.record}) ++at;
    Stored* found = index_.find(key);
    if (at == q.records.size() || m.records[at].first != key.record || found == nullptr) continue;  // deleted meanwhile
    switch (m.records[at].second) {
      case RecordFate::kAbandoned:
        // The catalog has tombstoned the record in its replicated log: it can never commit, so no
        // reader will ever ask for this fragment.
        drop_fragment(key);
        runtime_.count("datapath.orphan_fragments_deleted");
        break;
      case RecordFate::kStale:
        // The record lives on, but its fragment map has moved this fragment elsewhere (the move's delete
        // was lost): no reader will ask for this copy.
        drop_fragment(key);
        runtime_.count("datapath.stale_fragments_deleted");
        break;
      case RecordFate::kCurrent:
        // Remembered in memory only: after a restart the server asks again.
        found->confirmed = true;
        found->checked_local_ns = now;
        break;
      case RecordFate::kSuperseded:  // collected soon: ask again after another grace period
        found->checked_local_ns = now;
        break;
    }
  }
}

// ---- rebuild ----

void FragmentServer::on_rebuild(const Envelope& from, const RebuildFragment& m) {
  const WriteRecord& r = m.record;
  StatusCode refuse = StatusCode::kOk;
  if (!validate_write_record(r).is_ok() || m.index >= r.layout.fragment_count() ||
      r.layout.fragment_bytes > kFragmentBytesMax - kFragmentHeaderBytes)
    refuse = StatusCode::kInvalidArgument;
  else if (rebuilds_.size() >= options_.rebuilds_max) refuse = StatusCode::kUnavailable;
  const uint64_t id = next_id_++;
  auto rebuild = std::make_unique<Rebuild>();
  rebuild->reply_to = from;
  rebuild->request_id = m.request_id;
  rebuild->record = r;
  rebuild->index = m.index;
  rebuilds_.emplace(id, std::move(rebuild));
  if (refuse != StatusCode::kOk) {
    rebuild_reply(id, refuse);
    return;
  }
  Rebuild& b = *rebuilds_.at(id);
  const uint32_t n = r.layout.fragment_count();
  b.state.assign(n, kUntried);
  b.deadline_ns.assign(n, 0);
  b.data.assign(n, Payload{});
  b.state[m.index] = kFailed;  // the one being rebuilt is never a source
  runtime_.count("datapath.rebuild_started");
  rebuild_ask(id, b);
}

void FragmentServer::rebuild_ask(uint64_t id, Rebuild& b) {
  const WriteRecord& r = b.record;
  const uint32_t n = r.layout.fragment_count();
  // Nearest first; data fragments before parity at equal distance.
  std::vector<std::pair<uint32_t, uint32_t>> candidates;  // (distance, index)
  for (uint32_t j = 0; j < n; ++j) {
    if (b.state[j] != kUntried || r.fragments[j].node == kUnplacedNode) continue;
    candidates.push_back({node_distance(config_->nodes, runtime_.node_id(), r.fragments[j].node), j});
  }
  std::sort(candidates.begin(), candidates.end());
  const TimeNs now = runtime_.local_now_ns();
  for (const auto& [distance, j] : candidates) {
    if (b.healthy + b.outstanding >= r.layout.k) break;
    auto fetch = std::make_shared<FetchFragment>();
    fetch->request_id = (id << kRebuildIndexBits) | j;
    fetch->file_id = r.file_id;
    fetch->record_id = r.record_id;
    fetch->index = j;
    runtime_.send(r.fragments[j].node, kPortFragmentServer, std::move(fetch));
    b.state[j] = kAsked;
    b.deadline_ns[j] = now + config_->request_timeout_ns;
    ++b.outstanding;
  }
  if (b.healthy + b.outstanding < r.layout.k) {
    runtime_.count("datapath.rebuild_unavailable");
    rebuild_reply(id, StatusCode::kUnavailable);
    return;
  }
  if (b.timer == 0 && b.outstanding > 0) b.timer = runtime_.set_timer(config_->request_timeout_ns, make_tag(kTagRebuildTimer, id));
}

void FragmentServer::rebuild_fail_expired(uint64_t id, Rebuild& b) {
  if (b.storing) return;
  const TimeNs now = runtime_.local_now_ns();
  TimeNs next = 0;
  for (size_t j = 0; j < b.state.size(); ++j) {
    if (b.state[j] != kAsked) continue;
    if (b.deadline_ns[j] <= now) {
      b.state[j] = kFailed;
      --b.outstanding;
    } else if (next == 0 || b.deadline_ns[j] < next) {
      next = b.deadline_ns[j];
    }
  }
  if (next != 0) b.timer = runtime_.set_timer(next - now, make_tag(kTagRebuildTimer, id));
  rebuild_ask(id, b);
}

void FragmentServer::on_rebuild_fetch_reply(const Envelope& from, const FetchFragmentReply& m) {
  const uint64_t id = m.request_id >> kRebuildIndexBits;
  const uint32_t j = static_cast<uint32_t>(m.request_id & ((1u << kRebuildIndexBits) - 1));
  auto it = rebuilds_.find(id);
  if (it == rebuilds_.end()) return;  // late: the rebuild finished
  Rebuild& b = *it->second;
  if (b.storing || j >= b.state.size() || b.state[j] != kAsked || b.record.fragments[j].node != from.from) return;
  --b.outstanding;
  bool healthy = m.status == StatusCode::kOk && m.index == j && m.data.is_real() == config_->real_payload;
  if (healthy) {
    charge_checksum(b.record.layout.fragment_bytes);
    healthy = check_whole(Key{b.record.file_id, b.record.record_id, j}, kFragmentHeaderBytes + b.record.layout.fragment_bytes,
                          m.data) == StatusCode::kOk;
    // The record's map is the authority: a fragment must also match the CRC the writer committed.
    if (healthy && m.data.is_real()) {
      healthy = crc32c(ByteSpan(*m.data.bytes).subspan(kFragmentHeaderBytes)) == b.record.fragments[j].crc32c;
    }
  }
  b.state[j] = healthy ? kHealthy : kFailed;
  if (healthy) {
    b.data[j] = m.data;
    ++b.healthy;
  }
  if (b.healthy >= b.record.layout.k) rebuild_decode(id, b);
  else rebuild_ask(id, b);
}

void FragmentServer::rebuild_decode(uint64_t id, Rebuild& b) {
  const WriteRecord& r = b.record;
  const uint64_t size = r.layout.fragment_bytes;
  if (config_->cost_model) {
    runtime_.charge_cpu(config_->cost_model->cost_ns(CostOp::ec_decode(r.layout.k, r.layout.m, r.layout.backend, 1),
                                                     uint64_t{r.layout.k} * size));
  }
  Payload stored = Payload::synthetic(kFragmentHeaderBytes + size);
  if (config_->real_payload) {
    std::vector<FragmentView> sources;
    for (uint32_t j = 0; j < b.state.size() && sources.size() < r.layout.k; ++j) {
      if (b.state[j] == kHealthy) sources.push_back({j, ByteSpan(*b.data[j].bytes).subspan(kFragmentHeaderBytes, size)});
    }
    Bytes body(size);
    std::vector<FragmentTarget> targets{{b.index, std::span<uint8_t>(body)}};
    Result<ErasureCoder*> coder = codec_.coder({r.layout.k, r.layout.m, r.layout.backend, config_->coding.packet_bytes_max});
    Status rebuilt = coder.is_ok() ? (*coder)->reconstruct(r.layout, 0, sources, targets) : coder.status();
    if (!rebuilt.is_ok() || crc32c(body) != r.fragments[b.index].crc32c) {
      runtime_.count("datapath.rebuild_mismatch");
      rebuild_reply(id, rebuilt.is_ok() ? StatusCode::kCorrupt : rebuilt.code());
      return;
    }
    stored = Payload::real(encode_fragment(make_fragment_header(r, b.index), body));
  }
  b.storing = true;
  b.data.clear();  // the sources are no longer needed
  if (b.timer != 0) runtime_.cancel_timer(b.timer);
  b.timer = 0;
  auto store = std::make_unique<Store>();
  store->key = Key{r.file_id, r.record_id, b.index};
  store->rebuild = id;
  begin_store(std::move(store), std::move(stored));
}

void FragmentServer::rebuild_reply(uint64_t id, StatusCode status) {
  auto it = rebuilds_.find(id);
  require(it != rebuilds_.end(), "reply to a rebuild that does not exist");
  Rebuild& b = *it->second;
  if (b.timer != 0) runtime_.cancel_timer(b.timer);
  auto reply = std::make_shared<RebuildFragmentReply>();
  reply->request_id = b.request_id;
  reply->status = status;
  reply->record_id = b.record.record_id;
  reply->index = b.index;
  runtime_.send(b.reply_to.from, b.reply_to.from_port, std::move(reply));
  if (status == StatusCode::kOk) runtime_.count("datapath.rebuild_done");
  rebuilds_.erase(it);
}

}  // namespace pbfs::datapath
