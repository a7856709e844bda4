// The catalog on the simulator, one sentence of its contract per test: a group elects one primary;
// commits get increasing per-file sequences and are on a majority's disk before the acknowledgement;
// replicas redirect; conditional commits conflict unless their records are current; queries return
// current overlaps in sequence order and pin them; pins hold garbage collection back, which then
// deletes the fragments; repair moves fragments off dead nodes and rebuilds corrupt ones; the
// deliberate bugs make the checks they target fail; records asked about by fragment servers are
// reported current or superseded if live and are otherwise abandoned through the log, after which their
// commit is refused on every replica, whichever of the two came first winning.
#include "protocols/datapath/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "protocols/datapath/catalog_sim_test_util.h"

namespace pbfs::datapath {
namespace {

using testing::CatalogCluster;
using testing::make_record;

constexpr NodeId kNodes = 5;

NodeId other_member(CatalogCluster& cluster, NodeId primary) {
  for (NodeId n : cluster.group()) {
    if (n != primary) return n;
  }
  return kNoNode;
}

NodeId non_member(CatalogCluster& cluster) {
  const std::vector<NodeId> group = cluster.group();
  for (NodeId n = 0; n < kNodes; ++n) {
    if (std::find(group.begin(), group.end(), n) == group.end()) return n;
  }
  return kNoNode;
}

TEST(Catalog, AGroupElectsExactlyOnePrimary) {
  CatalogCluster cluster(kNodes);
  const std::vector<NodeId> group = cluster.group();
  ASSERT_EQ(group.size(), 3u);
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_NE(primary, kNoNode);
  EXPECT_NE(std::find(group.begin(), group.end(), primary), group.end());
  // It stays the only one while its lease is renewed.
  for (int i = 0; i < 50; ++i) {
    cluster.run_for(100 * kMillisecond);
    ASSERT_EQ(cluster.primary(), primary);
  }
  EXPECT_FALSE(cluster.catalog(non_member(cluster))->replicates(0));
}

TEST(Catalog, CommitsGetIncreasingSequencesAndAreOnAMajoritysDiskBeforeTheAck) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  const std::vector<NodeId> group = cluster.group();
  int acks_checked = 0;
  cluster.client().on_commit_reply = [&](NodeId, const CommitReply& reply) {
    if (reply.status != StatusCode::kOk) return;
    // At the moment of the acknowledgement, the record is in the synced log of a majority.
    const RecordId id{1, reply.request_id};
    int durable = 0;
    for (NodeId n : group) {
      const std::vector<RecordId> ids = cluster.durable_commits(n);
      durable += std::find(ids.begin(), ids.end(), id) != ids.end() ? 1 : 0;
    }
    EXPECT_GE(durable, 2) << "record " << id.to_string();
    ++acks_checked;
  };
  std::map<FileId, uint64_t> last_sequence;
  for (uint64_t i = 1; i <= 20; ++i) {
    const FileId file = 10 + i % 2;
    // The client's request ids start at 1 and follow i, so the record id {1, i} matches request i.
    const CommitReply reply = cluster.commit_and_wait(primary, make_record(file, {1, i}, i * 100, 100));
    ASSERT_EQ(reply.status, StatusCode::kOk) << i;
    EXPECT_EQ(reply.sequence, last_sequence[file] + 1);
    last_sequence[file] = reply.sequence;
  }
  EXPECT_EQ(acks_checked, 20);
  // Several commits in flight at once still get distinct, increasing sequences.
  std::vector<uint64_t> requests;
  for (uint64_t i = 21; i <= 40; ++i) requests.push_back(cluster.commit(primary, make_record(12, {1, i}, 0, 10)));
  ASSERT_TRUE(cluster.run_until([&] { return cluster.client().commits.size() == 40; }, 5 * kSecond));
  std::set<uint64_t> sequences;
  for (uint64_t r : requests) {
    ASSERT_EQ(cluster.client().commits.at(r).status, StatusCode::kOk);
    sequences.insert(cluster.client().commits.at(r).sequence);
  }
  EXPECT_EQ(sequences.size(), 20u);
  EXPECT_EQ(*sequences.begin(), 1u);
  EXPECT_EQ(*sequences.rbegin(), 20u);
  ASSERT_EQ(cluster.commits.size(), 40u);
  for (const CommitRow& row : cluster.commits) EXPECT_EQ(row.kind, 1);
  // A retried commit gets the same answer, not a second sequence.
  cluster.client().on_commit_reply = nullptr;
  const CommitReply again = cluster.commit_and_wait(primary, make_record(11, {1, 1}, 100, 100));
  EXPECT_EQ(again.status, StatusCode::kOk);
  EXPECT_EQ(again.sequence, 1u);
  cluster.expect_replicas_agree();
  for (NodeId n : group) EXPECT_EQ(cluster.catalog(n)->store().records(), 40u);
}

TEST(Catalog, ReplicasThatAreNotPrimaryRedirect) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  const NodeId backup = other_member(cluster, primary);
  const CommitReply redirected = cluster.commit_and_wait(backup, make_record(1, {1, 1}, 0, 10));
  EXPECT_EQ(redirected.status, StatusCode::kNotLeader);
  EXPECT_EQ(redirected.leader_hint, primary);
  const QueryReply query = cluster.query_and_wait(backup, 1, Extent{0, 10});
  EXPECT_EQ(query.status, StatusCode::kNotLeader);
  EXPECT_EQ(query.leader_hint, primary);
  const CommitReply stranger = cluster.commit_and_wait(non_member(cluster), make_record(1, {1, 2}, 0, 10));
  EXPECT_EQ(stranger.status, StatusCode::kNotLeader);
  EXPECT_EQ(stranger.leader_hint, kNoNode);
  EXPECT_TRUE(cluster.commits.empty());
}

TEST(Catalog, QueriesReturnCurrentOverlapsInSequenceOrder) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(3, {1, 1}, 0, 1000)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(3, {1, 2}, 500, 1000)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(3, {1, 3}, 5000, 10)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(4, {1, 4}, 0, 1000)).status, StatusCode::kOk);
  const QueryReply reply = cluster.query_and_wait(primary, 3, Extent{900, 200});
  ASSERT_EQ(reply.status, StatusCode::kOk);
  ASSERT_EQ(reply.entries.size(), 2u);
  EXPECT_EQ(reply.entries[0].sequence, 1u);
  EXPECT_EQ(reply.entries[1].sequence, 2u);
  EXPECT_EQ(reply.entries[1].record, make_record(3, {1, 2}, 500, 1000));
  EXPECT_NE(reply.pin, 0u);
  EXPECT_EQ(cluster.catalog(primary)->pins(0), 1u);
  const QueryReply none = cluster.query_and_wait(primary, 3, Extent{2000, 100});
  EXPECT_TRUE(none.entries.empty());
  EXPECT_EQ(none.pin, 0u);  // nothing to pin
}

TEST(Catalog, ConditionalCommitsConflictUnlessEveryRecordIsCurrent) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(5, {1, 1}, 0, 100)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(5, {1, 2}, 50, 100)).status, StatusCode::kOk);
  // A compaction of both.
  const CommitReply compacted = cluster.commit_and_wait(primary, make_record(5, {9, 1}, 0, 150), {{1, 1}, {1, 2}});
  ASSERT_EQ(compacted.status, StatusCode::kOk);
  EXPECT_EQ(compacted.sequence, 3u);
  // A second compaction that raced with it lost: its sources are no longer current.
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 2}, 0, 100), {{1, 1}}).status, StatusCode::kConflict);
  // Records that never existed, or belong to another file, are not current either.
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 3}, 0, 100), {{7, 7}}).status, StatusCode::kConflict);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(6, {1, 3}, 0, 100)).status, StatusCode::kOk);
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 4}, 0, 100), {{1, 3}}).status, StatusCode::kConflict);
  const QueryReply reply = cluster.query_and_wait(primary, 5, Extent{0, 1000});
  ASSERT_EQ(reply.entries.size(), 1u);
  EXPECT_EQ(reply.entries[0].record.record_id, (RecordId{9, 1}));
  ASSERT_EQ(cluster.commits.size(), 4u);
  EXPECT_EQ(cluster.commits[2].kind, 2);
  EXPECT_EQ(cluster.commits[2].superseded, 2u);
  cluster.expect_replicas_agree();
}

TEST(Catalog, ACompactionThatWouldHideANewerWriteLosesTheRace) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(5, {1, 1}, 0, 100)).status, StatusCode::kOk);
  // A compactor read {1,1} and copies bytes 0..100; meanwhile a write lands on bytes 40..60.
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(5, {1, 2}, 40, 20)).status, StatusCode::kOk);
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 1}, 0, 100), {{1, 1}}).status, StatusCode::kConflict);
  // Listing the newer write too makes the same compaction legitimate.
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 2}, 0, 100), {{1, 1}, {1, 2}}).status, StatusCode::kOk);
  // A newer write that is appended but not yet committed counts as well: with both backups down it
  // stays uncommitted, and a compaction over its bytes is refused at once.
  for (NodeId n : cluster.group()) {
    if (n != primary) cluster.world->crash(n);
  }
  cluster.commit(primary, make_record(5, {1, 3}, 10, 10));
  cluster.run_for(100 * kMillisecond);
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(5, {9, 3}, 0, 100), {{9, 2}}).status, StatusCode::kConflict);
}

// Waits out the new primary's grace period (earlier primaries' pins) so collection can start.
void wait_for_gc(CatalogCluster& cluster) {
  cluster.run_for(cluster.config->pin_timeout_ns + 2 * cluster.config->lease_epsilon_ns + 100 * kMillisecond);
}

size_t deletes_of(CatalogCluster& cluster, const RecordId& id) {
  size_t n = 0;
  for (NodeId node = 0; node <= cluster.client_node; ++node) {
    for (const DeleteFragments& d : cluster.fragments(node).deletes) {
      for (const auto& [record, index] : d.fragments) n += record == id ? 1 : 0;
    }
  }
  return n;
}

TEST(Catalog, PinsHoldCollectionBackWhichThenDeletesTheFragments) {
  CatalogOptions options;
  options.gc_interval_ns = 100 * kMillisecond;
  CatalogCluster cluster(kNodes, options, [](DataPathConfig& c) { c.pin_timeout_ns = 2 * kSecond; });
  const NodeId primary = cluster.wait_for_primary();
  wait_for_gc(cluster);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(8, {1, 1}, 0, 100)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(8, {1, 2}, 1000, 100)).status, StatusCode::kOk);
  const QueryReply first = cluster.query_and_wait(primary, 8, Extent{0, 100});  // pins {1,1}
  const QueryReply second = cluster.query_and_wait(primary, 8, Extent{1000, 100});  // pins {1,2}
  ASSERT_EQ(first.entries.size(), 1u);
  ASSERT_NE(first.pin, 0u);
  ASSERT_NE(second.pin, 0u);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(8, {2, 1}, 0, 2000), {{1, 1}, {1, 2}}).status, StatusCode::kOk);
  // Readers that queried before the compaction may still fetch the old records: nothing is collected.
  cluster.run_for(kSecond);
  EXPECT_TRUE(cluster.collections.empty());
  EXPECT_EQ(cluster.catalog(primary)->superseded_pending(0), 2u);
  // Releasing the first pin is not enough (the second was taken before the compaction too)...
  cluster.release(primary, 8, first.pin);
  cluster.run_for(500 * kMillisecond);
  EXPECT_TRUE(cluster.collections.empty());
  EXPECT_EQ(cluster.catalog(primary)->pins(0), 1u);
  // ...the second one lapses after the pin timeout, and then both go, with their fragments.
  ASSERT_TRUE(cluster.run_until([&] { return cluster.collections.size() == 2; }, 3 * kSecond));
  std::set<RecordId> collected;
  for (const CollectionRow& row : cluster.collections) collected.insert({row.record_client, row.record_seq});
  EXPECT_EQ(collected, (std::set<RecordId>{{1, 1}, {1, 2}}));
  cluster.run_for(100 * kMillisecond);
  EXPECT_EQ(deletes_of(cluster, {1, 1}), 6u);  // k + m fragments, one delete each
  EXPECT_EQ(deletes_of(cluster, {1, 2}), 6u);
  EXPECT_EQ(deletes_of(cluster, {2, 1}), 0u);
  // A query after the compaction pins nothing that could be collected: the record it returns is current.
  const QueryReply after = cluster.query_and_wait(primary, 8, Extent{0, 100});
  ASSERT_EQ(after.entries.size(), 1u);
  EXPECT_EQ(after.entries[0].record.record_id, (RecordId{2, 1}));
  cluster.expect_replicas_agree();
  for (NodeId n : cluster.group()) EXPECT_EQ(cluster.catalog(n)->store().records(), 1u);
}

// A writer whose commit answer was lost retries it after a compaction replaced the record and the record
// was collected: it gets the answer it missed, and the old bytes do not come back over the compaction.
TEST(Catalog, ARetriedCommitOfACollectedRecordGetsItsFirstAnswer) {
  CatalogOptions options;
  options.gc_interval_ns = 100 * kMillisecond;
  CatalogCluster cluster(kNodes, options, [](DataPathConfig& c) { c.pin_timeout_ns = kSecond; });
  const NodeId primary = cluster.wait_for_primary();
  wait_for_gc(cluster);
  const WriteRecord old = make_record(8, {1, 1}, 0, 100);
  const CommitReply first = cluster.commit_and_wait(primary, old);
  ASSERT_EQ(first.status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(8, {2, 1}, 0, 100), {{1, 1}}).status, StatusCode::kOk);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.collections.size() == 1; }, 3 * kSecond));
  const CommitReply retried = cluster.commit_and_wait(primary, old);
  EXPECT_EQ(retried.status, StatusCode::kOk);
  EXPECT_EQ(retried.sequence, first.sequence);
  EXPECT_EQ(cluster.world->counter("catalog.commit_duplicate_collected"), 1u);
  const QueryReply after = cluster.query_and_wait(primary, 8, Extent{0, 100});
  ASSERT_EQ(after.entries.size(), 1u);
  EXPECT_EQ(after.entries[0].record.record_id, (RecordId{2, 1}));
  cluster.expect_replicas_agree();
}

TEST(Catalog, ANewPrimaryCollectsNothingUntilEarlierPinsHaveSurelyLapsed) {
  CatalogOptions options;
  options.gc_interval_ns = 50 * kMillisecond;
  CatalogCluster cluster(kNodes, options, [](DataPathConfig& c) { c.pin_timeout_ns = 3 * kSecond; });
  const NodeId first = cluster.wait_for_primary();
  ASSERT_EQ(cluster.commit_and_wait(first, make_record(8, {1, 1}, 0, 100)).status, StatusCode::kOk);
  ASSERT_NE(cluster.query_and_wait(first, 8, Extent{0, 100}).pin, 0u);  // a reader, pinned on the old primary
  ASSERT_EQ(cluster.commit_and_wait(first, make_record(8, {2, 1}, 0, 100), {{1, 1}}).status, StatusCode::kOk);
  cluster.world->crash(first);
  const NodeId second = cluster.wait_for_primary();
  const TimeNs serving_at = cluster.world->now_ns();
  // The pin is unknown to the new primary, which therefore waits out a whole pin timeout (plus 2 eps).
  ASSERT_TRUE(cluster.run_until([&] { return !cluster.collections.empty(); }, 10 * kSecond));
  EXPECT_GE(cluster.world->now_ns() - serving_at, cluster.config->pin_timeout_ns);
  EXPECT_EQ((RecordId{cluster.collections[0].record_client, cluster.collections[0].record_seq}), (RecordId{1, 1}));
  EXPECT_NE(second, first);
}

TEST(Catalog, RepairMovesFragmentsOffADeadNodeAndRebuildsCorruptOnes) {
  CatalogCluster cluster(8);
  const NodeId primary = cluster.wait_for_primary();
  // Fragments of the record on nodes 2..7.
  const WriteRecord record = make_record(9, {1, 1}, 0, 100, 4, 2, 2, 8);
  ASSERT_EQ(cluster.commit_and_wait(primary, record).status, StatusCode::kOk);
  std::vector<bool> alive(8, true);
  alive[4] = false;  // fragment 2 lived there
  cluster.membership(alive);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.catalog(primary)->repairs_pending(0) == 0; }, 2 * kSecond));
  size_t rebuilds = 0;
  NodeId target = kNoNode;
  for (NodeId n = 0; n < 8; ++n) {
    for (const RebuildFragment& r : cluster.fragments(n).rebuilds) {
      ++rebuilds;
      target = n;
      EXPECT_EQ(r.index, 2u);
      EXPECT_EQ(r.record.record_id, record.record_id);
    }
  }
  ASSERT_EQ(rebuilds, 1u);
  EXPECT_NE(target, 4u);
  for (uint32_t i = 0; i < 6; ++i) {
    if (i == 2) continue;
    EXPECT_NE(target, record.fragments[i].node) << "the new node already held fragment " << i;
  }
  const QueryReply moved = cluster.query_and_wait(primary, 9, Extent{0, 100});
  ASSERT_EQ(moved.entries.size(), 1u);
  WriteRecord expected = record;
  expected.fragments[2].node = target;
  EXPECT_EQ(moved.entries[0].record, expected);
  // A corrupt fragment on a live node is rebuilt in place (and the map does not change).
  auto corrupt = std::make_shared<FragmentCorrupt>();
  corrupt->file_id = 9;
  corrupt->record_id = record.record_id;
  corrupt->index = 5;
  cluster.send(primary, corrupt);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.fragments(7).rebuilds.size() == 1; }, 2 * kSecond));
  EXPECT_EQ(cluster.fragments(7).rebuilds[0].index, 5u);
  cluster.expect_replicas_agree();
  EXPECT_EQ(cluster.query_and_wait(primary, 9, Extent{0, 100}).entries.at(0).record, expected);
}

RecordFate fate_of(const RecordStatusReply& reply, const RecordId& id) {
  for (const auto& [record, fate] : reply.records) {
    if (record == id) return fate;
  }
  ADD_FAILURE() << "no fate for " << id.to_string();
  return RecordFate::kCurrent;
}

TEST(Catalog, RecordStatusAbandonsWhatIsNotLiveOnEveryReplicaAndRefusesItsLateCommit) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  const RecordId current{1, 1}, superseded{1, 2}, compaction{1, 3}, orphan{9, 9};
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, current, 0, 100)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, superseded, 1000, 100)).status, StatusCode::kOk);
  ASSERT_NE(cluster.query_and_wait(primary, 10, Extent{1000, 100}).pin, 0u);  // holds the superseded one back
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, compaction, 1000, 100), {superseded}).status, StatusCode::kOk);
  const uint64_t before = cluster.catalog(primary)->last_index(0);
  const RecordStatusReply reply = cluster.record_status_and_wait(primary, 10, {current, superseded, orphan});
  ASSERT_EQ(reply.status, StatusCode::kOk);
  ASSERT_EQ(reply.records.size(), 3u);
  EXPECT_EQ(fate_of(reply, current), RecordFate::kCurrent);
  EXPECT_EQ(fate_of(reply, superseded), RecordFate::kSuperseded);
  EXPECT_EQ(fate_of(reply, orphan), RecordFate::kAbandoned);
  // Only the orphan went through the log (one kAbandon entry), and every replica holds its tombstone.
  EXPECT_EQ(cluster.catalog(primary)->last_index(0), before + 1);
  ASSERT_EQ(cluster.abandons.size(), 1u);
  EXPECT_EQ((RecordId{cluster.abandons[0].record_client, cluster.abandons[0].record_seq}), orphan);
  EXPECT_EQ(cluster.abandons[0].file, 10u);
  cluster.expect_replicas_agree();
  for (NodeId n : cluster.group()) {
    EXPECT_TRUE(cluster.catalog(n)->abandoned(0, orphan)) << "replica " << n;
    EXPECT_FALSE(cluster.catalog(n)->abandoned(0, current)) << "replica " << n;
    EXPECT_EQ(cluster.catalog(n)->abandoned_records(0), 1u);
  }
  // The writer's commit arrives late: refused, on every retry, and nothing about it is applied.
  const size_t commits = cluster.commits.size();
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(10, orphan, 5000, 100)).status, StatusCode::kConflict);
  EXPECT_EQ(cluster.commit_and_wait(primary, make_record(10, orphan, 5000, 100)).status, StatusCode::kConflict);
  EXPECT_EQ(cluster.commits.size(), commits);
  EXPECT_TRUE(cluster.query_and_wait(primary, 10, Extent{5000, 100}).entries.empty());
  // Asking again needs no new entry; a backup redirects to the primary.
  EXPECT_EQ(fate_of(cluster.record_status_and_wait(primary, 10, {orphan}), orphan), RecordFate::kAbandoned);
  EXPECT_EQ(cluster.catalog(primary)->last_index(0), before + 1);
  const RecordStatusReply redirected = cluster.record_status_and_wait(other_member(cluster, primary), 10, {orphan});
  EXPECT_EQ(redirected.status, StatusCode::kNotLeader);
  EXPECT_EQ(redirected.leader_hint, primary);
  // A request naming the same record twice is refused.
  EXPECT_EQ(cluster.record_status_and_wait(primary, 10, {orphan, orphan}).status, StatusCode::kInvalidArgument);
}

TEST(Catalog, OneRecordStatusAsksAboutRecordsOfSeveralFilesOfItsShard) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  const RecordId live{1, 1}, orphan_a{9, 1}, orphan_b{9, 2}, orphan_c{9, 3};
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, live, 0, 100)).status, StatusCode::kOk);
  const uint64_t before = cluster.catalog(primary)->last_index(0);
  const RecordStatusReply reply =
      cluster.record_status_and_wait(primary, 0, {{12, orphan_b}, {10, live}, {10, orphan_a}, {12, orphan_c}});
  ASSERT_EQ(reply.status, StatusCode::kOk);
  ASSERT_EQ(reply.records.size(), 4u);
  EXPECT_EQ(reply.records[0].first, orphan_b) << "fates come in the request's order";
  EXPECT_EQ(fate_of(reply, live), RecordFate::kCurrent);
  for (const RecordId& orphan : {orphan_a, orphan_b, orphan_c}) EXPECT_EQ(fate_of(reply, orphan), RecordFate::kAbandoned);
  // One kAbandon entry per file, each naming its file.
  EXPECT_EQ(cluster.catalog(primary)->last_index(0), before + 2);
  ASSERT_EQ(cluster.abandons.size(), 3u);
  for (const AbandonRow& row : cluster.abandons) {
    EXPECT_EQ(row.file, row.record_seq == 1 ? 10u : 12u) << row.record_seq;
  }
  cluster.expect_replicas_agree();
  // A shard that does not exist is refused.
  EXPECT_EQ(cluster.record_status_and_wait(primary, 1, {{10, live}}).status, StatusCode::kInvalidArgument);
}

TEST(Catalog, ACopyOnANodeItsMapDoesNotNameIsStaleUnlessOneOfItsFragmentsIsBeingRepaired) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  // The test client asks from node kNodes: `here` has a fragment there, `elsewhere` does not.
  const RecordId here{1, 1}, elsewhere{1, 2};
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, here, 0, 100)).status, StatusCode::kOk);
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(10, elsewhere, 200, 100, 4, 2, 0, kNodes)).status, StatusCode::kOk);
  EXPECT_EQ(fate_of(cluster.record_status_and_wait(primary, 10, {here}), here), RecordFate::kCurrent);
  EXPECT_EQ(fate_of(cluster.record_status_and_wait(primary, 10, {elsewhere}), elsewhere), RecordFate::kStale);
  // While a fragment of it is being rebuilt (the target keeps refusing), its copies are not judged.
  cluster.rebuild_status = StatusCode::kUnavailable;
  auto corrupt = std::make_shared<FragmentCorrupt>();
  corrupt->file_id = 10;
  corrupt->record_id = elsewhere;
  corrupt->index = 1;
  cluster.send(primary, corrupt);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.catalog(primary)->repairs_pending(0) > 0; }, kSecond));
  EXPECT_EQ(fate_of(cluster.record_status_and_wait(primary, 10, {elsewhere}), elsewhere), RecordFate::kCurrent);
  EXPECT_TRUE(cluster.abandons.empty());
}

TEST(Catalog, AnAbandonAndARacingCommitNeverBothSucceedWhicheverIsFirst) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  // The commit first: the abandon, behind it in the log, finds the record live and leaves it.
  const RecordId early{2, 1};
  const uint64_t commit_first = cluster.commit(primary, make_record(11, early, 0, 100));
  uint64_t asked = 0;
  cluster.world->with_role(cluster.client_node, kPortClient,
                           [&](Role& r) { asked = static_cast<testing::TestClient&>(r).record_status(primary, 0, {{11, early}}); });
  ASSERT_TRUE(cluster.run_until([&] { return cluster.client().commits.count(commit_first) && cluster.client().statuses.count(asked); },
                                2 * kSecond));
  EXPECT_EQ(cluster.client().commits.at(commit_first).status, StatusCode::kOk);
  EXPECT_EQ(fate_of(cluster.client().statuses.at(asked), early), RecordFate::kCurrent);
  // The abandon first: the commit appended behind it (before the abandon applied) is refused on apply.
  const RecordId late{2, 2};
  cluster.world->with_role(cluster.client_node, kPortClient,
                           [&](Role& r) { asked = static_cast<testing::TestClient&>(r).record_status(primary, 0, {{11, late}}); });
  const uint64_t commit_second = cluster.commit(primary, make_record(11, late, 200, 100));
  ASSERT_TRUE(cluster.run_until([&] { return cluster.client().commits.count(commit_second) && cluster.client().statuses.count(asked); },
                                2 * kSecond));
  EXPECT_EQ(fate_of(cluster.client().statuses.at(asked), late), RecordFate::kAbandoned);
  EXPECT_EQ(cluster.client().commits.at(commit_second).status, StatusCode::kConflict);
  EXPECT_EQ(cluster.commits.size(), 1u);  // only the early record was ever reported committed
  cluster.expect_replicas_agree();
  for (NodeId n : cluster.group()) {
    EXPECT_TRUE(cluster.catalog(n)->abandoned(0, late));
    EXPECT_FALSE(cluster.catalog(n)->abandoned(0, early));
    EXPECT_EQ(cluster.catalog(n)->store().records(), 1u);
  }
}

TEST(Catalog, TombstonesSurviveRestartsAndFailovers) {
  CatalogCluster cluster(kNodes);
  const NodeId primary = cluster.wait_for_primary();
  const RecordId orphan{3, 1};
  ASSERT_EQ(fate_of(cluster.record_status_and_wait(primary, 12, {orphan}), orphan), RecordFate::kAbandoned);
  cluster.expect_replicas_agree();
  // A backup restarts: the kAbandon entry is back in its log, applied again once the primary's commit
  // index (carried by its next entry) reaches it: the frame was written before it was known committed.
  const NodeId backup = other_member(cluster, primary);
  cluster.world->crash(backup);
  cluster.run_for(100 * kMillisecond);
  cluster.world->restart(backup);
  ASSERT_TRUE(cluster.run_until([&] { return cluster.catalog(backup)->recovered(0); }, 2 * kSecond));
  ASSERT_EQ(cluster.commit_and_wait(primary, make_record(12, {3, 2}, 0, 100)).status, StatusCode::kOk);
  EXPECT_TRUE(cluster.run_until([&] { return cluster.catalog(backup)->abandoned(0, orphan); }, 2 * kSecond));
  // The primary crashes: its successor refuses the commit too.
  cluster.world->crash(primary);
  const NodeId second = cluster.wait_for_primary();
  ASSERT_NE(second, primary);
  EXPECT_EQ(cluster.commit_and_wait(second, make_record(12, orphan, 0, 100), {}, 10 * kSecond).status, StatusCode::kConflict);
  cluster.world->restart(primary);
  cluster.expect_replicas_agree();
  for (NodeId n : cluster.group()) EXPECT_TRUE(cluster.catalog(n)->abandoned(0, orphan)) << "replica " << n;
}

TEST(Catalog, DeliberateBugsBreakWhatTheCheckersCheck) {
  // diverge_replica: backups apply commits with other sequences, so digests differ.
  {
    CatalogCluster cluster(kNodes, {}, [](DataPathConfig& c) { c.inject_bug = "diverge_replica"; });
    const NodeId primary = cluster.wait_for_primary();
    for (uint64_t i = 1; i <= 3; ++i) ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {1, i}, 0, 10)).status, StatusCode::kOk);
    cluster.run_for(500 * kMillisecond);
    const NodeId backup = other_member(cluster, primary);
    ASSERT_EQ(cluster.catalog(backup)->applied_index(0), cluster.catalog(primary)->applied_index(0));
    EXPECT_NE(cluster.catalog(backup)->log_digest(0), cluster.catalog(primary)->log_digest(0));
  }
  // gc_current: a record that is still current gets collected.
  {
    CatalogOptions options;
    options.gc_interval_ns = 100 * kMillisecond;
    CatalogCluster cluster(kNodes, options, [](DataPathConfig& c) { c.inject_bug = "gc_current"; });
    const NodeId primary = cluster.wait_for_primary();
    wait_for_gc(cluster);
    ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {1, 1}, 0, 10)).status, StatusCode::kOk);
    ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {1, 2}, 100, 10)).status, StatusCode::kOk);
    ASSERT_TRUE(cluster.run_until([&] { return !cluster.collections.empty(); }, 2 * kSecond));
    EXPECT_EQ((RecordId{cluster.collections[0].record_client, cluster.collections[0].record_seq}), (RecordId{1, 1}));
    EXPECT_TRUE(cluster.query_and_wait(primary, 1, Extent{0, 10}).entries.empty());  // a committed write is gone
  }
  // abandon_current: a current record asked about is abandoned (an abandons row the GC checker rejects).
  {
    CatalogCluster cluster(kNodes, {}, [](DataPathConfig& c) { c.inject_bug = "abandon_current"; });
    const NodeId primary = cluster.wait_for_primary();
    ASSERT_EQ(cluster.commit_and_wait(primary, make_record(1, {1, 1}, 0, 10)).status, StatusCode::kOk);
    EXPECT_EQ(fate_of(cluster.record_status_and_wait(primary, FileId{1}, std::vector<RecordId>{{1, 1}}), {1, 1}), RecordFate::kAbandoned);
    ASSERT_EQ(cluster.abandons.size(), 1u);
    EXPECT_EQ((RecordId{cluster.abandons[0].record_client, cluster.abandons[0].record_seq}), (RecordId{1, 1}));
  }
}

// The coordination-service record of a replaced group, and the directory that learns it.
TEST(CatalogGroups, PublishedGroupsRoundTripAndTheDirectoryKeepsTheNewest) {
  EXPECT_EQ(catalog_group_znode(12, 3), std::string(kCatalogGroupsRoot) + "/12.3");
  const std::optional<CatalogGroupName> name = parse_catalog_group_name("12.3");
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->shard, 12u);
  EXPECT_EQ(name->version, 3u);
  for (const char* bad : {"", "12", "12.", ".3", "12.1", "1a.3", "12.3.4", "-1.3", "99999999999999999999.2"}) {
    EXPECT_FALSE(parse_catalog_group_name(bad).has_value()) << bad;
  }
  const std::vector<NodeId> members = {7, 2, 9};
  const Bytes data = encode_catalog_group(members);
  EXPECT_EQ(decode_catalog_group(data), members);
  for (size_t cut = 0; cut < data.size(); ++cut) {
    EXPECT_FALSE(decode_catalog_group(Bytes(data.begin(), data.begin() + static_cast<long>(cut))).has_value()) << cut;
  }
  Bytes longer = data;
  longer.push_back(0);
  EXPECT_FALSE(decode_catalog_group(longer).has_value());
  EXPECT_FALSE(decode_catalog_group(encode_catalog_group({})).has_value());
  EXPECT_FALSE(decode_catalog_group(encode_catalog_group({4, 4})).has_value());

  auto config = std::make_shared<DataPathConfig>();
  config->shards = 4;
  for (NodeId n = 0; n < 6; ++n) config->nodes.push_back(PlacementNode{n, n, 0, 1.0, true});
  CatalogDirectory directory(config);
  const std::vector<NodeId> first = directory.group(1);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(directory.version(1), 1u);
  directory.learn(1, 3, {5, 4, 3});
  EXPECT_EQ(directory.group(1), (std::vector<NodeId>{5, 4, 3}));
  EXPECT_EQ(directory.version(1), 3u);
  directory.learn(1, 2, {0, 1, 2});  // older: ignored
  directory.learn(1, 4, {});         // empty: ignored
  directory.learn(9, 5, {0, 1, 2});  // no such shard
  EXPECT_EQ(directory.group(1), (std::vector<NodeId>{5, 4, 3}));
  EXPECT_EQ(directory.group(2), CatalogDirectory(config).group(2));  // other shards untouched
}

}  // namespace
}  // namespace pbfs::datapath
