// The catalog's replicated log (catalog.h): appending and persisting entries, primary -> backup
// replication with log matching (an entry is identified by its index and the epoch of the primary that
// created it), commit by majority, the new primary's sync, recovery from the log file, and catch-up of
// lagging replicas from disk once the in-memory tail no longer holds what they need.
//
// Safety rules, each enforced where noted:
//  - Persist before send: a primary sends an entry only once its own log sync covers it (send_to_peer);
//    a backup acknowledges only what it has synced (send_ack after on_log_synced).
//  - A primary commits by counting only entries of its own epoch (advance_commit); older entries it
//    adopted commit with its barrier, so an entry on a majority is never overwritten by a later epoch.
//  - Backups refuse replication and sync from epochs older than one they promised (on_replicate,
//    on_sync_request), so a deposed primary can no longer grow a majority behind a new one's back.
//  - Nothing applied is ever cut from the log (truncate asserts it).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "protocols/datapath/catalog.h"

namespace pbfs::datapath {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs catalog: broken invariant: %s\n", what);
    std::abort();
  }
}

constexpr uint64_t kNotCut = ~uint64_t{0};
// The epoch of an entry before the in-memory tail (sent with catch-up from disk): the backup cannot
// check it, and answers with its applied index, from where everything is known to match.
constexpr uint64_t kUnknownEpoch = ~uint64_t{0};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// The log

const CatalogLogEntry* Catalog::entry_at(const Shard& s, uint64_t index) const {
  if (index < s.tail_first || index > s.last_index) return nullptr;
  return &s.tail[index - s.tail_first];
}

std::optional<uint64_t> Catalog::epoch_at(const Shard& s, uint64_t index) const {
  if (index == 0) return 0;
  if (index == s.last_index) return s.last_epoch;  // the entry most asked about, without reading it (cold)
  if (index + 1 == s.tail_first) return s.tail_base_epoch;
  if (const CatalogLogEntry* e = entry_at(s, index)) return e->epoch;
  return std::nullopt;
}

uint64_t Catalog::append(Shard& s, CatalogLogEntry entry) {
  require(s.mode == Mode::kPrimary, "only a primary creates entries");
  entry.log_index = s.last_index + 1;
  entry.epoch = s.epoch;
  const uint64_t index = entry.log_index;
  append_entry(s, std::move(entry));
  return index;
}

// Frames collect in memory and reach the disk together, one write and one sync per batch (group
// commit): everything appended while a sync is in flight, or within one handler, shares the next one.
void Catalog::append_entry(Shard& s, CatalogLogEntry entry) {
  require(entry.log_index == s.last_index + 1, "appends are gapless");
  const uint64_t offset = s.offsets.end_offset();
  LogFrame frame = encode_log_frame(entry, s.commit_index, s.last_frame_crc);
  s.last_frame_crc = frame.crc;
  s.offsets.appended(entry.log_index, offset, frame.bytes.size());
  if (config_->cost_model) runtime_.charge_cpu(config_->cost_model->cost_ns(CostOp::checksum(), frame.bytes.size()));
  if (s.unwritten.empty()) s.unwritten_offset = offset;
  require(s.unwritten_offset + s.unwritten.size() == offset, "buffered frames are contiguous");
  s.unwritten.insert(s.unwritten.end(), frame.bytes.begin(), frame.bytes.end());
  s.last_index = entry.log_index;
  s.last_epoch = entry.epoch;
  note_config(s, entry, /*live=*/true);  // a replica acts on a group as soon as its log holds it
  s.tail.push_back(std::move(entry));
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(s.id);
  }
}

void Catalog::flush_dirty() {
  std::vector<uint64_t> dirty = std::move(dirty_);
  dirty_.clear();
  for (uint64_t id : dirty) {
    Shard* s = find_shard(id);
    if (s == nullptr) continue;
    s->dirty = false;
    if (s->mode != Mode::kBroken) request_sync(*s);
  }
}

void Catalog::truncate(Shard& s, uint64_t keep_last) {
  require(keep_last >= s.applied_index, "applied entries are never cut");
  require(keep_last + 1 >= s.tail_first, "cutting only entries held in memory");
  runtime_.count("catalog.log_truncated");
  while (s.last_index > keep_last) {
    s.tail.pop_back();
    --s.last_index;
  }
  const bool was_member = contains(acting_group(s), self_);
  bool regrouped = false;
  while (s.configs.size() > 1 && s.configs.back().log_index > keep_last) {
    s.configs.pop_back();  // a group change that did not survive: back to the group before it
    regrouped = true;
  }
  // The new last entry's epoch (epoch_at would answer with the old one: last_index is keep_last already).
  s.last_epoch = !s.tail.empty() ? s.tail.back().epoch : keep_last == 0 ? 0 : s.tail_base_epoch;
  s.persisted_index = std::min(s.persisted_index, keep_last);
  s.truncated_since_sync = std::min(s.truncated_since_sync, keep_last);
  s.verified_index = std::min(s.verified_index, keep_last);
  if (regrouped && s.mode != Mode::kRecovering) acting_group_changed(s, was_member);
}

void Catalog::request_sync(Shard& s) {
  if (s.sync_in_flight || s.persisted_index >= s.last_index) return;
  // The entries not yet written and the sync, as one chain: one completion covers both.
  std::vector<DiskStep> steps;
  if (!s.unwritten.empty()) {
    steps.push_back(DiskStep::write(s.log_file, s.unwritten_offset, Payload::real(std::move(s.unwritten))));
    s.unwritten = Bytes();
  }
  steps.push_back(DiskStep::sync(s.log_file));
  s.sync_in_flight = true;
  s.sync_cover = s.last_index;
  s.truncated_since_sync = kNotCut;
  DiskOp op;
  op.kind = DiskKind::kSync;
  op.shard = s.id;
  runtime_.disk_chain(std::move(steps), disk_op(op));
}

void Catalog::on_log_synced(Shard& s, const DiskCompletion& done) {
  s.sync_in_flight = false;
  if (!done.status.is_ok()) {
    return break_shard(s, done.kind == DiskOpKind::kWrite ? "catalog.log_write_failed" : "catalog.log_sync_failed",
                       /*retry=*/true);
  }
  const uint64_t durable = std::min({s.sync_cover, s.truncated_since_sync, s.last_index});
  s.persisted_index = std::max(s.persisted_index, durable);
  request_sync(s);  // entries appended meanwhile
  if (s.mode == Mode::kPrimary) {
    replicate(s);
    advance_commit(s);
  } else if (s.mode == Mode::kBackup && s.ack_after_sync && s.primary != kNoNode) {
    s.ack_after_sync = s.persisted_index < s.last_index;
    send_ack(s, s.primary, StatusCode::kOk, std::min(s.verified_index, s.persisted_index));
  }
}

void Catalog::trim_tail(Shard& s) {
  while (s.tail.size() > options_.log_tail_entries && s.tail_first <= s.applied_index) {
    s.tail_base_epoch = s.tail.front().epoch;
    s.tail.pop_front();
    ++s.tail_first;
  }
}

// Appends what `entries` adds to our log, cutting a conflicting suffix first. False if the shard broke.
bool Catalog::accept_entries(Shard& s, const std::vector<CatalogLogEntry>& entries) {
  for (const CatalogLogEntry& e : entries) {
    if (e.log_index > s.last_index + 1) return true;  // a gap: the sender resends from our end
    if (e.log_index <= s.last_index) {
      const std::optional<uint64_t> have = epoch_at(s, e.log_index);
      if (!have || *have == e.epoch) continue;  // the same entry (below the tail: applied, so the same)
      if (e.log_index <= s.applied_index) {
        break_shard(s, "catalog.conflict_with_applied_entry");
        return false;
      }
      truncate(s, e.log_index - 1);
    }
    append_entry(s, e);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Recovery: read the log file back, apply what its frames say was committed.

void Catalog::begin_recovery(Shard& s) {
  s.mode = Mode::kRecovering;
  if (!identity_known_) return;  // on_identity starts it
  s.reader = LogFrameReader::from_start();
  s.recovery_offset = 0;
  s.recovery_commit = 0;
  read_recovery_chunk(s);
}

void Catalog::read_recovery_chunk(Shard& s) {
  DiskOp op;
  op.kind = DiskKind::kRecoveryRead;
  op.shard = s.id;
  op.read_offset = s.recovery_offset;
  runtime_.disk_read(s.log_file, s.recovery_offset, options_.read_chunk_bytes, disk_op(op));
}

void Catalog::on_recovery_read(Shard& s, const DiskCompletion& done) {
  if (done.status.code() == StatusCode::kNotFound) return finish_recovery(s);
  if (!done.status.is_ok()) return break_shard(s, "catalog.recovery_read_failed", /*retry=*/true);
  if (!done.data.is_real()) return break_shard(s, "catalog.recovery_log_without_bytes");
  s.reader.feed(*done.data.bytes);
  CatalogLogEntry e;
  uint64_t hint = 0, offset = 0;
  for (;;) {
    const LogFrameReader::Next next = s.reader.next(e, hint, offset);
    if (next == LogFrameReader::Next::kNeedMore && done.data.size == options_.read_chunk_bytes) {
      s.recovery_offset += done.data.size;
      return read_recovery_chunk(s);
    }
    if (next != LogFrameReader::Next::kEntry) break;  // end of file, or a torn or rotten frame: the log ends
    if (e.log_index > s.last_index + 1 || e.log_index <= s.applied_index) {
      runtime_.count("catalog.recovery_inconsistent_frame");
      break;
    }
    if (e.log_index <= s.last_index) truncate(s, e.log_index - 1);
    s.offsets.appended(e.log_index, offset, s.reader.consumed_offset() - offset);
    s.last_index = e.log_index;
    s.last_epoch = e.epoch;
    s.last_frame_crc = s.reader.last_crc();
    note_config(s, e, /*live=*/false);
    s.tail.push_back(std::move(e));
    s.recovery_commit = std::max(s.recovery_commit, hint);
    s.commit_index = std::max(s.commit_index, std::min(s.recovery_commit, s.last_index));
    apply_committed(s);
  }
  finish_recovery(s);
}

void Catalog::finish_recovery(Shard& s) {
  if (s.mode != Mode::kRecovering) return;
  if (disk_replaced_ || s.last_index < s.must_recover_index) return break_shard(s, "catalog.log_lost");
  // Frames past the last good one are overwritten by the next append (offsets.end_offset()).
  s.persisted_index = s.last_index;
  s.verified_index = s.commit_index;
  s.mode = Mode::kBackup;
  s.reader = LogFrameReader::from_start();  // frees the buffer
  runtime_.count("catalog.recovered");
  if (contains(acting_group(s), self_)) flease_->acquire(s.id);  // a learner (or a removed member) does not compete
}

// ---------------------------------------------------------------------------------------------------
// Backup side of replication

void Catalog::observe_epoch(Shard& s, uint64_t epoch) {
  if (epoch <= s.known_epoch) return;
  s.known_epoch = epoch;
  s.verified_index = s.commit_index;  // only the committed prefix is known to match a new primary
  s.ack_after_sync = false;
  if ((s.mode == Mode::kPrimary || s.mode == Mode::kSyncing) && s.epoch < epoch) step_down(s, "catalog.step_down_newer_epoch");
}

void Catalog::send_ack(Shard& s, NodeId to, StatusCode status, uint64_t log_index) {
  auto ack = std::make_shared<ReplicateAck>();
  ack->shard = s.id;
  ack->epoch = s.known_epoch;
  ack->log_index = log_index;
  ack->status = status;
  runtime_.send(to, kPortCatalog, std::move(ack));
}

void Catalog::on_replicate(const Envelope& from, const Replicate& m) {
  Shard* found = find_shard(m.shard);
  if (found == nullptr) found = adopt_shard(m.shard);  // a learner, or a member that restarted
  if (found != nullptr && found->mode == Mode::kBroken && found->out_for_good) {
    // Its log lost entries it had acknowledged: it will never count again, so the primary may replace it.
    runtime_.count("catalog.replicate_refused_log_lost");
    auto ack = std::make_shared<ReplicateAck>();
    ack->shard = m.shard;
    ack->epoch = m.epoch;
    ack->status = StatusCode::kIoError;
    runtime_.send(from.from, kPortCatalog, std::move(ack));
    return;
  }
  if (found == nullptr || found->mode == Mode::kRecovering || found->mode == Mode::kBroken) {
    runtime_.count("catalog.replicate_ignored");
    return;
  }
  Shard& s = *found;
  if (m.epoch < s.known_epoch) return send_ack(s, from.from, StatusCode::kNotLeader, 0);
  observe_epoch(s, m.epoch);
  if (s.mode != Mode::kBackup) {  // a rival claiming our own epoch: impossible while leases hold
    runtime_.count("catalog.replicate_same_epoch_rival");
    return;
  }
  s.primary = from.from;
  // Log matching: the entry before the new ones must be the primary's. Applied entries always are.
  if (m.prev_index > s.last_index) return send_ack(s, from.from, StatusCode::kConflict, s.last_index);
  if (m.prev_index > s.applied_index) {
    const uint64_t have = *epoch_at(s, m.prev_index);  // everything past the applied index is in memory
    if (have != m.prev_epoch) {
      // Skip back over the whole run of our conflicting epoch at once (never below what we applied).
      uint64_t start = m.prev_index;
      while (start > s.applied_index + 1 && epoch_at(s, start - 1) == have) --start;
      const uint64_t hint = m.prev_epoch == kUnknownEpoch ? s.applied_index : start - 1;
      return send_ack(s, from.from, StatusCode::kConflict, hint);
    }
  }
  const uint64_t last_before = s.last_index;
  const uint64_t persisted_before = s.persisted_index;
  if (!accept_entries(s, m.entries)) return;
  const uint64_t matched = std::min(m.prev_index + m.entries.size(), s.last_index);
  s.verified_index = std::max(s.verified_index, matched);
  s.commit_index = std::max(s.commit_index, std::min(m.commit_index, s.verified_index));
  apply_committed(s);
  const bool wrote = s.last_index != last_before || s.persisted_index != persisted_before || s.sync_in_flight;
  if (wrote) {
    s.ack_after_sync = true;  // persist before acknowledging
  } else if (!m.entries.empty()) {
    send_ack(s, from.from, StatusCode::kOk, std::min(s.verified_index, s.persisted_index));
  }
  // A message without entries (the commit index, a heartbeat) that matched is not acknowledged: it
  // changed nothing the primary counts, entries lost on the way are re-sent after replicate_timeout,
  // and a learner's catch-up is checked at every tick.
}

// ---------------------------------------------------------------------------------------------------
// Primary side of replication

void Catalog::replicate(Shard& s) {
  for (Peer& p : s.peers) send_to_peer(s, p, false);
}

void Catalog::send_to_peer(Shard& s, Peer& p, bool heartbeat) {
  if (p.reading) return;
  auto m = std::make_shared<Replicate>();
  m->shard = s.id;
  m->epoch = s.epoch;
  const uint64_t in_flight = p.next_index - 1 - p.match_index;
  if (p.next_index <= s.persisted_index && in_flight < options_.window_entries_max) {
    const uint64_t first = p.next_index;
    const uint64_t last = std::min({s.persisted_index, first + options_.batch_entries_max - 1,
                                    p.match_index + options_.window_entries_max});
    if (first < s.tail_first) {  // only on disk now
      p.reading = true;
      read_entries(s, first, std::min(last, s.tail_first - 1), p.node, false, s.epoch);
      return;
    }
    m->prev_index = first - 1;
    m->prev_epoch = *epoch_at(s, first - 1);
    for (uint64_t i = first; i <= last; ++i) m->entries.push_back(*entry_at(s, i));
    p.next_index = last + 1;
  } else if (heartbeat || p.commit_sent < s.commit_index) {
    const std::optional<uint64_t> epoch = epoch_at(s, p.match_index);
    if (!epoch) return;  // far behind: the catch-up sends carry the commit index
    m->prev_index = p.match_index;
    m->prev_epoch = *epoch;
  } else {
    return;
  }
  m->commit_index = s.commit_index;
  p.commit_sent = s.commit_index;
  p.sent_local_ns = runtime_.local_now_ns();
  runtime_.send(p.node, kPortCatalog, std::move(m));
}

void Catalog::on_replicate_ack(const Envelope& from, const ReplicateAck& m) {
  Shard* found = find_shard(m.shard);
  if (found == nullptr) return;
  Shard& s = *found;
  if (m.epoch > s.known_epoch) return observe_epoch(s, m.epoch);
  if (s.mode != Mode::kPrimary || m.epoch != s.epoch) {
    runtime_.count("catalog.stale_ack");
    return;
  }
  auto it = std::find_if(s.peers.begin(), s.peers.end(), [&](const Peer& p) { return p.node == from.from; });
  if (it == s.peers.end()) return;
  Peer& p = *it;
  if (m.status == StatusCode::kIoError) {  // out for good: replaced at the next tick, never picked again
    if (!contains(s.lost_members, p.node)) {
      s.lost_members.push_back(p.node);
      runtime_.count("catalog.member_log_lost");
    }
    return;
  }
  p.backoff_ns = 0;
  if (m.status == StatusCode::kOk) {
    p.match_index = std::max(p.match_index, std::min(m.log_index, s.last_index));
    p.next_index = std::max(p.next_index, p.match_index + 1);
    const NodeId node = p.node;
    const bool learner = p.learner;
    advance_commit(s);  // may apply a group change, which rebuilds the peers: find ours again
    if (learner) maybe_append_reconfigure(s);
    if (s.mode != Mode::kPrimary) return;
    auto again = std::find_if(s.peers.begin(), s.peers.end(), [&](const Peer& q) { return q.node == node; });
    if (again == s.peers.end()) return;
    return send_to_peer(s, *again, false);
  } else if (m.status == StatusCode::kConflict) {
    runtime_.count("catalog.replicate_conflict");
    // A backup that restarted can vouch only for what it has applied until we resend from there.
    if (m.log_index < p.match_index) {
      runtime_.count("catalog.peer_match_lowered");
      p.match_index = m.log_index;
    }
    p.next_index = std::max(p.match_index + 1, std::min(p.next_index, m.log_index + 1));
  }
  send_to_peer(s, p, false);
}

void Catalog::advance_commit(Shard& s) {
  if (s.mode != Mode::kPrimary) return;
  // Never acknowledge past the lease (by our clock): a successor may already be syncing without us.
  const lease::LeaseView lease = flease_->lease(s.id);
  if (!lease.held || lease.epoch != s.epoch) return step_down(s, "catalog.step_down_lease_gone");
  // Joint consensus: a majority of every group from the last applied one on (learners never count).
  std::vector<std::pair<NodeId, uint64_t>>& persisted = persisted_scratch_;
  persisted.assign(1, {self_, s.persisted_index});
  for (const Peer& p : s.peers) {
    if (!p.learner) persisted.emplace_back(p.node, p.match_index);
  }
  uint64_t candidate = ~uint64_t{0};
  for (const GroupConfig& c : s.configs) candidate = std::min(candidate, majority_index(c.members, persisted, majority_scratch_));
  if (candidate <= s.commit_index) return;
  // Only an entry of our own epoch commits directly (with everything before it).
  if (epoch_at(s, candidate) != s.epoch) return;
  s.commit_index = candidate;
  apply_committed(s);
}

// ---------------------------------------------------------------------------------------------------
// A new primary's sync

void Catalog::on_lease_acquired(const lease::LeaseView& lease) {
  Shard* found = find_shard(lease.resource);
  if (found == nullptr) return;
  Shard& s = *found;
  if (s.mode == Mode::kRecovering || s.mode == Mode::kBroken || !contains(acting_group(s), self_)) {
    flease_->release(s.id);
    return;
  }
  if (lease.epoch <= s.known_epoch) runtime_.count("catalog.lease_epoch_not_newest");
  if (s.mode == Mode::kPrimary || s.mode == Mode::kSyncing) step_down(s, "catalog.step_down_new_tenure");
  observe_epoch(s, lease.epoch);
  s.epoch = lease.epoch;
  s.mode = Mode::kSyncing;
  s.primary = self_;
  ensure_tick();
  start_sync(s);
}

void Catalog::on_lease_lost(lease::ResourceId resource, uint64_t epoch, lease::EndReason reason) {
  Shard* found = find_shard(resource);
  if (found == nullptr) return;
  if ((found->mode == Mode::kPrimary || found->mode == Mode::kSyncing) && found->epoch == epoch) {
    step_down(*found, "catalog.step_down_lease_lost");
  }
}

void Catalog::start_sync(Shard& s) {
  runtime_.count("catalog.sync_started");
  s.votes.clear();
  s.sync_source = kNoNode;
  std::vector<NodeId> voters;  // every node of every group in our log (joint majorities)
  for (const GroupConfig& c : s.configs) {
    for (NodeId n : c.members) {
      if (!contains(voters, n)) voters.push_back(n);
    }
  }
  for (NodeId node : voters) {
    Vote v;
    v.node = node;
    if (node == self_) {
      v.answered = true;
      v.last_index = s.last_index;
      v.last_epoch = s.last_epoch;
    }
    s.votes.push_back(v);
  }
  for (Vote& v : s.votes) {
    if (!v.answered) ask_sync(s, v, s.commit_index);
  }
  maybe_finish_sync(s);
}

void Catalog::ask_sync(Shard& s, Vote& v, uint64_t from_index) {
  auto m = std::make_shared<SyncRequest>();
  m->shard = s.id;
  m->epoch = s.epoch;
  m->from_index = from_index;
  v.asked_local_ns = runtime_.local_now_ns();
  runtime_.send(v.node, kPortCatalog, std::move(m));
}

void Catalog::on_sync_request(const Envelope& from, const SyncRequest& m) {
  Shard* found = find_shard(m.shard);
  if (found == nullptr) found = adopt_shard(m.shard);  // a member that restarted before it heard of the shard
  if (found == nullptr) return;
  Shard& s = *found;
  auto reply = std::make_shared<SyncReply>();
  reply->shard = s.id;
  reply->epoch = m.epoch;
  if (s.mode == Mode::kRecovering || s.mode == Mode::kBroken) {
    reply->status = StatusCode::kUnavailable;
  } else if (m.epoch < s.known_epoch || (m.epoch == s.known_epoch && s.mode != Mode::kBackup)) {
    reply->status = StatusCode::kNotLeader;
    reply->epoch = s.known_epoch;
  } else {
    observe_epoch(s, m.epoch);
    s.primary = from.from;
    reply->last_index = s.last_index;
    reply->last_epoch = s.last_epoch;
    const uint64_t first = m.from_index + 1;
    const uint64_t last = std::min(s.last_index, m.from_index + options_.batch_entries_max);
    if (first <= last && first < s.tail_first) {
      return read_entries(s, first, std::min(last, s.tail_first - 1), from.from, true, m.epoch);
    }
    for (uint64_t i = first; i <= last; ++i) reply->entries.push_back(*entry_at(s, i));
  }
  runtime_.send(from.from, kPortCatalog, std::move(reply));
}

void Catalog::on_sync_reply(const Envelope& from, const SyncReply& m) {
  Shard* found = find_shard(m.shard);
  if (found == nullptr) return;
  Shard& s = *found;
  if (m.status == StatusCode::kNotLeader) return observe_epoch(s, m.epoch);
  if (s.mode != Mode::kSyncing || m.epoch != s.epoch || m.status != StatusCode::kOk) {
    runtime_.count("catalog.sync_reply_ignored");
    return;
  }
  auto it = std::find_if(s.votes.begin(), s.votes.end(), [&](const Vote& v) { return v.node == from.from; });
  if (it == s.votes.end()) return;
  Vote& v = *it;
  if (s.sync_source == kNoNode) {
    if (v.answered) return;
    v.answered = true;
    v.last_index = m.last_index;
    v.last_epoch = m.last_epoch;
    // Keep its entries in case its log is the best: adopting them needs no second round trip.
    if (!m.entries.empty() && m.entries.front().log_index == s.commit_index + 1) s.sync_entries[v.node] = m.entries;
  } else if (from.from == s.sync_source) {
    if (m.entries.empty() || m.entries.front().log_index != s.sync_matched + 1) return;  // a stale answer
    if (!accept_entries(s, m.entries)) return;
    s.sync_matched = m.entries.back().log_index;
  } else {
    return;
  }
  maybe_finish_sync(s);
}

void Catalog::maybe_finish_sync(Shard& s) {
  if (s.mode != Mode::kSyncing) return;
  if (s.sync_source == kNoNode) {
    std::vector<NodeId> answered;
    const Vote* best = nullptr;
    for (const Vote& v : s.votes) {
      if (!v.answered) continue;
      answered.push_back(v.node);
      if (best == nullptr || std::tie(v.last_epoch, v.last_index) > std::tie(best->last_epoch, best->last_index)) best = &v;
    }
    if (!majorities(s, answered)) return;
    if (best->node != self_ && std::tie(best->last_epoch, best->last_index) > std::tie(s.last_epoch, s.last_index)) {
      if (best->last_index < s.commit_index) {
        runtime_.count("catalog.sync_best_log_behind_commit");  // cannot happen while the rules hold
      } else {
        s.sync_source = best->node;
        s.sync_matched = s.commit_index;  // our log matches the best one up to here
        runtime_.count("catalog.sync_adopted_remote_log");
        auto stash = s.sync_entries.find(best->node);
        if (stash != s.sync_entries.end()) {
          std::vector<CatalogLogEntry> entries = std::move(stash->second);
          if (!accept_entries(s, entries)) return;
          if (s.mode != Mode::kSyncing) return;  // the adopted log holds a group without us
          s.sync_matched = entries.back().log_index;
        }
      }
    }
    s.sync_entries.clear();
  }
  if (s.sync_source != kNoNode) {
    auto it = std::find_if(s.votes.begin(), s.votes.end(), [&](const Vote& v) { return v.node == s.sync_source; });
    require(it != s.votes.end(), "the sync source voted");
    if (s.sync_matched < it->last_index) return ask_sync(s, *it, s.sync_matched);
    if (s.last_index > it->last_index) truncate(s, it->last_index);  // an older epoch's leftovers
  }
  // Our log is now the best of a majority: take over with a barrier entry of our own epoch, which
  // commits everything before it.
  s.mode = Mode::kPrimary;
  s.votes.clear();
  s.sync_source = kNoNode;
  s.peers.clear();
  refresh_peers(s);
  CatalogLogEntry barrier;
  barrier.op = CatalogOp::kCollect;
  s.barrier_index = append(s, std::move(barrier));
  replicate(s);
  advance_commit(s);
}

void Catalog::step_down(Shard& s, const char* reason) {
  if (s.mode != Mode::kPrimary && s.mode != Mode::kSyncing) return;
  runtime_.count(reason);
  s.mode = Mode::kBackup;
  s.primary = kNoNode;
  s.peers.clear();
  s.votes.clear();
  s.sync_entries.clear();
  s.sync_source = kNoNode;
  s.barrier_index = 0;
  s.ready = false;
  const NodeId hint = leader_hint(&s, s.id);
  for (auto& [id, pending] : s.pending) {
    for (const Waiter& w : pending.waiters) reply_commit(w.from, w.request_id, StatusCode::kNotLeader, 0, hint);
  }
  s.pending.clear();
  s.pending_sequence.clear();
  s.pending_superseded.clear();
  std::vector<Queued> queued = std::move(s.queued);
  s.queued.clear();
  for (const Queued& q : queued) refuse(q.from, *q.message, StatusCode::kNotLeader, hint);
  std::deque<StatusWaiter> waiting = std::move(s.status_waiters);
  s.status_waiters.clear();
  for (const StatusWaiter& w : waiting) {
    auto reply = std::make_shared<RecordStatusReply>();
    reply->request_id = w.request_id;
    reply->status = StatusCode::kNotLeader;
    reply->leader_hint = hint;
    runtime_.send(w.from.from, w.from.from_port, std::move(reply));
  }
  s.pins.clear();
  s.pin_indexes.clear();
  s.collect_index = 0;
  s.repair_queue.clear();
  s.repairs.clear();
  s.repairing.clear();
  s.change_target.clear();  // a successor starts any replacement afresh
  s.change_index = 0;
}

// ---------------------------------------------------------------------------------------------------
// Catch-up reads: entries no longer in the in-memory tail come back from the log file.

void Catalog::read_entries(Shard& s, uint64_t first, uint64_t last, NodeId to, bool for_sync, uint64_t epoch) {
  DiskOp op;
  op.kind = DiskKind::kCatchupRead;
  op.shard = s.id;
  op.first = first;
  const LogOffsets::ReadPlan plan = s.offsets.plan(first, last);
  op.last = plan.last;
  op.read_offset = plan.offset;
  op.to = to;
  op.for_sync = for_sync;
  op.epoch = epoch;
  runtime_.count("catalog.catchup_read");
  runtime_.disk_read(s.log_file, plan.offset, options_.read_chunk_bytes, disk_op(op));
}

void Catalog::on_catchup_read(Shard& s, const DiskOp& op, const DiskCompletion& done) {
  Peer* peer = nullptr;
  if (!op.for_sync) {
    for (Peer& p : s.peers) {
      if (p.node == op.to) peer = &p;
    }
    if (peer != nullptr) peer->reading = false;
    if (s.mode != Mode::kPrimary || s.epoch != op.epoch || peer == nullptr) return;
  } else if (s.mode != Mode::kBackup || s.known_epoch != op.epoch) {
    return;
  }
  std::vector<CatalogLogEntry> got;
  if (done.status.is_ok() && done.data.is_real()) {
    LogFrameReader reader = LogFrameReader::from_offset(op.read_offset);
    reader.feed(*done.data.bytes);
    CatalogLogEntry e;
    uint64_t hint = 0, offset = 0;
    while (reader.next(e, hint, offset) == LogFrameReader::Next::kEntry && e.log_index <= op.last) {
      if (e.log_index < op.first) continue;
      if (e.log_index != op.first + got.size()) break;  // not the sequence the plan promised
      got.push_back(std::move(e));
    }
  }
  if (got.empty()) {
    runtime_.count("catalog.catchup_read_failed");
    if (!op.for_sync) return;  // the next tick tries again
  }
  if (op.for_sync) {
    auto reply = std::make_shared<SyncReply>();
    reply->shard = s.id;
    reply->epoch = op.epoch;
    reply->status = got.empty() ? StatusCode::kUnavailable : StatusCode::kOk;
    reply->last_index = s.last_index;
    reply->last_epoch = s.last_epoch;
    reply->entries = std::move(got);
    runtime_.send(op.to, kPortCatalog, std::move(reply));
    return;
  }
  auto m = std::make_shared<Replicate>();
  m->shard = s.id;
  m->epoch = s.epoch;
  m->prev_index = op.first - 1;
  m->prev_epoch = epoch_at(s, op.first - 1).value_or(kUnknownEpoch);
  m->commit_index = s.commit_index;
  peer->next_index = got.back().log_index + 1;
  peer->commit_sent = s.commit_index;
  peer->sent_local_ns = runtime_.local_now_ns();
  m->entries = std::move(got);
  runtime_.send(peer->node, kPortCatalog, std::move(m));
}

// ---------------------------------------------------------------------------------------------------
// Housekeeping

void Catalog::tick() {
  const TimeNs now = runtime_.local_now_ns();
  for (auto& [id, owned] : shards_) {
    Shard& s = *owned;
    if (s.mode == Mode::kPrimary || s.mode == Mode::kSyncing) {
      const lease::LeaseView lease = flease_->lease(s.id);
      if (!lease.held || lease.epoch != s.epoch) {
        step_down(s, "catalog.step_down_lease_gone");
        continue;
      }
    }
    if (s.mode == Mode::kSyncing) {
      for (Vote& v : s.votes) {
        const bool waiting = s.sync_source == kNoNode ? !v.answered : v.node == s.sync_source;
        if (waiting && now - v.asked_local_ns >= options_.sync_timeout_ns) {
          runtime_.count("catalog.sync_resent");
          ask_sync(s, v, s.sync_source == kNoNode ? s.commit_index : s.sync_matched);
        }
      }
      continue;
    }
    if (s.mode != Mode::kPrimary) continue;
    for (Peer& p : s.peers) {
      const TimeNs timeout = std::max(p.backoff_ns, options_.replicate_timeout_ns);
      if (p.match_index + 1 < p.next_index && now - p.sent_local_ns >= timeout) {
        runtime_.count("catalog.replicate_resent");
        p.next_index = p.match_index + 1;
        p.backoff_ns = std::min(2 * timeout, 16 * options_.replicate_timeout_ns);  // a dead backup costs little
      }
      send_to_peer(s, p, p.commit_sent < s.commit_index);
    }
    if (!serving(s.id)) continue;
    maybe_replace(s, now);
    expire_pins(s, now);
    if (now >= s.gc_next_local_ns) {
      s.gc_next_local_ns = now + options_.gc_interval_ns;
      collect_garbage(s, now);
    }
    for (auto it = s.repairs.begin(); it != s.repairs.end();) {
      if (now < it->second.deadline_local_ns) {
        ++it;
        continue;
      }
      Repair r = it->second;
      it = s.repairs.erase(it);
      runtime_.count("catalog.repair_timeout");
      if (r.attempts < options_.repair_attempts_max) {
        s.repair_queue.push_back(r);
      } else {
        runtime_.count("catalog.repair_gave_up");
        s.repairing.erase({r.id, r.index});
      }
    }
    pump_repairs(s);
  }
}

}  // namespace pbfs::datapath
