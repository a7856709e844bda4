// Names and trace schemas of the shared lease vocabulary (protocols/flease/lease.h).
#include "protocols/flease/lease.h"

namespace pbfs::lease {

const char* attempt_kind_name(AttemptKind kind) {
  switch (kind) {
    case AttemptKind::kAcquire: return "acquire";
    case AttemptKind::kRenew: return "renew";
    case AttemptKind::kRelease: return "release";
    case AttemptKind::kLookup: return "lookup";
  }
  return "?";
}

const char* attempt_outcome_name(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kAcquired: return "acquired";
    case AttemptOutcome::kRenewed: return "renewed";
    case AttemptOutcome::kHeldByOther: return "held_by_other";
    case AttemptOutcome::kFree: return "free";
    case AttemptOutcome::kReleased: return "released";
    case AttemptOutcome::kFailed: return "failed";
    case AttemptOutcome::kAborted: return "aborted";
  }
  return "?";
}

const char* end_reason_name(EndReason reason) {
  switch (reason) {
    case EndReason::kExpired: return "expired";
    case EndReason::kReleased: return "released";
    case EndReason::kCrashed: return "crashed";
    case EndReason::kRunEnd: return "run_end";
    case EndReason::kRevoked: return "revoked";
  }
  return "?";
}

const TableSchema& attempt_schema() {
  static const TableSchema schema{
      "lease_attempts",
      "one row per finished lease attempt (acquire, renew, release, lookup) and its outcome",
      sizeof(AttemptRow),
      {PBFS_FIELD(AttemptRow, resource, "lease resource id"),
       PBFS_FIELD(AttemptRow, epoch, "master epoch of the lease seen or written"),
       PBFS_FIELD(AttemptRow, expiry_local_ns, "lease expiry in the attempting node's clock; 0 none"),
       PBFS_FIELD(AttemptRow, start_local_ns, "attempting node's clock at the start"),
       PBFS_FIELD(AttemptRow, end_local_ns, "attempting node's clock at the end"),
       PBFS_FIELD(AttemptRow, start_true_ns, "true time at the start"),
       PBFS_FIELD(AttemptRow, end_true_ns, "true time at the end (a tenure begins here when acquired)"),
       PBFS_FIELD(AttemptRow, node, "attempting node"),
       PBFS_FIELD(AttemptRow, holder, "holder after the attempt; 0xffffffff none or unknown"),
       PBFS_FIELD(AttemptRow, messages, "messages the attempting node sent for it"),
       PBFS_FIELD(AttemptRow, rounds, "protocol rounds used"),
       PBFS_FIELD(AttemptRow, kind, "1 acquire, 2 renew, 3 release, 4 lookup"),
       PBFS_FIELD(AttemptRow, outcome,
                  "1 acquired, 2 renewed, 3 held_by_other, 4 free, 5 released, 6 failed, 7 aborted")}};
  return schema;
}

const TableSchema& interval_schema() {
  static const TableSchema schema{
      "lease_intervals",
      "one row per tenure, as its holder believed it, written when it ended",
      sizeof(IntervalRow),
      {PBFS_FIELD(IntervalRow, resource, "lease resource id"),
       PBFS_FIELD(IntervalRow, epoch, "master epoch of the tenure"),
       PBFS_FIELD(IntervalRow, start_local_ns, "holder's clock when the tenure began"),
       PBFS_FIELD(IntervalRow, end_local_ns, "holder's clock when it stopped believing"),
       PBFS_FIELD(IntervalRow, expiry_local_ns, "last believed expiry, holder's clock"),
       PBFS_FIELD(IntervalRow, start_true_ns, "true time the tenure began"),
       PBFS_FIELD(IntervalRow, end_true_ns, "true time it ended"),
       PBFS_FIELD(IntervalRow, holder, "holding node"),
       PBFS_FIELD(IntervalRow, renewals, "renewals during the tenure"),
       PBFS_FIELD(IntervalRow, end_reason, "1 expired, 2 released, 3 crashed, 4 run_end, 5 revoked")}};
  return schema;
}

}  // namespace pbfs::lease
