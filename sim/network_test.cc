// Network model: delivery times follow the per-link serialisation/queueing arithmetic, and each network
// fault (loss, drop, duplicate, delay, reorder, partitions, link down, isolation) has its effect.
#include "sim/network.h"

#include <gtest/gtest.h>

#include <cmath>

#include "protocols/echo/echo.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::sim {
namespace {

struct Arrival {
  TimeNs time_ns;
  NodeId from;
  uint64_t sequence;
};

// Records every ping it receives.
class Probe final : public Role {
 public:
  Probe(Runtime& runtime, std::vector<Arrival>* log) : runtime_(runtime), log_(log) {}
  void on_message(const Envelope& from, const Message& m) override {
    log_->push_back(Arrival{runtime_.trace_now_ns(), from.from, static_cast<const echo::Ping&>(m).sequence});
  }

 private:
  Runtime& runtime_;
  std::vector<Arrival>* log_;
};

std::shared_ptr<const Message> ping(uint64_t sequence, uint64_t bytes) {
  auto p = std::make_shared<echo::Ping>();
  p->sequence = sequence;
  p->payload = Payload::synthetic(bytes);
  return p;
}

class NetworkTest : public ::testing::Test {
 protected:
  // 2 sites x 2 racks x 2 nodes: nodes 0,1 rack 0; 2,3 rack 1 (site 0); 4..7 site 1.
  void make(Scenario s) {
    world_ = std::make_unique<World>(s, nullptr);
    logs_.resize(world_->node_count());
    for (NodeId n = 0; n < world_->node_count(); ++n) {
      world_->add_role(n, kPortEcho, [this, n](Runtime& rt) { return std::make_unique<Probe>(rt, &logs_[n]); });
    }
  }
  void make() { make(testing::small_scenario(2, 2, 2)); }
  void send(NodeId from, NodeId to, uint64_t seq, uint64_t bytes, TimeNs at = 0) {
    world_->network().send(from, kPortEcho, to, kPortEcho, ping(seq, bytes), at);
  }
  TimeNs tx_ns(uint64_t frame_bytes, double bits_per_s) {
    return static_cast<TimeNs>(std::ceil(static_cast<double>(frame_bytes) / (bits_per_s / 8 / 1e9)));
  }
  uint64_t frame(uint64_t payload) { return frame_size(*ping(0, payload)); }

  std::unique_ptr<World> world_;
  std::vector<std::vector<Arrival>> logs_;
};

TEST_F(NetworkTest, SameRackDeliveryIsTwoHopsOfSerialisationPlusLatency) {
  make();
  send(0, 1, 0, 1000);
  world_->kernel().run_until(kSecond);
  ASSERT_EQ(logs_[1].size(), 1u);
  const TimeNs hop = tx_ns(frame(1000), 10e9) + 5 * kMicrosecond;
  EXPECT_EQ(logs_[1][0].time_ns, 2 * hop);
}

TEST_F(NetworkTest, CrossSiteRouteTakesEveryLinkOnTheShortestPath) {
  make();
  send(0, 5, 0, 1000);
  world_->kernel().run_until(kSecond);
  ASSERT_EQ(logs_[5].size(), 1u);
  const uint64_t f = frame(1000);
  const TimeNs expected = 2 * (tx_ns(f, 10e9) + 5 * kMicrosecond) + 2 * (tx_ns(f, 40e9) + 10 * kMicrosecond) +
                          tx_ns(f, 1e9) + 20 * kMillisecond;
  EXPECT_EQ(logs_[5][0].time_ns, expected);
  EXPECT_EQ(world_->network().idle_transfer_ns(0, 5, f), expected);
}

TEST_F(NetworkTest, EverySitePairIsOneCoreHopApart) {
  make(testing::small_scenario(3, 2, 2));  // sites of 4 nodes: 0-3, 4-7, 8-11
  const uint64_t f = frame(1000);
  const TimeNs cross_site = 2 * (tx_ns(f, 10e9) + 5 * kMicrosecond) + 2 * (tx_ns(f, 40e9) + 10 * kMicrosecond) +
                            tx_ns(f, 1e9) + 20 * kMillisecond;
  const TimeNs same_site = 2 * (tx_ns(f, 10e9) + 5 * kMicrosecond) + 2 * (tx_ns(f, 40e9) + 10 * kMicrosecond);
  for (NodeId from : {0u, 5u, 10u}) {
    for (NodeId to : {1u, 3u, 6u, 11u}) {
      if (from == to) continue;
      const bool rack = from / 2 == to / 2;
      const TimeNs expected = rack ? 2 * (tx_ns(f, 10e9) + 5 * kMicrosecond) : from / 4 == to / 4 ? same_site : cross_site;
      EXPECT_EQ(world_->network().idle_transfer_ns(from, to, f), expected) << from << " -> " << to;
    }
  }
  send(10, 1, 0, 1000);
  world_->kernel().run_until(kSecond);
  ASSERT_EQ(logs_[1].size(), 1u);
  EXPECT_EQ(logs_[1][0].time_ns, cross_site);
}

TEST_F(NetworkTest, MessagesOfDifferentSizesEachPayTheirOwnSerialisation) {
  make();
  send(0, 1, 0, 100);
  send(2, 3, 1, 10000);
  send(4, 5, 2, 100);
  world_->kernel().run_until(kSecond);
  ASSERT_EQ(logs_[1].size(), 1u);
  ASSERT_EQ(logs_[3].size(), 1u);
  ASSERT_EQ(logs_[5].size(), 1u);
  EXPECT_EQ(logs_[1][0].time_ns, 2 * (tx_ns(frame(100), 10e9) + 5 * kMicrosecond));
  EXPECT_EQ(logs_[3][0].time_ns, 2 * (tx_ns(frame(10000), 10e9) + 5 * kMicrosecond));
  EXPECT_EQ(logs_[5][0].time_ns, 2 * (tx_ns(frame(100), 10e9) + 5 * kMicrosecond));
}

TEST_F(NetworkTest, BackToBackMessagesQueueBehindEachOther) {
  make();
  const int count = 10;
  for (int i = 0; i < count; ++i) send(0, 1, i, 10000);
  world_->kernel().run_until(kSecond);
  ASSERT_EQ(logs_[1].size(), static_cast<size_t>(count));
  const TimeNs tx = tx_ns(frame(10000), 10e9);
  for (int i = 0; i < count; ++i) {
    // The first link serialises them one after another; the second forwards each as it arrives.
    EXPECT_EQ(logs_[1][i].time_ns, (i + 1) * tx + 5 * kMicrosecond + tx + 5 * kMicrosecond);
    EXPECT_EQ(logs_[1][i].sequence, static_cast<uint64_t>(i));
  }
}

TEST_F(NetworkTest, AOneGigabitLinkSaturatesAtOneGigabit) {
  make();
  const int count = 1000;
  const uint64_t payload = 125000 - frame(0);  // 1 ms at 1 Gb/s per frame
  for (int i = 0; i < count; ++i) send(0, 4, i, payload);
  world_->kernel().run_until(10 * kSecond);
  ASSERT_EQ(logs_[4].size(), static_cast<size_t>(count));
  const TimeNs span = logs_[4].back().time_ns - logs_[4].front().time_ns;
  EXPECT_EQ(span, (count - 1) * kMillisecond);
}

TEST_F(NetworkTest, LinkLossDropsAboutThatFraction) {
  Scenario s = testing::small_scenario(1, 1, 2);
  s.topology.node_link.loss = 0.1;
  make(s);
  for (int i = 0; i < 2000; ++i) send(0, 1, i, 100, i * kMicrosecond);
  world_->kernel().run_until(kSecond);
  // Two lossy hops: delivery probability 0.81.
  EXPECT_NEAR(static_cast<double>(logs_[1].size()) / 2000, 0.81, 0.04);
  EXPECT_EQ(world_->network().counters().dropped, 2000 - logs_[1].size());
}

TEST_F(NetworkTest, DropDuplicateDelayAndReorderFaults) {
  make();
  FaultSpec drop;
  drop.kind = FaultKind::kDrop;
  drop.nodes = {2};
  drop.rate = 1.0;
  world_->schedule_fault(drop);
  FaultSpec dup;
  dup.kind = FaultKind::kDuplicate;
  dup.nodes = {3};
  world_->schedule_fault(dup);
  FaultSpec delay;
  delay.kind = FaultKind::kDelay;
  delay.nodes = {6};
  delay.delay_ns = 7 * kMillisecond;
  world_->schedule_fault(delay);
  FaultSpec reorder;
  reorder.kind = FaultKind::kReorder;
  reorder.nodes = {7};
  reorder.jitter_ns = 10 * kMillisecond;
  world_->schedule_fault(reorder);
  world_->kernel().run_until(1);  // faults begin at time 0
  for (int i = 0; i < 50; ++i) {
    send(0, 2, i, 100, 10 + i * kMicrosecond);
    send(0, 3, i, 100, 10 + i * kMicrosecond);
    send(0, 1, i, 100, 10 + i * kMicrosecond);
    send(4, 6, i, 100, 10 + i * kMicrosecond);
    send(4, 7, i, 100, 10 + i * kMicrosecond);
  }
  world_->kernel().run_until(kSecond);
  EXPECT_TRUE(logs_[2].empty());
  EXPECT_EQ(logs_[3].size(), 100u);
  ASSERT_EQ(logs_[6].size(), 50u);
  EXPECT_EQ(logs_[6][0].time_ns, 10 + world_->network().idle_transfer_ns(4, 6, frame(100)) + 7 * kMillisecond);
  ASSERT_EQ(logs_[7].size(), 50u);
  int inversions = 0;
  for (size_t i = 1; i < logs_[7].size(); ++i) inversions += logs_[7][i].sequence < logs_[7][i - 1].sequence;
  EXPECT_GT(inversions, 5);
}

TEST_F(NetworkTest, SymmetricPartitionCutsBothWaysUntilItHeals) {
  make();
  FaultSpec p;
  p.kind = FaultKind::kPartition;
  p.groups = {{0, 1}, {2, 3}};
  p.at_ns = 0;
  p.duration_ns = kSecond;
  world_->schedule_fault(p);
  world_->kernel().run_until(1);
  send(0, 2, 1, 100, 10);
  send(2, 0, 2, 100, 10);
  send(0, 1, 3, 100, 10);  // same side
  send(0, 5, 4, 100, 10);  // node 5 is in no group
  world_->kernel().run_until(2 * kSecond);
  EXPECT_TRUE(logs_[2].empty());
  EXPECT_TRUE(logs_[0].empty());
  EXPECT_EQ(logs_[1].size(), 1u);
  EXPECT_EQ(logs_[5].size(), 1u);
  send(0, 2, 5, 100, 2 * kSecond);
  world_->kernel().run_until(3 * kSecond);
  EXPECT_EQ(logs_[2].size(), 1u);
}

TEST_F(NetworkTest, OneWayPartitionCutsOnlyOneDirection) {
  make();
  FaultSpec p;
  p.kind = FaultKind::kPartitionOneWay;
  p.groups = {{0}, {2}};
  world_->schedule_fault(p);
  world_->kernel().run_until(1);
  send(0, 2, 1, 100, 10);
  send(2, 0, 2, 100, 10);
  world_->kernel().run_until(kSecond);
  EXPECT_TRUE(logs_[2].empty());
  EXPECT_EQ(logs_[0].size(), 1u);
}

TEST_F(NetworkTest, LinkDownAndIsolationCutTheNode) {
  make();
  FaultSpec down;
  down.kind = FaultKind::kLinkDown;
  down.nodes = {1};
  down.duration_ns = kSecond;
  world_->schedule_fault(down);
  FaultSpec isolate;
  isolate.kind = FaultKind::kIsolate;
  isolate.nodes = {3};
  world_->schedule_fault(isolate);
  FaultSpec uplink;
  uplink.kind = FaultKind::kLinkDown;
  uplink.rack = 2;  // nodes 4 and 5
  world_->schedule_fault(uplink);
  world_->kernel().run_until(1);
  send(0, 1, 1, 100, 10);
  send(0, 3, 1, 100, 10);
  send(0, 4, 1, 100, 10);
  send(4, 5, 1, 100, 10);  // inside the rack: the uplink is not on the route
  world_->kernel().run_until(kSecond / 2);
  EXPECT_TRUE(logs_[1].empty());
  EXPECT_TRUE(logs_[3].empty());
  EXPECT_TRUE(logs_[4].empty());
  EXPECT_EQ(logs_[5].size(), 1u);
  world_->kernel().run_until(kSecond + 1);
  send(0, 1, 2, 100, kSecond + 1);
  world_->kernel().run_until(2 * kSecond);
  EXPECT_EQ(logs_[1].size(), 1u);
}

TEST_F(NetworkTest, MessagesToACrashedNodeAreDropped) {
  make();
  world_->crash(1);
  send(0, 1, 1, 100, 0);
  world_->kernel().run_until(kSecond);
  EXPECT_TRUE(logs_[1].empty());
  EXPECT_EQ(world_->network().counters().dropped, 1u);
}

}  // namespace
}  // namespace pbfs::sim
