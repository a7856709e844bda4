// The lock client's own rules: it believes a grant from when it sent the request, for t_max of its own
// clock; it stops at expiry without renewal; it moves to the other server when one does not answer.
#include "protocols/lock_service/lock_client.h"

#include <gtest/gtest.h>

#include "protocols/flease/test_cluster.h"
#include "protocols/lock_service/lock_server.h"

namespace pbfs::lock_service {
namespace {

using lease::AttemptOutcome;
constexpr ResourceId kLease = 9;

TEST(LockClient, BelievesFromTheRequestUntilLeaseLaterAndStopsWithoutRenewal) {
  testing::TestCluster cluster;
  cluster.latency_ns = 50 * kMillisecond;
  LockServerConfig server{{0}};
  server.silent_at_start = false;
  LockClientConfig client{{0}};
  cluster.add_node(0, kPortLockServer, [&](Runtime& rt) { return std::make_unique<LockServer>(rt, server); });
  cluster.add_node(1, kPortLockClient, [&](Runtime& rt) { return std::make_unique<LockClient>(rt, client); });
  auto& c = cluster.role<LockClient>(1);
  const TimeNs sent = cluster.local_ns(1);
  c.acquire(kLease);
  cluster.run_for(kSecond);
  ASSERT_TRUE(c.lease(kLease).held);
  EXPECT_EQ(c.lease(kLease).expiry_local_ns, sent + client.lease_ns);
  ASSERT_EQ(cluster.attempts.size(), 1u);
  EXPECT_EQ(cluster.attempts[0].end_true_ns - cluster.attempts[0].start_true_ns, 2 * cluster.latency_ns);
  cluster.filter = [](const testing::SentMessage& m) { return m.from != 1; };
  cluster.run_until(sent + client.lease_ns - kMillisecond);
  EXPECT_TRUE(c.lease(kLease).held);
  cluster.run_until(sent + client.lease_ns);
  EXPECT_FALSE(c.lease(kLease).held);
  ASSERT_EQ(cluster.intervals.size(), 1u);
  EXPECT_EQ(cluster.intervals[0].end_reason, static_cast<uint8_t>(lease::EndReason::kExpired));
}

TEST(LockClient, MovesToTheOtherServerWhenOneIsSilent) {
  testing::TestCluster cluster;
  LockServerConfig server{{0, 1}};
  server.silent_at_start = false;
  LockClientConfig client{{0, 1}};
  cluster.add_node(0, kPortLockServer, [&](Runtime& rt) { return std::make_unique<LockServer>(rt, server); });
  cluster.add_node(1, kPortLockServer, [&](Runtime& rt) { return std::make_unique<LockServer>(rt, server); });
  cluster.add_node(2, kPortLockClient, [&](Runtime& rt) { return std::make_unique<LockClient>(rt, client); });
  cluster.crash(0);
  auto& c = cluster.role<LockClient>(2);
  c.acquire(kLease);
  cluster.run_for(30 * kSecond);  // the backup takes over, waits lease + epsilon, then grants
  EXPECT_TRUE(c.lease(kLease).held);
  EXPECT_GT(cluster.counters["lock.request_timeout"], 0u);
  EXPECT_GT(cluster.counters["lock.not_primary"] + cluster.counters["lock.fresh_tenure_deferred"], 0u);
}

}  // namespace
}  // namespace pbfs::lock_service
