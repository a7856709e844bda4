// The lease deployments. "flease" puts a FleaseNode on every node (acceptor for the configured group,
// proposer for what the node wants); "lock_service" puts a LockServer on one or two nodes and a
// LockClient on the others. Both get the same workload driver (wanting, holding and releasing leases
// through the LeaseService API), the same metrics, and the same online checker, which is told the clock
// spread so that runs with clocks beyond ε say "assumption violated" instead of reporting a bug.
#include "scenarios/deployments/flease.h"

#include <algorithm>
#include <boost/random/uniform_int_distribution.hpp>
#include <map>
#include <memory>
#include <vector>

#include "protocols/flease/flease_node.h"
#include "protocols/flease/lease_checker.h"
#include "protocols/lock_service/lock_client.h"
#include "protocols/lock_service/lock_server.h"
#include "scenarios/fields.h"
#include "sim/clock.h"

namespace pbfs {
namespace {

using lease::AttemptOutcome;
using lease::AttemptRow;
using lease::IntervalRow;
using lease::LeaseService;
using lease::ResourceId;

struct WorkloadSpec {
  std::vector<NodeId> clients;  // nodes that want leases
  uint32_t resources = 1;       // resource ids 1..resources
  uint32_t contenders = 0;      // clients wanting each resource (0: all)
  TimeNs start_spread_ns = 0;   // first requests uniformly in [0, start_spread]...
  TimeNs stagger_ns = 0;        // ...after client i has waited i * stagger
  TimeNs hold_min_ns = 0, hold_max_ns = 0;    // release after this long (0: never)
  TimeNs pause_min_ns = 0, pause_max_ns = 0;  // ask again this long after releasing
};

// Resource r (0-based) is wanted by clients r, r+1, ..., r+contenders-1 (mod the client count).
std::vector<ResourceId> wanted_by(const WorkloadSpec& w, NodeId node) {
  const auto it = std::find(w.clients.begin(), w.clients.end(), node);
  if (it == w.clients.end()) return {};
  const uint32_t count = static_cast<uint32_t>(w.clients.size());
  const uint32_t index = static_cast<uint32_t>(it - w.clients.begin());
  const uint32_t k = w.contenders == 0 ? count : std::min(w.contenders, count);
  std::vector<ResourceId> out;
  for (uint32_t r = 0; r < w.resources; ++r) {
    if ((index + count - r % count) % count < k) out.push_back(r + 1);
  }
  return out;
}

// Drives one node's wishes through the LeaseService API; lives inside the node's lease role and shares
// its runtime, as a catalog primary or async writer would.
class LeaseWorkload final : public lease::LeaseListener {
 public:
  static constexpr uint64_t kMarker = 0xD1ull << 56;
  enum Kind : uint64_t { kAcquire = 1, kRelease = 2 };

  LeaseWorkload(Runtime& runtime, LeaseService& service, std::vector<ResourceId> wanted, const WorkloadSpec& spec)
      : runtime_(runtime), service_(service), wanted_(std::move(wanted)), spec_(spec), timers_(wanted_.size(), 0) {
    for (uint32_t i = 0; i < wanted_.size(); ++i) index_.emplace(wanted_[i], i);
  }
  static bool owns_tag(uint64_t tag) { return (tag >> 56) == (kMarker >> 56); }

  void start() {
    const auto me = std::find(spec_.clients.begin(), spec_.clients.end(), runtime_.node_id());
    const TimeNs stagger = spec_.stagger_ns * (me - spec_.clients.begin());
    for (uint32_t i = 0; i < wanted_.size(); ++i) arm(i, kAcquire, stagger + uniform(0, spec_.start_spread_ns));
  }
  void on_timer(TimerId id, uint64_t tag) {
    const uint32_t i = static_cast<uint32_t>(tag & 0xFFFFFFFF);
    if (i >= timers_.size() || timers_[i] != id) return;
    timers_[i] = 0;
    if (((tag >> 48) & 0xFF) == kAcquire) service_.acquire(wanted_[i]);
    else service_.release(wanted_[i]);
  }
  void on_lease_acquired(const lease::LeaseView& view) override {
    auto it = index_.find(view.resource);
    if (it != index_.end() && spec_.hold_max_ns > 0) arm(it->second, kRelease, uniform(spec_.hold_min_ns, spec_.hold_max_ns));
  }
  void on_lease_lost(ResourceId resource, uint64_t, lease::EndReason reason) override {
    auto it = index_.find(resource);
    if (it != index_.end() && reason == lease::EndReason::kReleased) {
      arm(it->second, kAcquire, uniform(spec_.pause_min_ns, spec_.pause_max_ns));
    }
  }

 private:
  TimeNs uniform(TimeNs lo, TimeNs hi) {
    if (hi <= lo) return lo;
    return boost::random::uniform_int_distribution<TimeNs>(lo, hi)(runtime_.random());
  }
  void arm(uint32_t i, uint64_t kind, TimeNs delay_ns) {
    if (timers_[i] != 0) runtime_.cancel_timer(timers_[i]);
    timers_[i] = runtime_.set_timer(delay_ns, kMarker | (kind << 48) | i);
  }

  Runtime& runtime_;
  LeaseService& service_;
  std::vector<ResourceId> wanted_;
  WorkloadSpec spec_;
  std::vector<TimerId> timers_;
  std::map<ResourceId, uint32_t> index_;
};

// One node's lease provider (FleaseNode or LockClient) with the workload riding on its runtime.
template <typename Service>
class LeaseHost final : public Role {
 public:
  LeaseHost(Runtime& runtime, std::unique_ptr<Service> service, std::vector<ResourceId> wanted,
            const WorkloadSpec& spec)
      : service_(std::move(service)), workload_(runtime, *service_, std::move(wanted), spec) {}
  void start() override {
    service_->start();
    service_->add_listener(&workload_);
    workload_.start();
  }
  void on_message(const Envelope& from, const Message& message) override { service_->on_message(from, message); }
  void on_timer(TimerId id, uint64_t tag) override {
    if (LeaseWorkload::owns_tag(tag)) workload_.on_timer(id, tag);
    else service_->on_timer(id, tag);
  }
  void on_disk(const DiskCompletion& done) override { service_->on_disk(done); }

 private:
  std::unique_ptr<Service> service_;
  LeaseWorkload workload_;
};

double percentile_ms(std::vector<TimeNs> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1e6;
}

std::vector<NodeId> node_list(FieldReader& r, const std::string& key, uint32_t nodes, std::vector<NodeId> fallback) {
  if (!r.has(key)) return fallback;
  std::vector<NodeId> out;
  for (int64_t id : r.integer_list(key, 0, static_cast<int64_t>(nodes) - 1)) out.push_back(static_cast<NodeId>(id));
  if (out.empty()) r.fail(key, "must name at least one node");
  return out;
}

class LeaseDeployment final : public Deployment {
 public:
  explicit LeaseDeployment(bool lock_service) : lock_service_(lock_service) {}

  Status configure(const Scenario& scenario) override;
  void install(sim::World& world) override;
  void finish(sim::World& world, sim::RunSummary& summary) override;

 private:
  void read_workload(FieldReader& r, uint32_t nodes, const std::vector<NodeId>& default_clients);
  void install_flease(sim::World& world);
  void install_lock_service(sim::World& world);
  void sample_spread(sim::World& world);
  void schedule_spread(sim::World& world);
  void on_attempt(sim::World& world, const AttemptRow& row);
  void on_interval(const IntervalRow& row);
  void on_node(sim::World& world, NodeId node, bool up);
  void close_tenures(sim::World& world, NodeId node, lease::EndReason reason);

  bool lock_service_;
  TimeNs epsilon_ns_ = kSecond;
  flease::FleaseConfig flease_;
  lock_service::LockServerConfig server_;
  lock_service::LockClientConfig client_;
  WorkloadSpec workload_;
  bool expect_assumption_violation_ = false;
  TimeNs spread_interval_ns_ = 10 * kMillisecond;

  std::unique_ptr<lease::LeaseChecker> checker_;
  TraceTableId intervals_table_ = 0;
  std::vector<TimeNs> acquire_latencies_, renew_latencies_, failovers_;
  std::vector<uint32_t> acquire_messages_;
  uint64_t attempts_ = 0, acquisitions_ = 0, renewals_ = 0, failures_ = 0;
  int64_t open_ = 0, open_max_ = 0;
  std::map<ResourceId, TimeNs> holder_crashed_at_;
};

Status LeaseDeployment::configure(const Scenario& scenario) {
  const uint32_t nodes = scenario.node_count();
  std::vector<NodeId> all(nodes);
  for (NodeId i = 0; i < nodes; ++i) all[i] = i;
  FieldReader p = scenario.section("protocol");
  (void)p.string("name", lock_service_ ? "lock_service" : "flease");
  const TimeNs lease_ns = p.duration("lease", 14 * kSecond);
  epsilon_ns_ = p.duration("epsilon", kSecond);
  const TimeNs timeout_ns = p.duration("message_timeout", 500 * kMillisecond);
  const uint32_t retries = static_cast<uint32_t>(p.integer("retries", 3, 0, 100));
  const TimeNs renew_before_ns = p.duration("renew_before", 4 * kSecond);
  const TimeNs cpu_ns = p.duration("cpu_per_message", 0);
  if (lease_ns <= epsilon_ns_) p.fail("lease", "must be longer than epsilon");
  if (renew_before_ns >= lease_ns) p.fail("renew_before", "must be shorter than the lease");
  if (timeout_ns <= 0) p.fail("message_timeout", "must be greater than 0");
  std::vector<NodeId> default_clients = all;
  if (lock_service_) {
    server_.servers = node_list(p, "servers", nodes, {0});
    if (server_.servers.size() > 2) p.fail("servers", "one server, or a primary and a backup");
    server_.lease_ns = lease_ns;
    server_.epsilon_ns = epsilon_ns_;
    server_.heartbeat_ns = p.duration("heartbeat", 500 * kMillisecond);
    server_.takeover_ns = p.duration("takeover", 2 * kSecond);
    server_.cpu_per_message_ns = cpu_ns;
    client_ = lock_service::LockClientConfig{server_.servers, lease_ns, renew_before_ns, timeout_ns, retries, true, cpu_ns};
    std::erase_if(default_clients, [&](NodeId n) {
      return std::find(server_.servers.begin(), server_.servers.end(), n) != server_.servers.end();
    });
  } else {
    flease_.acceptors = node_list(p, "acceptors", nodes, all);
    const auto group_size = static_cast<size_t>(p.integer("group_size", 0, 0, 64));
    if (group_size == 0 && flease_.acceptors.size() > 64) p.fail("acceptors", "at most 64 acceptors per group");
    if (group_size > flease_.acceptors.size()) p.fail("group_size", "larger than the acceptor list");
    if (group_size > 0) {
      // Each resource gets `group_size` consecutive acceptors from the list, starting at resource mod n.
      flease_.group_of = [acceptors = flease_.acceptors, group_size](ResourceId r) {
        std::vector<NodeId> group;
        for (size_t i = 0; i < group_size; ++i) group.push_back(acceptors[(r + i) % acceptors.size()]);
        return group;
      };
    }
    flease_.lease_ns = lease_ns;
    flease_.epsilon_ns = epsilon_ns_;
    flease_.message_timeout_ns = timeout_ns;
    flease_.retries = retries;
    flease_.renew_before_ns = renew_before_ns;
    flease_.cpu_per_message_ns = cpu_ns;
  }
  Status status = p.finish();
  if (!status.is_ok()) return status;
  FieldReader w = scenario.section("workload");
  read_workload(w, nodes, default_clients);
  status = w.finish();
  if (!status.is_ok()) return status;
  FieldReader c = scenario.section("checks");
  expect_assumption_violation_ = c.boolean("expect_assumption_violation", false);
  spread_interval_ns_ = c.duration("clock_sample_interval", 10 * kMillisecond);
  if (spread_interval_ns_ <= 0) c.fail("clock_sample_interval", "must be greater than 0");
  return c.finish();
}

void LeaseDeployment::read_workload(FieldReader& r, uint32_t nodes, const std::vector<NodeId>& default_clients) {
  workload_.clients = node_list(r, "clients", nodes, default_clients);
  if (workload_.clients.empty()) r.fail("clients", "no node is left to be a client");
  workload_.resources = static_cast<uint32_t>(r.integer("resources", 1, 1, 10'000'000));
  workload_.contenders = static_cast<uint32_t>(r.integer("contenders", 0, 0, nodes));
  workload_.start_spread_ns = r.duration("start_spread", 0);
  workload_.stagger_ns = r.duration("stagger", 0);
  workload_.hold_min_ns = r.duration("hold_min", 0);
  workload_.hold_max_ns = r.duration("hold_max", workload_.hold_min_ns);
  workload_.pause_min_ns = r.duration("pause_min", 0);
  workload_.pause_max_ns = r.duration("pause_max", workload_.pause_min_ns);
  if (workload_.hold_max_ns < workload_.hold_min_ns) r.fail("hold_max", "must not be less than hold_min");
  if (workload_.pause_max_ns < workload_.pause_min_ns) r.fail("pause_max", "must not be less than pause_min");
}

void LeaseDeployment::install(sim::World& world) {
  checker_ = std::make_unique<lease::LeaseChecker>(epsilon_ns_);
  world.trace_table(lease::attempt_schema());
  intervals_table_ = world.trace_table(lease::interval_schema());
  world.observe_table(lease::attempt_schema().name,
                      [this, &world](const void* row) { on_attempt(world, *static_cast<const AttemptRow*>(row)); });
  world.observe_table(lease::interval_schema().name,
                      [this](const void* row) { on_interval(*static_cast<const IntervalRow*>(row)); });
  world.observe_nodes([this, &world](NodeId node, bool up) { on_node(world, node, up); });
  world.kernel().at(0, [this, &world] { schedule_spread(world); });
  if (lock_service_) install_lock_service(world);
  else install_flease(world);
}

void LeaseDeployment::install_flease(sim::World& world) {
  auto boots = std::make_shared<std::vector<uint32_t>>(world.node_count(), 0);
  for (NodeId node = 0; node < world.node_count(); ++node) {
    world.add_role(node, kPortFleaseAcceptor, [this, boots, node](Runtime& rt) {
      flease::FleaseConfig config = flease_;
      config.silent_at_start = (*boots)[node]++ > 0;  // the first boot has nothing to forget
      return std::make_unique<LeaseHost<flease::FleaseNode>>(
          rt, std::make_unique<flease::FleaseNode>(rt, config), wanted_by(workload_, node), workload_);
    });
  }
}

void LeaseDeployment::install_lock_service(sim::World& world) {
  auto boots = std::make_shared<std::vector<uint32_t>>(world.node_count(), 0);
  for (NodeId server : server_.servers) {
    world.add_role(server, kPortLockServer, [this, boots, server](Runtime& rt) {
      lock_service::LockServerConfig config = server_;
      config.silent_at_start = (*boots)[server]++ > 0;
      return std::make_unique<lock_service::LockServer>(rt, config);
    });
  }
  for (NodeId client : workload_.clients) {
    world.add_role(client, kPortLockClient, [this, client](Runtime& rt) {
      return std::make_unique<LeaseHost<lock_service::LockClient>>(
          rt, std::make_unique<lock_service::LockClient>(rt, client_), wanted_by(workload_, client), workload_);
    });
  }
}

// The largest difference between two nodes' clocks now: the quantity ε bounds.
void LeaseDeployment::sample_spread(sim::World& world) {
  const TimeNs now = world.now_ns();
  TimeNs lo = 0, hi = 0;
  for (NodeId n = 0; n < world.node_count(); ++n) {
    const TimeNs t = world.clock(n).local_ns(now);
    if (n == 0 || t < lo) lo = t;
    if (n == 0 || t > hi) hi = t;
  }
  checker_->on_clock_spread(now, hi - lo);
}

void LeaseDeployment::schedule_spread(sim::World& world) {
  sample_spread(world);
  if (world.now_ns() + spread_interval_ns_ <= world.scenario().duration_ns) {
    world.kernel().after(spread_interval_ns_, [this, &world] { schedule_spread(world); });
  }
}

void LeaseDeployment::on_attempt(sim::World& world, const AttemptRow& row) {
  sample_spread(world);  // exact at the moment a tenure begins
  checker_->on_attempt(row);
  ++attempts_;
  const TimeNs latency = row.end_true_ns - row.start_true_ns;
  switch (static_cast<AttemptOutcome>(row.outcome)) {
    case AttemptOutcome::kAcquired: {
      ++acquisitions_;
      acquire_latencies_.push_back(latency);
      acquire_messages_.push_back(row.messages);
      open_max_ = std::max(open_max_, ++open_);
      auto it = holder_crashed_at_.find(row.resource);
      if (it != holder_crashed_at_.end()) {
        failovers_.push_back(row.end_true_ns - it->second);
        holder_crashed_at_.erase(it);
      }
      break;
    }
    case AttemptOutcome::kRenewed:
      ++renewals_;
      renew_latencies_.push_back(latency);
      break;
    case AttemptOutcome::kFailed:
      ++failures_;
      break;
    default:
      break;
  }
}

void LeaseDeployment::on_interval(const IntervalRow& row) {
  checker_->on_interval(row);
  --open_;
}

// A crashed node believes nothing any more: its tenures end now (the role cannot say so itself).
void LeaseDeployment::on_node(sim::World& world, NodeId node, bool up) {
  if (up) return;
  for (const lease::LeaseChecker::Tenure& t : checker_->open_tenures(node)) {
    holder_crashed_at_.emplace(t.resource, world.now_ns());
  }
  close_tenures(world, node, lease::EndReason::kCrashed);
}

void LeaseDeployment::close_tenures(sim::World& world, NodeId node, lease::EndReason reason) {
  for (const lease::LeaseChecker::Tenure& t : checker_->open_tenures(node)) {
    IntervalRow row{};
    row.resource = t.resource;
    row.epoch = t.epoch;
    row.start_local_ns = t.start_local_ns;
    row.end_local_ns = world.clock(t.holder).local_ns(world.now_ns());
    row.expiry_local_ns = t.expiry_local_ns;
    row.start_true_ns = t.start_true_ns;
    row.end_true_ns = world.now_ns();
    row.holder = t.holder;
    row.renewals = t.renewals;
    row.end_reason = static_cast<uint8_t>(reason);
    world.trace(intervals_table_, &row);
  }
}

void LeaseDeployment::finish(sim::World& world, sim::RunSummary& summary) {
  close_tenures(world, kNoNode, lease::EndReason::kRunEnd);
  const double seconds = static_cast<double>(summary.simulated_ns) / 1e9;
  auto& m = summary.metrics;
  m["lease.attempts"] = static_cast<double>(attempts_);
  m["lease.acquisitions"] = static_cast<double>(acquisitions_);
  m["lease.renewals"] = static_cast<double>(renewals_);
  m["lease.failed_attempts"] = static_cast<double>(failures_);
  m["lease.acquire_latency_p50_ms"] = percentile_ms(acquire_latencies_, 0.5);
  m["lease.acquire_latency_p99_ms"] = percentile_ms(acquire_latencies_, 0.99);
  m["lease.renew_latency_p50_ms"] = percentile_ms(renew_latencies_, 0.5);
  m["lease.renew_latency_p99_ms"] = percentile_ms(renew_latencies_, 0.99);
  double requests = 0;
  for (uint32_t n : acquire_messages_) requests += n;
  m["lease.requests_per_acquisition"] = acquire_messages_.empty() ? 0 : requests / acquire_messages_.size();
  const double operations = static_cast<double>(acquisitions_ + renewals_);
  m["lease.messages_per_operation"] = operations > 0 ? static_cast<double>(summary.messages_sent) / operations : 0;
  m["lease.operations_per_s"] = seconds > 0 ? operations / seconds : 0;
  m["lease.max_concurrent"] = static_cast<double>(open_max_);
  m["lease.failovers"] = static_cast<double>(failovers_.size());
  m["lease.failover_p50_s"] = percentile_ms(failovers_, 0.5) / 1e3;
  m["lease.failover_max_s"] = percentile_ms(failovers_, 1.0) / 1e3;
  m["lease.max_clock_spread_ms"] = static_cast<double>(checker_->report().max_spread_ns) / 1e6;

  const lease::LeaseChecker::Report& r = checker_->report();
  sim::CheckerVerdict verdict;
  verdict.checker = "lease_safety";
  verdict.violations = r.violations();
  verdict.assumption_violated = r.assumption_violated;
  verdict.passed = r.bugs == 0 && (!expect_assumption_violation_ || r.excused > 0);
  verdict.detail = checker_->summary();
  if (expect_assumption_violation_ && r.excused == 0) {
    verdict.detail = "expected the clock assumption to be violated and a violation to follow; " + verdict.detail;
  }
  summary.verdicts.push_back(std::move(verdict));
}

}  // namespace

std::unique_ptr<Deployment> make_flease_deployment() { return std::make_unique<LeaseDeployment>(false); }
std::unique_ptr<Deployment> make_lock_service_deployment() { return std::make_unique<LeaseDeployment>(true); }

}  // namespace pbfs
