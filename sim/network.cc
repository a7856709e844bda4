// Network model implementation: topology, routes, per-link serialisation and queueing, faults.
#include "sim/network.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/random/uniform_01.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sim/world.h"

namespace pbfs::sim {

// Switch-level graph (rack switches then site cores); nodes hang off their rack switch by one link, so
// routes between nodes are the access links plus the switch route between their racks.
struct Network::Graph {
  using Adjacency = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                          boost::property<boost::edge_weight_t, int64_t>>;
  Adjacency graph;
  std::unordered_map<uint64_t, uint32_t> link_of;     // (from vertex, to vertex) -> link id
  std::vector<std::vector<uint32_t>> predecessors;   // by source rack, computed on first use
};

namespace {

uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

struct MessageLogRow {
  int64_t send_ns;
  int64_t deliver_ns;
  uint32_t from;
  uint32_t to;
  uint16_t port;
  uint16_t type;
  uint64_t bytes;
  uint8_t fate;
};

const TableSchema& message_log_schema() {
  static const TableSchema schema{
      "messages",
      "optional per-message log (outputs.message_log)",
      sizeof(MessageLogRow),
      {PBFS_FIELD(MessageLogRow, send_ns, "true time the message left the sender"),
       PBFS_FIELD(MessageLogRow, deliver_ns, "true time of delivery; -1 when dropped"),
       PBFS_FIELD(MessageLogRow, from, "sending node"), PBFS_FIELD(MessageLogRow, to, "destination node"),
       PBFS_FIELD(MessageLogRow, port, "destination port (role)"),
       PBFS_FIELD(MessageLogRow, type, "message type number"),
       PBFS_FIELD(MessageLogRow, bytes, "framed size charged to the links"),
       PBFS_FIELD(MessageLogRow, fate, "0 delivered, 1 lost, 2 cut, 3 destination down, 4 duplicate")}};
  return schema;
}

}  // namespace

Network::Network(World& world, const Scenario& scenario)
    : world_(world), kernel_(world.kernel()), rng_(derive_stream(scenario.seed, kStreamNetwork, 0)),
      graph_(std::make_unique<Graph>()) {
  build_topology(scenario.topology);
  isolated_.assign(node_count_, false);
  traffic_.resize(node_count_);
  enable_message_log(scenario.output.message_log);
}

Network::~Network() = default;

void Network::build_topology(const TopologySpec& topology) {
  uint32_t racks = 0;
  for (const SiteSpec& site : topology.sites) {
    for (uint32_t r = 0; r < site.racks; ++r) {
      for (uint32_t n = 0; n < site.nodes_per_rack; ++n) node_rack_.push_back(racks);
      rack_site_.push_back(static_cast<uint32_t>(&site - topology.sites.data()));
      ++racks;
    }
  }
  node_count_ = static_cast<uint32_t>(node_rack_.size());
  const uint32_t sites = static_cast<uint32_t>(topology.sites.size());
  graph_->graph = Graph::Adjacency(racks + sites);
  graph_->predecessors.resize(racks);
  auto add_link = [&](uint32_t from, uint32_t to, const LinkSpec& spec, bool switch_level) {
    const uint32_t id = static_cast<uint32_t>(links_.size());
    links_.push_back(LinkState{from, to, spec.latency_ns, spec.bandwidth_bytes_per_s / 1e9, spec.loss, true, 0});
    if (switch_level) {
      boost::add_edge(from, to, spec.latency_ns + 1, graph_->graph);
      graph_->link_of[pair_key(from, to)] = id;
    }
    return id;
  };
  for (NodeId n = 0; n < node_count_; ++n) {
    access_up_link_.push_back(add_link(n, node_rack_[n], topology.node_link, false));
    access_down_link_.push_back(add_link(node_rack_[n], n, topology.node_link, false));
  }
  for (uint32_t r = 0; r < racks; ++r) {
    rack_links_[0].push_back(add_link(r, racks + rack_site_[r], topology.rack_link, true));
    rack_links_[1].push_back(add_link(racks + rack_site_[r], r, topology.rack_link, true));
  }
  for (uint32_t a = 0; a < sites; ++a) {
    for (uint32_t b = 0; b < sites; ++b) {
      if (a != b) add_link(racks + a, racks + b, topology.site_link, true);
    }
  }
}

const std::vector<uint32_t>& Network::route(NodeId from, NodeId to) {
  const uint32_t ra = node_rack_[from];
  const uint32_t rb = node_rack_[to];
  scratch_route_.clear();
  scratch_route_.push_back(access_up_link_[from]);
  if (ra != rb) {
    auto cached = switch_routes_.find(pair_key(ra, rb));
    if (cached == switch_routes_.end()) {
      std::vector<uint32_t>& pred = graph_->predecessors[ra];
      if (pred.empty()) {
        pred.resize(boost::num_vertices(graph_->graph));
        boost::dijkstra_shortest_paths(graph_->graph, ra, boost::predecessor_map(pred.data()));
      }
      std::vector<uint32_t> links;
      for (uint32_t v = rb; v != ra; v = pred[v]) {
        if (pred[v] == v) {
          std::fprintf(stderr, "pbfs: no route from rack %u to rack %u\n", ra, rb);
          std::abort();
        }
        links.push_back(graph_->link_of.at(pair_key(pred[v], v)));
      }
      cached = switch_routes_.emplace(pair_key(ra, rb), std::vector<uint32_t>(links.rbegin(), links.rend())).first;
    }
    scratch_route_.insert(scratch_route_.end(), cached->second.begin(), cached->second.end());
  }
  scratch_route_.push_back(access_down_link_[to]);
  return scratch_route_;
}

bool Network::cut_by_partition(NodeId from, NodeId to) const {
  for (const PartitionRule& p : partitions_) {
    const int16_t gf = p.group[from];
    const int16_t gt = p.group[to];
    if (gf < 0 || gt < 0 || gf == gt) continue;
    if (!p.one_way || (gf == 0 && gt == 1)) return true;
  }
  return false;
}

void Network::send(NodeId from, PortId from_port, NodeId to, PortId port, std::shared_ptr<const Message> message,
                   TimeNs depart_ns) {
  if (to >= node_count_) {
    std::fprintf(stderr, "pbfs: send to node %u of %u (seed %llu)\n", to, node_count_,
                 static_cast<unsigned long long>(kernel_.seed()));
    std::abort();
  }
  ++counters_.sent;
  const uint64_t bytes = frame_size(*message);
  traffic_[from].tx_bytes += bytes;
  ++traffic_[from].tx_messages;
  InFlight flight{from, from_port, to, port, depart_ns, bytes, std::move(message)};
  if (from == to) {  // loopback: no link involved
    schedule_delivery(std::move(flight), depart_ns, false);
    return;
  }
  if (isolated_[from] || isolated_[to] || cut_by_partition(from, to)) {
    ++counters_.dropped;
    log_message(flight, -1, MessageFate::kCut);
    return;
  }
  boost::random::uniform_01<double> uniform;
  TimeNs t = depart_ns;
  for (uint32_t id : route(from, to)) {
    LinkState& link = links_[id];
    if (!link.up) {
      ++counters_.dropped;
      log_message(flight, -1, MessageFate::kCut);
      return;
    }
    const TimeNs start = t > link.busy_until_ns ? t : link.busy_until_ns;
    const TimeNs transmit = static_cast<TimeNs>(std::ceil(static_cast<double>(bytes) / link.bytes_per_ns));
    link.busy_until_ns = start + transmit;
    t = start + transmit + link.latency_ns;
    if (link.loss > 0 && uniform(rng_) < link.loss) {
      ++counters_.dropped;
      log_message(flight, -1, MessageFate::kLost);
      return;
    }
  }
  bool duplicate = false;
  for (const MessageRule& rule : rules_) {
    if (!rule.applies.empty() && !rule.applies[from] && !rule.applies[to]) continue;
    if (rule.rate < 1.0 && uniform(rng_) >= rule.rate) continue;
    switch (rule.kind) {
      case FaultKind::kDrop:
        ++counters_.dropped;
        log_message(flight, -1, MessageFate::kLost);
        return;
      case FaultKind::kDuplicate: duplicate = true; break;
      case FaultKind::kDelay:
        t += rule.delay_ns;
        if (rule.jitter_ns > 0) t += boost::random::uniform_int_distribution<TimeNs>(0, rule.jitter_ns)(rng_);
        break;
      case FaultKind::kReorder:
        t += boost::random::uniform_int_distribution<TimeNs>(0, rule.jitter_ns)(rng_);
        break;
      default: break;
    }
  }
  if (duplicate) {
    ++counters_.duplicated;
    schedule_delivery(InFlight(flight), t + 1, true);
  }
  schedule_delivery(std::move(flight), t, false);
}

void Network::schedule_delivery(InFlight flight, TimeNs arrive_ns, bool duplicate) {
  uint64_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    in_flight_[slot] = std::move(flight);
  } else {
    slot = in_flight_.size();
    in_flight_.push_back(std::move(flight));
  }
  if (duplicate) slot |= 1ull << 63;
  kernel_.at(arrive_ns, &Network::deliver_event, this, slot);
}

void Network::deliver_event(void* network, uint64_t slot_and_flag) {
  auto* self = static_cast<Network*>(network);
  const bool duplicate = (slot_and_flag >> 63) != 0;
  const uint64_t slot = slot_and_flag & ~(1ull << 63);
  InFlight flight = std::move(self->in_flight_[slot]);
  self->free_slots_.push_back(slot);
  if (!self->world_.node_up(flight.to)) {
    ++self->counters_.dropped;
    self->log_message(flight, -1, MessageFate::kDestinationDown);
    return;
  }
  ++self->counters_.delivered;
  self->traffic_[flight.to].rx_bytes += flight.bytes;
  ++self->traffic_[flight.to].rx_messages;
  self->log_message(flight, self->kernel_.now_ns(), duplicate ? MessageFate::kDuplicate : MessageFate::kDelivered);
  self->world_.deliver(flight.to, flight.port, Envelope{flight.from, flight.from_port}, flight.message);
}

void Network::log_message(const InFlight& f, TimeNs deliver_ns, MessageFate fate) {
  if (!message_log_) return;
  MessageLogRow row{f.sent_ns, deliver_ns, f.from, f.to, f.port, f.message->type(), f.bytes,
                    static_cast<uint8_t>(fate)};
  world_.trace(messages_table_, &row);
}

void Network::enable_message_log(bool on) {
  message_log_ = on;
  if (on) messages_table_ = world_.trace_table(message_log_schema());
}

void Network::set_node_isolated(NodeId node, bool isolated) { isolated_[node] = isolated; }
void Network::set_access_link_up(NodeId node, bool up) {
  links_[access_up_link_[node]].up = up;
  links_[access_down_link_[node]].up = up;
}
void Network::set_rack_uplink_up(uint32_t rack, bool up) {
  links_[rack_links_[0][rack]].up = up;
  links_[rack_links_[1][rack]].up = up;
}

uint64_t Network::add_rule(MessageRule rule) {
  rule.id = next_rule_id_++;
  rules_.push_back(std::move(rule));
  return rules_.back().id;
}

uint64_t Network::add_partition(PartitionRule rule) {
  rule.id = next_rule_id_++;
  partitions_.push_back(std::move(rule));
  return partitions_.back().id;
}

void Network::remove_rule(uint64_t id) {
  std::erase_if(rules_, [id](const MessageRule& r) { return r.id == id; });
  std::erase_if(partitions_, [id](const PartitionRule& p) { return p.id == id; });
}

TimeNs Network::idle_transfer_ns(NodeId from, NodeId to, uint64_t bytes) {
  if (from == to) return 0;
  TimeNs t = 0;
  for (uint32_t id : route(from, to)) {
    const LinkState& link = links_[id];
    t += static_cast<TimeNs>(std::ceil(static_cast<double>(bytes) / link.bytes_per_ns)) + link.latency_ns;
  }
  return t;
}

}  // namespace pbfs::sim
