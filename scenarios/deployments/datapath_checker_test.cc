// The data-path checker accepts what a correct store may return and reports what it must not: a stale
// record, a record that never covered the bytes, a hole over written bytes, a current record collected.
#include "scenarios/deployments/datapath_checker.h"

#include <gtest/gtest.h>

namespace pbfs {
namespace {

const RecordId a{1, 1};
const RecordId b{2, 1};
const RecordId c{1, 2};

TEST(DataPathChecker, LatestRecordAndConcurrentCommitsAreAccepted) {
  DataPathChecker checker;
  checker.commit(7, a, 1, Extent{0, 100}, 10);
  checker.commit(7, b, 2, Extent{50, 100}, 20);
  checker.read_piece(7, 0, 50, a, false, 30, 40);
  checker.read_piece(7, 50, 100, b, false, 30, 40);
  // A read that began before b was committed may still return a there.
  checker.read_piece(7, 50, 50, a, false, 15, 25);
  // Bytes beyond every write are a hole.
  checker.read_piece(7, 150, 10, RecordId{}, true, 30, 40);
  EXPECT_EQ(checker.read_violations(), 0u) << checker.first_read_violation();
  EXPECT_EQ(checker.pieces_checked(), 4u);
}

TEST(DataPathChecker, StaleRecordIsAViolation) {
  DataPathChecker checker;
  checker.commit(7, a, 1, Extent{0, 100}, 10);
  checker.commit(7, b, 2, Extent{0, 100}, 20);
  checker.read_piece(7, 0, 100, a, false, 30, 40);
  EXPECT_EQ(checker.read_violations(), 1u);
  EXPECT_NE(checker.first_read_violation().find("committed before the read began"), std::string::npos);
}

TEST(DataPathChecker, WrongRecordOrHoleIsAViolation) {
  DataPathChecker checker;
  checker.commit(7, a, 1, Extent{0, 100}, 10);
  checker.commit(7, c, 2, Extent{200, 10}, 10);
  checker.read_piece(7, 0, 10, c, false, 30, 40);
  EXPECT_EQ(checker.read_violations(), 1u);
  checker.read_piece(7, 0, 10, RecordId{}, true, 30, 40);
  EXPECT_EQ(checker.read_violations(), 2u);
  checker.read_piece(7, 150, 10, a, false, 30, 40);
  EXPECT_EQ(checker.read_violations(), 3u);
}

TEST(DataPathChecker, ARecordFromTheFutureIsAViolation) {
  DataPathChecker checker;
  checker.commit(7, a, 1, Extent{0, 100}, 50);
  checker.read_piece(7, 0, 100, a, false, 10, 40);
  EXPECT_EQ(checker.read_violations(), 1u);
}

TEST(DataPathChecker, CollectingACurrentRecordIsAViolationButASupersededOneIsNot) {
  DataPathChecker checker;
  checker.commit(7, a, 1, Extent{0, 100}, 10);
  checker.commit(7, b, 2, Extent{0, 100}, 20, /*compaction=*/true);  // replaced a
  checker.commit(7, c, 3, Extent{100, 100}, 20);
  checker.commit(7, RecordId{3, 3}, 4, Extent{0, 50}, 25);  // hidden by nothing, covered by no compaction
  checker.collected(7, a, 30);
  EXPECT_EQ(checker.gc_violations(), 0u);
  checker.collected(7, c, 30);
  EXPECT_EQ(checker.gc_violations(), 1u);
  EXPECT_NE(checker.first_gc_violation().find("still current"), std::string::npos);
  checker.collected(7, RecordId{3, 3}, 30);
  EXPECT_EQ(checker.gc_violations(), 2u);
}

TEST(DataPathChecker, CompactionThatHidesANewerWriteIsALostUpdate) {
  DataPathChecker checker;
  const RecordId compaction{9, 1};
  checker.commit(7, a, 1, Extent{0, 100}, 10);
  checker.commit(7, b, 2, Extent{0, 50}, 20);             // lands while the compactor works
  checker.commit(7, compaction, 3, Extent{0, 100}, 30, true);
  checker.compaction_source(7, compaction, 50, 50, a, false);  // right: a is the latest there
  EXPECT_EQ(checker.read_violations(), 0u) << checker.first_read_violation();
  checker.compaction_source(7, compaction, 0, 50, a, false);   // b was newer: lost
  EXPECT_EQ(checker.read_violations(), 1u);
  EXPECT_NE(checker.first_read_violation().find("lost update"), std::string::npos);
}

TEST(DataPathChecker, OldHistoryIsPrunedAndReportedUnverifiable) {
  DataPathChecker checker(100);
  checker.commit(7, a, 1, Extent{0, 10}, 0);
  checker.commit(7, b, 2, Extent{0, 10}, 1000);
  checker.commit(7, c, 3, Extent{0, 10}, 2000);  // a's entry is now older than the window
  checker.read_piece(7, 0, 10, a, false, 0, 5000);
  EXPECT_EQ(checker.read_violations(), 0u);
  EXPECT_EQ(checker.pieces_unverifiable(), 1u);
}

}  // namespace
}  // namespace pbfs
