// The catalog's replicated log under failures, on the simulator: a crashed primary is replaced once its
// lease has expired, and the new one has every acknowledged entry; replicas restarted from their log
// files recover and catch up, from the primary's memory or, once that has been trimmed, from its disk;
// a whole group restarted at once loses nothing it acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <map>
#include <set>
#include <tuple>

#include "protocols/datapath/catalog_sim_test_util.h"

namespace pbfs::datapath {
namespace {

using testing::CatalogCluster;
using testing::make_record;
using testing::TestClient;

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
  for (uint64_t i = 21; i <= 30; ++i) cluster.commit(first, make_record(1, {1, i}, i * 10, 10));
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
  // A compaction of the first two writes (bytes 10..30, which no later write touched).
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {3, 1}, 10, 20), {{1, 1}, {1, 2}}).status, StatusCode::kOk);
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
  const uint64_t request = cluster.commit(primary, make_record(1, {5, 1}, 0, 10));
  cluster.run_for(kSecond);
  EXPECT_EQ(cluster.client().commits.count(request), 0u) << "acknowledged without a majority";
  EXPECT_EQ(cluster.commits.size(), 3u);
}

// A client that keeps committing (and now and then compacting) through whatever the faults do: it
// follows redirects, retries a silent replica at the next one, and remembers what was acknowledged.
struct Workload {
  CatalogCluster& cluster;
  std::vector<NodeId> group;
  boost::random::mt19937_64 rng;
  NodeId target;
  uint64_t next = 1;
  uint64_t request = 0;       // outstanding request (0: none)
  TimeNs sent_ns = 0;
  WriteRecord record;         // what it carries
  std::vector<RecordId> supersedes;
  std::map<RecordId, uint64_t> acked;                       // record -> sequence
  std::map<RecordId, std::vector<RecordId>> compactions;    // every compaction sent (acked or not)
  std::set<RecordId> acked_compactions;
  std::set<RecordId> believed_current;

  Workload(CatalogCluster& c, uint64_t seed) : cluster(c), group(c.group()), rng(seed), target(group[0]) {}
  uint64_t uniform(uint64_t lo, uint64_t hi) { return boost::random::uniform_int_distribution<uint64_t>(lo, hi)(rng); }
  void next_target() { target = group[(std::find(group.begin(), group.end(), target) - group.begin() + 1) % group.size()]; }

  void step() {
    TestClient& client = cluster.client();
    if (request != 0 && client.commits.count(request)) {
      const CommitReply reply = client.commits.at(request);
      request = 0;
      if (reply.status == StatusCode::kOk) {
        acked[record.record_id] = reply.sequence;
        believed_current.insert(record.record_id);
        for (const RecordId& old : supersedes) believed_current.erase(old);
        if (!supersedes.empty()) acked_compactions.insert(record.record_id);
        record = WriteRecord{};
      } else if (reply.status == StatusCode::kNotLeader && reply.leader_hint != kNoNode) {
        target = reply.leader_hint;
      } else if (reply.status == StatusCode::kConflict) {
        record = WriteRecord{};  // a compaction that lost its race: never retried
      } else {
        next_target();
      }
    } else if (request != 0 && cluster.world->now_ns() - sent_ns > kSecond) {
      request = 0;  // silence: the same record goes to the next replica
      next_target();
    }
    if (request != 0) return;
    if (record.fragments.empty()) {
      const uint64_t i = next++;
      supersedes.clear();
      if (believed_current.size() >= 2 && uniform(0, 4) == 0) {
        auto it = believed_current.begin();
        supersedes = {*it, *std::next(it)};
        record = make_record(1, {2, i}, 1'000'000 + i * 10, 10);
        compactions[record.record_id] = supersedes;
      } else {
        record = make_record(1, {1, i}, i * 10, 10);
      }
    }
    request = cluster.commit(target, record, supersedes);
    sent_ns = cluster.world->now_ns();
  }
};

// Runs the workload for 40 s of faults, then checks that every acknowledged write is current unless a
// committed compaction replaced it, that sequences never changed or repeated, and that the replicas
// agree. `overlapping`: faults may overlap and may take two group members down (or cut one off) at
// once, so progress may stall but safety must hold; otherwise one fault at a time.
void run_with_random_faults(uint64_t seed, bool overlapping) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  CatalogOptions options;
  options.log_tail_entries = 16;
  options.batch_entries_max = 8;
  CatalogCluster cluster(kNodes, options, {}, seed, 60 * kSecond);
  Workload workload(cluster, seed);
  boost::random::mt19937_64 faults_rng(seed * 7919);
  auto pick = [&](uint64_t lo, uint64_t hi) { return boost::random::uniform_int_distribution<uint64_t>(lo, hi)(faults_rng); };
  TimeNs t = 2 * kSecond;
  TimeNs end = t;
  while (t < 40 * kSecond) {
    FaultSpec f;
    const uint64_t kind = pick(0, overlapping ? 6 : 4);
    f.kind = kind == 0 ? FaultKind::kCrash : kind == 1 ? FaultKind::kIsolate : kind == 2 ? FaultKind::kDrop
           : kind == 3 ? FaultKind::kDuplicate : FaultKind::kReorder;
    f.at_ns = t;
    f.duration_ns = static_cast<TimeNs>(pick(500, 4000)) * kMillisecond;
    f.nodes = {workload.group[pick(0, 2)]};
    f.rate = 0.3;
    f.jitter_ns = 20 * kMillisecond;
    if (kind == 5) {  // two of three down: no majority
      f.kind = FaultKind::kCrash;
      f.nodes = {workload.group[0], workload.group[1 + pick(0, 1)]};
    } else if (kind == 6) {  // one member cut off from everyone else
      f.kind = FaultKind::kPartition;
      const NodeId alone = f.nodes[0];
      f.nodes.clear();
      f.groups = {{alone}, {}};
      for (NodeId n = 0; n <= cluster.client_node; ++n) {
        if (n != alone) f.groups[1].push_back(n);
      }
    }
    cluster.world->schedule_fault(f);
    end = std::max(end, f.at_ns + f.duration_ns);
    t += overlapping ? static_cast<TimeNs>(pick(100, 1500)) * kMillisecond
                     : f.duration_ns + static_cast<TimeNs>(pick(0, 2000)) * kMillisecond;
  }
  while (cluster.world->now_ns() < end + 2 * kSecond) {
    workload.step();
    cluster.run_for(5 * kMillisecond);
  }
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_NE(primary, kNoNode);
  const QueryReply all = cluster.query_and_wait(primary, 1, Extent{0, 1ull << 40});
  ASSERT_EQ(all.status, StatusCode::kOk);
  std::map<RecordId, uint64_t> present;
  for (const CatalogEntry& e : all.entries) present[e.record.record_id] = e.sequence;
  if (!overlapping) {
    EXPECT_GT(workload.acked.size(), 50u);  // one fault at a time leaves a majority most of the time
  }
  // Accounted for: present, or replaced by a committed compaction that is itself accounted for.
  std::set<RecordId> accounted;
  for (const auto& [id, sequence] : present) accounted.insert(id);
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [compaction, sources] : workload.compactions) {
      if (!accounted.count(compaction)) continue;
      for (const RecordId& source : sources) grew = accounted.insert(source).second || grew;
    }
  }
  for (const auto& [id, sequence] : workload.acked) {
    EXPECT_TRUE(accounted.count(id)) << "acknowledged record " << id.to_string() << " lost";
    if (present.count(id)) {
      EXPECT_EQ(present.at(id), sequence) << id.to_string();
    }
  }
  for (const RecordId& c : workload.acked_compactions) {
    for (const RecordId& source : workload.compactions.at(c)) EXPECT_FALSE(present.count(source)) << source.to_string();
  }
  std::set<uint64_t> sequences;
  for (const auto& [id, sequence] : present) EXPECT_TRUE(sequences.insert(sequence).second) << "sequence " << sequence << " twice";
  cluster.expect_replicas_agree();
}

// Crashes, isolations, and lossy, duplicating or reordering links, one group member at a time.
TEST(CatalogReplication, RandomFaultsOneAtATimeLoseNothingAcknowledged) {
  for (uint64_t seed = 1; seed <= 6; ++seed) run_with_random_faults(seed, false);
}

// Overlapping faults, two members down at once, partitions: safety without the liveness promise.
TEST(CatalogReplication, OverlappingFaultsLoseNothingAcknowledged) {
  for (uint64_t seed = 1; seed <= 8; ++seed) run_with_random_faults(seed, true);
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
