// A simulated cluster: nodes with clocks, CPUs and disks, joined by the network model, each hosting
// protocol roles on ports. The world implements the Runtime interface for every role, injects the
// scenario's faults, samples resources and records everything in the trace. Deployments
// (scenarios/deployment.h) add roles, drive workloads and attach checkers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocols/runtime/runtime.h"
#include "scenarios/scenario.h"
#include "sim/kernel.h"
#include "sim/trace.h"

namespace pbfs::sim {

class Network;
class Disk;
class NodeClock;
class SimNode;

using RoleFactory = std::function<std::unique_ptr<Role>(Runtime& runtime)>;
// Called with every row appended to a table, at the time it is appended (online checkers).
using RowObserver = std::function<void(const void* row)>;
// Called when a node crashes (up=false) or restarts (up=true).
using NodeObserver = std::function<void(NodeId node, bool up)>;

struct CheckerVerdict {
  std::string checker;
  bool passed = true;
  bool assumption_violated = false;  // the run broke the protocol's assumptions (e.g. clock drift > ε)
  uint64_t violations = 0;
  std::string detail;                 // first violation, or what was checked
};

struct RunSummary {
  TimeNs simulated_ns = 0;
  uint64_t events = 0;
  double wall_seconds = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_dropped = 0;
  uint64_t messages_rejected = 0;  // malformed or addressed to no role
  uint64_t faults_injected = 0;
  std::map<std::string, uint64_t> counters;
  std::map<std::string, double> metrics;  // deployment-specific figures (latency p50, ...)
  std::vector<CheckerVerdict> verdicts;
  bool all_checks_passed() const;
};

class World {
 public:
  // `trace` may be null (no trace file; rows still reach observers).
  World(const Scenario& scenario, TraceRecorder* trace);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const Scenario& scenario() const { return scenario_; }
  Kernel& kernel() { return kernel_; }
  TimeNs now_ns() const { return kernel_.now_ns(); }  // true time
  uint32_t node_count() const;
  uint32_t rack_of(NodeId node) const;  // global rack index
  uint32_t site_of(NodeId node) const;

  // Installs a role on a node: created now (if the node is up) and again after every restart.
  void add_role(NodeId node, PortId port, RoleFactory factory);
  // The live instance, or null while the node is down.
  Role* role(NodeId node, PortId port);
  // Calls `body` on the live role as if it were one of its handlers (its effects start now); returns
  // false, without calling, while the node is down. For workload drivers and other harness code.
  bool with_role(NodeId node, PortId port, const std::function<void(Role&)>& body);
  bool node_up(NodeId node) const;
  // Crash (volatile state, timers and unsynced disk data lost) and restart, also used by fault plans.
  void crash(NodeId node);
  void restart(NodeId node);

  // Models, for tests, deployments and checkers.
  Network& network();
  Disk& disk(NodeId node);
  NodeClock& clock(NodeId node);

  // Trace tables: rows go to the trace file (if any) and to observers of that table.
  TraceTableId trace_table(const TableSchema& schema);
  void trace(TraceTableId table, const void* row);
  void observe_table(const std::string& table_name, RowObserver observer);
  void observe_nodes(NodeObserver observer);
  void count(const std::string& counter, uint64_t increment = 1);
  uint64_t counter(const std::string& name) const;  // 0 if never counted
  // Records one injected fault in the faults table (end_ns -1: open-ended).
  void record_fault(const char* kind, NodeId node, const std::string& detail, TimeNs end_ns);

  // Schedules one fault (the scenario's are scheduled by run()).
  void schedule_fault(FaultSpec fault);
  // Called with (simulated time, events so far) every `every_simulated_ns` of simulated time.
  void set_progress(std::function<void(TimeNs, uint64_t)> progress, TimeNs every_simulated_ns);

  // Runs to the scenario's duration (or until kernel().stop()) and returns the summary. Deployments add
  // their metrics and verdicts afterwards.
  RunSummary run();

  // Delivery entry points used by the network model.
  void deliver(NodeId to, PortId port, const Envelope& from, const std::shared_ptr<const Message>& message);
  SimNode& node(NodeId node);

 private:
  void schedule_swarm();
  void apply_fault(size_t index, bool begin);
  void sample_resources();

  Scenario scenario_;
  Kernel kernel_;
  TraceRecorder* trace_;
  std::unique_ptr<Network> network_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<std::string> table_names_;
  std::map<std::string, std::vector<RowObserver>> row_observers_;
  std::vector<std::vector<RowObserver>> observers_by_table_;
  std::vector<FaultSpec> active_faults_;
  std::vector<uint64_t> fault_rule_ids_;
  std::vector<double> saved_drift_ppm_;
  std::function<void(TimeNs, uint64_t)> progress_;
  TimeNs progress_every_ns_ = 0;
  std::vector<NodeObserver> node_observers_;
  std::map<std::string, uint64_t> counters_;
  TraceTableId faults_table_ = 0;
  TraceTableId resources_table_ = 0;
  uint64_t faults_injected_ = 0;
};

}  // namespace pbfs::sim
