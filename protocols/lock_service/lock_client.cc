// The lock-service client (protocols/lock_service/lock_client.h): one request per round, a timeout
// moves on to the next server, and the same attempt and interval rows as Flease.
#include "protocols/lock_service/lock_client.h"

#include <algorithm>
#include <boost/random/uniform_int_distribution.hpp>
#include <cstdio>
#include <cstdlib>

namespace pbfs::lock_service {
namespace {

using lease::AttemptKind;
using lease::AttemptOutcome;
using lease::EndReason;

constexpr uint64_t kTagMarker = 0xC1ull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;
constexpr uint64_t kIndexMask = (1ull << 48) - 1;
enum TagKind : uint64_t { kTimerRequest = 1, kTimerAttempt = 2, kTimerRenew = 3, kTimerExpiry = 4 };

RequestKind request_kind(AttemptKind kind) {
  switch (kind) {
    case AttemptKind::kAcquire: return RequestKind::kAcquire;
    case AttemptKind::kRenew: return RequestKind::kRenew;
    case AttemptKind::kRelease: return RequestKind::kRelease;
    case AttemptKind::kLookup: return RequestKind::kLookup;
  }
  return RequestKind::kLookup;
}

}  // namespace

LockClient::LockClient(Runtime& runtime, LockClientConfig config)
    : runtime_(runtime), config_(std::move(config)), self_(runtime.node_id()) {
  if (config_.servers.empty() || config_.lease_ns <= 0) {
    std::fprintf(stderr, "pbfs lock client: needs servers and a lease duration\n");
    std::abort();
  }
  if (config_.trace) {
    attempts_table_ = runtime_.trace_table(lease::attempt_schema());
    intervals_table_ = runtime_.trace_table(lease::interval_schema());
  }
}

bool LockClient::owns_tag(uint64_t tag) { return (tag & kTagMarkerMask) == kTagMarker; }

LockClient::Lease* LockClient::find_lease(ResourceId resource) {
  auto it = lease_index_.find(resource);
  return it == lease_index_.end() ? nullptr : &leases_[it->second];
}

LockClient::Lease& LockClient::lease_of(ResourceId resource) {
  if (Lease* l = find_lease(resource)) return *l;
  const uint32_t index = static_cast<uint32_t>(leases_.size());
  lease_index_.emplace(resource, index);
  Lease& l = leases_.emplace_back();
  l.resource = resource;
  l.index = index;
  return l;
}

void LockClient::acquire(ResourceId resource) {
  Lease& l = lease_of(resource);
  l.wanted = true;
  if (l.held || (l.attempt_open && l.kind == AttemptKind::kAcquire) || l.attempt_timer != 0) return;
  if (l.attempt_open) finish_attempt(l, AttemptOutcome::kAborted);
  begin_attempt(l, AttemptKind::kAcquire);
}

void LockClient::release(ResourceId resource) {
  Lease* found = find_lease(resource);
  if (found == nullptr) return;
  Lease& l = *found;
  l.wanted = false;
  disarm(l.attempt_timer);
  const bool tell_server = l.held || (l.attempt_open && l.kind != AttemptKind::kLookup);
  if (l.attempt_open) finish_attempt(l, AttemptOutcome::kAborted);
  if (l.held) lose(l, EndReason::kReleased);
  if (tell_server) begin_attempt(l, AttemptKind::kRelease);
}

void LockClient::lookup(ResourceId resource) {
  Lease& l = lease_of(resource);
  if (l.held || l.attempt_open) return;
  begin_attempt(l, AttemptKind::kLookup);
}

lease::LeaseView LockClient::lease(ResourceId resource) const {
  auto it = lease_index_.find(resource);
  if (it == lease_index_.end()) return lease::LeaseView{resource};
  return view_of(leases_[it->second]);
}

lease::LeaseView LockClient::view_of(const Lease& l) const {
  lease::LeaseView v{l.resource};
  const TimeNs now = runtime_.local_now_ns();
  if (l.held && now < l.expiry_local_ns) {
    v.held = true;
    v.holder = self_;
    v.epoch = l.epoch;
    v.expiry_local_ns = l.expiry_local_ns;
  } else if (l.known_holder != kNoNode && l.known_holder != self_ && now < l.known_expiry_local_ns) {
    v.holder = l.known_holder;
    v.epoch = l.known_epoch;
    v.expiry_local_ns = l.known_expiry_local_ns;
  }
  return v;
}

void LockClient::add_listener(lease::LeaseListener* listener) { listeners_.push_back(listener); }
void LockClient::remove_listener(lease::LeaseListener* listener) { std::erase(listeners_, listener); }

TimeNs LockClient::jitter_ns(TimeNs max_ns) {
  if (max_ns <= 0) return 0;
  return boost::random::uniform_int_distribution<TimeNs>(0, max_ns - 1)(runtime_.random());
}

void LockClient::arm(TimerId& slot, TimeNs delay_ns, uint64_t kind, uint32_t index) {
  if (slot != 0) runtime_.cancel_timer(slot);
  slot = runtime_.set_timer(std::max<TimeNs>(delay_ns, 0), kTagMarker | (kind << 48) | index);
}

void LockClient::disarm(TimerId& slot) {
  if (slot != 0) runtime_.cancel_timer(slot);
  slot = 0;
}

void LockClient::begin_attempt(Lease& l, AttemptKind kind) {
  disarm(l.attempt_timer);
  l.attempt_open = true;
  l.kind = kind;
  l.attempt_start_local_ns = runtime_.local_now_ns();
  l.attempt_start_true_ns = runtime_.trace_now_ns();
  l.rounds = 0;
  l.messages = 0;
  l.failures = 0;
  send_request(l);
}

void LockClient::send_request(Lease& l) {
  ++l.rounds;
  ++l.messages;
  l.request_id = next_request_id_++;
  l.request_sent_local_ns = runtime_.local_now_ns();
  auto m = std::make_shared<LockRequest>();
  m->resource = l.resource;
  m->request_id = l.request_id;
  m->kind = request_kind(l.kind);
  m->epoch = l.epoch;
  runtime_.send(config_.servers[server_index_ % config_.servers.size()], kPortLockServer, std::move(m));
  arm(l.request_timer, config_.message_timeout_ns, kTimerRequest, l.index);
}

void LockClient::request_failed(Lease& l, const char* reason) {
  runtime_.count(reason);
  disarm(l.request_timer);
  server_index_ = (server_index_ + 1) % config_.servers.size();  // perhaps the other server is primary
  if (++l.failures > config_.retries) return finish_attempt(l, AttemptOutcome::kFailed);
  send_request(l);
}

void LockClient::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_.cpu_per_message_ns);
  if (message.type() != LockReply::kType) {
    runtime_.count("lock.client_unexpected_message");
    return;
  }
  handle_reply(static_cast<const LockReply&>(message));
}

void LockClient::handle_reply(const LockReply& m) {
  Lease* found = find_lease(m.resource);
  if (found == nullptr || !found->attempt_open || found->request_id != m.request_id) {
    runtime_.count("lock.stale_reply");
    return;
  }
  Lease& l = *found;
  disarm(l.request_timer);
  const TimeNs now = runtime_.local_now_ns();
  switch (m.status) {
    case ReplyStatus::kNotPrimary:
      return request_failed(l, "lock.not_primary");
    case ReplyStatus::kGranted:
      return granted(l, m, now);
    case ReplyStatus::kHeldByOther:
      l.known_holder = m.holder;
      l.known_epoch = m.epoch;
      l.known_expiry_local_ns = now + m.remaining_ns;
      return finish_attempt(l, l.kind == AttemptKind::kRelease ? AttemptOutcome::kReleased
                                                                : AttemptOutcome::kHeldByOther);
    case ReplyStatus::kFree:
      l.known_holder = kNoNode;
      return finish_attempt(l, AttemptOutcome::kFree);
    case ReplyStatus::kReleased:
      return finish_attempt(l, AttemptOutcome::kReleased);
    case ReplyStatus::kLost:
      if (l.held) lose(l, EndReason::kRevoked);
      l.kind = AttemptKind::kAcquire;
      l.failures = 0;
      return send_request(l);
  }
}

void LockClient::granted(Lease& l, const LockReply& m, TimeNs now) {
  // The lease runs from when the request left, so it ends before the server's view of it does.
  const TimeNs expiry = l.request_sent_local_ns + config_.lease_ns;
  if (now >= expiry) return request_failed(l, "lock.granted_too_late");
  const bool renewal = l.held && now < l.expiry_local_ns && m.epoch == l.epoch;
  if (!renewal && l.held) lose(l, EndReason::kRevoked);
  if (!renewal && m.epoch <= l.epoch) {
    // A renewal granted after the tenure lapsed here: ask for a new tenure (a new epoch) instead.
    runtime_.count("lock.renewal_granted_late");
    l.kind = AttemptKind::kAcquire;
    return send_request(l);
  }
  if (renewal) {
    ++l.renewals;
  } else {
    l.held = true;
    l.epoch = m.epoch;
    l.since_local_ns = now;
    l.since_true_ns = runtime_.trace_now_ns();
    l.renewals = 0;
  }
  if (expiry < l.expiry_local_ns) runtime_.count("lock.renewal_shrank_clock_stepped_back");
  l.expiry_local_ns = expiry;  // never the old one: its clock frame may have been stepped away
  arm(l.expiry_timer, l.expiry_local_ns - now, kTimerExpiry, l.index);
  const TimeNs remaining = l.expiry_local_ns - now;
  arm(l.renew_timer, std::max(remaining - config_.renew_before_ns, remaining / 4), kTimerRenew, l.index);
  finish_attempt(l, renewal ? AttemptOutcome::kRenewed : AttemptOutcome::kAcquired);
}

void LockClient::finish_attempt(Lease& l, AttemptOutcome outcome) {
  disarm(l.request_timer);
  l.attempt_open = false;
  const lease::AttemptRow row = lease::attempt_row(
      l, outcome, lease::KnownLease{l.known_holder, l.known_epoch, l.known_expiry_local_ns}, self_,
      runtime_.local_now_ns(), runtime_.trace_now_ns());
  if (config_.trace) runtime_.trace(attempts_table_, &row);
  const TimeNs now = runtime_.local_now_ns();
  if (outcome == AttemptOutcome::kHeldByOther && l.wanted) {
    arm(l.attempt_timer, l.known_expiry_local_ns - now + jitter_ns(config_.message_timeout_ns), kTimerAttempt,
        l.index);
  } else if (outcome == AttemptOutcome::kFailed && (l.wanted || l.held)) {
    arm(l.attempt_timer, config_.message_timeout_ns + jitter_ns(config_.message_timeout_ns), kTimerAttempt, l.index);
  }
  const lease::LeaseView view = view_of(l);
  const std::vector<lease::LeaseListener*> listeners = listeners_;
  for (lease::LeaseListener* listener : listeners) {
    if (outcome == AttemptOutcome::kAcquired) listener->on_lease_acquired(view);
    if (outcome == AttemptOutcome::kRenewed) listener->on_lease_renewed(view);
    listener->on_attempt_finished(row);
  }
}

void LockClient::lose(Lease& l, EndReason reason) {
  l.held = false;
  disarm(l.expiry_timer);
  disarm(l.renew_timer);
  const lease::IntervalRow row =
      lease::interval_row(l, self_, runtime_.local_now_ns(), runtime_.trace_now_ns(), reason);
  if (config_.trace) runtime_.trace(intervals_table_, &row);
  const std::vector<lease::LeaseListener*> listeners = listeners_;
  for (lease::LeaseListener* listener : listeners) listener->on_lease_lost(l.resource, l.epoch, reason);
}

void LockClient::on_timer(TimerId id, uint64_t tag) {
  if (!owns_tag(tag) || (tag & kIndexMask) >= leases_.size()) return;
  Lease& l = leases_[tag & kIndexMask];
  const uint64_t kind = (tag >> 48) & 0xFF;
  TimerId& slot = kind == kTimerRequest ? l.request_timer
                  : kind == kTimerAttempt ? l.attempt_timer
                  : kind == kTimerRenew   ? l.renew_timer
                                          : l.expiry_timer;
  if (slot != id) return;
  slot = 0;
  on_lease_timer(l, kind);
}

void LockClient::on_lease_timer(Lease& l, uint64_t kind) {
  const TimeNs now = runtime_.local_now_ns();
  switch (kind) {
    case kTimerRequest:
      return request_failed(l, "lock.request_timeout");
    case kTimerAttempt:
      if (l.attempt_open) return;
      if (l.held) return begin_attempt(l, AttemptKind::kRenew);
      if (l.wanted) begin_attempt(l, AttemptKind::kAcquire);
      return;
    case kTimerRenew:
      if (l.held && !l.attempt_open) begin_attempt(l, AttemptKind::kRenew);
      return;
    case kTimerExpiry:
      if (!l.held) return;
      if (now < l.expiry_local_ns) return arm(l.expiry_timer, l.expiry_local_ns - now, kTimerExpiry, l.index);
      lose(l, EndReason::kExpired);
      if (l.attempt_open) l.kind = AttemptKind::kAcquire;
      else if (l.wanted) begin_attempt(l, AttemptKind::kAcquire);
      return;
  }
}

}  // namespace pbfs::lock_service
