// The Flease acceptor and proposer (protocols/flease/flease_node.h). The rules, as the tests name them:
//  Rule 1  An acceptor promises a prepare only above every ballot it has promised or accepted.
//  Rule 2  An acceptor accepts a value unless it has promised or accepted a higher ballot.
//  Rule 3  A proposer needs a majority for each phase; it adopts the value of the highest accepted
//          ballot it read, so a committed lease is never overwritten by a round that did not see it.
//  Rule 4  A lease read as valid (now < expiry) belongs to its holder; one read as expired less than ε
//          ago may still be believed by a holder whose clock is behind: wait until expiry + ε (the
//          safety wait), then read again.
//  Rule 5  The holder renews (same epoch, later expiry) before expiry; it believes in its lease only
//          while its own clock is before the expiry, renewed or not.
//  Rule 6  A new tenure (a holder that does not already believe in the lease) takes an epoch one above
//          every epoch the quorum reports, so epochs fence old holders.
//  Rule 7  A restarted acceptor has forgotten its promises: it is silent for t_max + 2ε + message timeout.
//  Rule 8  Acceptors make a new epoch durable (disk write + sync) before acknowledging it, so epochs rise
//          across crashes of every acceptor.
#include "protocols/flease/flease_node.h"

#include <algorithm>
#include <boost/random/uniform_int_distribution.hpp>
#include <cstdio>
#include <cstdlib>

namespace pbfs::flease {
namespace {

using lease::AttemptKind;
using lease::AttemptOutcome;
using lease::EndReason;

constexpr uint64_t kTagMarker = 0xF1ull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;
constexpr uint64_t kIndexMask = (1ull << 48) - 1;
enum TagKind : uint64_t {
  kTimerRound = 1,      // a phase's message timeout
  kTimerNextRound = 2,  // backoff or safety wait, then a new round of the same attempt
  kTimerAttempt = 3,    // a new attempt (retry while wanted)
  kTimerRenew = 4,
  kTimerExpiry = 5,
  kDiskLoad = 8,
  kDiskPersist = 10,  // the epoch record written and synced
};
constexpr uint64_t make_tag(uint64_t kind, uint64_t index) { return kTagMarker | (kind << 48) | (index & kIndexMask); }
constexpr uint64_t tag_kind(uint64_t tag) { return (tag >> 48) & 0xFF; }
constexpr uint64_t tag_index(uint64_t tag) { return tag & kIndexMask; }

constexpr uint64_t kEpochCheck = 0x9E3779B97F4A7C15ull;
constexpr size_t kQueuedPerCellMax = 256;

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs flease: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

std::string epoch_file(ResourceId resource) {
  char name[48];
  std::snprintf(name, sizeof name, "flease/epoch/%016llx", static_cast<unsigned long long>(resource));
  return name;
}

Bytes encode_epoch_record(uint64_t epoch) {
  Bytes out;
  WireWriter w(out);
  w.u64(epoch);
  w.u64(epoch ^ kEpochCheck);
  return out;
}

std::optional<uint64_t> decode_epoch_record(const Payload& data) {
  if (!data.is_real() || data.bytes->size() != 16) return std::nullopt;
  WireReader r(*data.bytes);
  uint64_t epoch = 0, check = 0;
  if (!r.u64(epoch) || !r.u64(check) || (epoch ^ kEpochCheck) != check) return std::nullopt;
  return epoch;
}

FleaseNode::FleaseNode(Runtime& runtime, FleaseConfig config)
    : runtime_(runtime), config_(std::move(config)), self_(runtime.node_id()) {
  require(config_.lease_ns > config_.epsilon_ns, "lease must be longer than epsilon");
  require(config_.epsilon_ns >= 0 && config_.message_timeout_ns > 0, "epsilon and message timeout");
  require(!config_.acceptors.empty() || config_.group_of != nullptr, "an acceptor group");
  if (config_.trace) {
    attempts_table_ = runtime_.trace_table(lease::attempt_schema());
    intervals_table_ = runtime_.trace_table(lease::interval_schema());
  }
}

void FleaseNode::start() {
  if (config_.silent_at_start) {
    silent_until_local_ns_ =
        runtime_.local_now_ns() + config_.lease_ns + 2 * config_.epsilon_ns + config_.message_timeout_ns;
  }
}

bool FleaseNode::owns_tag(uint64_t tag) { return (tag & kTagMarkerMask) == kTagMarker; }

void FleaseNode::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_.cpu_per_message_ns);
  switch (message.type()) {
    case Prepare::kType: return handle_prepare(from, static_cast<const Prepare&>(message));
    case Accept::kType: return handle_accept(from, static_cast<const Accept&>(message));
    case PrepareReply::kType: return handle_prepare_reply(from, static_cast<const PrepareReply&>(message));
    case AcceptReply::kType: return handle_accept_reply(from, static_cast<const AcceptReply&>(message));
    default: runtime_.count("flease.unexpected_message");
  }
}

// ---------------------------------------------------------------------------------------------------
// Acceptor

FleaseNode::Cell& FleaseNode::cell(ResourceId resource) {
  auto [it, inserted] = cells_.try_emplace(resource);
  if (inserted && !config_.persist_epochs) it->second.load = Load::kLoaded;
  return it->second;
}

// Rule 8's other half: before a cell answers for the first time in this incarnation it reads the
// durable epoch floor; messages that arrive meanwhile wait (bounded) in arrival order.
bool FleaseNode::cell_ready(Cell& c, ResourceId resource, const Envelope& from,
                            const std::variant<Prepare, Accept>& m) {
  if (c.load == Load::kLoaded) return true;
  if (c.load == Load::kBroken) {
    runtime_.count("flease.acceptor_epoch_unreadable");
    return false;
  }
  if (c.queued.size() >= kQueuedPerCellMax) {
    runtime_.count("flease.acceptor_queue_full");
    return false;
  }
  c.queued.emplace_back(from, m);
  if (c.load == Load::kUnknown) {
    c.load = Load::kLoading;
    const uint64_t op = next_disk_op_++;
    disk_ops_[op] = DiskOp{resource, 0};
    runtime_.disk_read(epoch_file(resource), 0, 16, make_tag(kDiskLoad, op));
  }
  return false;
}

void FleaseNode::handle_prepare(const Envelope& from, const Prepare& m) {
  if (runtime_.local_now_ns() < silent_until_local_ns_) {  // Rule 7
    runtime_.count("flease.acceptor_silent");
    return;
  }
  Cell& c = cell(m.resource);
  if (!cell_ready(c, m.resource, from, m)) return;
  auto reply = std::make_shared<PrepareReply>();
  reply->resource = m.resource;
  reply->ballot = m.ballot;
  if (m.ballot <= c.read || m.ballot <= c.write) {  // Rule 1
    reply->ok = false;
    reply->higher = std::max(c.read, c.write);
    runtime_.count("flease.prepare_refused");
  } else {
    c.read = m.ballot;
    reply->ok = true;
    reply->accepted = c.write;
    reply->value = c.value;
    reply->epoch_floor = c.durable_epoch;
  }
  runtime_.send(from.from, from.from_port, std::move(reply));
}

void FleaseNode::handle_accept(const Envelope& from, const Accept& m) {
  if (runtime_.local_now_ns() < silent_until_local_ns_) {  // Rule 7
    runtime_.count("flease.acceptor_silent");
    return;
  }
  Cell& c = cell(m.resource);
  if (!cell_ready(c, m.resource, from, m)) return;
  if (m.ballot < c.read || m.ballot < c.write) {  // Rule 2
    runtime_.count("flease.accept_refused");
    send_accept_reply(from.from, from.from_port, m.resource, m.ballot, false, std::max(c.read, c.write));
    return;
  }
  c.write = m.ballot;
  c.value = m.value;
  if (!config_.persist_epochs || m.value.epoch <= c.durable_epoch) {
    send_accept_reply(from.from, from.from_port, m.resource, m.ballot, true, Ballot{});
    return;
  }
  // Rule 8: the acknowledgement waits until the new epoch is durable.
  c.pending_acks.push_back(PendingAck{from.from, from.from_port, m.ballot, m.value.epoch});
  if (m.value.epoch > c.persisting_epoch) persist_epoch(c, m.resource, m.value.epoch);
}

void FleaseNode::send_accept_reply(NodeId to, PortId port, ResourceId resource, Ballot ballot, bool ok,
                                   Ballot higher) {
  auto reply = std::make_shared<AcceptReply>();
  reply->resource = resource;
  reply->ballot = ballot;
  reply->ok = ok;
  reply->higher = higher;
  runtime_.send(to, port, std::move(reply));
}

void FleaseNode::persist_epoch(Cell& c, ResourceId resource, uint64_t epoch) {
  c.persisting_epoch = epoch;
  const uint64_t op = next_disk_op_++;
  disk_ops_[op] = DiskOp{resource, epoch};
  std::vector<DiskStep> steps;
  steps.push_back(DiskStep::write(epoch_file(resource), 0, Payload::real(encode_epoch_record(epoch))));
  steps.push_back(DiskStep::sync(epoch_file(resource)));
  runtime_.disk_chain(std::move(steps), make_tag(kDiskPersist, op));
}

void FleaseNode::on_disk(const DiskCompletion& done) {
  if (!owns_tag(done.tag)) return;
  auto it = disk_ops_.find(tag_index(done.tag));
  if (it == disk_ops_.end()) return;
  const DiskOp op = it->second;
  switch (tag_kind(done.tag)) {
    case kDiskLoad:
      disk_ops_.erase(it);
      return finish_load(op.resource, done);
    case kDiskPersist:
      disk_ops_.erase(it);
      return finish_persist(op.resource, op.epoch, done.status.is_ok());
    default:
      runtime_.count("flease.unexpected_disk_tag");
  }
}

void FleaseNode::finish_load(ResourceId resource, const DiskCompletion& done) {
  Cell& c = cell(resource);
  if (done.status.is_ok()) {
    const std::optional<uint64_t> epoch = decode_epoch_record(done.data);
    if (!epoch) {
      // Silent for this resource rather than risk a smaller epoch (safety over liveness).
      runtime_.count("flease.epoch_record_corrupt");
      c.load = Load::kBroken;
      c.queued.clear();
      return;
    }
    c.durable_epoch = *epoch;
  } else if (done.status.code() != StatusCode::kNotFound) {
    runtime_.count("flease.epoch_read_failed");
    c.load = Load::kUnknown;  // the next message tries again
    c.queued.clear();
    return;
  }
  c.persisting_epoch = c.durable_epoch;
  c.load = Load::kLoaded;
  auto queued = std::move(c.queued);
  c.queued.clear();
  for (auto& [from, m] : queued) {
    if (const Prepare* p = std::get_if<Prepare>(&m)) handle_prepare(from, *p);
    else handle_accept(from, std::get<Accept>(m));
  }
}

void FleaseNode::finish_persist(ResourceId resource, uint64_t epoch, bool ok) {
  Cell& c = cell(resource);
  if (!ok) {
    runtime_.count("flease.epoch_persist_failed");
    c.persisting_epoch = c.durable_epoch;
    std::erase_if(c.pending_acks, [&](const PendingAck& a) { return a.epoch <= epoch; });
    return;
  }
  c.durable_epoch = std::max(c.durable_epoch, epoch);
  std::vector<PendingAck> ready;
  std::erase_if(c.pending_acks, [&](const PendingAck& a) {
    if (a.epoch > c.durable_epoch) return false;
    ready.push_back(a);
    return true;
  });
  for (const PendingAck& a : ready) send_accept_reply(a.to, a.port, resource, a.ballot, true, Ballot{});
}

std::optional<FleaseNode::CellView> FleaseNode::acceptor_cell(ResourceId resource) const {
  auto it = cells_.find(resource);
  if (it == cells_.end()) return std::nullopt;
  return CellView{it->second.read, it->second.write, it->second.value, it->second.durable_epoch};
}

// ---------------------------------------------------------------------------------------------------
// Proposer: the application API

FleaseNode::Lease* FleaseNode::find_lease(ResourceId resource) {
  auto it = lease_index_.find(resource);
  return it == lease_index_.end() ? nullptr : &leases_[it->second];
}

FleaseNode::Lease& FleaseNode::lease_of(ResourceId resource) {
  if (Lease* l = find_lease(resource)) return *l;
  require(leases_.size() < kIndexMask, "lease index space");
  const uint32_t index = static_cast<uint32_t>(leases_.size());
  lease_index_.emplace(resource, index);
  Lease& l = leases_.emplace_back();
  l.resource = resource;
  l.index = index;
  l.group = config_.group_of ? config_.group_of(resource) : config_.acceptors;
  require(!l.group.empty() && l.group.size() <= 64, "acceptor group of 1..64 nodes");
  return l;
}

void FleaseNode::acquire(ResourceId resource) {
  Lease& l = lease_of(resource);
  l.wanted = true;
  if (l.held || (l.attempt_open && l.kind == AttemptKind::kAcquire) || l.attempt_timer != 0) return;
  if (l.attempt_open) finish_attempt(l, AttemptOutcome::kAborted);  // a lookup gives way
  begin_attempt(l, AttemptKind::kAcquire);
}

void FleaseNode::release(ResourceId resource) {
  Lease* found = find_lease(resource);
  if (found == nullptr) return;
  Lease& l = *found;
  l.wanted = false;
  disarm(l.attempt_timer);
  disarm(l.renew_timer);
  const bool may_hold_register = l.held || (l.attempt_open && l.kind != AttemptKind::kLookup);
  if (l.attempt_open) finish_attempt(l, AttemptOutcome::kAborted);
  if (l.held) lose(l, EndReason::kReleased);  // stop believing before telling anyone
  if (may_hold_register) begin_attempt(l, AttemptKind::kRelease);
}

void FleaseNode::lookup(ResourceId resource) {
  Lease& l = lease_of(resource);
  if (l.held || l.attempt_open) return;  // the answer is already local, or on its way
  begin_attempt(l, AttemptKind::kLookup);
}

lease::LeaseView FleaseNode::lease(ResourceId resource) const {
  auto it = lease_index_.find(resource);
  if (it == lease_index_.end()) return lease::LeaseView{resource};
  return view_of(leases_[it->second]);
}

lease::LeaseView FleaseNode::view_of(const Lease& l) const {
  lease::LeaseView v{l.resource};
  const TimeNs now = runtime_.local_now_ns();
  if (l.held && now < l.expiry_local_ns) {  // Rule 5: belief ends at expiry, timer or not
    v.held = true;
    v.holder = self_;
    v.epoch = l.epoch;
    v.expiry_local_ns = l.expiry_local_ns;
  } else if (l.known.holder != kNoNode && l.known.holder != self_ && now < l.known.expiry_ns) {
    v.holder = l.known.holder;
    v.epoch = l.known.epoch;
    v.expiry_local_ns = l.known.expiry_ns;
  }
  return v;
}

void FleaseNode::add_listener(lease::LeaseListener* listener) { listeners_.push_back(listener); }
void FleaseNode::remove_listener(lease::LeaseListener* listener) { std::erase(listeners_, listener); }

// ---------------------------------------------------------------------------------------------------
// Proposer: rounds

Ballot FleaseNode::next_ballot(Lease& l) {
  int64_t number = std::max(runtime_.local_now_ns(), last_ballot_number_ + 1);
  if (!l.highest_seen.is_none()) number = std::max(number, l.highest_seen.number + 1);
  last_ballot_number_ = number;
  return Ballot{number, self_};
}

TimeNs FleaseNode::jitter_ns(TimeNs max_ns) {
  if (max_ns <= 0) return 0;
  return boost::random::uniform_int_distribution<TimeNs>(0, max_ns - 1)(runtime_.random());
}

void FleaseNode::arm(TimerId& slot, TimeNs delay_ns, uint64_t kind, uint32_t index) {
  if (slot != 0) runtime_.cancel_timer(slot);
  slot = runtime_.set_timer(std::max<TimeNs>(delay_ns, 0), make_tag(kind, index));
}

void FleaseNode::disarm(TimerId& slot) {
  if (slot != 0) runtime_.cancel_timer(slot);
  slot = 0;
}

void FleaseNode::begin_attempt(Lease& l, AttemptKind kind) {
  require(!l.attempt_open, "one attempt at a time per lease");
  disarm(l.attempt_timer);
  l.attempt_open = true;
  l.kind = kind;
  l.attempt_start_local_ns = runtime_.local_now_ns();
  l.attempt_start_true_ns = runtime_.trace_now_ns();
  l.rounds = 0;
  l.messages = 0;
  l.failures = 0;
  start_round(l);
}

void FleaseNode::start_round(Lease& l) {
  // A resource's acceptor group may change between rounds (an embedding role reconfigures it).
  if (config_.group_of) {
    std::vector<NodeId> group = config_.group_of(l.resource);
    if (!group.empty() && group.size() <= 64) l.group = std::move(group);
  }
  ++l.rounds;
  l.ballot = next_ballot(l);
  l.phase = Phase::kPreparing;
  l.answered_mask = 0;
  l.acks = l.nacks = 0;
  l.best_accepted = Ballot{};
  l.best_value = LeaseValue{};
  l.max_epoch = 0;
  for (NodeId acceptor : l.group) {
    auto m = std::make_shared<Prepare>();
    m->resource = l.resource;
    m->ballot = l.ballot;
    runtime_.send(acceptor, kPortFleaseAcceptor, std::move(m));
  }
  l.messages += static_cast<uint32_t>(l.group.size());
  arm(l.round_timer, config_.message_timeout_ns, kTimerRound, l.index);
}

// Each acceptor counts once per phase, whatever the network duplicates.
bool FleaseNode::first_answer(Lease& l, NodeId from) {
  const auto it = std::find(l.group.begin(), l.group.end(), from);
  if (it == l.group.end()) {
    runtime_.count("flease.answer_from_stranger");
    return false;
  }
  const uint64_t bit = 1ull << (it - l.group.begin());
  if (l.answered_mask & bit) return false;
  l.answered_mask |= bit;
  return true;
}

void FleaseNode::handle_prepare_reply(const Envelope& from, const PrepareReply& m) {
  Lease* found = find_lease(m.resource);
  if (found == nullptr || found->phase != Phase::kPreparing || m.ballot != found->ballot) {
    runtime_.count("flease.stale_reply");
    return;
  }
  Lease& l = *found;
  if (!first_answer(l, from.from)) return;
  if (!m.ok) {
    l.highest_seen = std::max(l.highest_seen, m.higher);
    if (++l.nacks > l.group.size() - majority(l)) round_failed(l, "flease.round_refused");
    return;
  }
  // Rule 3: adopt the value with the highest accepted ballot; remember every epoch seen (Rule 6).
  if (!m.accepted.is_none() && m.accepted > l.best_accepted) {
    l.best_accepted = m.accepted;
    l.best_value = m.value;
  }
  l.max_epoch = std::max({l.max_epoch, m.epoch_floor, m.value.epoch});
  if (++l.acks == majority(l)) decide(l);
}

void FleaseNode::decide(Lease& l) {
  disarm(l.round_timer);
  const TimeNs now = runtime_.local_now_ns();
  const LeaseValue& v = l.best_value;
  switch (l.kind) {
    case AttemptKind::kLookup:
      l.known = v;
      return finish_attempt(l, v.holder != kNoNode && now < v.expiry_ns + config_.epsilon_ns
                                   ? AttemptOutcome::kHeldByOther : AttemptOutcome::kFree);
    case AttemptKind::kRelease:
      if (v.holder != self_) return finish_attempt(l, AttemptOutcome::kReleased);
      return propose(l, LeaseValue{kNoNode, 0, std::max(v.epoch, l.max_epoch)});
    case AttemptKind::kRenew:
      if (l.held && v.holder == self_ && v.epoch == l.epoch && now < v.expiry_ns && now < l.expiry_local_ns) {
        return propose(l, LeaseValue{self_, now + config_.lease_ns, l.epoch});  // Rule 5
      }
      // The register no longer shows our tenure (only possible when the clock assumption broke).
      runtime_.count("flease.renewal_found_other");
      if (l.held) lose(l, EndReason::kRevoked);
      l.kind = AttemptKind::kAcquire;
      return decide_acquire(l, now);
    case AttemptKind::kAcquire:
      return decide_acquire(l, now);
  }
}

void FleaseNode::decide_acquire(Lease& l, TimeNs now) {
  const LeaseValue& v = l.best_value;
  const bool taken = v.holder != kNoNode;
  if (taken && now < v.expiry_ns) {
    if (v.holder == self_) {
      // Ours from an earlier incarnation or a lapsed tenure: nobody else can hold it, but it is a new
      // tenure for this node, so it gets a new epoch (Rule 6).
      return propose(l, LeaseValue{self_, now + config_.lease_ns, l.max_epoch + 1});
    }
    l.known = v;  // Rule 4: a valid lease is its holder's
    return finish_attempt(l, AttemptOutcome::kHeldByOther);
  }
  if (taken && now < v.expiry_ns + config_.epsilon_ns) {
    // Rule 4, the safety wait: the holder's clock may still be before expiry.
    runtime_.count("flease.safety_wait");
    l.known = v;
    l.phase = Phase::kWaiting;
    arm(l.round_timer, v.expiry_ns + config_.epsilon_ns - now, kTimerNextRound, l.index);
    return;
  }
  propose(l, LeaseValue{self_, now + config_.lease_ns, l.max_epoch + 1});  // Rule 6
}

void FleaseNode::propose(Lease& l, const LeaseValue& value) {
  l.phase = Phase::kAccepting;
  l.proposal = value;
  l.answered_mask = 0;
  l.acks = l.nacks = 0;
  for (NodeId acceptor : l.group) {
    auto m = std::make_shared<Accept>();
    m->resource = l.resource;
    m->ballot = l.ballot;
    m->value = value;
    runtime_.send(acceptor, kPortFleaseAcceptor, std::move(m));
  }
  l.messages += static_cast<uint32_t>(l.group.size());
  arm(l.round_timer, config_.message_timeout_ns, kTimerRound, l.index);
}

void FleaseNode::handle_accept_reply(const Envelope& from, const AcceptReply& m) {
  Lease* found = find_lease(m.resource);
  if (found == nullptr || found->phase != Phase::kAccepting || m.ballot != found->ballot) {
    runtime_.count("flease.stale_reply");
    return;
  }
  Lease& l = *found;
  if (!first_answer(l, from.from)) return;
  if (!m.ok) {
    l.highest_seen = std::max(l.highest_seen, m.higher);
    if (++l.nacks > l.group.size() - majority(l)) round_failed(l, "flease.round_refused");
    return;
  }
  if (++l.acks == majority(l)) commit(l);
}

void FleaseNode::commit(Lease& l) {
  disarm(l.round_timer);
  l.phase = Phase::kIdle;
  const TimeNs now = runtime_.local_now_ns();
  const LeaseValue& p = l.proposal;
  if (l.kind == AttemptKind::kRelease) return finish_attempt(l, AttemptOutcome::kReleased);
  require(p.holder == self_, "acquire and renew only write our own lease");
  if (now >= p.expiry_ns) {
    // Committed too late to believe in (the answers were slow): a fresh tenure needs a fresh round.
    runtime_.count("flease.commit_after_expiry");
    if (l.held) lose(l, EndReason::kExpired);
    return round_failed(l, "flease.commit_after_expiry");
  }
  const bool renewal = l.held && now < l.expiry_local_ns && p.epoch == l.epoch;
  if (!renewal && l.held) lose(l, EndReason::kExpired);
  if (!renewal && p.epoch <= l.epoch) {
    // A renewal that committed after its tenure lapsed: a new tenure must carry a new epoch (Rule 6).
    return round_failed(l, "flease.renewal_committed_late");
  }
  if (renewal) {
    // Only a clock stepped back can make the new expiry earlier; the register holds the new value, so
    // that is the one to believe (the checker reports the shrink, as an assumption violation).
    if (p.expiry_ns < l.expiry_local_ns) runtime_.count("flease.renewal_shrank_clock_stepped_back");
    ++l.renewals;
  } else {
    l.held = true;
    l.epoch = p.epoch;
    l.since_local_ns = now;
    l.since_true_ns = runtime_.trace_now_ns();
    l.renewals = 0;
  }
  l.expiry_local_ns = p.expiry_ns;
  l.known = p;
  arm(l.expiry_timer, p.expiry_ns - now, kTimerExpiry, l.index);
  // Renew renew_before ahead of expiry, but never in a tight loop when that is most of the lease.
  const TimeNs remaining = p.expiry_ns - now;
  arm(l.renew_timer, std::max(remaining - config_.renew_before_ns, remaining / 4), kTimerRenew, l.index);
  finish_attempt(l, renewal ? AttemptOutcome::kRenewed : AttemptOutcome::kAcquired);
}

void FleaseNode::round_failed(Lease& l, const char* reason) {
  runtime_.count(reason);
  disarm(l.round_timer);
  if (++l.failures > config_.retries) return finish_attempt(l, AttemptOutcome::kFailed);
  // Random backoff so duelling proposers stop pre-empting each other.
  l.phase = Phase::kWaiting;
  arm(l.round_timer, jitter_ns(config_.message_timeout_ns), kTimerNextRound, l.index);
}

// Closes the attempt, records it, plans the next one, and only then tells the listeners (who may call
// back into this node).
void FleaseNode::finish_attempt(Lease& l, AttemptOutcome outcome) {
  require(l.attempt_open, "finishing an open attempt");
  disarm(l.round_timer);
  l.phase = Phase::kIdle;
  l.attempt_open = false;
  const lease::AttemptRow row =
      lease::attempt_row(l, outcome, lease::KnownLease{l.known.holder, l.known.epoch, l.known.expiry_ns}, self_,
                         runtime_.local_now_ns(), runtime_.trace_now_ns());
  if (config_.trace) runtime_.trace(attempts_table_, &row);
  const TimeNs now = runtime_.local_now_ns();
  if (outcome == AttemptOutcome::kHeldByOther && l.wanted) {
    // Try again once the holder's lease has surely ended everywhere (its expiry plus ε).
    schedule_attempt(l, l.known.expiry_ns + config_.epsilon_ns - now + jitter_ns(config_.message_timeout_ns));
  } else if (outcome == AttemptOutcome::kFailed && (l.wanted || l.held)) {
    schedule_attempt(l, config_.message_timeout_ns + jitter_ns(config_.message_timeout_ns));
  }
  const lease::LeaseView view = view_of(l);
  const std::vector<lease::LeaseListener*> listeners = listeners_;
  for (lease::LeaseListener* listener : listeners) {
    if (outcome == AttemptOutcome::kAcquired) listener->on_lease_acquired(view);
    if (outcome == AttemptOutcome::kRenewed) listener->on_lease_renewed(view);
    listener->on_attempt_finished(row);
  }
}

void FleaseNode::schedule_attempt(Lease& l, TimeNs delay_ns) {
  arm(l.attempt_timer, delay_ns, kTimerAttempt, l.index);
}

void FleaseNode::lose(Lease& l, EndReason reason) {
  require(l.held, "losing a lease that is held");
  l.held = false;
  disarm(l.expiry_timer);
  disarm(l.renew_timer);
  const lease::IntervalRow row =
      lease::interval_row(l, self_, runtime_.local_now_ns(), runtime_.trace_now_ns(), reason);
  if (config_.trace) runtime_.trace(intervals_table_, &row);
  const std::vector<lease::LeaseListener*> listeners = listeners_;
  for (lease::LeaseListener* listener : listeners) listener->on_lease_lost(l.resource, l.epoch, reason);
}

void FleaseNode::on_timer(TimerId id, uint64_t tag) {
  if (!owns_tag(tag) || tag_index(tag) >= leases_.size()) return;
  Lease& l = leases_[tag_index(tag)];
  const uint64_t kind = tag_kind(tag);
  TimerId& slot = kind == kTimerRound || kind == kTimerNextRound ? l.round_timer
                  : kind == kTimerAttempt                        ? l.attempt_timer
                  : kind == kTimerRenew                          ? l.renew_timer
                                                                 : l.expiry_timer;
  if (slot != id) return;  // superseded
  slot = 0;
  on_lease_timer(l, kind);
}

void FleaseNode::on_lease_timer(Lease& l, uint64_t kind) {
  const TimeNs now = runtime_.local_now_ns();
  switch (kind) {
    case kTimerRound:
      return round_failed(l, "flease.round_timeout");
    case kTimerNextRound:
      return start_round(l);
    case kTimerAttempt:
      if (l.attempt_open) return;
      if (l.held) return begin_attempt(l, AttemptKind::kRenew);
      if (l.wanted) return begin_attempt(l, AttemptKind::kAcquire);
      return;
    case kTimerRenew:
      if (l.held && !l.attempt_open) begin_attempt(l, AttemptKind::kRenew);
      return;
    case kTimerExpiry:
      if (!l.held) return;
      if (now < l.expiry_local_ns) {  // the clock was stepped back: wait for the rest
        arm(l.expiry_timer, l.expiry_local_ns - now, kTimerExpiry, l.index);
        return;
      }
      lose(l, EndReason::kExpired);
      // A renewal still in flight becomes an acquisition (with a new epoch) if it ever commits.
      if (l.wanted && !l.attempt_open) begin_attempt(l, AttemptKind::kAcquire);
      if (l.attempt_open) l.kind = AttemptKind::kAcquire;
      return;
  }
}

}  // namespace pbfs::flease
