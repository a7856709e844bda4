// Node clocks: offset, drift and steps relative to true time; timers run at the clock's rate.
#include "sim/clock.h"

#include <gtest/gtest.h>

namespace pbfs::sim {
namespace {

TEST(NodeClock, OffsetAndDrift) {
  NodeClock c(5 * kMillisecond, 100);  // +5 ms, runs 100 ppm fast
  EXPECT_EQ(c.local_ns(0), 5 * kMillisecond);
  EXPECT_EQ(c.local_ns(10 * kSecond), 10 * kSecond + 5 * kMillisecond + kMillisecond);
  EXPECT_EQ(c.skew_ns(10 * kSecond), 6 * kMillisecond);
}

TEST(NodeClock, StepJumpsLocalTimeButNotRate) {
  NodeClock c(0, 0);
  c.step(kSecond, -300 * kMillisecond);
  EXPECT_EQ(c.local_ns(kSecond), 700 * kMillisecond);
  EXPECT_EQ(c.local_ns(2 * kSecond), 1700 * kMillisecond);
  EXPECT_EQ(c.true_duration_ns(kSecond), kSecond);
}

TEST(NodeClock, DriftChangeKeepsTimeContinuous) {
  NodeClock c(0, 0);
  c.set_drift(kSecond, -500);
  EXPECT_EQ(c.local_ns(kSecond), kSecond);
  EXPECT_EQ(c.local_ns(3 * kSecond), 3 * kSecond - kMillisecond);
}

TEST(NodeClock, FastClockTimersFireEarlierInTrueTime) {
  NodeClock fast(0, 1000);  // 0.1% fast
  const TimeNs true_ns = fast.true_duration_ns(kSecond);
  EXPECT_LT(true_ns, kSecond);
  EXPECT_GE(fast.local_ns(true_ns), kSecond);
  EXPECT_LT(fast.local_ns(true_ns - 1), kSecond);
}

}  // namespace
}  // namespace pbfs::sim
