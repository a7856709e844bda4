// The world: roles on ports, crash/restart semantics (volatile state and timers lost, start() again),
// CPU charging, clock faults, swarm faults, and determinism of whole runs.
#include "sim/world.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "protocols/echo/echo.h"
#include "sim/clock.h"
#include "sim/tables.h"
#include "sim/test_util.h"

namespace pbfs::sim {
namespace {

// Counts its starts and timer firings; sends a ping to itself after charging CPU.
class Counter final : public Role {
 public:
  Counter(Runtime& runtime, int* starts, std::vector<TimeNs>* events) : runtime_(runtime), starts_(starts), events_(events) {}
  void start() override {
    ++*starts_;
    runtime_.set_timer(kSecond, 1);
  }
  void on_timer(TimerId, uint64_t tag) override {
    events_->push_back(runtime_.trace_now_ns());
    if (tag == 1) {
      runtime_.charge_cpu(3 * kMillisecond);
      auto p = std::make_shared<echo::Ping>();
      runtime_.send(runtime_.node_id(), kPortEcho, p);
    }
  }
  void on_message(const Envelope&, const Message&) override { events_->push_back(runtime_.trace_now_ns()); }

 private:
  Runtime& runtime_;
  int* starts_;
  std::vector<TimeNs>* events_;
};

TEST(World, CpuChargeDelaysTheHandlersEffects) {
  World world(testing::small_scenario(1, 1, 1), nullptr);
  int starts = 0;
  std::vector<TimeNs> events;
  world.add_role(0, kPortEcho, [&](Runtime& rt) { return std::make_unique<Counter>(rt, &starts, &events); });
  world.kernel().run_until(2 * kSecond);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], kSecond);
  EXPECT_EQ(events[1], kSecond + 3 * kMillisecond);  // loopback send left after the CPU work
}

TEST(World, CrashDropsTimersAndRestartStartsTheRoleAgain) {
  World world(testing::small_scenario(1, 1, 1), nullptr);
  int starts = 0;
  std::vector<TimeNs> events;
  world.add_role(0, kPortEcho, [&](Runtime& rt) { return std::make_unique<Counter>(rt, &starts, &events); });
  world.kernel().at(kSecond / 2, [&] { world.crash(0); });
  world.kernel().at(3 * kSecond, [&] { world.restart(0); });
  world.kernel().run_until(5 * kSecond);
  EXPECT_EQ(starts, 2);
  ASSERT_EQ(events.size(), 2u);  // the first timer died with the crash
  EXPECT_EQ(events[0], 4 * kSecond);
}

// Sets timers and cancels some, as the test tells it; records which tags fired and when.
class TimerUser final : public Role {
 public:
  explicit TimerUser(Runtime& runtime) : runtime_(runtime) {}
  void start() override {}
  void on_timer(TimerId, uint64_t tag) override { fired.emplace_back(tag, runtime_.trace_now_ns()); }
  void on_message(const Envelope&, const Message&) override {}
  TimerId set(TimeNs delay, uint64_t tag) { return runtime_.set_timer(delay, tag); }
  void cancel(TimerId id) { runtime_.cancel_timer(id); }
  std::vector<std::pair<uint64_t, TimeNs>> fired;

 private:
  Runtime& runtime_;
};

TEST(World, ACancelledTimerNeverFiresEvenWhenItsSlotIsReused) {
  World world(testing::small_scenario(1, 1, 1), nullptr);
  TimerUser* user = nullptr;
  world.add_role(0, kPortEcho, [&](Runtime& rt) {
    auto role = std::make_unique<TimerUser>(rt);
    user = role.get();
    return role;
  });
  auto play = [&](Role&) {
    const TimerId a = user->set(kSecond, 1);
    user->cancel(a);
    const TimerId b = user->set(2 * kSecond, 2);  // takes the slot a left
    EXPECT_NE(a, b);
    user->cancel(a);  // cancelling again must not touch b
    user->cancel(0);  // nor must an id never handed out
    const TimerId c = user->set(kSecond / 2, 3);
    EXPECT_NE(c, b);
  };
  world.kernel().at(kMillisecond, [&] { world.with_role(0, kPortEcho, play); });
  world.kernel().run_until(5 * kSecond);
  ASSERT_EQ(user->fired.size(), 2u);
  EXPECT_EQ(user->fired[0], (std::pair<uint64_t, TimeNs>{3, kMillisecond + kSecond / 2}));
  EXPECT_EQ(user->fired[1], (std::pair<uint64_t, TimeNs>{2, kMillisecond + 2 * kSecond}));
}

// Two nodes for 5 s; node 1 crashes at `at_ns` and restarts 2 s later.
Scenario with_node_one_crashing(TimeNs at_ns) {
  Scenario s = testing::small_scenario(1, 1, 2);
  FaultSpec crash;
  crash.kind = FaultKind::kCrash;
  crash.nodes = {1};
  crash.at_ns = at_ns;
  crash.duration_ns = 2 * kSecond;
  s.faults.push_back(crash);
  s.duration_ns = 5 * kSecond;
  return s;
}

TEST(World, ScheduledCrashFaultRestartsAfterItsDuration) {
  World world(with_node_one_crashing(kSecond), nullptr);
  std::vector<std::pair<NodeId, bool>> transitions;
  world.observe_nodes([&](NodeId n, bool up) { transitions.emplace_back(n, up); });
  RunSummary summary = world.run();
  EXPECT_EQ(summary.faults_injected, 1u);
  EXPECT_EQ(transitions, (std::vector<std::pair<NodeId, bool>>{{1, false}, {1, true}}));
  EXPECT_TRUE(world.node_up(1));
}

// Crashed from time 0: the node is down from the start, so its role first starts when it comes up.
TEST(World, ANodeCrashedFromTimeZeroFirstBootsWhenItComesUp) {
  World world(with_node_one_crashing(0), nullptr);
  int starts = 0;
  std::vector<TimeNs> events;
  world.add_role(1, kPortEcho, [&](Runtime& rt) { return std::make_unique<Counter>(rt, &starts, &events); });
  EXPECT_FALSE(world.node_up(1));
  EXPECT_EQ(starts, 0);
  std::vector<std::pair<NodeId, bool>> transitions;
  world.observe_nodes([&](NodeId n, bool up) { transitions.emplace_back(n, up); });
  const RunSummary summary = world.run();
  EXPECT_EQ(summary.faults_injected, 1u);
  EXPECT_EQ(transitions, (std::vector<std::pair<NodeId, bool>>{{1, true}}));
  EXPECT_EQ(starts, 1);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0], 3 * kSecond);  // its first timer, a second after it came up
}

TEST(World, ClockFaultsStepAndDrift) {
  Scenario s = testing::small_scenario(1, 1, 1);
  FaultSpec step;
  step.kind = FaultKind::kClockStep;
  step.nodes = {0};
  step.at_ns = kSecond;
  step.offset_ns = 2 * kSecond;
  s.faults.push_back(step);
  FaultSpec drift;
  drift.kind = FaultKind::kClockDrift;
  drift.nodes = {0};
  drift.at_ns = 2 * kSecond;
  drift.duration_ns = kSecond;
  drift.drift_ppm = 1000;
  s.faults.push_back(drift);
  s.duration_ns = 4 * kSecond;
  World world(s, nullptr);
  world.run();
  // +2 s step, then 1 ms gained during the second of 1000 ppm drift.
  EXPECT_EQ(world.clock(0).skew_ns(4 * kSecond), 2 * kSecond + kMillisecond);
  EXPECT_EQ(world.clock(0).drift_ppm(), 0);
}

TEST(World, SwarmFaultsFollowTheSeedAndRespectTheAtlas) {
  auto faults_of = [](uint64_t seed) {
    Scenario s = testing::small_scenario(1, 2, 3, seed);
    s.duration_ns = 60 * kSecond;
    s.swarm.enabled = true;
    s.swarm.kinds = {FaultKind::kCrash, FaultKind::kIsolate, FaultKind::kDrop};
    s.swarm.concurrent_max = 1;
    World world(s, nullptr);
    std::vector<std::pair<TimeNs, TimeNs>> spans;
    world.observe_table("faults", [&](const void* row) {
      const auto* r = static_cast<const FaultRow*>(row);
      spans.emplace_back(r->time_ns, r->end_ns);
    });
    RunSummary summary = world.run();
    EXPECT_EQ(summary.faults_injected, spans.size());
    return spans;
  };
  const auto a = faults_of(11);
  const auto b = faults_of(11);
  const auto c = faults_of(12);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const bool overlap = a[i].first < a[j].second && a[j].first < a[i].second;
      EXPECT_FALSE(overlap) << "two swarm faults at once although concurrent_max is 1";
    }
  }
}

}  // namespace
}  // namespace pbfs::sim
