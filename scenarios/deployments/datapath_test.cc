// The data path end to end on the simulator: every shipped pbfs scenario runs with all its checkers
// passing, and each deliberate bug makes its checker fail (so the checkers provably can).
#include <gtest/gtest.h>

#include <filesystem>

#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "sim/test_util.h"

namespace pbfs {
namespace {

struct Outcome {
  sim::RunSummary summary;
  std::string error;
};

Outcome run(const std::string& name, std::vector<std::string> overrides) {
  Outcome out;
  Result<Scenario> scenario = load_scenario_file(std::string(PBFS_SCENARIOS_DIR) + "/" + name, overrides);
  if (!scenario.is_ok()) {
    out.error = scenario.status().to_string();
    return out;
  }
  RunOptions options;
  options.trace_path = (std::filesystem::temp_directory_path() / ("pbfs-dp-" + std::to_string(::getpid()) + ".h5")).string();
  Result<RunOutcome> outcome = run_scenario(*scenario, options);
  std::filesystem::remove(options.trace_path);
  if (!outcome.is_ok()) {
    out.error = outcome.status().to_string();
    return out;
  }
  out.summary = outcome->summary;
  return out;
}

const sim::CheckerVerdict* verdict(const sim::RunSummary& s, const std::string& name) {
  for (const auto& v : s.verdicts) {
    if (v.checker == name) return &v;
  }
  return nullptr;
}

std::string describe(const sim::RunSummary& s) {
  std::string out;
  for (const auto& v : s.verdicts) out += v.checker + (v.passed ? " passed: " : " FAILED: ") + v.detail + "\n";
  for (const auto& [k, v] : s.metrics) out += k + "=" + std::to_string(v) + "\n";
  return out;
}

double metric(const sim::RunSummary& s, const std::string& name) {
  auto it = s.metrics.find(name);
  return it == s.metrics.end() ? 0 : it->second;
}

using sim::testing::counter;

// Runs a scenario that must load and run, and expects `checker` to report it.
void expect_checker_fails(const std::string& scenario, const std::vector<std::string>& overrides,
                          const std::string& checker) {
  const Outcome o = run(scenario, overrides);
  ASSERT_TRUE(o.error.empty()) << o.error;
  const sim::CheckerVerdict* v = verdict(o.summary, checker);
  ASSERT_NE(v, nullptr) << checker;
  EXPECT_FALSE(v->passed) << describe(o.summary);
}

class ShippedScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedScenario, RunsWithEveryCheckPassing) {
  const Outcome o = run(GetParam(), {});
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_TRUE(o.summary.all_checks_passed()) << describe(o.summary);
  EXPECT_EQ(o.summary.verdicts.size(), 4u) << describe(o.summary);
  EXPECT_GT(metric(o.summary, "pbfs.write.ok"), 50) << describe(o.summary);
  EXPECT_GT(metric(o.summary, "pbfs.read.ok"), 20) << describe(o.summary);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShippedScenario,
                         ::testing::Values("pbfs-small-overwrites.yaml", "pbfs-patch-depth.yaml",
                                           "pbfs-degraded-read.yaml", "pbfs-join-rebalance.yaml",
                                           "pbfs-bitrot.yaml", "pbfs-compaction-race.yaml",
                                           "pbfs-orphan-gc.yaml", "pbfs-catalog-replace.yaml", "pbfs-swarm.yaml"),
                         [](const auto& info) {
                           std::string n = info.param.substr(5, info.param.size() - 10);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// Three nodes die for good, each hitting groups the one before already hit: the groups replace their
// dead members and no write fails (the last crash takes some groups' last original member: clients find
// the new group in the coordination service); with replacement off, those groups lose their majority
// and writes to their files fail.
TEST(DataPathCatalogReplacement, ReplacedGroupsKeepCommittingWhereFixedOnesStop) {
  const Outcome replaced = run("pbfs-catalog-replace.yaml", {});
  ASSERT_TRUE(replaced.error.empty()) << replaced.error;
  EXPECT_TRUE(replaced.summary.all_checks_passed()) << describe(replaced.summary);
  EXPECT_GE(counter(replaced.summary, "catalog.replacement_committed"), 2u) << describe(replaced.summary);
  EXPECT_EQ(metric(replaced.summary, "pbfs.write.failed"), 0) << describe(replaced.summary);
  const Outcome fixed = run("pbfs-catalog-replace.yaml", {"protocol.catalog.replace_after=0"});
  ASSERT_TRUE(fixed.error.empty()) << fixed.error;
  EXPECT_EQ(counter(fixed.summary, "catalog.replacement_committed"), 0u);
  EXPECT_GT(metric(fixed.summary, "pbfs.write.failed"), 0) << describe(fixed.summary);
}

TEST(DataPathCheckers, StaleReadsFailReadCorrectness) {
  expect_checker_fails("pbfs-small-overwrites.yaml", {"protocol.inject_bug=stale_read", "workload.files=2",
                                                        "workload.file_bytes=64KiB"}, "read_correctness");
}

TEST(DataPathCheckers, CollectingCurrentRecordsFailsGcSafety) {
  expect_checker_fails("pbfs-compaction-race.yaml", {"protocol.inject_bug=gc_current"}, "gc_safety");
}

TEST(DataPathCheckers, DivergentReplicaFailsCatalogAgreement) {
  expect_checker_fails("pbfs-small-overwrites.yaml", {"protocol.inject_bug=diverge_replica"}, "catalog_agreement");
}

TEST(DataPathCheckers, AckingBeforeFsyncFailsDurabilityWhenNodesCrash) {
  // Three of twelve nodes crash together (more than m = 2 of some records' fragments): with fsync the
  // data survives on their disks; without it, acknowledged records lose more than m fragments.
  const std::vector<std::string> crash = {"duration=12s", "workload.operations=0", "workload.think=20ms", "faults.0.kind=crash", "faults.0.at=8s", "faults.0.duration=1s",
                                          "faults.0.nodes.0=3", "faults.0.nodes.1=7", "faults.0.nodes.2=11"};
  std::vector<std::string> buggy = crash;
  buggy.push_back("protocol.inject_bug=skip_fsync");
  expect_checker_fails("pbfs-small-overwrites.yaml", buggy, "durability");
  const Outcome good = run("pbfs-small-overwrites.yaml", crash);
  ASSERT_TRUE(good.error.empty()) << good.error;
  const sim::CheckerVerdict* g = verdict(good.summary, "durability");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->passed) << describe(good.summary);
}

TEST(DataPathScenario, AJoinMovesTheFragmentsWhosePlaceChanged) {
  const Outcome o = run("pbfs-join-rebalance.yaml", {});
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_GT(counter(o.summary, "catalog.rebalance_queued"), 0u);
  // Every move was rebuilt on its new node and recorded in the catalog (durability then finds each
  // current record's fragments where the catalog says they are).
  EXPECT_EQ(counter(o.summary, "catalog.repair_committed"), counter(o.summary, "catalog.repair_queued"));
  EXPECT_EQ(counter(o.summary, "catalog.repair_gave_up"), 0u);
  EXPECT_TRUE(o.summary.all_checks_passed()) << describe(o.summary);
}

TEST(DataPathScenario, SmallFragmentLogsAreCleanedWithoutLosingData) {
  // 64 KiB logs under writer crashes and orphan collection: many logs fill, die mostly and are cleaned;
  // every checker (durability reads the durable manifests and logs) still passes.
  const Outcome o = run("pbfs-orphan-gc.yaml", {"protocol.fragment_store.log_file_bytes=64KiB"});
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_GT(counter(o.summary, "datapath.fragment_log_cleaned"), 10u) << describe(o.summary);
  EXPECT_GT(counter(o.summary, "datapath.fragment_moved"), 10u) << describe(o.summary);
  EXPECT_GT(counter(o.summary, "datapath.fragment_log_removed"), 10u) << describe(o.summary);
  EXPECT_TRUE(o.summary.all_checks_passed()) << describe(o.summary);
}

TEST(DataPathCheckers, AbandoningCurrentRecordsFailsGcSafety) {
  expect_checker_fails("pbfs-orphan-gc.yaml", {"protocol.inject_bug=abandon_current"}, "gc_safety");
}

TEST(DataPathScenario, OrphanFragmentsOfAbandonedWritesAreDeleted) {
  const Outcome o = run("pbfs-orphan-gc.yaml", {});
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_GT(counter(o.summary, "datapath.orphan_fragments_deleted"), 0u) << describe(o.summary);
  EXPECT_TRUE(o.summary.all_checks_passed()) << describe(o.summary);
}

// Random faults of every kind under more seeds than the shipped one (sweeps/pbfs-swarm-seeds.yaml runs
// 40): each seed enables its own mix, and every checker must pass with the workload still progressing.
TEST(DataPathScenario, SwarmFaultsKeepEveryCheckUnderSeveralSeeds) {
  for (int seed = 2; seed <= 5; ++seed) {
    const Outcome o = run("pbfs-swarm.yaml", {"seed=" + std::to_string(seed)});
    ASSERT_TRUE(o.error.empty()) << o.error;
    EXPECT_TRUE(o.summary.all_checks_passed()) << "seed " << seed << "\n" << describe(o.summary);
    EXPECT_GT(metric(o.summary, "pbfs.write.ok"), 1000) << "seed " << seed;
  }
}

// Two nodes faulty at once (as many as m). Under seed 22 a new primary, applying moves its predecessors
// had made and acted on, deleted the copies of fragments that had since moved back (3 of 6 left); under
// seed 57 a writer's retried commit brought back a record that a compaction had replaced and that had
// been collected with its fragments; under seed 110 the run ended with a committed write in the logs of
// both live replicas but applied by neither (no primary yet after their restarts), which the durability
// checker took for a lost write; under seed 160 two catalog replicas restarted on replaced, empty disks
// and elected a primary without the shard's records (a read returned a hole, a write went missing).
// All four now pass every check.
TEST(DataPathScenario, SwarmFaultsTwoNodesAtATimeKeepEveryCheck) {
  for (int seed : {22, 57, 110, 160}) {
    const Outcome o = run("pbfs-swarm.yaml", {"seed=" + std::to_string(seed), "faults.swarm.concurrent_max=2"});
    ASSERT_TRUE(o.error.empty()) << o.error;
    EXPECT_TRUE(o.summary.all_checks_passed()) << "seed " << seed << "\n" << describe(o.summary);
  }
}

TEST(DataPathScenario, BadProtocolFieldNamesFileLineAndField) {
  const Outcome o = run("pbfs-small-overwrites.yaml", {"protocol.coding.k=300"});
  EXPECT_NE(o.error.find("protocol.coding.k"), std::string::npos) << o.error;
  const Outcome l = run("pbfs-small-overwrites.yaml", {"protocol.fragment_store.log_file_bytes=4KiB"});
  EXPECT_NE(l.error.find("protocol.fragment_store.log_file_bytes: must be between 64 KiB and 4 GiB"), std::string::npos) << l.error;
  // Offsets inside a log are 32-bit in the manifest.
  const Outcome h = run("pbfs-small-overwrites.yaml", {"protocol.fragment_store.log_file_bytes=5GiB"});
  EXPECT_NE(h.error.find("protocol.fragment_store.log_file_bytes: must be between 64 KiB and 4 GiB"), std::string::npos) << h.error;
  const Outcome r = run("pbfs-small-overwrites.yaml", {"protocol.catalog.disk_retry=0s"});
  EXPECT_NE(r.error.find("protocol.catalog.disk_retry: must be above 0"), std::string::npos) << r.error;
  const Outcome c = run("pbfs-small-overwrites.yaml", {"checks.0=read_corectness"});
  EXPECT_NE(c.error.find("unknown checker"), std::string::npos) << c.error;
  // A misspelt key inside a protocol or workload sub-map is rejected, not ignored.
  for (const std::string typo : {"protocol.catalog.replicaz=3", "protocol.coding.kk=3", "protocol.gc.grace=1s",
                                  "protocol.coordination.nod=1", "protocol.fragment_store.log_bytes=1MiB",
                                  "workload.size.maximum=8KiB"}) {
    const Outcome t = run("pbfs-small-overwrites.yaml", {typo});
    const std::string field = typo.substr(0, typo.find('='));
    EXPECT_NE(t.error.find(field + ": unknown field"), std::string::npos) << typo << " -> " << t.error;
  }
}

}  // namespace
}  // namespace pbfs
