// Disk model: service-time arithmetic, write cache and sync, and each disk fault's effect (crash loses
// unsynced data, torn writes, bit rot, full, slow, failed).
#include "sim/disk.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "sim/test_util.h"

namespace pbfs::sim {
namespace {

class DiskTest : public ::testing::Test {
 protected:
  DiskTest() : kernel_(1), profile_(testing::small_scenario(1, 1, 1).disk_profiles["ssd"]) {}
  Disk& make() {
    disk_ = std::make_unique<Disk>(kernel_, profile_, 0);
    return *disk_;
  }
  Disk::Callback keep() {
    return [this](DiskCompletion c) {
      times_.push_back(kernel_.now_ns());
      done_.push_back(std::move(c));
    };
  }
  Payload bytes(size_t n, uint8_t v) { return Payload::real(Bytes(n, v)); }
  // A group commit's shape: a log append and its sync, then a manifest append and its sync.
  std::vector<DiskStep> log_then_manifest(size_t log_bytes, size_t manifest_bytes) {
    std::vector<DiskStep> steps;
    steps.push_back(DiskStep::write("log", 0, bytes(log_bytes, 7)));
    steps.push_back(DiskStep::sync("log"));
    steps.push_back(DiskStep::write("manifest", 0, bytes(manifest_bytes, 9)));
    steps.push_back(DiskStep::sync("manifest"));
    return steps;
  }

  Kernel kernel_;
  DiskProfile profile_;
  std::unique_ptr<Disk> disk_;
  std::vector<DiskCompletion> done_;
  std::vector<TimeNs> times_;
};

TEST(BlockBytes, WritesAndReadsAcrossBlocksLikeAFlatBuffer) {
  // Against a plain vector: appends of odd sizes, overwrites and a write past the end (zero gap), all
  // crossing 16 KiB block boundaries; then a shrink and a regrowth that must read zeros.
  BlockBytes blocks;
  Bytes flat;
  uint8_t next = 1;
  auto put = [&](uint64_t offset, uint64_t n) {
    Bytes data(n);
    for (uint8_t& b : data) b = next++;
    blocks.write(offset, data.data(), n);
    if (flat.size() < offset + n) flat.resize(offset + n, 0);
    std::copy(data.begin(), data.end(), flat.begin() + static_cast<std::ptrdiff_t>(offset));
  };
  for (uint64_t n : {56, 16000, 700, 33000, 1, 56}) put(flat.size(), n);
  put(16380, 10);       // an overwrite straddling the first boundary
  put(70000, 5000);     // past the end: a zero gap before it
  put(32760, 40000);    // an overwrite spanning three blocks
  ASSERT_EQ(blocks.size(), flat.size());
  EXPECT_EQ(blocks.bytes(), flat);
  EXPECT_EQ(blocks.read(16370, 30), Bytes(flat.begin() + 16370, flat.begin() + 16400));
  EXPECT_EQ(blocks[70001], flat[70001]);
  blocks.resize(20000);
  flat.resize(20000);
  blocks.resize(40000);
  flat.resize(40000, 0);
  EXPECT_EQ(blocks.bytes(), flat) << "bytes cut off by a shrink came back";
}

TEST_F(DiskTest, OperationsQueueFifoWithLatencyAndBandwidth) {
  Disk& d = make();
  d.write(0, "f", 0, bytes(1 << 20, 1), 1, keep());
  d.sync(0, "f", 2, keep());
  d.read(0, "f", 0, 1 << 20, 3, keep());
  kernel_.run_until(kSecond);
  ASSERT_EQ(done_.size(), 3u);
  const TimeNs write = profile_.write_latency_ns;
  const TimeNs sync = profile_.sync_latency_ns + static_cast<TimeNs>((1 << 20) * 1e9 / profile_.write_bandwidth_bytes_per_s);
  const TimeNs read = profile_.read_latency_ns + static_cast<TimeNs>((1 << 20) * 1e9 / profile_.read_bandwidth_bytes_per_s);
  EXPECT_EQ(times_[0], write);
  EXPECT_EQ(times_[1], write + sync);
  EXPECT_EQ(times_[2], write + sync + read);
  EXPECT_TRUE(done_[2].status.is_ok());
  EXPECT_EQ(*done_[2].data.bytes, Bytes(1 << 20, 1));
}

TEST_F(DiskTest, CrashLosesUnsyncedWritesButKeepsSyncedOnes) {
  Disk& d = make();
  d.write(0, "a", 0, bytes(100, 1), 0, keep());
  d.sync(0, "a", 0, keep());
  d.write(0, "a", 50, bytes(100, 2), 0, keep());  // acknowledged, never synced
  d.write(0, "b", 0, bytes(10, 3), 0, keep());
  kernel_.run_until(kSecond);
  d.read(kSecond, "a", 0, 200, 0, keep());
  kernel_.run_until(2 * kSecond);
  EXPECT_EQ(done_.back().data.size, 150u);  // the cache serves the newer bytes before the crash
  d.crash();
  d.read(2 * kSecond, "a", 0, 200, 0, keep());
  d.read(2 * kSecond, "b", 0, 10, 0, keep());
  kernel_.run_until(3 * kSecond);
  ASSERT_EQ(done_.size(), 7u);
  EXPECT_EQ(*done_[5].data.bytes, Bytes(100, 1));
  EXPECT_EQ(done_[6].status.code(), StatusCode::kNotFound);
}

TEST_F(DiskTest, OperationsInFlightAtACrashNeverComplete) {
  Disk& d = make();
  d.write(0, "a", 0, bytes(100, 1), 0, keep());
  d.read(0, "a", 0, 100, 0, keep());  // queued behind the write
  d.crash();
  kernel_.run_until(kSecond);
  EXPECT_TRUE(done_.empty());
  d.read(kSecond, "a", 0, 100, 0, keep());  // after the crash the disk answers again
  kernel_.run_until(2 * kSecond);
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].status.code(), StatusCode::kNotFound);
}

TEST_F(DiskTest, TornWriteKeepsASectorAlignedPrefix) {
  profile_.torn_write_probability = 1.0;
  Disk& d = make();
  int torn = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const std::string f = "t" + std::to_string(trial);
    d.write(kernel_.now_ns(), f, 0, bytes(8 * 512, 9), 0, keep());
    kernel_.run_until(kernel_.now_ns() + kMillisecond);
    d.crash();
    const Disk::File* file = d.durable_file(f);
    if (file != nullptr) {
      ++torn;
      EXPECT_EQ(file->size % 512, 0u);
      EXPECT_LT(file->size, 8u * 512);
      EXPECT_EQ(file->bytes(), Bytes(file->size, 9));
    }
  }
  EXPECT_GT(torn, 10);
}

TEST_F(DiskTest, BitRotFlipsStoredBitsThatReadsReturn) {
  Disk& d = make();
  d.write(0, "a", 0, bytes(4096, 0), 0, keep());
  d.sync(0, "a", 0, keep());
  kernel_.run_until(kSecond);
  EXPECT_EQ(d.rot_bits(3), 3u);
  d.read(kSecond, "a", 0, 4096, 0, keep());
  kernel_.run_until(2 * kSecond);
  int ones = 0;
  for (uint8_t b : *done_.back().data.bytes) ones += __builtin_popcount(b);
  EXPECT_GE(ones, 1);
  EXPECT_LE(ones, 3);
}

TEST_F(DiskTest, BitRotInSyntheticDataIsReportedOnRead) {
  Disk& d = make();
  d.write(0, "a", 0, Payload::synthetic(4096), 0, keep());
  d.sync(0, "a", 0, keep());
  kernel_.run_until(kSecond);
  d.rot_bits(2);
  d.read(kSecond, "a", 0, 4096, 0, keep());
  kernel_.run_until(2 * kSecond);
  EXPECT_FALSE(done_.back().data.is_real());
  EXPECT_EQ(done_.back().data.rot_flips, 2u);
}

TEST_F(DiskTest, FullDiskAnswersNoSpace) {
  profile_.capacity_bytes = 1000;
  Disk& d = make();
  d.write(0, "a", 0, bytes(800, 1), 0, keep());
  d.write(0, "b", 0, bytes(800, 1), 0, keep());
  d.set_full(false);
  kernel_.run_until(kSecond);
  EXPECT_TRUE(done_[0].status.is_ok());
  EXPECT_EQ(done_[1].status.code(), StatusCode::kNoSpace);
  d.set_full(true);
  d.write(kSecond, "c", 0, bytes(1, 1), 0, keep());
  kernel_.run_until(2 * kSecond);
  EXPECT_EQ(done_[2].status.code(), StatusCode::kNoSpace);
}

TEST_F(DiskTest, SlowDiskMultipliesServiceTime) {
  Disk& d = make();
  d.set_slow_factor(10);
  d.read(0, "missing", 0, 0, 0, keep());
  kernel_.run_until(kSecond);
  EXPECT_EQ(times_[0], 10 * profile_.read_latency_ns);
}

TEST_F(DiskTest, FailedDiskErrorsEveryOperationAndLosesContent) {
  Disk& d = make();
  d.write(0, "a", 0, bytes(10, 1), 0, keep());
  d.sync(0, "a", 0, keep());
  kernel_.run_until(kSecond);
  d.fail();
  d.read(kSecond, "a", 0, 10, 0, keep());
  d.write(kSecond, "a", 0, bytes(10, 1), 0, keep());
  kernel_.run_until(2 * kSecond);
  EXPECT_EQ(done_[2].status.code(), StatusCode::kIoError);
  EXPECT_EQ(done_[3].status.code(), StatusCode::kIoError);
  d.replace();
  d.read(2 * kSecond, "a", 0, 10, 0, keep());
  kernel_.run_until(3 * kSecond);
  EXPECT_EQ(done_[4].status.code(), StatusCode::kNotFound);
}

TEST_F(DiskTest, ChainTakesItsStepsTimeAndCompletesOnceAtTheEnd) {
  Disk& d = make();
  d.chain(0, log_then_manifest(4096, 56), 42, keep());
  d.read(0, "manifest", 0, 56, 43, keep());  // queued behind the chain: sees all of it
  kernel_.run_until(kSecond);
  ASSERT_EQ(done_.size(), 2u);
  const TimeNs write = profile_.write_latency_ns;
  const TimeNs sync4k = profile_.sync_latency_ns + static_cast<TimeNs>(4096 * 1e9 / profile_.write_bandwidth_bytes_per_s);
  const TimeNs sync56 = profile_.sync_latency_ns + static_cast<TimeNs>(56 * 1e9 / profile_.write_bandwidth_bytes_per_s);
  EXPECT_EQ(times_[0], write + sync4k + write + sync56) << "each step takes what it would take alone";
  EXPECT_TRUE(done_[0].status.is_ok());
  EXPECT_EQ(done_[0].tag, 42u);
  EXPECT_EQ(done_[0].kind, DiskOpKind::kSync);
  EXPECT_EQ(done_[0].file, "manifest");
  EXPECT_EQ(*done_[1].data.bytes, Bytes(56, 9));
  ASSERT_NE(d.durable_file("log"), nullptr);
  EXPECT_EQ(d.durable_file("log")->bytes(), Bytes(4096, 7));
  ASSERT_NE(d.durable_file("manifest"), nullptr);
  EXPECT_EQ(d.durable_file("manifest")->bytes(), Bytes(56, 9));
}

TEST_F(DiskTest, ChainStopsAtTheFirstFailedStep) {
  profile_.capacity_bytes = 1000;
  Disk& d = make();
  std::vector<DiskStep> steps;
  steps.push_back(DiskStep::write("a", 0, bytes(600, 1)));
  steps.push_back(DiskStep::write("b", 0, bytes(600, 2)));  // does not fit
  steps.push_back(DiskStep::sync("a"));
  d.chain(0, std::move(steps), 0, keep());
  kernel_.run_until(kSecond);
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].status.code(), StatusCode::kNoSpace);
  EXPECT_EQ(done_[0].kind, DiskOpKind::kWrite);
  EXPECT_EQ(done_[0].file, "b");
  EXPECT_EQ(times_[0], 2 * profile_.write_latency_ns) << "completes when the failed step does";
  EXPECT_EQ(d.durable_file("a"), nullptr) << "the sync after the failure never ran";
}

TEST_F(DiskTest, CrashPartWayThroughAChainKeepsTheFinishedSteps) {
  // A crash after the first write and sync finished but before the second write's sync: the first file
  // is durable, the second write was in the cache only and is lost, and the chain never completes.
  Disk& d = make();
  d.chain(0, log_then_manifest(512, 512), 0, keep());
  const TimeNs sync = profile_.sync_latency_ns + static_cast<TimeNs>(512 * 1e9 / profile_.write_bandwidth_bytes_per_s);
  kernel_.run_until(2 * profile_.write_latency_ns + sync);  // the second write has just finished
  d.crash();
  kernel_.run_until(kSecond);
  EXPECT_TRUE(done_.empty());
  ASSERT_NE(d.durable_file("log"), nullptr) << "a finished sync is durable even though the chain was cut";
  EXPECT_EQ(d.durable_file("log")->bytes(), Bytes(512, 7));
  EXPECT_EQ(d.durable_file("manifest"), nullptr);
}

}  // namespace
}  // namespace pbfs::sim
