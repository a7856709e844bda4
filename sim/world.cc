// The simulated world: nodes, network, faults, resource samples and trace plumbing.
#include "sim/world.h"

#include <boost/random/uniform_01.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sim/network.h"
#include "sim/node.h"
#include "sim/tables.h"

namespace pbfs::sim {
namespace {

std::string describe_nodes(const std::vector<NodeId>& nodes) {
  std::string s;
  for (NodeId n : nodes) s += (s.empty() ? "" : ",") + std::to_string(n);
  return s;
}

}  // namespace

bool RunSummary::all_checks_passed() const {
  for (const CheckerVerdict& v : verdicts) {
    if (!v.passed) return false;
  }
  return true;
}

World::World(const Scenario& scenario, TraceRecorder* trace)
    : scenario_(scenario), kernel_(scenario.seed), trace_(trace) {
  faults_table_ = trace_table(fault_schema());
  resources_table_ = trace_table(resource_schema());
  network_ = std::make_unique<Network>(*this, scenario_);
  Rng clock_rng = derive_stream(scenario_.seed, kStreamClock, 0);
  boost::random::uniform_01<double> uniform;
  NodeId id = 0;
  for (const SiteSpec& site : scenario_.topology.sites) {
    const NodeProfile& profile = scenario_.node_profiles.at(site.node_profile);
    const DiskProfile& disk = scenario_.disk_profiles.at(profile.disk);
    for (uint32_t i = 0; i < site.racks * site.nodes_per_rack; ++i, ++id) {
      const double offset = (2 * uniform(clock_rng) - 1) * static_cast<double>(profile.clock.offset_max_ns);
      const double drift = (2 * uniform(clock_rng) - 1) * profile.clock.drift_ppm_max;
      nodes_.push_back(std::make_unique<SimNode>(*this, id, profile, disk,
                                                 NodeClock(static_cast<TimeNs>(offset), drift)));
    }
  }
  saved_drift_ppm_.assign(node_count(), 0);
  // A node crashed from time 0 is down from the start: its roles first boot when it comes up (as a node
  // that joins later would), not at 0 only to be crashed before their first disk writes land.
  for (const FaultSpec& f : scenario_.faults) {
    if (f.kind != FaultKind::kCrash || f.at_ns != 0) continue;
    for (NodeId n : f.nodes) {
      if (n < node_count()) nodes_[n]->up = false;
    }
  }
}

World::~World() = default;

uint32_t World::node_count() const { return static_cast<uint32_t>(nodes_.size()); }
uint32_t World::rack_of(NodeId node) const { return network_->rack_of(node); }
uint32_t World::site_of(NodeId node) const { return network_->site_of(node); }
Network& World::network() { return *network_; }
Disk& World::disk(NodeId node) { return *nodes_.at(node)->disk; }
NodeClock& World::clock(NodeId node) { return nodes_.at(node)->clock; }
SimNode& World::node(NodeId node) { return *nodes_.at(node); }
bool World::node_up(NodeId node) const { return nodes_[node]->up; }

void World::add_role(NodeId node, PortId port, RoleFactory factory) { nodes_.at(node)->add(port, std::move(factory)); }

Role* World::role(NodeId node, PortId port) {
  SimNode::Slot* slot = nodes_.at(node)->find(port);
  return slot == nullptr ? nullptr : slot->role.get();
}

bool World::with_role(NodeId node, PortId port, const std::function<void(Role&)>& body) {
  SimNode& n = *nodes_.at(node);
  SimNode::Slot* slot = n.find(port);
  if (!n.up || slot == nullptr || !slot->role) return false;
  n.dispatch(*slot, body);
  return true;
}

void World::crash(NodeId node) {
  SimNode& n = *nodes_.at(node);
  if (!n.up) return;
  n.crash();
  for (const NodeObserver& o : node_observers_) o(node, false);
}

void World::restart(NodeId node) {
  SimNode& n = *nodes_.at(node);
  if (n.up) return;
  n.up = true;
  for (const NodeObserver& o : node_observers_) o(node, true);
  n.boot_roles();
}

void World::deliver(NodeId to, PortId port, const Envelope& from, const std::shared_ptr<const Message>& message) {
  SimNode& n = *nodes_[to];
  SimNode::Slot* slot = n.find(port);
  if (slot == nullptr || !slot->role) {
    count("sim.message_for_missing_role");
    return;
  }
  n.dispatch(*slot, [&](Role& role) { role.on_message(from, *message); });
}

TraceTableId World::trace_table(const TableSchema& schema) {
  for (size_t i = 0; i < table_names_.size(); ++i) {
    if (table_names_[i] == schema.name) return static_cast<TraceTableId>(i);
  }
  if (trace_ != nullptr) {
    const uint32_t recorder_id = trace_->table(schema);
    if (recorder_id != table_names_.size()) {
      std::fprintf(stderr, "pbfs: trace table ids out of step\n");
      std::abort();
    }
  }
  table_names_.push_back(schema.name);
  observers_by_table_.emplace_back();
  auto pending = row_observers_.find(schema.name);
  if (pending != row_observers_.end()) observers_by_table_.back() = pending->second;
  return static_cast<TraceTableId>(table_names_.size() - 1);
}

void World::trace(TraceTableId table, const void* row) {
  if (trace_ != nullptr) trace_->append(table, row);
  for (const RowObserver& o : observers_by_table_[table]) o(row);
}

void World::observe_table(const std::string& table_name, RowObserver observer) {
  row_observers_[table_name].push_back(observer);
  for (size_t i = 0; i < table_names_.size(); ++i) {
    if (table_names_[i] == table_name) observers_by_table_[i].push_back(observer);
  }
}

void World::observe_nodes(NodeObserver observer) { node_observers_.push_back(std::move(observer)); }

void World::count(const std::string& counter, uint64_t increment) { counters_[counter] += increment; }
uint64_t World::counter(const std::string& name) const {
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second;
}

void World::record_fault(const char* kind, NodeId node, const std::string& detail, TimeNs end_ns) {
  FaultRow row{};
  row.time_ns = now_ns();
  set_chars(row.kind, kind);
  row.node = node;
  set_chars(row.detail, detail);
  row.end_ns = end_ns;
  trace(faults_table_, &row);
  ++faults_injected_;
}

void World::apply_fault(size_t index, bool begin) {
  const FaultSpec& f = active_faults_[index];
  const NodeId single = f.nodes.size() == 1 ? f.nodes[0] : kNoNode;
  if (begin) {
    std::string detail = describe_nodes(f.nodes);
    if (f.kind == FaultKind::kDrop || f.kind == FaultKind::kDuplicate) detail += " rate=" + std::to_string(f.rate);
    record_fault(fault_kind_name(f.kind), single, detail, f.duration_ns > 0 ? now_ns() + f.duration_ns : -1);
  }
  switch (f.kind) {
    case FaultKind::kCrash:
      for (NodeId n : f.nodes) begin ? crash(n) : restart(n);
      break;
    case FaultKind::kIsolate:
      for (NodeId n : f.nodes) network_->set_node_isolated(n, begin);
      break;
    case FaultKind::kPartition:
    case FaultKind::kPartitionOneWay:
      if (begin) {
        PartitionRule rule;
        rule.one_way = f.kind == FaultKind::kPartitionOneWay;
        rule.group.assign(node_count(), -1);
        for (size_t g = 0; g < f.groups.size(); ++g) {
          for (NodeId n : f.groups[g]) rule.group[n] = static_cast<int16_t>(g);
        }
        fault_rule_ids_[index] = network_->add_partition(std::move(rule));
      } else {
        network_->remove_rule(fault_rule_ids_[index]);
      }
      break;
    case FaultKind::kLinkDown:
      if (f.rack >= 0) network_->set_rack_uplink_up(static_cast<uint32_t>(f.rack), !begin);
      for (NodeId n : f.nodes) network_->set_access_link_up(n, !begin);
      break;
    case FaultKind::kDrop:
    case FaultKind::kDuplicate:
    case FaultKind::kDelay:
    case FaultKind::kReorder:
      if (begin) {
        MessageRule rule;
        rule.kind = f.kind;
        if (!f.nodes.empty()) {
          rule.applies.assign(node_count(), false);
          for (NodeId n : f.nodes) rule.applies[n] = true;
        }
        rule.rate = f.rate;
        rule.delay_ns = f.delay_ns;
        rule.jitter_ns = f.jitter_ns;
        fault_rule_ids_[index] = network_->add_rule(std::move(rule));
      } else {
        network_->remove_rule(fault_rule_ids_[index]);
      }
      break;
    case FaultKind::kDiskFull:
      for (NodeId n : f.nodes) disk(n).set_full(begin);
      break;
    case FaultKind::kDiskSlow:
      for (NodeId n : f.nodes) disk(n).set_slow_factor(begin ? f.factor : 1.0);
      break;
    case FaultKind::kDiskFail:
      for (NodeId n : f.nodes) begin ? disk(n).fail() : disk(n).replace();
      break;
    case FaultKind::kBitRot:
      if (begin) {
        for (NodeId n : f.nodes) disk(n).rot_bits(f.count);
      }
      break;
    case FaultKind::kClockStep:
      if (begin) {
        for (NodeId n : f.nodes) clock(n).step(now_ns(), f.offset_ns);
      }
      break;
    case FaultKind::kClockDrift:
      for (NodeId n : f.nodes) {
        if (begin) saved_drift_ppm_[n] = clock(n).drift_ppm();
        clock(n).set_drift(now_ns(), begin ? f.drift_ppm : saved_drift_ppm_[n]);
      }
      break;
  }
}

void World::schedule_fault(FaultSpec fault) {
  const size_t index = active_faults_.size();
  active_faults_.push_back(std::move(fault));
  fault_rule_ids_.push_back(0);
  const FaultSpec& f = active_faults_.back();
  kernel_.at(f.at_ns, [this, index] { apply_fault(index, true); });
  const bool instantaneous = f.kind == FaultKind::kBitRot || f.kind == FaultKind::kClockStep;
  if (f.duration_ns > 0 && !instantaneous) kernel_.at(f.at_ns + f.duration_ns, [this, index] { apply_fault(index, false); });
}

void World::schedule_swarm() {
  const SwarmSpec& swarm = scenario_.swarm;
  if (!swarm.enabled || swarm.kinds.empty()) return;
  Rng rng = derive_stream(scenario_.seed, kStreamSwarm, 0);
  boost::random::uniform_01<double> uniform;
  // The seed picks which kinds are on (at least one) and how often each strikes.
  std::vector<std::pair<FaultKind, double>> enabled;
  for (FaultKind kind : swarm.kinds) {
    if (uniform(rng) < 0.5) continue;
    const double mean_ns = static_cast<double>(swarm.interval_min_ns) +
                           uniform(rng) * static_cast<double>(swarm.interval_max_ns - swarm.interval_min_ns);
    enabled.emplace_back(kind, mean_ns);
  }
  if (enabled.empty()) enabled.emplace_back(swarm.kinds[0], static_cast<double>(swarm.interval_min_ns));
  std::vector<std::pair<TimeNs, TimeNs>> busy;  // (start, end) of faults already planned
  const uint32_t n = node_count();
  for (const auto& [kind, mean_ns] : enabled) {
    TimeNs t = 0;
    for (int guard = 0; guard < 100000; ++guard) {
      t += static_cast<TimeNs>(-std::log(1.0 - uniform(rng)) * mean_ns) + 1;
      if (t >= scenario_.duration_ns) break;
      FaultSpec f;
      f.kind = kind;
      f.at_ns = t;
      f.duration_ns = 1 + static_cast<TimeNs>(uniform(rng) * static_cast<double>(swarm.duration_max_ns));
      const NodeId victim = boost::random::uniform_int_distribution<NodeId>(0, n - 1)(rng);
      uint32_t overlapping = 0;
      for (const auto& [s, e] : busy) overlapping += (s < t + f.duration_ns && t < e) ? 1 : 0;
      if (overlapping >= swarm.concurrent_max) continue;  // the fault atlas: never more at once
      busy.emplace_back(t, t + f.duration_ns);
      if (kind == FaultKind::kPartition) {
        f.groups.assign(2, {});
        for (NodeId i = 0; i < n; ++i) f.groups[i == victim || uniform(rng) < 0.3 ? 0 : 1].push_back(i);
      } else {
        f.nodes = {victim};
      }
      f.rate = kind == FaultKind::kDrop || kind == FaultKind::kDuplicate ? 0.05 + 0.45 * uniform(rng) : 1.0;
      f.delay_ns = static_cast<TimeNs>(uniform(rng) * static_cast<double>(100 * kMillisecond));
      f.jitter_ns = static_cast<TimeNs>(uniform(rng) * static_cast<double>(100 * kMillisecond));
      f.factor = 2 + 18 * uniform(rng);
      f.count = 1 + static_cast<uint32_t>(uniform(rng) * 8);
      schedule_fault(std::move(f));
    }
  }
}

void World::sample_resources() {
  for (const auto& node : nodes_) {
    const Network::NodeTraffic& t = network_->traffic(node->id);
    ResourceRow row{now_ns(), node->id, node->cpu_busy_ns, node->disk->busy_ns(), node->disk->used_bytes(),
                    t.tx_bytes, t.rx_bytes, t.tx_messages, t.rx_messages};
    trace(resources_table_, &row);
  }
  const TimeNs interval = scenario_.output.resource_sample_interval_ns;
  if (now_ns() + interval <= scenario_.duration_ns) kernel_.after(interval, [this] { sample_resources(); });
}

void World::set_progress(std::function<void(TimeNs, uint64_t)> progress, TimeNs every_simulated_ns) {
  progress_ = std::move(progress);
  progress_every_ns_ = every_simulated_ns;
}

RunSummary World::run() {
  for (const FaultSpec& f : scenario_.faults) schedule_fault(f);
  schedule_swarm();
  if (scenario_.output.resource_sample_interval_ns > 0) kernel_.at(0, [this] { sample_resources(); });
  const auto wall_start = std::chrono::steady_clock::now();
  if (progress_ && progress_every_ns_ > 0) {
    for (TimeNs t = progress_every_ns_; t < scenario_.duration_ns && !kernel_.stopped(); t += progress_every_ns_) {
      kernel_.run_until(t);
      progress_(kernel_.now_ns(), kernel_.events_run());
    }
  }
  if (!kernel_.stopped()) kernel_.run_until(scenario_.duration_ns);
  RunSummary summary;
  summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  summary.simulated_ns = kernel_.now_ns();
  summary.events = kernel_.events_run();
  const NetworkCounters& net = network_->counters();
  summary.messages_sent = net.sent;
  summary.messages_delivered = net.delivered;
  summary.messages_dropped = net.dropped;
  summary.messages_rejected = counters_["sim.message_for_missing_role"];
  summary.faults_injected = faults_injected_;
  summary.counters = counters_;
  return summary;
}

}  // namespace pbfs::sim
