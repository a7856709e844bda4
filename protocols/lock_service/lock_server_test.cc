// The lock server with its clients on the small test cluster: grants, refusals, renewals, release,
// rising epochs, and a primary-backup takeover that keeps current holders and defers new tenures.
#include "protocols/lock_service/lock_server.h"

#include <gtest/gtest.h>

#include "protocols/flease/test_cluster.h"
#include "protocols/lock_service/lock_client.h"

namespace pbfs::lock_service {
namespace {

using lease::AttemptOutcome;
constexpr ResourceId kLease = 5;

// Servers on nodes 0 (and 1 with a backup); clients on the next three nodes.
struct Fixture {
  testing::TestCluster cluster;
  LockServerConfig server;
  LockClientConfig client;
  std::vector<uint32_t> boots;
  NodeId first_client = 1;

  void start(bool backup) {
    server.servers = backup ? std::vector<NodeId>{0, 1} : std::vector<NodeId>{0};
    client.servers = server.servers;
    first_client = backup ? 2 : 1;
    boots.assign(first_client + 3, 0);
    for (NodeId s = 0; s < first_client; ++s) {
      cluster.add_node(s, kPortLockServer, [this, s](Runtime& rt) {
        LockServerConfig c = server;
        c.silent_at_start = boots[s]++ > 0;
        return std::make_unique<LockServer>(rt, c);
      });
    }
    for (NodeId c = first_client; c < first_client + 3; ++c) {
      cluster.add_node(c, kPortLockClient, [this](Runtime& rt) { return std::make_unique<LockClient>(rt, client); });
    }
  }
  LockClient& c(int i) { return cluster.role<LockClient>(first_client + i); }
  LockServer& s(NodeId id) { return cluster.role<LockServer>(id); }
};

TEST(LockServer, GrantsOneHolderAtATimeAndEpochsRise) {
  Fixture f;
  f.start(false);
  f.c(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  ASSERT_TRUE(f.c(0).lease(kLease).held);
  const uint64_t first_epoch = f.c(0).lease(kLease).epoch;
  f.c(1).acquire(kLease);
  f.cluster.run_for(kSecond);
  EXPECT_FALSE(f.c(1).lease(kLease).held);
  EXPECT_EQ(f.c(1).lease(kLease).holder, f.first_client);
  f.c(0).release(kLease);
  f.c(2).acquire(kLease);  // asks after the release: gets it at once
  f.cluster.run_for(kSecond);
  ASSERT_TRUE(f.c(2).lease(kLease).held);
  EXPECT_GT(f.c(2).lease(kLease).epoch, first_epoch);
}

TEST(LockServer, TheHolderRenewsWithTheSameEpochAndOthersWaitForExpiry) {
  Fixture f;
  f.start(false);
  f.c(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  const uint64_t epoch = f.c(0).lease(kLease).epoch;
  f.c(1).acquire(kLease);
  for (int i = 0; i < 40; ++i) {
    f.cluster.run_for(kSecond);
    ASSERT_TRUE(f.c(0).lease(kLease).held);
    ASSERT_EQ(f.c(0).lease(kLease).epoch, epoch);
  }
  f.cluster.crash(f.first_client);  // the holder goes; the next one gets it after lease + epsilon
  const TimeNs crash_at = f.cluster.now_ns();
  f.cluster.run_for(30 * kSecond);
  ASSERT_TRUE(f.c(1).lease(kLease).held);
  const auto& rows = f.cluster.attempts;
  auto it = std::find_if(rows.begin(), rows.end(), [&](const lease::AttemptRow& r) {
    return r.node == f.first_client + 1 && r.outcome == static_cast<uint8_t>(AttemptOutcome::kAcquired);
  });
  ASSERT_NE(it, rows.end());
  EXPECT_LE(it->end_true_ns - crash_at, f.server.lease_ns + f.server.epsilon_ns + kSecond);
  EXPECT_GE(it->end_true_ns - crash_at, f.server.lease_ns - f.client.renew_before_ns);
}

TEST(LockServer, TheBackupTakesOverKeepsHoldersAndDefersNewTenures) {
  Fixture f;
  f.start(true);
  f.c(0).acquire(kLease);
  f.cluster.run_for(kSecond);
  ASSERT_TRUE(f.c(0).lease(kLease).held);
  EXPECT_EQ(f.s(1).grants(), 1u);  // replicated before the grant was answered
  f.cluster.crash(0);
  f.c(1).acquire(kLease + 1);  // a new lease, asked right after the takeover
  for (int i = 0; i < 40; ++i) {
    f.cluster.run_for(kSecond);
    ASSERT_TRUE(f.c(0).lease(kLease).held) << "holder lost its lease across the takeover at " << i;
  }
  EXPECT_EQ(f.s(1).mode(), LockServer::Mode::kPrimary);
  EXPECT_EQ(f.cluster.counters["lock.takeover"], 1u);
  EXPECT_GT(f.cluster.counters["lock.fresh_tenure_deferred"], 0u);
  EXPECT_TRUE(f.c(1).lease(kLease + 1).held);
}

TEST(LockServer, ARestartedServerIsSilentForLeasePlusEpsilon) {
  Fixture f;
  f.start(false);
  f.cluster.crash(0);
  f.cluster.restart(0);
  EXPECT_EQ(f.s(0).mode(), LockServer::Mode::kSilent);
  f.c(0).acquire(kLease);
  f.cluster.run_for(f.server.lease_ns);
  EXPECT_FALSE(f.c(0).lease(kLease).held);
  f.cluster.run_for(f.server.epsilon_ns + 3 * kSecond);
  EXPECT_TRUE(f.c(0).lease(kLease).held);
  EXPECT_EQ(f.s(0).mode(), LockServer::Mode::kPrimary);
}

}  // namespace
}  // namespace pbfs::lock_service
