// The catalog's log file format: frames round-trip across chunk boundaries, a torn, rotten or unchained
// frame ends the log, and LogOffsets finds any range of the current log in a file full of rewinds.
#include "protocols/datapath/catalog_log.h"

#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>
#include <boost/random/uniform_int_distribution.hpp>

#include "protocols/datapath/catalog_test_util.h"

namespace pbfs::datapath {
namespace {

CatalogLogEntry commit_entry(uint64_t index, uint64_t epoch) {
  CatalogLogEntry e;
  e.log_index = index;
  e.epoch = epoch;
  e.op = CatalogOp::kCommit;
  e.entry.sequence = index * 3;
  e.entry.record = testing::make_record(index % 5, {epoch, index}, index * 100, 100 + index);
  if (index % 4 == 0) e.superseded = {{epoch, index - 1}};
  return e;
}

struct File {
  Bytes bytes;
  uint32_t crc = 0;
  void append(const CatalogLogEntry& e, uint64_t hint) {
    LogFrame frame = encode_log_frame(e, hint, crc);
    crc = frame.crc;
    bytes.insert(bytes.end(), frame.bytes.begin(), frame.bytes.end());
  }
};

std::vector<CatalogLogEntry> read_all(const Bytes& bytes, size_t chunk, uint64_t* max_hint = nullptr) {
  LogFrameReader reader = LogFrameReader::from_start();
  std::vector<CatalogLogEntry> out;
  size_t fed = 0;
  CatalogLogEntry e;
  uint64_t hint = 0, offset = 0;
  for (;;) {
    const LogFrameReader::Next next = reader.next(e, hint, offset);
    if (next == LogFrameReader::Next::kEntry) {
      out.push_back(e);
      if (max_hint) *max_hint = std::max(*max_hint, hint);
      continue;
    }
    if (next == LogFrameReader::Next::kBad || fed >= bytes.size()) break;
    const size_t n = std::min(chunk, bytes.size() - fed);
    reader.feed(ByteSpan(bytes.data() + fed, n));
    fed += n;
  }
  return out;
}

TEST(CatalogLog, FramesRoundTripAcrossChunkBoundaries) {
  File file;
  std::vector<CatalogLogEntry> written;
  for (uint64_t i = 1; i <= 50; ++i) {
    written.push_back(commit_entry(i, 1 + i / 20));
    file.append(written.back(), i - 1);
  }
  CatalogLogEntry collect;
  collect.log_index = 51;
  collect.epoch = 3;
  collect.op = CatalogOp::kCollect;
  collect.superseded = {{1, 2}, {3, 4}};
  written.push_back(collect);
  file.append(collect, 50);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{100}, size_t{4096}, file.bytes.size()}) {
    uint64_t hint = 0;
    const std::vector<CatalogLogEntry> back = read_all(file.bytes, chunk, &hint);
    ASSERT_EQ(back.size(), written.size()) << "chunk " << chunk;
    EXPECT_EQ(hint, 50u);
    for (size_t i = 0; i < back.size(); ++i) {
      EXPECT_EQ(back[i].log_index, written[i].log_index);
      EXPECT_EQ(back[i].epoch, written[i].epoch);
      EXPECT_EQ(back[i].op, written[i].op);
      EXPECT_EQ(back[i].superseded, written[i].superseded);
      if (written[i].op == CatalogOp::kCommit) {
        EXPECT_EQ(back[i].entry.record, written[i].entry.record);
        EXPECT_EQ(back[i].entry.sequence, written[i].entry.sequence);
      }
    }
  }
}

// Writes `middle` (log index 2, epoch 1) between two commits, reads the file back in 7-byte chunks,
// checks the frame size and that the commit after it survived, and returns what was read in its place.
CatalogLogEntry read_back_between_commits(CatalogLogEntry middle) {
  middle.log_index = 2;
  middle.epoch = 1;
  File file;
  file.append(commit_entry(1, 1), 0);
  file.append(middle, 1);
  file.append(commit_entry(3, 1), 2);
  const std::vector<CatalogLogEntry> back = read_all(file.bytes, 7);
  EXPECT_EQ(log_frame_bytes(middle), encode_log_frame(middle, 0, 0).bytes.size());
  EXPECT_EQ(back.size(), 3u);
  if (back.size() != 3) return {};
  EXPECT_EQ(back[2].entry.record, commit_entry(3, 1).entry.record);
  return back[1];
}

TEST(CatalogLog, AbandonEntriesRoundTripInFrames) {
  CatalogLogEntry abandon;
  abandon.op = CatalogOp::kAbandon;
  abandon.superseded = {{7, 1}, {7, 2}};
  abandon.file_id = 99;
  const CatalogLogEntry back = read_back_between_commits(abandon);
  EXPECT_EQ(back.op, CatalogOp::kAbandon);
  EXPECT_EQ(back.superseded, abandon.superseded);
  EXPECT_EQ(back.file_id, 99u);
}

TEST(CatalogLog, ReconfigureEntriesRoundTripInFrames) {
  CatalogLogEntry change;
  change.op = CatalogOp::kReconfigure;
  change.config_version = 2;
  change.members = {3, 7, 1};
  const CatalogLogEntry back = read_back_between_commits(change);
  EXPECT_EQ(back.op, CatalogOp::kReconfigure);
  EXPECT_EQ(back.config_version, 2u);
  EXPECT_EQ(back.members, change.members);
}

TEST(CatalogLog, TornRottenOrUnchainedFramesEndTheLog) {
  File file;
  for (uint64_t i = 1; i <= 10; ++i) file.append(commit_entry(i, 1), 0);
  const size_t frame = log_frame_bytes(commit_entry(1, 1));
  // Torn: the last frame lost its tail.
  Bytes torn(file.bytes.begin(), file.bytes.end() - 5);
  EXPECT_EQ(read_all(torn, 64).size(), 9u);
  // Rotten: one bit flipped inside frame 4's body ends the log after frame 3.
  Bytes rotten = file.bytes;
  rotten[3 * frame + kLogFrameHeaderBytes + 10] ^= 0x10;
  EXPECT_EQ(read_all(rotten, 64).size(), 3u);
  // A log that ended after frame 3 and was then rewritten with a frame of exactly the same size:
  // the old frame 5 behind it is valid on its own, but does not chain to the new frame 4.
  File rewritten;
  for (uint64_t i = 1; i <= 3; ++i) rewritten.append(commit_entry(i, 1), 0);
  rewritten.append(commit_entry(4, 2), 3);
  const size_t four_frames = 3 * frame + log_frame_bytes(commit_entry(4, 1));
  ASSERT_EQ(rewritten.bytes.size(), four_frames);
  Bytes mixed = rewritten.bytes;
  mixed.insert(mixed.end(), file.bytes.begin() + static_cast<long>(four_frames), file.bytes.end());
  const std::vector<CatalogLogEntry> back = read_all(mixed, 4096);
  ASSERT_EQ(back.size(), 4u);
  EXPECT_EQ(back[3].epoch, 2u);
}

TEST(CatalogLog, OffsetsFindEveryRangeOfTheCurrentLogDespiteRewinds) {
  boost::random::mt19937_64 rng(3);
  auto uniform = [&](uint64_t lo, uint64_t hi) { return boost::random::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
  File file;
  LogOffsets offsets;
  std::vector<CatalogLogEntry> current;  // the log as it stands: current[i] has index i + 1
  uint64_t epoch = 1;
  for (int step = 0; step < 1500; ++step) {
    if (!current.empty() && uniform(0, 60) == 0) {
      // A rewind: a new epoch replaces a suffix (sometimes a long one, across checkpoints).
      ++epoch;
      const uint64_t keep = current.size() - std::min<uint64_t>(current.size(), uniform(1, 150));
      current.resize(keep);
    }
    CatalogLogEntry e = commit_entry(current.size() + 1, epoch);
    offsets.appended(e.log_index, file.bytes.size(), log_frame_bytes(e));
    file.append(e, 0);
    current.push_back(e);
  }
  ASSERT_GT(offsets.rewinds(), 5u);
  ASSERT_EQ(offsets.last_index(), current.size());
  ASSERT_EQ(offsets.end_offset(), file.bytes.size());
  for (int probe = 0; probe < 500; ++probe) {
    const uint64_t first = uniform(1, current.size());
    const uint64_t last = std::min<uint64_t>(current.size(), first + uniform(0, 100));
    const LogOffsets::ReadPlan plan = offsets.plan(first, last);
    ASSERT_GE(plan.last, first);
    ASSERT_LE(plan.last, last);
    // Read from the planned offset to the end of the file and take the first..plan.last run.
    LogFrameReader reader = LogFrameReader::from_offset(plan.offset);
    reader.feed(ByteSpan(file.bytes.data() + plan.offset, file.bytes.size() - plan.offset));
    CatalogLogEntry e;
    uint64_t hint = 0, offset = 0;
    std::vector<CatalogLogEntry> got;
    while (reader.next(e, hint, offset) == LogFrameReader::Next::kEntry && e.log_index <= plan.last) {
      if (e.log_index < first) continue;
      if (e.log_index != first + got.size()) break;
      got.push_back(e);
    }
    ASSERT_EQ(got.size(), plan.last - first + 1) << "first " << first << " last " << last;
    for (const CatalogLogEntry& g : got) {
      ASSERT_EQ(g.epoch, current[g.log_index - 1].epoch) << "index " << g.log_index;
      ASSERT_EQ(g.entry.record.record_id, current[g.log_index - 1].entry.record.record_id);
    }
  }
}

}  // namespace
}  // namespace pbfs::datapath
