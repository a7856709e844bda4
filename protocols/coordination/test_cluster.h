// A small simulated cluster for the coordination-service tests: a real sim::World (network, disks,
// faults) with a CoordinationServer on node 0 and whatever roles a test adds. Used only by *_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "protocols/coordination/coordination_client.h"
#include "protocols/coordination/coordination_server.h"
#include "protocols/coordination/membership.h"
#include "sim/node.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::coordination::testing {

constexpr NodeId kServerNode = 0;

inline Scenario cluster_scenario(uint32_t nodes, uint64_t seed) {
  Scenario s = sim::testing::small_scenario(1, 1, nodes, seed);
  s.duration_ns = 600 * kSecond;
  return s;
}

struct Cluster {
  explicit Cluster(uint32_t nodes, uint64_t seed = 1, const std::function<void(Scenario&)>& tweak = {})
      : world(tweaked(cluster_scenario(nodes, seed), tweak), nullptr), world_node_count(nodes) {}
  static Scenario tweaked(Scenario s, const std::function<void(Scenario&)>& tweak) {
    if (tweak) tweak(s);
    return s;
  }

  void add_server() {
    world.add_role(kServerNode, kPortCoordination,
                   [this](Runtime& rt) { return std::make_unique<CoordinationServer>(rt, server_config); });
  }
  CoordinationClientConfig client_config() const {
    CoordinationClientConfig c;
    c.server = kServerNode;
    c.session_timeout_ns = session_timeout_ns;
    return c;
  }
  // A stand-alone client role on kPortCoordinationClient that connects when it starts.
  void add_client(NodeId node) {
    world.add_role(node, kPortCoordinationClient, [this](Runtime& rt) {
      CoordinationClientConfig c = client_config();
      c.connect_at_start = true;
      return std::make_unique<CoordinationClient>(rt, c);
    });
  }
  void add_member(NodeId node, MembershipConfig config) {
    world.add_role(node, kPortCoordinationClient,
                   [config](Runtime& rt) { return std::make_unique<MembershipAgent>(rt, config); });
  }
  MembershipConfig member_config(NodeId node) const {
    MembershipConfig c;
    c.client = client_config();
    c.node_count = world_node_count;
    c.self = MemberInfo{node % 3, 0, 1.0 + node};
    return c;
  }

  CoordinationServer* server() { return static_cast<CoordinationServer*>(world.role(kServerNode, kPortCoordination)); }
  CoordinationClient* client(NodeId node) {
    return static_cast<CoordinationClient*>(world.role(node, kPortCoordinationClient));
  }
  Membership* member(NodeId node) {
    Role* r = world.role(node, kPortCoordinationClient);
    return r == nullptr ? nullptr : &static_cast<MembershipAgent*>(r)->membership();
  }

  // Runs `f` on a node's role as if it were one of its handlers now (effects start at the current time).
  template <typename T, typename F>
  void on(NodeId node, PortId port, F f) {
    sim::SimNode& n = world.node(node);
    sim::SimNode::Slot* slot = n.find(port);
    ASSERT_TRUE(slot != nullptr && slot->role != nullptr) << "no live role on node " << node;
    n.dispatch(*slot, [&](Role& role) { f(static_cast<T&>(role)); });
  }
  template <typename F>
  void with_client(NodeId node, F f) { on<CoordinationClient>(node, kPortCoordinationClient, f); }
  template <typename F>
  void with_member(NodeId node, F f) {
    on<MembershipAgent>(node, kPortCoordinationClient, [&](MembershipAgent& a) { f(a.membership()); });
  }

  void run_for(TimeNs duration_ns) { world.kernel().run_until(world.now_ns() + duration_ns); }
  // Runs in small steps until `done()` holds or `limit_ns` passes; returns whether it held.
  template <typename P>
  bool run_until(P done, TimeNs limit_ns, TimeNs step_ns = kMillisecond) {
    const TimeNs end = world.now_ns() + limit_ns;
    while (!done()) {
      if (world.now_ns() >= end) return false;
      world.kernel().run_until(std::min(end, world.now_ns() + step_ns));
    }
    return true;
  }

  sim::World world;
  CoordinationServerConfig server_config;
  TimeNs session_timeout_ns = 2 * kSecond;
  uint32_t world_node_count = 0;
};

// Schedules a fault starting now + `delay_ns`.
inline void schedule(sim::World& world, FaultKind kind, TimeNs delay_ns, TimeNs duration_ns, std::vector<NodeId> nodes,
                     std::vector<std::vector<NodeId>> groups = {}) {
  FaultSpec f;
  f.kind = kind;
  f.at_ns = world.now_ns() + delay_ns;
  f.duration_ns = duration_ns;
  f.nodes = std::move(nodes);
  f.groups = std::move(groups);
  world.schedule_fault(std::move(f));
}

}  // namespace pbfs::coordination::testing
