// The PBFS data-path deployment: every node is a fragment server, a catalog replica (of the shards
// whose group includes it) and a member of the cluster (registered with the coordination service on
// `coordination.node`); the first `workload.clients` nodes run clients driven by the workload. Online
// checkers: read correctness, GC safety (rows), catalog replica agreement and durability (state at the
// end of the run). `protocol.inject_bug` breaks one protocol rule on purpose to show a checker failing.
#include "scenarios/deployments/datapath.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <unordered_map>
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
#include "sim/tables.h"

namespace pbfs {

extern const char* const kDefaultCostModelYaml;  // scenarios/cost-model.yaml, compiled in

namespace {

using datapath::Client;
using datapath::DataPathConfig;
using datapath::OperationResult;

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Announces a shard's new catalog group in the coordination service (called on the node of the primary
// that applied it). A missing root is created first; a failure is left to the next primary's announcement.
void publish_group(coordination::CoordinationClient& client, uint64_t shard, uint64_t version, const std::vector<NodeId>& members) {
  const std::string path = datapath::catalog_group_znode(shard, version);
  const Bytes data = datapath::encode_catalog_group(members);
  coordination::CoordinationClient* c = &client;
  client.create(path, data, 0, [c, path, data](coordination::CoordCode code, const std::string&) {
    if (code != coordination::CoordCode::kNoNode) return;  // created, already there, or lost
    c->create(datapath::kCatalogGroupsRoot, {}, 0, [c, path, data](coordination::CoordCode root, const std::string&) {
      if (root == coordination::CoordCode::kOk || root == coordination::CoordCode::kNodeExists) {
        c->create(path, data, 0, [](coordination::CoordCode, const std::string&) {});
      }
    });
  });
}

// Keeps one node's client and fragment server up to date with the catalog groups published in the
// coordination service: a child watch on the groups' root, and each newer version's znode read once.
// Armed again by every membership event while it is not armed (a failed read waits for the next one).
class GroupWatcher : public std::enable_shared_from_this<GroupWatcher> {
 public:
  GroupWatcher(coordination::CoordinationClient* client, sim::World* world, NodeId node, uint32_t shards)
      : client_(client), world_(world), node_(node), known_(shards, 1), asked_(shards, 1) {}

  void arm() {
    if (armed_) return;
    armed_ = true;
    std::weak_ptr<GroupWatcher> self = weak_from_this();
    auto rearm = [self](const coordination::WatchedEvent&) {
      if (auto w = self.lock()) {
        w->armed_ = false;
        w->arm();
      }
    };
    client_->get_children(datapath::kCatalogGroupsRoot, rearm,
                          [self, rearm](coordination::CoordCode code, const std::vector<std::string>& children, const coordination::Stat&) {
                            auto w = self.lock();
                            if (!w) return;
                            if (code == coordination::CoordCode::kNoNode) {  // nothing published yet: wait for the root
                              w->client_->exists(datapath::kCatalogGroupsRoot, rearm, [](coordination::CoordCode, const coordination::Stat&) {});
                              return;
                            }
                            if (code != coordination::CoordCode::kOk) {
                              w->armed_ = false;
                              return;
                            }
                            for (const std::string& child : children) w->consider(child);
                          });
  }

 private:
  void consider(const std::string& child) {
    const std::optional<datapath::CatalogGroupName> name = datapath::parse_catalog_group_name(child);
    if (!name || name->shard >= known_.size() || name->version <= asked_[name->shard]) return;
    asked_[name->shard] = name->version;
    std::weak_ptr<GroupWatcher> self = weak_from_this();
    const datapath::CatalogGroupName n = *name;
    client_->get(std::string(datapath::kCatalogGroupsRoot) + "/" + child, nullptr,
                 [self, n](coordination::CoordCode code, const Bytes& data, const coordination::Stat&) {
                   auto w = self.lock();
                   if (!w) return;
                   const std::optional<std::vector<NodeId>> members =
                       code == coordination::CoordCode::kOk ? datapath::decode_catalog_group(data) : std::nullopt;
                   if (!members) {
                     w->asked_[n.shard] = w->known_[n.shard];  // the next change of the root asks again
                     return;
                   }
                   if (n.version <= w->known_[n.shard]) return;
                   w->known_[n.shard] = n.version;
                   w->world_->with_role(w->node_, kPortClient, [&](Role& r) {
                     static_cast<Client&>(r).catalog_directory().learn(n.shard, n.version, *members);
                   });
                   w->world_->with_role(w->node_, kPortFragmentServer, [&](Role& r) {
                     static_cast<datapath::FragmentServer&>(r).catalog_directory().learn(n.shard, n.version, *members);
                   });
                 });
  }

  coordination::CoordinationClient* client_;
  sim::World* world_;
  NodeId node_;
  bool armed_ = false;
  std::vector<uint64_t> known_;  // by shard: newest version handed to the roles
  std::vector<uint64_t> asked_;  // by shard: newest version being read
};

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
  uint64_t completed_ = 0;
  std::map<std::string, Latencies> latencies_;  // by operation kind
  std::map<std::string, uint64_t> op_bytes_, op_messages_, op_round_trips_;
  DataPathChecker checker_;
  std::vector<bool> disk_failed_;
  struct Acknowledged {
    FileId file;
    RecordId record;
  };
  std::vector<Acknowledged> acknowledged_;  // writes whose client got an ok
  std::set<RecordId> collected_;
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
  c.catalog_replace_after_ns = catalog.duration("replace_after", 30 * kSecond);
  c.catalog_disk_retry_ns = catalog.duration("disk_retry", kSecond);
  if (c.catalog_disk_retry_ns <= 0) catalog.fail("disk_retry", "must be above 0");
  c.request_timeout_ns = p.duration("request_timeout", 2 * kSecond);
  c.retries_max = static_cast<uint32_t>(p.integer("retries", 5, 0, 100));
  c.extra_fragments = static_cast<uint32_t>(p.integer("extra_fragments", 0, 0, 255));
  if (c.extra_fragments > c.coding.m) p.fail("extra_fragments", "cannot exceed m");
  c.compaction_depth = static_cast<uint32_t>(p.integer("compaction_depth", 0, 0, 1 << 20));
  c.pin_timeout_ns = p.duration("pin_timeout", 30 * kSecond);
  c.scrub_interval_ns = p.duration("scrub_interval", 0);
  FieldReader gc = p.child("gc");
  c.orphan_grace_ns = gc.duration("orphan_grace", 60 * kSecond);
  c.orphan_recheck_ns = gc.duration("orphan_recheck", 600 * kSecond);
  FieldReader store = p.child("fragment_store");
  c.log_file_bytes = store.bytes("log_file_bytes", uint64_t{16} << 20);
  if (c.log_file_bytes < (uint64_t{64} << 10) || c.log_file_bytes > datapath::kLogFileBytesMax) {
    store.fail("log_file_bytes", "must be between 64 KiB and 4 GiB");
  }
  c.log_clean_below = store.number("clean_below", 0.5, 0.0, 1.0);
  c.cpu_per_message_ns = p.duration("cpu_per_message", 2 * kMicrosecond);
  c.inject_bug = p.choice("inject_bug", "", {"", "stale_read", "gc_current", "skip_fsync", "diverge_replica", "abandon_current"});
  const std::string cost_file = p.string("cost_model", "");
  FieldReader coordination = p.child("coordination");
  coordination_node_ = static_cast<NodeId>(coordination.integer("node", 0, 0, scenario.node_count() - 1));
  session_timeout_ns_ = coordination.duration("session_timeout", 4 * kSecond);
  // Unknown keys in any sub-map are errors too (the readers share the first error).
  for (FieldReader* sub : {&coding, &catalog, &gc, &store, &coordination}) static_cast<void>(sub->finish());
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


void DataPathDeployment::install(sim::World& world) {
  const uint32_t n = world.node_count();
  DataPathConfig& c = *config_;
  c.nodes.clear();
  for (NodeId node = 0; node < n; ++node) c.nodes.push_back(PlacementNode{node, world.rack_of(node), world.site_of(node), 1.0, true});
  // Catalog groups start as the placement over all nodes (version 1; replicas replace dead members
  // through their logs): compute version 1 once here rather than in each of the n roles.
  c.catalog_groups.clear();
  datapath::CatalogDirectory directory(config_);
  std::vector<std::vector<NodeId>> groups;
  for (uint64_t shard = 0; shard < c.shards; ++shard) groups.push_back(directory.group(shard));
  c.catalog_groups = std::move(groups);
  disk_failed_.assign(n, false);
  observe(world);

  coordination::CoordinationServerConfig server_config;
  world.add_role(coordination_node_, kPortCoordination,
                 [server_config](Runtime& rt) { return std::make_unique<coordination::CoordinationServer>(rt, server_config); });
  std::shared_ptr<const DataPathConfig> shared = config_;
  const datapath::CatalogOptions catalog_options = catalog_options_;
  sim::World* w = &world;
  const uint32_t shards = c.shards;
  for (NodeId node = 0; node < n; ++node) {
    world.add_role(node, kPortFragmentServer,
                   [shared](Runtime& rt) { return std::make_unique<datapath::FragmentServer>(rt, shared); });
    // Only a node's very first boot may skip Flease's restart silence (Rule 7).
    auto boots = std::make_shared<uint32_t>(0);
    world.add_role(node, kPortCatalog, [shared, catalog_options, boots, node, w](Runtime& rt) {
      datapath::CatalogOptions options = catalog_options;
      options.first_boot = (*boots)++ == 0;
      auto catalog = std::make_unique<datapath::Catalog>(rt, shared, options);
      // Replaced groups are announced through this node's coordination client.
      catalog->set_group_listener([node, w](uint64_t shard, uint64_t version, const std::vector<NodeId>& members) {
        w->with_role(node, kPortCoordinationClient, [&](Role& r) {
          publish_group(static_cast<coordination::MembershipAgent&>(r).membership().client(), shard, version, members);
        });
      });
      return catalog;
    });
    coordination::MembershipConfig membership;
    membership.client.server = coordination_node_;
    membership.client.session_timeout_ns = session_timeout_ns_;
    membership.node_count = n;
    membership.self = coordination::MemberInfo{world.rack_of(node), world.site_of(node), 1.0};
    world.add_role(node, kPortCoordinationClient, [membership, node, w, shards](Runtime& rt) {
      auto agent = std::make_unique<coordination::MembershipAgent>(rt, membership);
      auto groups = std::make_shared<GroupWatcher>(&agent->membership().client(), w, node, shards);
      // The membership view reaches this node's client and catalog in-process.
      agent->membership().set_alive_listener([node, w, groups](const std::vector<bool>& alive, const coordination::MembershipChange&) {
        w->with_role(node, kPortClient, [&](Role& r) { static_cast<Client&>(r).set_alive(alive); });
        w->with_role(node, kPortCatalog, [&](Role& r) { static_cast<datapath::Catalog&>(r).on_membership(alive); });
        groups->arm();
      });
      return agent;
    });
  }
  const uint32_t clients = workload_.clients == 0 ? n : workload_.clients;
  generators_.clear();
  for (uint32_t i = 0; i < clients; ++i) {
    generators_.push_back(std::make_unique<WorkloadGenerator>(workload_, i, clients,
                                                              sim::derive_stream(world.scenario().seed, sim::kStreamWorkload, i)));
  }
  for (uint32_t i = 0; i < clients; ++i) install_client(world, i, i, clients);
}

void DataPathDeployment::install_client(sim::World& world, NodeId node, uint32_t index, uint32_t count) {
  std::shared_ptr<const DataPathConfig> shared = config_;
  world.add_role(node, kPortClient, [shared](Runtime& rt) { return std::make_unique<Client>(rt, shared); });
  // Give membership a moment to connect before the first operations.
  const TimeNs begin_ns = kSecond;
  if (workload_.open_loop) {
    sim::World* w = &world;
    auto arrival = std::make_shared<std::function<void()>>();
    *arrival = [this, w, node, index, arrival] {
      issue(*w, node, index);
      if (workload_.operations == 0 || issued_ < workload_.operations) {
        w->kernel().after(generators_[index]->next_arrival_gap_ns(), *arrival);
      }
    };
    world.kernel().at(begin_ns + generators_[index]->next_arrival_gap_ns(), *arrival);
  } else {
    for (uint32_t k = 0; k < workload_.concurrency; ++k) {
      world.kernel().at(begin_ns + k, [this, &world, node, index] { issue(world, node, index); });
    }
  }
}

void DataPathDeployment::issue(sim::World& world, NodeId node, uint32_t index) {
  if (workload_.operations != 0 && issued_ >= workload_.operations) return;
  const NextOperation op = generators_[index]->next();
  const bool issued = world.with_role(node, kPortClient, [&](Role& role) {
    auto& client = static_cast<Client&>(role);
    auto done = [this, &world, node, index](const OperationResult& r) { completed(world, node, index, r); };
    if (op.read) {
      client.read(op.file, op.extent.offset, op.extent.length, done);
    } else {
      client.write(op.file, op.extent.offset, op.extent.length, done);
    }
  });
  if (issued) {
    ++issued_;
  } else if (!workload_.open_loop) {
    // The client node is down: try again later so the closed loop keeps its width.
    world.kernel().after(kSecond, [this, &world, node, index] { issue(world, node, index); });
  }
}

void DataPathDeployment::completed(sim::World& world, NodeId node, uint32_t index, const OperationResult& result) {
  if (result.kind == datapath::OperationKind::kWrite && result.status == StatusCode::kOk) {
    acknowledged_.push_back(Acknowledged{result.file, result.record});
  }
  // A bounded workload ends the run when its last operation completes.
  if (workload_.operations != 0 && ++completed_ >= workload_.operations) {
    world.kernel().stop();
    return;
  }
  if (workload_.open_loop) return;
  if (workload_.think_ns > 0) {
    world.kernel().after(workload_.think_ns, [this, &world, node, index] { issue(world, node, index); });
  } else {
    world.kernel().after(0, [this, &world, node, index] { issue(world, node, index); });
  }
}

void DataPathDeployment::observe(sim::World& world) {
  world.observe_table(datapath::operations_schema().name, [this](const void* row) {
    const auto* r = static_cast<const datapath::OperationRow*>(row);
    Latencies& l = latencies_[r->kind];
    if (r->status == static_cast<uint8_t>(StatusCode::kOk)) {
      l.samples.push_back(r->end_ns - r->start_ns);
    } else {
      ++l.failed;
    }
    op_bytes_[r->kind] += r->bytes_sent + r->bytes_received;
    op_messages_[r->kind] += r->messages;
    op_round_trips_[r->kind] += r->round_trips;
  });
  const bool reads = std::find(checks_.begin(), checks_.end(), "read_correctness") != checks_.end();
  const bool gc = std::find(checks_.begin(), checks_.end(), "gc_safety") != checks_.end();
  if (reads || gc) {
    world.observe_table(datapath::commit_schema().name, [this](const void* row) {
      const auto* r = static_cast<const datapath::CommitRow*>(row);
      checker_.commit(r->file, RecordId{r->record_client, r->record_seq}, r->sequence, Extent{r->offset, r->length},
                      r->time_ns, r->kind == 2);
    });
  }
  if (reads) {
    world.observe_table(datapath::compaction_sources_schema().name, [this](const void* row) {
      const auto* r = static_cast<const datapath::CompactionSourceRow*>(row);
      const RecordId source{r->source_client, r->source_seq};
      checker_.compaction_source(r->file, RecordId{r->record_client, r->record_seq}, r->offset, r->length, source,
                                 source == datapath::kNoRecord);
    });
    world.observe_table(datapath::read_pieces_schema().name, [this](const void* row) {
      const auto* r = static_cast<const datapath::ReadPieceRow*>(row);
      const RecordId record{r->record_client, r->record_seq};
      checker_.read_piece(r->file, r->offset, r->length, record, record == datapath::kNoRecord, r->start_ns, r->end_ns);
    });
  }
  if (gc) {
    // Abandoning a record (its fragments are then deleted as orphans) is as wrong as collecting it
    // unless it was never committed or no longer current: the same GC-safety rule judges both.
    world.observe_table(datapath::abandon_schema().name, [this](const void* row) {
      const auto* r = static_cast<const datapath::AbandonRow*>(row);
      checker_.collected(r->file, RecordId{r->record_client, r->record_seq}, r->time_ns);
    });
  }
  world.observe_table(datapath::collection_schema().name, [this, gc](const void* row) {
    const auto* r = static_cast<const datapath::CollectionRow*>(row);
    const RecordId record{r->record_client, r->record_seq};
    if (gc) checker_.collected(r->file, record, r->time_ns);
    collected_.insert(record);
  });
  world.observe_table(sim::fault_schema().name, [this](const void* row) {
    const auto* r = static_cast<const sim::FaultRow*>(row);
    if (std::string(r->kind, strnlen(r->kind, sizeof r->kind)) == "disk_fail" && r->node < disk_failed_.size()) {
      disk_failed_[r->node] = true;
    }
  });
}

// The replica of `shard` that has applied the most (null if none is up).
const datapath::Catalog* best_replica(sim::World& world, uint64_t shard) {
  const datapath::Catalog* best = nullptr;
  for (NodeId node = 0; node < world.node_count(); ++node) {
    const auto* c = static_cast<const datapath::Catalog*>(world.role(node, kPortCatalog));
    if (c == nullptr || !c->replicates(shard) || !c->recovered(shard)) continue;
    if (best == nullptr || c->applied_index(shard) > best->applied_index(shard)) best = c;
  }
  return best;
}

sim::CheckerVerdict DataPathDeployment::check_agreement(sim::World& world) {
  sim::CheckerVerdict v;
  v.checker = "catalog_agreement";
  uint64_t compared = 0;
  for (uint64_t shard = 0; shard < config_->shards; ++shard) {
    // The shard's current group: the newest one any up replica has applied. Only its members are
    // compared; a replaced member (or a learner never admitted) may be behind or stale.
    const datapath::Catalog* newest = nullptr;
    for (NodeId node = 0; node < world.node_count(); ++node) {
      const auto* c = static_cast<const datapath::Catalog*>(world.role(node, kPortCatalog));
      if (c == nullptr || !c->replicates(shard) || !c->recovered(shard)) continue;
      if (newest == nullptr || c->config_version(shard) > newest->config_version(shard)) newest = c;
    }
    if (newest == nullptr) continue;
    std::vector<const datapath::Catalog*> replicas;
    for (NodeId node : newest->members(shard)) {
      const auto* c = node < world.node_count() ? static_cast<const datapath::Catalog*>(world.role(node, kPortCatalog)) : nullptr;
      if (c != nullptr && c->replicates(shard) && c->recovered(shard)) replicas.push_back(c);
    }
    if (replicas.size() < 2) continue;
    uint64_t common = UINT64_MAX;
    for (const auto* c : replicas) common = std::min(common, c->applied_index(shard));
    std::optional<uint64_t> reference;
    for (const auto* c : replicas) {
      const std::optional<uint64_t> digest = c->log_digest_at(shard, common);
      if (!digest) continue;
      if (!reference) {
        reference = digest;
      } else if (*reference != *digest) {
        if (v.violations++ == 0) {
          v.detail = "shard " + std::to_string(shard) + ": replicas differ at log index " + std::to_string(common);
        }
      }
    }
    if (reference) ++compared;
  }
  v.passed = v.violations == 0;
  if (v.passed) {
    v.detail = std::to_string(compared) + " shards compared at their common applied index across their current groups";
  }
  return v;
}

sim::CheckerVerdict DataPathDeployment::check_durability(sim::World& world) {
  sim::CheckerVerdict v;
  v.checker = "durability";
  auto violation = [&](const std::string& what) {
    if (v.violations++ == 0) v.detail = what;
  };
  std::vector<const datapath::Catalog*> best(config_->shards, nullptr);
  for (uint64_t shard = 0; shard < config_->shards; ++shard) best[shard] = best_replica(world, shard);
  // Every fragment of every current acknowledged record is looked up on its node's disk, node by node
  // (each node's durable manifest is read once), and tallied per record.
  struct Lookup {
    NodeId node;
    uint32_t ack;       // index into acknowledged_
    uint32_t fragment;
  };
  std::vector<Lookup> lookups;
  // Sized for every record at once (k + m fragments each): grown by doubling, the list passed through
  // tables of 12, 25 and 50 MB on its way to 100 MB in the 1,000-node run, all of them new memory.
  lookups.reserve(acknowledged_.size() * (config_->coding.k + config_->coding.m));
  std::vector<uint8_t> judged(acknowledged_.size(), 0);  // 1: current record, its fragments counted below
  std::vector<uint16_t> present(acknowledged_.size(), 0), on_failed_disks(acknowledged_.size(), 0);
  for (uint32_t a = 0; a < acknowledged_.size(); ++a) {
    const Acknowledged& ack = acknowledged_[a];
    const datapath::Catalog* catalog = best[datapath::shard_of(*config_, ack.file)];
    if (catalog == nullptr) continue;  // no replica up to ask: not judged
    const datapath::RecordStore& store = catalog->store();
    const datapath::RecordStore::Slot slot = store.find(ack.record);
    auto judge = [&](uint32_t fragment, NodeId node) {
      if (node >= world.node_count()) return;
      if (disk_failed_[node]) ++on_failed_disks[a];
      lookups.push_back(Lookup{node, a, fragment});
    };
    if (slot == datapath::RecordStore::kNoSlot) {
      // Committed and in the log, but not applied yet (the run ended before a new primary confirmed
      // it after restarts): judged by the fragments its log entry names.
      if (const WriteRecord* logged = catalog->unapplied_commit(datapath::shard_of(*config_, ack.file), ack.record)) {
        judged[a] = 1;
        for (uint32_t i = 0; i < logged->fragments.size(); ++i) judge(i, logged->fragments[i].node);
      } else if (collected_.count(ack.record) == 0) {
        violation("acknowledged write " + ack.record.to_string() + " of file " + std::to_string(ack.file) +
                  " is missing from the catalog");
      }
      continue;
    }
    if (!store.current(slot)) continue;  // superseded: its bytes live on in the compaction record
    judged[a] = 1;
    for (uint32_t i = 0; i < store.fragment_count(slot); ++i) judge(i, store.fragment_node(slot, i));
  }
  // Grouped by node in place (counting, then each misplaced lookup swapped into its node's range).
  std::vector<size_t> node_starts(world.node_count() + 1, 0);
  for (const Lookup& l : lookups) ++node_starts[l.node + 1];
  for (size_t n = 1; n < node_starts.size(); ++n) node_starts[n] += node_starts[n - 1];
  {
    std::vector<size_t> next(node_starts.begin(), node_starts.end() - 1);
    for (NodeId node = 0; node < world.node_count(); ++node) {
      while (next[node] < node_starts[node + 1]) {
        Lookup& here = lookups[next[node]];
        if (here.node == node) ++next[node];
        else std::swap(here, lookups[next[here.node]++]);
      }
    }
  }
  // A fragment is durable when the node's durable manifest places it inside its log's durable bytes.
  std::unordered_map<uint32_t, uint64_t> log_bytes;  // the node's logs looked at so far: durable size
  for (NodeId node = 0; node < world.node_count(); ++node) {
    if (node_starts[node] == node_starts[node + 1]) continue;
    const sim::Disk& disk = world.disk(node);
    const sim::Disk::File* manifest = disk.durable_file(datapath::kFragmentManifestFile);
    const datapath::FragmentTable<datapath::FragmentLocation> stored =
        manifest != nullptr && manifest->real ? datapath::read_manifest(manifest->bytes()) : datapath::FragmentTable<datapath::FragmentLocation>{};
    log_bytes.clear();
    for (size_t at = node_starts[node]; at < node_starts[node + 1]; ++at) {
      const Lookup& l = lookups[at];
      const Acknowledged& ack = acknowledged_[l.ack];
      const datapath::FragmentLocation* found = stored.find(datapath::FragmentKey{ack.file, ack.record, l.fragment});
      if (found == nullptr) continue;
      auto [size, fresh] = log_bytes.try_emplace(found->log, 0);
      if (fresh) {
        const sim::Disk::File* log = disk.durable_file(datapath::fragment_log_file(found->log));
        size->second = log != nullptr ? log->size : 0;
      }
      if (size->second >= found->offset + found->size) ++present[l.ack];
    }
  }
  uint64_t checked = 0;
  for (uint32_t a = 0; a < acknowledged_.size(); ++a) {
    if (judged[a] == 0) continue;
    ++checked;
    if (present[a] < config_->coding.k && on_failed_disks[a] <= config_->coding.m) {
      const Acknowledged& ack = acknowledged_[a];
      violation("acknowledged write " + ack.record.to_string() + " of file " + std::to_string(ack.file) + " has " +
                std::to_string(present[a]) + " durable fragments (k = " + std::to_string(config_->coding.k) +
                ") with only " + std::to_string(on_failed_disks[a]) + " on failed disks");
    }
  }
  v.passed = v.violations == 0;
  if (v.passed) v.detail = std::to_string(checked) + " current acknowledged records have at least k durable fragments";
  return v;
}

void DataPathDeployment::finish(sim::World& world, sim::RunSummary& summary) {
  for (auto& [kind, l] : latencies_) {
    const std::string prefix = "pbfs." + kind;
    summary.metrics[prefix + ".ok"] = static_cast<double>(l.samples.size());
    summary.metrics[prefix + ".failed"] = static_cast<double>(l.failed);
    const double count = static_cast<double>(l.samples.size() + l.failed);
    if (count > 0) {
      summary.metrics[prefix + ".bytes_per_op"] = static_cast<double>(op_bytes_[kind]) / count;
      summary.metrics[prefix + ".messages_per_op"] = static_cast<double>(op_messages_[kind]) / count;
      summary.metrics[prefix + ".round_trips_per_op"] = static_cast<double>(op_round_trips_[kind]) / count;
    }
    if (l.samples.empty()) continue;
    std::sort(l.samples.begin(), l.samples.end());
    summary.metrics[prefix + ".latency_p50_us"] = static_cast<double>(l.samples[l.samples.size() / 2]) / 1e3;
    summary.metrics[prefix + ".latency_p99_us"] = static_cast<double>(l.samples[l.samples.size() * 99 / 100]) / 1e3;
  }
  for (const std::string& check : checks_) {
    sim::CheckerVerdict v;
    v.checker = check;
    if (check == "read_correctness") {
      v.violations = checker_.read_violations();
      v.passed = v.violations == 0;
      v.detail = v.passed ? std::to_string(checker_.pieces_checked()) + " read pieces checked, " +
                                std::to_string(checker_.pieces_unverifiable()) + " too old to judge"
                          : checker_.first_read_violation();
      const uint64_t mismatches = summary.counters.count("datapath.read_mismatch") ? summary.counters["datapath.read_mismatch"] : 0;
      if (mismatches > 0) {
        v.passed = false;
        v.violations += mismatches;
        v.detail += "; " + std::to_string(mismatches) + " bytes differed from their record's content";
      }
    } else if (check == "gc_safety") {
      v.violations = checker_.gc_violations();
      v.passed = v.violations == 0;
      v.detail = v.passed ? std::to_string(checker_.collections_checked()) + " collections checked" : checker_.first_gc_violation();
    } else if (check == "catalog_agreement") {
      v = check_agreement(world);
    } else {
      v = check_durability(world);
    }
    summary.verdicts.push_back(v);
  }
}

}  // namespace

std::unique_ptr<Deployment> make_datapath_deployment() { return std::make_unique<DataPathDeployment>(); }

}  // namespace pbfs
