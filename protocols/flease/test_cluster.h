// A tiny deterministic cluster for the lease protocols' unit tests (not the simulator): every effect a
// role asks for becomes an event in one time-ordered list that the test runs step by step or in bulk.
// Clocks are true time plus a per-node offset the test sets; messages take a fixed latency and pass a
// test-controlled filter; disks keep a write cache that a crash drops. Used only by *_test.cc files.
#pragma once

#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocols/flease/lease.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::testing {

class TestCluster;

struct SentMessage {
  TimeNs true_ns;
  NodeId from;
  PortId from_port;
  NodeId to;
  PortId port;
  std::shared_ptr<const Message> message;
};

class TestRuntime final : public Runtime {
 public:
  TestRuntime(TestCluster& cluster, NodeId node, PortId port, uint64_t seed)
      : cluster_(cluster), node_(node), port_(port), rng_(seed) {}
  NodeId node_id() const override { return node_; }
  TimeNs local_now_ns() const override;
  TimeNs trace_now_ns() const override;
  void send(NodeId to, PortId port, std::shared_ptr<const Message> message) override;
  TimerId set_timer(TimeNs delay_ns, uint64_t tag) override;
  void cancel_timer(TimerId id) override;
  DiskOpId disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) override;
  DiskOpId disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) override;
  DiskOpId disk_sync(const std::string& file, uint64_t tag) override;
  DiskOpId disk_remove(const std::string& file, uint64_t tag) override;
  DiskOpId disk_chain(std::vector<DiskStep> steps, uint64_t tag) override;
  Rng& random() override { return rng_; }
  void charge_cpu(TimeNs) override {}
  TraceTableId trace_table(const TableSchema& schema) override;
  void trace(TraceTableId table, const void* row) override;
  void count(const char* counter) override;

 private:
  TestCluster& cluster_;
  NodeId node_;
  PortId port_;
  Rng rng_;
};

class TestCluster {
 public:
  using Factory = std::function<std::unique_ptr<Role>(Runtime&)>;
  using Filter = std::function<bool(const SentMessage&)>;  // false: the message is lost

  TimeNs latency_ns = kMillisecond;
  TimeNs disk_latency_ns = 100 * kMicrosecond;
  Filter filter;
  std::vector<SentMessage> sent;
  std::vector<lease::AttemptRow> attempts;
  std::vector<lease::IntervalRow> intervals;
  std::map<std::string, uint64_t> counters;

  // Adds a node hosting one role on `port`, created and started now.
  void add_node(NodeId id, PortId port, Factory factory, TimeNs clock_offset_ns = 0) {
    if (nodes_.size() <= id) nodes_.resize(id + 1);
    Node& n = nodes_[id];
    n.port = port;
    n.factory = std::move(factory);
    n.clock_offset_ns = clock_offset_ns;
    boot(id);
  }
  template <typename T>
  T& role(NodeId id) { return static_cast<T&>(*nodes_.at(id).role); }
  bool up(NodeId id) const { return nodes_.at(id).up; }
  TimeNs now_ns() const { return now_ns_; }
  TimeNs local_ns(NodeId id) const { return now_ns_ + nodes_.at(id).clock_offset_ns; }
  void set_clock_offset(NodeId id, TimeNs offset_ns) { nodes_.at(id).clock_offset_ns = offset_ns; }

  // Loses the role, its timers, its in-flight disk operations and its unsynced writes.
  void crash(NodeId id) {
    Node& n = nodes_.at(id);
    n.up = false;
    n.role.reset();
    n.runtime.reset();
    n.cache.clear();
    ++n.incarnation;
  }
  void restart(NodeId id) { boot(id); }
  // A message handed straight to a node's role, as if it had arrived now.
  void inject(NodeId to, NodeId from, PortId from_port, const Message& message) {
    Node& n = nodes_.at(to);
    if (n.up) n.role->on_message(Envelope{from, from_port}, message);
  }
  // Runs every event up to and including `until_ns` (true time).
  void run_until(TimeNs until_ns) {
    while (!events_.empty() && events_.begin()->first.first <= until_ns) step();
    if (now_ns_ < until_ns) now_ns_ = until_ns;
  }
  void run_for(TimeNs duration_ns) { run_until(now_ns_ + duration_ns); }
  bool step() {
    if (events_.empty()) return false;
    auto it = events_.begin();
    now_ns_ = it->first.first;
    std::function<void()> fn = std::move(it->second);
    events_.erase(it);
    fn();
    return true;
  }
  // Messages sent so far of one type (for counting and inspecting).
  template <typename T>
  std::vector<SentMessage> sent_of_type() const {
    std::vector<SentMessage> out;
    for (const SentMessage& m : sent) {
      if (m.message->type() == T::kType) out.push_back(m);
    }
    return out;
  }
  bool durable_file(NodeId id, const std::string& file, Bytes* content = nullptr) const {
    const Node& n = nodes_.at(id);
    auto it = n.durable.find(file);
    if (it == n.durable.end()) return false;
    if (content != nullptr) *content = it->second;
    return true;
  }

 private:
  friend class TestRuntime;
  struct Node {
    PortId port = 0;
    Factory factory;
    TimeNs clock_offset_ns = 0;
    bool up = false;
    uint64_t incarnation = 0;
    std::unique_ptr<TestRuntime> runtime;
    std::unique_ptr<Role> role;
    std::map<std::string, Bytes> durable, cache;
    std::map<TimerId, bool> timers;  // live timers
  };

  static void apply_write(Node& n, const std::string& file, uint64_t offset, const Payload& data) {
    Bytes content = n.cache.count(file) ? n.cache[file] : (n.durable.count(file) ? n.durable[file] : Bytes{});
    if (content.size() < offset + data.size) content.resize(offset + data.size);
    if (data.is_real()) std::memcpy(content.data() + offset, data.bytes->data(), data.size);
    n.cache[file] = std::move(content);
  }

  static void apply_sync(Node& n, const std::string& file) {
    auto it = n.cache.find(file);
    if (it == n.cache.end()) return;
    n.durable[file] = std::move(it->second);
    n.cache.erase(it);
  }

  void boot(NodeId id) {
    Node& n = nodes_.at(id);
    n.up = true;
    n.timers.clear();
    n.runtime = std::make_unique<TestRuntime>(*this, id, n.port, 1000 + id * 7919 + n.incarnation);
    n.role = n.factory(*n.runtime);
    n.role->start();
  }
  void at(TimeNs t, std::function<void()> fn) { events_.emplace(std::make_pair(t, next_seq_++), std::move(fn)); }
  // Runs fn(role) later if the node is still in the same incarnation.
  void later(NodeId id, TimeNs delay_ns, std::function<void(Role&)> fn) {
    const uint64_t incarnation = nodes_[id].incarnation;
    at(now_ns_ + delay_ns, [this, id, incarnation, fn = std::move(fn)] {
      Node& n = nodes_[id];
      if (n.up && n.incarnation == incarnation) fn(*n.role);
    });
  }
  DiskOpId disk_op(NodeId id, DiskOpKind kind, const std::string& file, uint64_t tag,
                   std::function<void(Node&, DiskCompletion&)> apply) {
    const DiskOpId op = next_disk_op_++;
    later(id, disk_latency_ns, [this, id, op, kind, file, tag, apply](Role& role) {
      DiskCompletion done;
      done.id = op;
      done.kind = kind;
      done.tag = tag;
      done.file = file;
      apply(nodes_[id], done);
      role.on_disk(done);
    });
    return op;
  }

  std::vector<Node> nodes_;
  std::map<std::pair<TimeNs, uint64_t>, std::function<void()>> events_;
  uint64_t next_seq_ = 0;
  TimeNs now_ns_ = 0;
  TimerId next_timer_ = 1;
  DiskOpId next_disk_op_ = 1;
  std::vector<std::string> tables_;
};

inline TimeNs TestRuntime::local_now_ns() const { return cluster_.local_ns(node_); }
inline TimeNs TestRuntime::trace_now_ns() const { return cluster_.now_ns(); }

inline void TestRuntime::send(NodeId to, PortId port, std::shared_ptr<const Message> message) {
  SentMessage m{cluster_.now_ns(), node_, port_, to, port, std::move(message)};
  cluster_.sent.push_back(m);
  if (cluster_.filter && !cluster_.filter(m)) return;
  if (to >= cluster_.nodes_.size()) return;
  cluster_.at(cluster_.now_ns() + cluster_.latency_ns, [c = &cluster_, m] {
    TestCluster::Node& n = c->nodes_[m.to];
    if (n.up && n.port == m.port) n.role->on_message(Envelope{m.from, m.from_port}, *m.message);
  });
}

inline TimerId TestRuntime::set_timer(TimeNs delay_ns, uint64_t tag) {
  const TimerId id = cluster_.next_timer_++;
  cluster_.nodes_[node_].timers[id] = true;
  cluster_.later(node_, delay_ns, [c = &cluster_, node = node_, id, tag](Role& role) {
    auto& timers = c->nodes_[node].timers;
    if (timers.erase(id) == 1) role.on_timer(id, tag);
  });
  return id;
}

inline void TestRuntime::cancel_timer(TimerId id) { cluster_.nodes_[node_].timers.erase(id); }

inline DiskOpId TestRuntime::disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) {
  return cluster_.disk_op(node_, DiskOpKind::kWrite, file, tag, [file, offset, data](TestCluster::Node& n, DiskCompletion&) {
    TestCluster::apply_write(n, file, offset, data);
  });
}

inline DiskOpId TestRuntime::disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) {
  return cluster_.disk_op(node_, DiskOpKind::kRead, file, tag, [file, offset, length](TestCluster::Node& n, DiskCompletion& done) {
    const Bytes* content = n.cache.count(file) ? &n.cache[file] : (n.durable.count(file) ? &n.durable[file] : nullptr);
    if (content == nullptr) {
      done.status = Status(StatusCode::kNotFound, file);
      return;
    }
    const uint64_t begin = std::min<uint64_t>(offset, content->size());
    const uint64_t end = std::min<uint64_t>(offset + length, content->size());
    done.offset = offset;
    done.data = Payload::real(Bytes(content->begin() + begin, content->begin() + end));
  });
}

inline DiskOpId TestRuntime::disk_sync(const std::string& file, uint64_t tag) {
  return cluster_.disk_op(node_, DiskOpKind::kSync, file, tag, [file](TestCluster::Node& n, DiskCompletion&) {
    TestCluster::apply_sync(n, file);
  });
}

inline DiskOpId TestRuntime::disk_chain(std::vector<DiskStep> steps, uint64_t tag) {
  // The whole chain takes one disk latency here; its steps apply in order.
  const DiskStep last = steps.empty() ? DiskStep{} : steps.back();
  return cluster_.disk_op(node_, last.kind, last.file, tag, [steps = std::move(steps)](TestCluster::Node& n, DiskCompletion& done) {
    for (const DiskStep& step : steps) {
      if (step.kind == DiskOpKind::kSync) TestCluster::apply_sync(n, step.file);
      else TestCluster::apply_write(n, step.file, step.offset, step.data);
    }
    if (!steps.empty()) done.offset = steps.back().offset;
  });
}

inline DiskOpId TestRuntime::disk_remove(const std::string& file, uint64_t tag) {
  return cluster_.disk_op(node_, DiskOpKind::kRemove, file, tag, [file](TestCluster::Node& n, DiskCompletion&) {
    n.cache.erase(file);
    n.durable.erase(file);
  });
}

inline TraceTableId TestRuntime::trace_table(const TableSchema& schema) {
  auto& tables = cluster_.tables_;
  for (size_t i = 0; i < tables.size(); ++i) {
    if (tables[i] == schema.name) return static_cast<TraceTableId>(i);
  }
  tables.push_back(schema.name);
  return static_cast<TraceTableId>(tables.size() - 1);
}

inline void TestRuntime::trace(TraceTableId table, const void* row) {
  const std::string& name = cluster_.tables_.at(table);
  if (name == lease::attempt_schema().name) {
    cluster_.attempts.push_back(*static_cast<const lease::AttemptRow*>(row));
  } else if (name == lease::interval_schema().name) {
    cluster_.intervals.push_back(*static_cast<const lease::IntervalRow*>(row));
  }
}

inline void TestRuntime::count(const char* counter) { ++cluster_.counters[counter]; }

}  // namespace pbfs::testing
