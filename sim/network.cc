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

namespace {

LinkKind kind_of(const LinkSpec& spec) { return LinkKind{spec.latency_ns, spec.bandwidth_bytes_per_s / 1e9, spec.loss}; }

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

}  // namespace

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

Network::Network(World& world, const Scenario& scenario)
    : world_(world), kernel_(world.kernel()), rng_(derive_stream(scenario.seed, kStreamNetwork, 0)),
      kinds_{kind_of(scenario.topology.node_link), kind_of(scenario.topology.rack_link),
             kind_of(scenario.topology.site_link)} {
  build_topology(scenario.topology);
  isolated_.assign(node_count_, false);
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
  site_count_ = static_cast<uint32_t>(topology.sites.size());
  node_links_.resize(node_count_);
  for (NodeLinks& n : node_links_) n.up.kind = n.down.kind = kNodeLink;
  switch_links_.assign(2 * static_cast<size_t>(racks), LinkState{0, kRackLink, true});
  build_site_routes(site_count_, topology.site_link);
}

// Racks are leaves of their site core, so the only choice of path is between site cores: a Dijkstra per
// source site over the core mesh, done once here so that a send only reads a table.
void Network::build_site_routes(uint32_t sites, const LinkSpec& site_link) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                      boost::property<boost::edge_weight_t, int64_t>>;
  Graph graph(sites);
  std::vector<uint32_t> link_of(static_cast<size_t>(sites) * sites, UINT32_MAX);  // (a, b) -> link id
  for (uint32_t a = 0; a < sites; ++a) {
    for (uint32_t b = 0; b < sites; ++b) {
      if (a == b) continue;
      link_of[a * sites + b] = static_cast<uint32_t>(switch_links_.size());
      switch_links_.push_back(LinkState{0, kSiteLink, true});
      boost::add_edge(a, b, site_link.latency_ns + 1, graph);
    }
  }
  site_route_begin_.assign(1, 0);
  std::vector<uint32_t> pred(sites);
  std::vector<uint32_t> reversed;
  for (uint32_t a = 0; a < sites; ++a) {
    boost::dijkstra_shortest_paths(graph, a, boost::predecessor_map(pred.data()));
    for (uint32_t b = 0; b < sites; ++b) {
      reversed.clear();
      for (uint32_t v = b; v != a; v = pred[v]) {
        if (pred[v] == v) {
          std::fprintf(stderr, "pbfs: no route from site %u to site %u\n", a, b);
          std::abort();
        }
        reversed.push_back(link_of[pred[v] * sites + v]);
      }
      if (reversed.size() + 4 > kRouteLinksMax) {
        std::fprintf(stderr, "pbfs: route from site %u to site %u has %zu core links\n", a, b, reversed.size());
        std::abort();
      }
      site_route_links_.insert(site_route_links_.end(), reversed.rbegin(), reversed.rend());
      site_route_begin_.push_back(static_cast<uint32_t>(site_route_links_.size()));
    }
  }
}

Network::Route Network::route(NodeId from, NodeId to) {
  Route r;
  r.links[r.count++] = &node_links_[from].up;
  const uint32_t ra = node_rack_[from];
  const uint32_t rb = node_rack_[to];
  if (ra != rb) {
    r.links[r.count++] = &switch_links_[2 * ra];
    const uint32_t pair = rack_site_[ra] * site_count_ + rack_site_[rb];
    for (uint32_t i = site_route_begin_[pair]; i < site_route_begin_[pair + 1]; ++i) {
      r.links[r.count++] = &switch_links_[site_route_links_[i]];
    }
    r.links[r.count++] = &switch_links_[2 * rb + 1];
  }
  r.links[r.count++] = &node_links_[to].down;
  return r;
}

TimeNs Network::transmit_ns(LinkState& link, uint64_t bytes) {
  LinkKind& kind = kinds_[link.kind];
  if (kind.cached_bytes != bytes) {
    kind.cached_bytes = bytes;
    kind.cached_transmit_ns = static_cast<TimeNs>(std::ceil(static_cast<double>(bytes) / kind.bytes_per_ns));
  }
  return kind.cached_transmit_ns;
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
  NodeTraffic& traffic = node_links_[from].traffic;
  traffic.tx_bytes += bytes;
  ++traffic.tx_messages;
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
  const Route path = route(from, to);
  for (uint32_t i = 0; i < path.count; ++i) {
    LinkState& link = *path.links[i];
    if (!link.up) {
      ++counters_.dropped;
      log_message(flight, -1, MessageFate::kCut);
      return;
    }
    const LinkKind& kind = kinds_[link.kind];
    const TimeNs start = t > link.busy_until_ns ? t : link.busy_until_ns;
    const TimeNs transmit = transmit_ns(link, bytes);
    link.busy_until_ns = start + transmit;
    t = start + transmit + kind.latency_ns;
    if (kind.loss > 0 && uniform(rng_) < kind.loss) {
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
  NodeTraffic& traffic = self->node_links_[flight.to].traffic;
  traffic.rx_bytes += flight.bytes;
  ++traffic.rx_messages;
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
  node_links_[node].up.up = up;
  node_links_[node].down.up = up;
}
void Network::set_rack_uplink_up(uint32_t rack, bool up) {
  switch_links_[2 * rack].up = up;
  switch_links_[2 * rack + 1].up = up;
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
  const Route path = route(from, to);
  for (uint32_t i = 0; i < path.count; ++i) t += transmit_ns(*path.links[i], bytes) + kinds_[path.links[i]->kind].latency_ns;
  return t;
}

}  // namespace pbfs::sim
