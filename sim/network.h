// The network model: nodes hang off rack switches, racks off their site core, site cores form a mesh
// whose shortest paths (Boost.Graph) are precomputed; each directed link serialises messages at its
// bandwidth and queues them behind earlier ones (a 1 Gb/s link saturates like one), then adds its latency.
// Faults drop, duplicate, delay and reorder messages, cut links, isolate nodes and partition groups.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocols/runtime/runtime.h"
#include "scenarios/scenario.h"
#include "sim/kernel.h"

namespace pbfs::sim {

class World;

// What happened to one message (the `fate` column of the messages table).
enum class MessageFate : uint8_t { kDelivered = 0, kLost = 1, kCut = 2, kDestinationDown = 3, kDuplicate = 4 };

// One directed link's mutable state, kept to 16 bytes: a message touches every link of its route, and at
// 10^4 nodes the per-link state is what misses the cache. The static parameters live in LinkKind.
struct LinkState {
  TimeNs busy_until_ns = 0;  // the transmitter is serialising earlier messages until then
  uint8_t kind = 0;          // index into the network's link kinds (node, rack, site link)
  bool up = true;
};

// Parameters shared by every link built from one LinkSpec, with the last serialisation time computed
// (consecutive messages mostly have the same size, and the division is on every hop).
struct LinkKind {
  TimeNs latency_ns = 0;
  double bytes_per_ns = 0;
  double loss = 0;
  uint64_t cached_bytes = UINT64_MAX;
  TimeNs cached_transmit_ns = 0;
};

// The `messages` table's rows (docs/trace-format.md); a reader finds each field by its name.
const TableSchema& message_log_schema();

// A rule a drop/duplicate/delay/reorder fault installs while it is active.
struct MessageRule {
  uint64_t id = 0;
  FaultKind kind = FaultKind::kDrop;
  std::vector<bool> applies;  // by node; empty: every node
  double rate = 1.0;
  TimeNs delay_ns = 0;
  TimeNs jitter_ns = 0;
};

// An active partition: group index per node (-1: not in any group).
struct PartitionRule {
  uint64_t id = 0;
  bool one_way = false;  // only messages from group 0 to group 1 are cut
  std::vector<int16_t> group;
};

struct NetworkCounters {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
};

class Network {
 public:
  Network(World& world, const Scenario& scenario);
  ~Network();

  uint32_t node_count() const { return node_count_; }
  uint32_t rack_of(NodeId node) const { return node_rack_[node]; }
  uint32_t site_of(NodeId node) const { return rack_site_[node_rack_[node]]; }
  uint32_t rack_count() const { return static_cast<uint32_t>(rack_site_.size()); }

  // Sends at true time `depart_ns` (>= now). Computes the arrival time along the route and schedules
  // the delivery, or drops the message.
  void send(NodeId from, PortId from_port, NodeId to, PortId port, std::shared_ptr<const Message> message,
            TimeNs depart_ns);

  // Faults.
  void set_node_isolated(NodeId node, bool isolated);
  void set_access_link_up(NodeId node, bool up);
  void set_rack_uplink_up(uint32_t rack, bool up);
  uint64_t add_rule(MessageRule rule);
  uint64_t add_partition(PartitionRule rule);
  void remove_rule(uint64_t id);  // message rule or partition

  // Time a message of `bytes` would take from `from` to `to` on an idle network (for tests and
  // deployments that want nominal latencies).
  TimeNs idle_transfer_ns(NodeId from, NodeId to, uint64_t bytes);
  const NetworkCounters& counters() const { return counters_; }
  // Per-node traffic, cumulative (for resource samples).
  struct NodeTraffic {
    uint64_t tx_bytes = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_messages = 0;
    uint64_t rx_messages = 0;
  };
  const NodeTraffic& traffic(NodeId node) const { return node_links_[node].traffic; }
  // Every message's fate as a row of the `messages` table (outputs.message_log), for traces and tests.
  void enable_message_log(bool on);

 private:
  // One node's side of the network in one cache line: its access links both ways and its traffic
  // counters, which every message to or from the node touches together.
  struct alignas(64) NodeLinks {
    LinkState up;    // node -> its rack switch
    LinkState down;  // rack switch -> node
    NodeTraffic traffic;
  };
  static_assert(sizeof(NodeLinks) == 64);
  // Links a message crosses in order: access link, rack uplink, the site-core route, rack downlink,
  // access link. Built on the stack per message; the site-core part comes from a table.
  static constexpr uint32_t kRouteLinksMax = 8;
  struct Route {
    uint32_t count = 0;
    LinkState* links[kRouteLinksMax];
  };
  // A message between send and delivery. One to a cache line: at 48 bytes, half of the records would
  // straddle two, and the delivery reads its record cold.
  struct alignas(64) InFlight {
    NodeId from;
    PortId from_port;
    NodeId to;
    PortId port;
    TimeNs sent_ns;
    uint64_t bytes;
    std::shared_ptr<const Message> message;
  };
  enum : uint8_t { kNodeLink = 0, kRackLink = 1, kSiteLink = 2 };
  static void deliver_event(void* network, uint64_t slot);
  Route route(NodeId from, NodeId to);
  TimeNs transmit_ns(LinkState& link, uint64_t bytes);
  bool cut_by_partition(NodeId from, NodeId to) const;
  void schedule_delivery(InFlight flight, TimeNs arrive_ns, bool duplicate);
  void log_message(const InFlight& f, TimeNs deliver_ns, MessageFate fate);
  void build_topology(const TopologySpec& topology);
  void build_site_routes(uint32_t sites, const LinkSpec& site_link);

  World& world_;
  Kernel& kernel_;
  Rng rng_;
  uint32_t node_count_ = 0;
  uint32_t site_count_ = 0;
  std::vector<uint32_t> node_rack_;
  std::vector<uint32_t> rack_site_;
  LinkKind kinds_[3];
  std::vector<NodeLinks> node_links_;      // by node
  std::vector<LinkState> switch_links_;    // rack r: 2r up, 2r+1 down; then the site-core links
  std::vector<uint32_t> site_route_begin_;  // (site a, site b) -> first of its links in site_route_links_
  std::vector<uint32_t> site_route_links_;  // switch_links_ indices of each site-core route, in order
  std::vector<bool> isolated_;
  std::vector<MessageRule> rules_;
  std::vector<PartitionRule> partitions_;
  uint64_t next_rule_id_ = 1;
  std::vector<InFlight> in_flight_;
  std::vector<uint64_t> free_slots_;
  NetworkCounters counters_;
  bool message_log_ = false;
  TraceTableId messages_table_ = 0;
};

}  // namespace pbfs::sim
