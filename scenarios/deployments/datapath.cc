// The PBFS data-path deployment: every node is a fragment server, a catalog replica (of the shards
// whose group includes it) and a member of the cluster (registered with the coordination service on
// `coordination.node`); the first `workload.clients` nodes run clients driven by the workload. Online
// checkers: read correctness, GC safety (rows), catalog replica agreement and durability (state at the
// end of the run). `protocol.inject_bug` breaks one protocol rule on purpose to show a checker failing.
#include "scenarios/deployments/datapath.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "protocols/coordination/coordination_server.h"
#include "protocols/coordination/membership.h"
#include "protocols/datapath/catalog.h"
#include "protocols/datapath/client.h"
#include "protocols/datapath/fragment_server.h"
#include "protocols/datapath/operations.h"
#include "scenarios/deployments/datapath_checker.h"
#include "scenarios/deployments/datapath_workload.h"
#include "scenarios/fields.h"
#include "sim/disk.h"

namespace pbfs {

extern const char* const kDefaultCostModelYaml;  // scenarios/cost-model.yaml, compiled in

namespace {

using datapath::Client;
using datapath::DataPathConfig;
using datapath::OperationResult;

const std::vector<std::string> kCheckNames = {"read_correctness", "gc_safety", "catalog_agreement", "durability"};

struct Latencies {
  std::vector<TimeNs> samples;
  uint64_t failed = 0;
};

class DataPathDeployment final : public Deployment {
 public:
  Status configure(const Scenario& scenario) override;
  void install(sim::World& world) override;
  void finish(sim::World& world, sim::RunSummary& summary) override;

 private:
  Status read_protocol(const Scenario& scenario);
  void install_client(sim::World& world, NodeId node, uint32_t index, uint32_t count);
  void issue(sim::World& world, NodeId node, uint32_t index);
  void completed(sim::World& world, NodeId node, uint32_t index, const OperationResult& result);
  void observe(sim::World& world);
  sim::CheckerVerdict check_agreement(sim::World& world);
  sim::CheckerVerdict check_durability(sim::World& world);

  std::shared_ptr<DataPathConfig> config_;
  datapath::CatalogOptions catalog_options_;
  NodeId coordination_node_ = 0;
  TimeNs session_timeout_ns_ = 4 * kSecond;
  WorkloadSpec workload_;
  std::vector<std::string> checks_;
  std::vector<std::unique_ptr<WorkloadGenerator>> generators_;
  uint64_t issued_ = 0;
  std::map<std::string, Latencies> latencies_;  // by operation kind
  std::map<std::string, uint64_t> op_bytes_, op_messages_, op_round_trips_;
  DataPathChecker checker_;
  std::vector<bool> disk_failed_;
};

Status DataPathDeployment::read_protocol(const Scenario& scenario) {
  config_ = std::make_shared<DataPathConfig>();
  DataPathConfig& c = *config_;
  FieldReader p = scenario.section("protocol");
  (void)p.string("name", "pbfs");
  FieldReader coding = p.child("coding");
  c.coding.k = static_cast<uint32_t>(coding.integer("k", 4, 1, 255));
  c.coding.m = static_cast<uint32_t>(coding.integer("m", 2, 1, 255));
  const std::string backend = coding.choice("backend", "isal", {"isal", "jerasure_vandermonde", "jerasure_cauchy"});
  c.coding.backend = *erasure_backend_from_name(backend);
  if (c.coding.k + c.coding.m > 256) coding.fail("m", "k + m must not exceed 256");
  if (c.coding.k + c.coding.m > scenario.node_count()) coding.fail("m", "k + m exceeds the number of nodes");
  c.aead = *aead_algorithm_from_name(p.choice("aead", "aes-256-gcm", {"aes-256-gcm", "xchacha20-poly1305"}));
  c.segment_bytes = static_cast<uint32_t>(p.bytes("segment_bytes", kDefaultSegmentBytes));
  if (c.segment_bytes == 0 || c.segment_bytes > (1u << 30)) p.fail("segment_bytes", "must be in [1 B, 1 GiB]");
  c.real_payload = scenario.payload == PayloadFidelity::kReal;
  FieldReader catalog = p.child("catalog");
  c.catalog_replicas = static_cast<uint32_t>(catalog.integer("replicas", 3, 1, 15));
  if (c.catalog_replicas > scenario.node_count()) catalog.fail("replicas", "more replicas than nodes");
  c.shards = static_cast<uint32_t>(catalog.integer("shards", 16, 1, 1 << 20));
  c.lease_ns = catalog.duration("lease", 14 * kSecond);
  c.lease_epsilon_ns = catalog.duration("epsilon", kSecond);
  if (c.lease_epsilon_ns >= c.lease_ns) catalog.fail("epsilon", "must be below the lease time");
  c.request_timeout_ns = p.duration("request_timeout", 2 * kSecond);
  c.retries_max = static_cast<uint32_t>(p.integer("retries", 5, 0, 100));
  c.extra_fragments = static_cast<uint32_t>(p.integer("extra_fragments", 0, 0, 255));
  if (c.extra_fragments > c.coding.m) p.fail("extra_fragments", "cannot exceed m");
  c.compaction_depth = static_cast<uint32_t>(p.integer("compaction_depth", 0, 0, 1 << 20));
  c.pin_timeout_ns = p.duration("pin_timeout", 30 * kSecond);
  c.scrub_interval_ns = p.duration("scrub_interval", 0);
  c.cpu_per_message_ns = p.duration("cpu_per_message", 2 * kMicrosecond);
  c.inject_bug = p.choice("inject_bug", "", {"", "stale_read", "gc_current", "skip_fsync", "diverge_replica"});
  const std::string cost_file = p.string("cost_model", "");
  FieldReader coordination = p.child("coordination");
  coordination_node_ = static_cast<NodeId>(coordination.integer("node", 0, 0, scenario.node_count() - 1));
  session_timeout_ns_ = coordination.duration("session_timeout", 4 * kSecond);
  Status status = p.finish();
  if (!status.is_ok()) return status;

  std::string cost_text = kDefaultCostModelYaml;
  std::string cost_origin = "built-in cost model";
  if (!cost_file.empty()) {
    Result<std::string> text = read_text_file(cost_file);
    if (!text.is_ok()) return Status(StatusCode::kInvalidArgument, scenario.file + ": protocol.cost_model: " + text.status().message());
    cost_text = *text;
    cost_origin = cost_file;
  }
  Result<CostModel> model = CostModel::parse(cost_text, cost_origin);
  if (!model.is_ok()) return model.status();
  c.cost_model = std::make_shared<const CostModel>(std::move(model.value()));
  return Status::ok();
}

Status DataPathDeployment::configure(const Scenario& scenario) {
  Status status = read_protocol(scenario);
  if (!status.is_ok()) return status;
  FieldReader w = scenario.section("workload");
  workload_ = read_workload(w, scenario.node_count());
  status = w.finish();
  if (!status.is_ok()) return status;
  checks_ = kCheckNames;
  if (scenario.checks.IsDefined() && !scenario.checks.IsNull()) {
    checks_.clear();
    if (!scenario.checks.IsSequence()) {
      return Status(StatusCode::kInvalidArgument, scenario.file + ":" + std::to_string(scenario.checks.Mark().line + 1) +
                                                      ": checks: expected a list of checker names");
    }
    for (const YAML::Node& n : scenario.checks) {
      const std::string name = n.as<std::string>("");
      if (std::find(kCheckNames.begin(), kCheckNames.end(), name) == kCheckNames.end()) {
        return Status(StatusCode::kInvalidArgument, scenario.file + ":" + std::to_string(n.Mark().line + 1) +
                                                        ": checks: unknown checker '" + name +
                                                        "' (known: read_correctness, gc_safety, catalog_agreement, durability)");
      }
      checks_.push_back(name);
    }
  }
  return Status::ok();
}

}  // namespace
}  // namespace pbfs
