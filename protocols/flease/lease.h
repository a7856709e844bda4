// The lease vocabulary shared by every lease provider (Flease and the central lock-service model): the
// in-process API other roles on a node use ("do I hold X, with which epoch, until when?", callbacks on
// acquired/lost), and the two trace tables both providers write so one checker judges them all.
#pragma once

#include <cstdint>
#include <vector>

#include "protocols/runtime/trace_schema.h"
#include "protocols/runtime/types.h"

namespace pbfs::lease {

// What a lease protects: a catalog group, a set of files, a shard. Independent leases share nodes.
using ResourceId = uint64_t;

enum class AttemptKind : uint8_t { kAcquire = 1, kRenew = 2, kRelease = 3, kLookup = 4 };
enum class AttemptOutcome : uint8_t {
  kAcquired = 1,     // this node now holds the lease (a new tenure, new epoch)
  kRenewed = 2,      // this node still holds it, with a later expiry and the same epoch
  kHeldByOther = 3,  // another node holds a valid lease (holder and expiry reported)
  kFree = 4,         // lookup: nobody holds it
  kReleased = 5,     // this node no longer holds it and told the others
  kFailed = 6,       // no quorum / no answer within the retries
  kAborted = 7,      // superseded by release() or a crash of the service
};
enum class EndReason : uint8_t { kExpired = 1, kReleased = 2, kCrashed = 3, kRunEnd = 4, kRevoked = 5 };

const char* attempt_kind_name(AttemptKind kind);
const char* attempt_outcome_name(AttemptOutcome outcome);
const char* end_reason_name(EndReason reason);

// What this node knows of a lease, without sending anything.
struct LeaseView {
  ResourceId resource = 0;
  bool held = false;           // this node holds it now (its local clock is before expiry)
  NodeId holder = kNoNode;     // last known holder (this node when held); kNoNode: none or unknown
  uint64_t epoch = 0;          // master epoch of that holder's tenure
  TimeNs expiry_local_ns = 0;  // when that lease ends, in this node's clock
};

// Trace table "lease_attempts": one row per finished attempt. A row with outcome kAcquired marks the
// true time a tenure begins; kRenewed the true time its expiry was extended.
struct AttemptRow {
  uint64_t resource;
  uint64_t epoch;             // epoch of the lease seen or written
  int64_t expiry_local_ns;    // expiry of that lease in this node's clock (0: none)
  int64_t start_local_ns;     // this node's clock when the attempt began
  int64_t end_local_ns;
  int64_t start_true_ns;      // true time (trace clock)
  int64_t end_true_ns;
  uint32_t node;              // who attempted
  uint32_t holder;            // holder after the attempt (0xffffffff: none/unknown)
  uint32_t messages;          // messages this node sent for the attempt
  uint16_t rounds;            // protocol rounds (Flease prepare/accept rounds; lock-service requests)
  uint8_t kind;               // AttemptKind
  uint8_t outcome;            // AttemptOutcome
};
const TableSchema& attempt_schema();

// Trace table "lease_intervals": one row per tenure, written when it ends: the lease as its holder
// believed it, from the acquisition until it expired, was released, or the holder crashed.
struct IntervalRow {
  uint64_t resource;
  uint64_t epoch;
  int64_t start_local_ns;   // holder's clock when it acquired the lease
  int64_t end_local_ns;     // holder's clock when it stopped believing (crash: its clock at the crash)
  int64_t expiry_local_ns;  // the last expiry it believed (after all renewals)
  int64_t start_true_ns;
  int64_t end_true_ns;
  uint32_t holder;
  uint32_t renewals;
  uint8_t end_reason;       // EndReason
  uint8_t padding[7];
};
const TableSchema& interval_schema();

// What a provider last learnt of someone else's lease: reported in an attempt's row when it is not ours.
struct KnownLease {
  NodeId holder = kNoNode;
  uint64_t epoch = 0;
  TimeNs expiry_local_ns = 0;
};

// The lease_attempts row a provider writes when an attempt finishes. `Attempt` is the provider's lease
// state: resource, epoch, expiry_local_ns, attempt_start_local_ns, attempt_start_true_ns, messages,
// rounds, kind.
template <typename Attempt>
AttemptRow attempt_row(const Attempt& l, AttemptOutcome outcome, const KnownLease& known, NodeId self,
                       TimeNs end_local_ns, TimeNs end_true_ns) {
  const bool ours = outcome == AttemptOutcome::kAcquired || outcome == AttemptOutcome::kRenewed;
  AttemptRow row{};
  row.resource = l.resource;
  row.epoch = ours ? l.epoch : known.epoch;
  row.expiry_local_ns = ours ? l.expiry_local_ns : known.expiry_local_ns;
  row.start_local_ns = l.attempt_start_local_ns;
  row.end_local_ns = end_local_ns;
  row.start_true_ns = l.attempt_start_true_ns;
  row.end_true_ns = end_true_ns;
  row.node = self;
  row.holder = ours ? self : (outcome == AttemptOutcome::kHeldByOther ? known.holder : kNoNode);
  row.messages = l.messages;
  row.rounds = l.rounds;
  row.kind = static_cast<uint8_t>(l.kind);
  row.outcome = static_cast<uint8_t>(outcome);
  return row;
}

// The lease_intervals row a provider writes when one of its tenures ends. `Tenure` is the provider's
// own lease state: resource, epoch, since_local_ns, expiry_local_ns, since_true_ns, renewals.
template <typename Tenure>
IntervalRow interval_row(const Tenure& t, NodeId holder, TimeNs end_local_ns, TimeNs end_true_ns, EndReason reason) {
  IntervalRow row{};
  row.resource = t.resource;
  row.epoch = t.epoch;
  row.start_local_ns = t.since_local_ns;
  row.end_local_ns = end_local_ns;
  row.expiry_local_ns = t.expiry_local_ns;
  row.start_true_ns = t.since_true_ns;
  row.end_true_ns = end_true_ns;
  row.holder = holder;
  row.renewals = t.renewals;
  row.end_reason = static_cast<uint8_t>(reason);
  return row;
}

// Callbacks for roles that use a lease (the catalog primary, the async-replication writer). They run
// inside the lease provider's handler, on the same runtime, so they may call back into the provider.
class LeaseListener {
 public:
  virtual ~LeaseListener() = default;
  // A new tenure: `lease.held` is true, `lease.epoch` is higher than any earlier holder's.
  virtual void on_lease_acquired(const LeaseView& lease) {}
  virtual void on_lease_renewed(const LeaseView& lease) {}
  // This node no longer holds the lease (expired without renewal, or released).
  virtual void on_lease_lost(ResourceId resource, uint64_t epoch, EndReason reason) {}
  // Every finished attempt, including "held by another node" (who holds it now) and failures.
  virtual void on_attempt_finished(const AttemptRow& attempt) {}
};

// The API a lease provider offers to other code on its node.
class LeaseService {
 public:
  virtual ~LeaseService() = default;
  // Asks to hold `resource`: tries now, retries while another node holds it or no quorum answers, and
  // once held renews it before expiry, until release().
  virtual void acquire(ResourceId resource) = 0;
  // Stops wanting `resource`; if held, the node stops believing at once and tells the others.
  virtual void release(ResourceId resource) = 0;
  // Asks the service who holds `resource` now; the answer arrives through on_attempt_finished().
  virtual void lookup(ResourceId resource) = 0;
  // Local knowledge only; `held` is re-checked against the local clock at every call.
  virtual LeaseView lease(ResourceId resource) const = 0;
  // Listeners are not owned and must outlive the provider (or be removed).
  virtual void add_listener(LeaseListener* listener) = 0;
  virtual void remove_listener(LeaseListener* listener) = 0;
};

}  // namespace pbfs::lease
