// The catalog's replicated log under failures, on the simulator: a crashed primary is replaced once its
// lease has expired, and the new one has every acknowledged entry; replicas restarted from their log
// files recover and catch up, from the primary's memory or, once that has been trimmed, from its disk;
// a whole group restarted at once loses nothing it acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "protocols/datapath/catalog_sim_test_util.h"

namespace pbfs::datapath {
namespace {

using testing::CatalogCluster;
using testing::make_record;

constexpr NodeId kNodes = 5;

std::set<RecordId> ids_of(const QueryReply& reply) {
  std::set<RecordId> out;
  for (const CatalogEntry& e : reply.entries) out.insert(e.record.record_id);
  return out;
}

// Commits `count` records to file 1, one at a time; returns the acknowledged ids.
std::set<RecordId> commit_many(CatalogCluster& cluster, NodeId primary, uint64_t first, uint64_t count) {
  std::set<RecordId> acked;
  for (uint64_t i = first; i < first + count; ++i) {
    const CommitReply reply = cluster.commit_and_wait(primary, make_record(1, {1, i}, i * 10, 10));
    if (reply.status == StatusCode::kOk) acked.insert({1, i});
  }
  return acked;
}

TEST(CatalogReplication, ANewPrimaryTakesOverAfterTheLeaseAndHasEveryAcknowledgedEntry) {
  CatalogCluster cluster(kNodes);
  const NodeId first = cluster.wait_for_primary();
  std::set<RecordId> acked = commit_many(cluster, first, 1, 20);
  ASSERT_EQ(acked.size(), 20u);
  // More commits in flight when the primary dies: some may be acknowledged, none may be lost.
  for (uint64_t i = 21; i <= 30; ++i) cluster.client().commit(first, make_record(1, {1, i}, i * 10, 10));
  cluster.run_for(300 * kMicrosecond);
  const TimeNs crashed_at = cluster.world->now_ns();
  cluster.world->crash(first);
  for (const auto& [request, reply] : cluster.client().commits) {
    if (request > 20 && reply.status == StatusCode::kOk) acked.insert({1, request});
  }
  const NodeId second = cluster.wait_for_primary();
  ASSERT_NE(second, first);
  // Not before the old lease could have expired everywhere.
  EXPECT_GE(cluster.world->now_ns() - crashed_at, cluster.config->lease_ns - 2 * cluster.config->lease_epsilon_ns);
  const QueryReply all = cluster.query_and_wait(second, 1, Extent{0, 1000});
  ASSERT_EQ(all.status, StatusCode::kOk);
  const std::set<RecordId> present = ids_of(all);
  for (const RecordId& id : acked) EXPECT_TRUE(present.count(id)) << "lost acknowledged record " << id.to_string();
  // Sequences continue where the old primary stopped.
  uint64_t highest = 0;
  for (const CatalogEntry& e : all.entries) highest = std::max(highest, e.sequence);
  const CommitReply next = cluster.commit_and_wait(second, make_record(1, {2, 1}, 0, 10));
  ASSERT_EQ(next.status, StatusCode::kOk);
  EXPECT_EQ(next.sequence, highest + 1);
  // The old primary comes back from its log, follows the new one and agrees with it.
  cluster.world->restart(first);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.catalog(first)->recovered(0); }, kSecond));
  ASSERT_EQ(cluster.commit_and_wait(second, make_record(1, {2, 2}, 0, 10)).status, StatusCode::kOk);
  cluster.expect_replicas_agree();
  EXPECT_EQ(cluster.catalog(first)->store().records(), cluster.catalog(second)->store().records());
  EXPECT_FALSE(cluster.catalog(first)->serving(0));
}

TEST(CatalogReplication, ARestartedBackupCatchesUpFromThePrimarysDisk) {
  CatalogOptions options;
  options.log_tail_entries = 4;  // the primary keeps almost nothing in memory
  options.batch_entries_max = 8;
  CatalogCluster cluster(kNodes, options);
  const NodeId primary = cluster.wait_for_primary();
  NodeId backup = kNoNode;
  for (NodeId n : cluster.group()) {
    if (n != primary) backup = n;
  }
  ASSERT_EQ(commit_many(cluster, primary, 1, 5).size(), 5u);
  cluster.world->crash(backup);
  ASSERT_EQ(commit_many(cluster, primary, 6, 60).size(), 60u);  // acknowledged by the other two
  cluster.world->restart(backup);
  cluster.expect_replicas_agree();
  EXPECT_EQ(cluster.catalog(backup)->applied_index(0), cluster.catalog(primary)->applied_index(0));
  EXPECT_EQ(cluster.catalog(backup)->store().records(), 65u);
  EXPECT_EQ(cluster.durable_commits(backup).size(), 65u);
}

TEST(CatalogReplication, AWholeGroupRestartedAtOnceLosesNothingAcknowledged) {
  CatalogOptions options;
  options.log_tail_entries = 8;
  CatalogCluster cluster(kNodes, options);
  const NodeId primary = cluster.wait_for_primary();
  const std::set<RecordId> acked = commit_many(cluster, primary, 1, 30);
  ASSERT_EQ(acked.size(), 30u);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {3, 1}, 0, 1000), {{1, 1}, {1, 2}}).status, StatusCode::kOk);
  const std::vector<NodeId> group = cluster.group();
  for (NodeId n : group) cluster.world->crash(n);
  cluster.run_for(kSecond);
  for (NodeId n : group) cluster.world->restart(n);
  // Restarted acceptors stay silent for a lease period (Flease Rule 7) before anyone is elected.
  const NodeId next = cluster.wait_for_primary(0, 30 * kSecond);
  ASSERT_NE(next, kNoNode);
  const QueryReply all = cluster.query_and_wait(next, 1, Extent{0, 10000});
  const std::set<RecordId> present = ids_of(all);
  EXPECT_EQ(present.size(), 29u);  // 30 writes, two replaced by the compaction
  EXPECT_TRUE(present.count({3, 1}));
  EXPECT_FALSE(present.count({1, 1}));
  for (uint64_t i = 3; i <= 30; ++i) EXPECT_TRUE(present.count({1, i})) << i;
  const CommitReply after = cluster.commit_and_wait(next, make_record(1, {3, 2}, 0, 10));
  ASSERT_EQ(after.status, StatusCode::kOk);
  EXPECT_EQ(after.sequence, 32u);
  cluster.expect_replicas_agree();
}

TEST(CatalogReplication, AMinorityCannotCommit) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_EQ(commit_many(cluster, primary, 1, 3).size(), 3u);
  for (NodeId n : cluster.group()) {
    if (n != primary) cluster.world->crash(n);
  }
  const uint64_t request = cluster.client().commit(primary, make_record(1, {5, 1}, 0, 10));
  cluster.run_for(kSecond);
  EXPECT_EQ(cluster.client().commits.count(request), 0u) << "acknowledged without a majority";
  EXPECT_EQ(cluster.commits.size(), 3u);
}

TEST(CatalogReplication, RunsAreDeterministic) {
  auto run = [] {
    CatalogCluster cluster(kNodes, {}, {}, 9);
    const NodeId primary = cluster.wait_for_primary();
    commit_many(cluster, primary, 1, 10);
    cluster.world->crash(primary);
    const NodeId next = cluster.wait_for_primary();
    commit_many(cluster, next, 11, 10);
    return std::make_tuple(primary, next, cluster.world->now_ns(), cluster.catalog(next)->log_digest(0));
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace pbfs::datapath
