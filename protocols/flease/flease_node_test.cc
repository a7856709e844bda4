// Flease, rule by rule (the rules are listed at the top of flease_node.cc), on the small deterministic
// test cluster: each test drives one sentence of the algorithm and checks what the nodes did.
#include "protocols/flease/flease_node.h"

#include <gtest/gtest.h>

#include "protocols/flease/lease_checker.h"
#include "protocols/flease/test_cluster.h"

namespace pbfs::flease {
namespace {

using lease::AttemptOutcome;
using lease::AttemptRow;
using testing::TestCluster;

constexpr ResourceId kLease = 42;

FleaseConfig base_config() {
  FleaseConfig c;
  c.acceptors = {0, 1, 2};
  c.silent_at_start = false;
  return c;
}

// A cluster of `n` Flease nodes (the first three are the acceptors). Restarted nodes are silent.
struct Fixture {
  TestCluster cluster;
  FleaseConfig config = base_config();
  std::vector<uint32_t> boots;

  void start(uint32_t n, std::vector<TimeNs> offsets = {}) {
    boots.assign(n, 0);
    for (NodeId id = 0; id < n; ++id) {
      cluster.add_node(
          id, kPortFleaseAcceptor,
          [this, id](Runtime& rt) {
            FleaseConfig c = config;
            c.silent_at_start = boots[id]++ > 0;
            return std::make_unique<FleaseNode>(rt, c);
          },
          id < offsets.size() ? offsets[id] : 0);
    }
  }
  FleaseNode& node(NodeId id) { return cluster.role<FleaseNode>(id); }
  std::vector<AttemptRow> attempts(NodeId id, AttemptOutcome outcome) const {
    std::vector<AttemptRow> out;
    for (const AttemptRow& r : cluster.attempts) {
      if (r.node == id && r.outcome == static_cast<uint8_t>(outcome)) out.push_back(r);
    }
    return out;
  }
};

std::shared_ptr<const PrepareReply> last_prepare_reply(const TestCluster& c) {
  auto replies = c.sent_of_type<PrepareReply>();
  return replies.empty() ? nullptr : std::static_pointer_cast<const PrepareReply>(replies.back().message);
}
std::shared_ptr<const AcceptReply> last_accept_reply(const TestCluster& c) {
  auto replies = c.sent_of_type<AcceptReply>();
  return replies.empty() ? nullptr : std::static_pointer_cast<const AcceptReply>(replies.back().message);
}

Prepare prepare(int64_t number, NodeId node) {
  Prepare m;
  m.resource = kLease;
  m.ballot = Ballot{number, node};
  return m;
}
Accept accept(int64_t number, NodeId node, LeaseValue value) {
  Accept m;
  m.resource = kLease;
  m.ballot = Ballot{number, node};
  m.value = value;
  return m;
}

TEST(FleaseRule1, AcceptorPromisesOnlyAboveEveryBallotItHasSeen) {
  Fixture f;
  f.config.persist_epochs = false;
  f.start(1);
  f.cluster.inject(0, 9, kPortFleaseAcceptor, prepare(10, 9));
  ASSERT_TRUE(last_prepare_reply(f.cluster)->ok);
  EXPECT_TRUE(last_prepare_reply(f.cluster)->accepted.is_none());

  f.cluster.inject(0, 8, kPortFleaseAcceptor, prepare(5, 8));  // lower: refused, names the winner
  EXPECT_FALSE(last_prepare_reply(f.cluster)->ok);
  EXPECT_EQ(last_prepare_reply(f.cluster)->higher, (Ballot{10, 9}));

  f.cluster.inject(0, 9, kPortFleaseAcceptor, prepare(10, 9));  // equal (a duplicate): refused too
  EXPECT_FALSE(last_prepare_reply(f.cluster)->ok);

  f.cluster.inject(0, 7, kPortFleaseAcceptor, prepare(10, 10));  // same time, higher node id wins
  EXPECT_TRUE(last_prepare_reply(f.cluster)->ok);
  EXPECT_EQ(f.node(0).acceptor_cell(kLease)->read, (Ballot{10, 10}));
}

TEST(FleaseRule2, AcceptorAcceptsUnlessItPromisedHigher) {
  Fixture f;
  f.config.persist_epochs = false;
  f.start(1);
  const LeaseValue v{3, 100 * kSecond, 1};
  f.cluster.inject(0, 9, kPortFleaseAcceptor, prepare(20, 9));
  f.cluster.inject(0, 8, kPortFleaseAcceptor, accept(10, 8, v));
  EXPECT_FALSE(last_accept_reply(f.cluster)->ok);
  EXPECT_EQ(last_accept_reply(f.cluster)->higher, (Ballot{20, 9}));
  EXPECT_EQ(f.node(0).acceptor_cell(kLease)->value, LeaseValue{});

  f.cluster.inject(0, 9, kPortFleaseAcceptor, accept(20, 9, v));  // the promised ballot itself
  EXPECT_TRUE(last_accept_reply(f.cluster)->ok);
  EXPECT_EQ(f.node(0).acceptor_cell(kLease)->value, v);

  f.cluster.inject(0, 7, kPortFleaseAcceptor, prepare(30, 7));  // a later read reports the value
  EXPECT_TRUE(last_prepare_reply(f.cluster)->ok);
  EXPECT_EQ(last_prepare_reply(f.cluster)->value, v);
  EXPECT_EQ(last_prepare_reply(f.cluster)->accepted, (Ballot{20, 9}));
}

TEST(FleaseRule3, ProposerAdoptsTheValueOfTheHighestAcceptedBallot) {
  Fixture f;
  f.start(4);
  f.cluster.run_for(kSecond);
  // Two acceptors hold different values; the later ballot's must win, even though it is a minority.
  f.cluster.inject(0, 7, kPortFleaseAcceptor, accept(100, 7, LeaseValue{7, 100 * kSecond, 3}));
  f.cluster.inject(1, 8, kPortFleaseAcceptor, accept(200, 8, LeaseValue{8, 100 * kSecond, 4}));
  f.cluster.run_for(kMillisecond);  // epoch records reach the disks
  f.node(3).acquire(kLease);
  f.cluster.run_for(kSecond);
  auto seen = f.attempts(3, AttemptOutcome::kHeldByOther);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].holder, 8u);
  EXPECT_EQ(seen[0].epoch, 4u);
  EXPECT_FALSE(f.node(3).lease(kLease).held);
  EXPECT_EQ(f.node(3).lease(kLease).holder, 8u);
}

TEST(FleaseRule3, EachPhaseNeedsAMajority) {
  Fixture f;
  f.start(4);
  f.cluster.crash(1);
  f.node(3).acquire(kLease);  // two of three acceptors answer: enough
  f.cluster.run_for(kSecond);
  EXPECT_TRUE(f.node(3).lease(kLease).held);

  Fixture g;
  g.start(4);
  g.cluster.crash(1);
  g.cluster.crash(2);
  g.node(3).acquire(kLease);  // one of three: every round times out, the attempt fails
  g.cluster.run_for(5 * kSecond);
  EXPECT_FALSE(g.node(3).lease(kLease).held);
  auto failed = g.attempts(3, AttemptOutcome::kFailed);
  ASSERT_GE(failed.size(), 1u);
  EXPECT_EQ(failed[0].rounds, g.config.retries + 1);
  EXPECT_GE(g.cluster.counters["flease.round_timeout"], g.config.retries + 1);
}

TEST(FleaseRule4, AValidLeaseBelongsToItsHolder) {
  Fixture f;
  f.start(3);
  f.node(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  ASSERT_TRUE(f.node(0).lease(kLease).held);
  f.node(1).acquire(kLease);
  f.node(2).lookup(kLease);
  f.cluster.run_for(kSecond);
  EXPECT_FALSE(f.node(1).lease(kLease).held);
  EXPECT_EQ(f.node(1).lease(kLease).holder, 0u);
  EXPECT_EQ(f.attempts(1, AttemptOutcome::kHeldByOther).size(), 1u);
  ASSERT_EQ(f.attempts(2, AttemptOutcome::kHeldByOther).size(), 1u);
  EXPECT_EQ(f.attempts(2, AttemptOutcome::kHeldByOther)[0].holder, 0u);
}

TEST(FleaseRule4, ALeaseExpiredLessThanEpsilonAgoIsWaitedOut) {
  Fixture f;
  f.start(4);
  const TimeNs expiry = 10 * kSecond;
  for (NodeId a = 0; a < 3; ++a) f.cluster.inject(a, 7, kPortFleaseAcceptor, accept(1, 7, LeaseValue{7, expiry, 5}));
  f.cluster.run_until(expiry + f.config.epsilon_ns / 2);
  f.node(3).acquire(kLease);
  f.cluster.run_until(expiry + f.config.epsilon_ns - kMillisecond);
  EXPECT_FALSE(f.node(3).lease(kLease).held) << "took over inside the epsilon window";
  EXPECT_EQ(f.cluster.counters["flease.safety_wait"], 1u);
  f.cluster.run_for(kSecond);
  auto acquired = f.attempts(3, AttemptOutcome::kAcquired);
  ASSERT_EQ(acquired.size(), 1u);
  EXPECT_GE(acquired[0].end_local_ns, expiry + f.config.epsilon_ns);
  EXPECT_EQ(acquired[0].epoch, 6u);
}

TEST(FleaseRule5, TheHolderRenewsBeforeExpiryAndKeepsItsEpoch) {
  Fixture f;
  f.start(3);
  f.node(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  const lease::LeaseView first = f.node(0).lease(kLease);
  ASSERT_TRUE(first.held);
  for (int i = 0; i < 40; ++i) {  // 40 s: several lease periods, never a gap
    f.cluster.run_for(kSecond);
    ASSERT_TRUE(f.node(0).lease(kLease).held) << "at " << f.cluster.now_ns();
  }
  auto renewed = f.attempts(0, AttemptOutcome::kRenewed);
  ASSERT_GE(renewed.size(), 3u);
  EXPECT_NEAR(static_cast<double>(renewed[0].start_local_ns),
              static_cast<double>(first.expiry_local_ns - f.config.renew_before_ns), 1e6);
  TimeNs last = first.expiry_local_ns;
  for (const AttemptRow& r : renewed) {
    EXPECT_EQ(r.epoch, first.epoch);
    EXPECT_GT(r.expiry_local_ns, last);
    last = r.expiry_local_ns;
  }
  EXPECT_TRUE(f.cluster.intervals.empty());
}

TEST(FleaseRule5, WithoutRenewalTheHolderStopsBelievingAtExpiry) {
  Fixture f;
  f.start(3);
  struct Recorder : lease::LeaseListener {
    std::vector<std::string> events;
    void on_lease_acquired(const lease::LeaseView&) override { events.push_back("acquired"); }
    void on_lease_lost(ResourceId, uint64_t, lease::EndReason r) override { events.push_back(lease::end_reason_name(r)); }
  } recorder;
  f.node(0).add_listener(&recorder);
  f.node(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  const TimeNs expiry = f.node(0).lease(kLease).expiry_local_ns;
  f.cluster.filter = [](const testing::SentMessage& m) { return m.from != 0; };  // node 0 cut off
  f.cluster.run_until(expiry - kMillisecond);
  EXPECT_TRUE(f.node(0).lease(kLease).held);
  f.cluster.run_until(expiry);
  EXPECT_FALSE(f.node(0).lease(kLease).held);
  ASSERT_EQ(f.cluster.intervals.size(), 1u);
  EXPECT_EQ(f.cluster.intervals[0].end_local_ns, expiry);
  EXPECT_EQ(f.cluster.intervals[0].end_reason, static_cast<uint8_t>(lease::EndReason::kExpired));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"acquired", "expired"}));
  f.node(0).remove_listener(&recorder);
}

TEST(FleaseRule6, EveryNewTenureTakesAHigherEpoch) {
  Fixture f;
  f.start(3);
  std::vector<uint64_t> epochs;
  for (NodeId holder : {0u, 1u, 0u, 2u}) {
    f.node(holder).acquire(kLease);
    f.cluster.run_for(kSecond);
    ASSERT_TRUE(f.node(holder).lease(kLease).held);
    epochs.push_back(f.node(holder).lease(kLease).epoch);
    f.node(holder).release(kLease);  // no wait for the next holder: the register says free
    EXPECT_FALSE(f.node(holder).lease(kLease).held);
    f.cluster.run_for(kSecond);
  }
  EXPECT_EQ(epochs, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(f.cluster.counters["flease.safety_wait"], 0u);
}

TEST(FleaseRule7, ARestartedAcceptorIsSilentForLeasePlusTwoEpsilonPlusTimeout) {
  Fixture f;
  f.start(4);
  f.cluster.run_for(kSecond);
  f.cluster.crash(0);
  f.cluster.restart(0);
  const TimeNs silence = f.config.lease_ns + 2 * f.config.epsilon_ns + f.config.message_timeout_ns;
  EXPECT_EQ(f.node(0).silent_until_local_ns(), f.cluster.local_ns(0) + silence);
  f.cluster.crash(1);  // without node 0, no majority until the silence ends
  f.node(3).acquire(kLease);
  f.cluster.run_for(silence - 2 * kSecond);
  EXPECT_FALSE(f.node(3).lease(kLease).held);
  EXPECT_GT(f.cluster.counters["flease.acceptor_silent"], 0u);
  f.cluster.run_for(4 * kSecond);
  EXPECT_TRUE(f.node(3).lease(kLease).held);
}

TEST(FleaseRule8, EpochsAreDurableBeforeAcknowledgedAndSurviveEveryAcceptorCrash) {
  Fixture f;
  f.start(5);
  f.node(3).acquire(kLease);
  f.cluster.run_for(kSecond);
  ASSERT_TRUE(f.node(3).lease(kLease).held);
  int durable = 0;
  for (NodeId a = 0; a < 3; ++a) {
    Bytes record;
    if (f.cluster.durable_file(a, epoch_file(kLease), &record)) {
      EXPECT_EQ(decode_epoch_record(Payload::real(record)), std::optional<uint64_t>(1));
      ++durable;
    }
  }
  EXPECT_GE(durable, 2);
  // Every acceptor forgets its registers; the next tenure still gets a higher epoch.
  f.node(3).release(kLease);
  f.cluster.run_for(kSecond);
  for (NodeId a = 0; a < 3; ++a) {
    f.cluster.crash(a);
    f.cluster.restart(a);
  }
  f.node(4).acquire(kLease);
  f.cluster.run_for(20 * kSecond);
  ASSERT_TRUE(f.node(4).lease(kLease).held);
  EXPECT_EQ(f.node(4).lease(kLease).epoch, 2u);
}

TEST(FleaseRecord, ATornEpochRecordSilencesTheCellInsteadOfLoweringTheEpoch) {
  EXPECT_EQ(decode_epoch_record(Payload::real(encode_epoch_record(77))), std::optional<uint64_t>(77));
  Bytes torn = encode_epoch_record(77);
  torn[0] ^= 1;
  EXPECT_FALSE(decode_epoch_record(Payload::real(torn)).has_value());
  EXPECT_FALSE(decode_epoch_record(Payload::synthetic(16)).has_value());
}

TEST(FleaseFailover, AnotherNodeHoldsTheLeaseAboutLeasePlusEpsilonAfterTheHolderCrashes) {
  Fixture f;
  f.start(5);
  f.node(3).acquire(kLease);
  f.cluster.run_for(kSecond);
  f.node(4).acquire(kLease);
  f.cluster.run_for(20 * kSecond);
  ASSERT_TRUE(f.node(3).lease(kLease).held);
  const TimeNs expiry = f.node(3).lease(kLease).expiry_local_ns;
  const TimeNs crash_at = f.cluster.now_ns();
  f.cluster.crash(3);
  f.cluster.run_for(30 * kSecond);
  auto acquired = f.attempts(4, AttemptOutcome::kAcquired);
  ASSERT_EQ(acquired.size(), 1u);
  EXPECT_GE(acquired[0].end_true_ns, expiry + f.config.epsilon_ns);
  // The retry lands within a message timeout of expiry + ε; then one round of two message delays.
  EXPECT_LE(acquired[0].end_true_ns, expiry + f.config.epsilon_ns + 2 * f.config.message_timeout_ns);
  EXPECT_LE(acquired[0].end_true_ns - crash_at, f.config.lease_ns + f.config.epsilon_ns + kSecond);
}

TEST(FleaseScale, ManyLeasesShareOneAcceptorGroup) {
  Fixture f;
  f.config.persist_epochs = false;
  f.start(5);
  constexpr int kLeases = 2000;
  for (int i = 0; i < kLeases; ++i) f.node(3 + i % 2).acquire(1000 + i);
  f.cluster.run_for(kSecond);
  for (int i = 0; i < kLeases; ++i) {
    ASSERT_TRUE(f.node(3 + i % 2).lease(1000 + i).held) << i;
    ASSERT_FALSE(f.node(3 + (i + 1) % 2).lease(1000 + i).held) << i;
  }
  EXPECT_EQ(f.cluster.sent_of_type<Prepare>().size(), 3u * kLeases);  // one round each, no contention
}

// Clocks further apart than ε break the protocol's assumption: node 1's clock runs 3 s ahead, so it
// takes over while node 0 still believes. The checker blames the clocks, and would call it a bug if it
// were told the clocks were fine.
TEST(FleaseClocks, SkewBeyondEpsilonGivesTwoHoldersAndTheCheckerSaysAssumptionViolated) {
  Fixture f;
  f.start(3, {0, 3 * kSecond, 0});
  f.node(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  f.cluster.filter = [](const testing::SentMessage& m) { return m.from != 0; };  // no renewals
  f.node(1).acquire(kLease);
  f.cluster.run_for(20 * kSecond);
  lease::LeaseChecker blamed(f.config.epsilon_ns), fooled(f.config.epsilon_ns);
  blamed.on_clock_spread(0, 3 * kSecond);
  fooled.on_clock_spread(0, 0);
  for (lease::LeaseChecker* c : {&blamed, &fooled}) {
    size_t a = 0, i = 0;  // replay both tables in true-time order
    while (a < f.cluster.attempts.size() || i < f.cluster.intervals.size()) {
      const bool take_attempt = i == f.cluster.intervals.size() ||
                                (a < f.cluster.attempts.size() &&
                                 f.cluster.attempts[a].end_true_ns <= f.cluster.intervals[i].end_true_ns);
      if (take_attempt) c->on_attempt(f.cluster.attempts[a++]);
      else c->on_interval(f.cluster.intervals[i++]);
    }
  }
  EXPECT_GT(blamed.report().overlaps, 0u);
  EXPECT_TRUE(blamed.report().assumption_violated);
  EXPECT_EQ(blamed.report().bugs, 0u);
  EXPECT_EQ(blamed.summary().rfind("assumption violated", 0), 0u) << blamed.summary();
  EXPECT_GT(fooled.report().bugs, 0u);
  EXPECT_EQ(fooled.summary().rfind("BUG", 0), 0u) << fooled.summary();
}

}  // namespace
}  // namespace pbfs::flease
