// The lease checker on hand-written rows: each kind of violation is found, the clock assumption turns
// violations after it broke into "assumption violated", and a clean history passes.
#include "protocols/flease/lease_checker.h"

#include <gtest/gtest.h>

namespace pbfs::lease {
namespace {

AttemptRow acquired(NodeId node, uint64_t epoch, TimeNs at_ns, TimeNs expiry_ns,
                    AttemptOutcome outcome = AttemptOutcome::kAcquired) {
  AttemptRow r{};
  r.resource = 1;
  r.node = node;
  r.holder = node;
  r.epoch = epoch;
  r.end_true_ns = at_ns;
  r.end_local_ns = at_ns;
  r.expiry_local_ns = expiry_ns;
  r.kind = static_cast<uint8_t>(AttemptKind::kAcquire);
  r.outcome = static_cast<uint8_t>(outcome);
  return r;
}

IntervalRow ended(NodeId node, uint64_t epoch, TimeNs start_ns, TimeNs end_ns) {
  IntervalRow r{};
  r.resource = 1;
  r.holder = node;
  r.epoch = epoch;
  r.start_true_ns = start_ns;
  r.end_true_ns = end_ns;
  r.end_reason = static_cast<uint8_t>(EndReason::kExpired);
  return r;
}

TEST(LeaseChecker, ACleanHistoryPasses) {
  LeaseChecker c(kSecond);
  c.on_clock_spread(0, kSecond / 2);
  c.on_attempt(acquired(0, 1, 0, 10));
  c.on_attempt(acquired(0, 1, 5, 15, AttemptOutcome::kRenewed));
  c.on_interval(ended(0, 1, 0, 15));
  c.on_attempt(acquired(1, 2, 15, 30));  // starts exactly when the other ended: no overlap
  c.on_interval(ended(1, 2, 15, 30));
  EXPECT_EQ(c.report().violations(), 0u);
  EXPECT_EQ(c.report().tenures, 2u);
  EXPECT_EQ(c.report().renewals, 1u);
  EXPECT_EQ(c.summary().rfind("ok", 0), 0u) << c.summary();
}

TEST(LeaseChecker, TwoHoldersAtOnceIsABugWhileClocksAreWithinEpsilon) {
  LeaseChecker c(kSecond);
  c.on_attempt(acquired(0, 1, 0, 10));
  c.on_attempt(acquired(1, 2, 5, 20));
  EXPECT_EQ(c.report().overlaps, 0u);  // found when the first of the two ends
  c.on_interval(ended(0, 1, 0, 10));
  EXPECT_EQ(c.report().overlaps, 1u);
  EXPECT_EQ(c.report().bugs, 1u);
  EXPECT_EQ(c.summary().rfind("BUG", 0), 0u) << c.summary();
  EXPECT_EQ(c.open_tenures().size(), 1u);
  EXPECT_EQ(c.open_tenures(1).size(), 1u);
  EXPECT_EQ(c.open_tenures(0).size(), 0u);
}

TEST(LeaseChecker, ViolationsAfterTheSpreadExceededEpsilonAreExcused) {
  LeaseChecker c(kSecond);
  c.on_clock_spread(3, 2 * kSecond);
  c.on_attempt(acquired(0, 1, 4, 10));
  c.on_attempt(acquired(1, 2, 5, 20));
  c.on_interval(ended(0, 1, 4, 10));
  EXPECT_EQ(c.report().overlaps, 1u);
  EXPECT_EQ(c.report().bugs, 0u);
  EXPECT_EQ(c.report().excused, 1u);
  EXPECT_TRUE(c.report().assumption_violated);
  EXPECT_EQ(c.report().max_spread_ns, 2 * kSecond);
  EXPECT_EQ(c.summary().rfind("assumption violated", 0), 0u) << c.summary();
}

TEST(LeaseChecker, AViolationBeforeTheClocksBrokeStaysABug) {
  LeaseChecker c(kSecond);
  c.on_attempt(acquired(0, 1, 0, 10));
  c.on_attempt(acquired(1, 2, 2, 20));
  c.on_clock_spread(8, 2 * kSecond);
  c.on_interval(ended(0, 1, 0, 10));  // overlap from t=2, before the spread broke at t=8
  EXPECT_EQ(c.report().bugs, 1u);
}

TEST(LeaseChecker, RenewalsOnlyExtend) {
  LeaseChecker c(kSecond);
  c.on_attempt(acquired(0, 1, 0, 100));
  c.on_attempt(acquired(0, 1, 5, 90, AttemptOutcome::kRenewed));
  EXPECT_EQ(c.report().shrinking_renewals, 1u);
  c.on_attempt(acquired(0, 2, 6, 200, AttemptOutcome::kRenewed));  // a renewal may not change the epoch
  EXPECT_EQ(c.report().shrinking_renewals, 2u);
  c.on_attempt(acquired(3, 1, 7, 200, AttemptOutcome::kRenewed));  // nor renew what was never held
  EXPECT_EQ(c.report().inconsistencies, 1u);
}

TEST(LeaseChecker, EpochsStrictlyRise) {
  LeaseChecker c(kSecond);
  c.on_attempt(acquired(0, 5, 0, 10));
  c.on_interval(ended(0, 5, 0, 10));
  c.on_attempt(acquired(1, 5, 20, 30));
  EXPECT_EQ(c.report().epoch_regressions, 1u);
  c.on_interval(ended(1, 5, 20, 30));
  c.on_attempt(acquired(2, 6, 40, 50));
  EXPECT_EQ(c.report().epoch_regressions, 1u);
}

TEST(LeaseChecker, AnEndWithoutABeginningIsInconsistent) {
  LeaseChecker c(kSecond);
  c.on_interval(ended(0, 1, 0, 10));
  EXPECT_EQ(c.report().inconsistencies, 1u);
}

TEST(LeaseNames, EveryEnumHasAName) {
  EXPECT_STREQ(attempt_outcome_name(AttemptOutcome::kHeldByOther), "held_by_other");
  EXPECT_STREQ(attempt_kind_name(AttemptKind::kRenew), "renew");
  EXPECT_STREQ(end_reason_name(EndReason::kCrashed), "crashed");
  EXPECT_EQ(attempt_schema().row_size, sizeof(AttemptRow));
  EXPECT_EQ(interval_schema().fields.size(), 10u);
}

}  // namespace
}  // namespace pbfs::lease
