// Loads a scenario: parse the YAML, apply the --set overrides to the tree, then validate every section
// into a Scenario, so that nothing runs unless the whole file makes sense. Protocol, workload and checks
// stay YAML; the deployment reads them through Scenario::section() so its errors look the same.
#include "scenarios/scenario.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace pbfs {
namespace {

constexpr uint64_t kNodesMax = 1'000'000;
constexpr int64_t kRacksPerSiteMax = 100'000;
constexpr int64_t kNodesPerRackMax = 100'000;
constexpr int64_t kCoresMax = 4096;
constexpr double kDriftPpmMax = 1e6;  // a clock running at twice or zero speed: beyond any real fault
constexpr double kSlowFactorMax = 1e6;

// Errors of child readers are shared with the root reader, which reports the first one.
void done(FieldReader& reader) { static_cast<void>(reader.finish()); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

template <typename Map>
std::string names_of(const Map& map) {
  std::vector<std::string> names;
  for (const auto& [name, value] : map) names.push_back(name);
  return join(names);
}

// ---- fault kinds and the fields each one takes ----

enum FaultField : uint32_t {
  kFieldAt = 1u << 0,
  kFieldDuration = 1u << 1,
  kFieldNodes = 1u << 2,
  kFieldGroups = 1u << 3,
  kFieldRack = 1u << 4,
  kFieldRate = 1u << 5,
  kFieldFactor = 1u << 6,
  kFieldDelay = 1u << 7,
  kFieldJitter = 1u << 8,
  kFieldOffset = 1u << 9,
  kFieldDriftPpm = 1u << 10,
  kFieldCount = 1u << 11,
};

struct FaultFieldName {
  uint32_t bit;
  const char* name;
};
constexpr FaultFieldName kFaultFields[] = {
    {kFieldAt, "at"},         {kFieldDuration, "duration"}, {kFieldNodes, "nodes"},   {kFieldGroups, "groups"},
    {kFieldRack, "rack"},     {kFieldRate, "rate"},         {kFieldFactor, "factor"}, {kFieldDelay, "delay"},
    {kFieldJitter, "jitter"}, {kFieldOffset, "offset"},     {kFieldDriftPpm, "drift_ppm"}, {kFieldCount, "count"}};

struct FaultKindInfo {
  FaultKind kind;
  const char* name;
  uint32_t allowed;   // fields besides `kind`
  uint32_t required;  // a subset of allowed
};

constexpr uint32_t kTimed = kFieldAt | kFieldDuration;
constexpr uint32_t kOnNodes = kFieldAt | kFieldNodes;
constexpr uint32_t kTraffic = kTimed | kFieldNodes | kFieldRate;
constexpr FaultKindInfo kFaultKinds[] = {
    {FaultKind::kCrash, "crash", kTimed | kFieldNodes, kOnNodes},
    {FaultKind::kIsolate, "isolate", kTimed | kFieldNodes, kOnNodes},
    {FaultKind::kPartition, "partition", kTimed | kFieldGroups, kFieldAt | kFieldGroups},
    {FaultKind::kPartitionOneWay, "partition_one_way", kTimed | kFieldGroups, kFieldAt | kFieldGroups},
    {FaultKind::kLinkDown, "link_down", kTimed | kFieldNodes | kFieldRack, kFieldAt},
    {FaultKind::kDrop, "drop", kTraffic, kFieldAt},
    {FaultKind::kDuplicate, "duplicate", kTraffic, kFieldAt},
    {FaultKind::kDelay, "delay", kTraffic | kFieldDelay | kFieldJitter, kFieldAt | kFieldDelay},
    {FaultKind::kReorder, "reorder", kTraffic | kFieldJitter, kFieldAt | kFieldJitter},
    {FaultKind::kDiskFull, "disk_full", kTimed | kFieldNodes, kOnNodes},
    {FaultKind::kDiskSlow, "disk_slow", kTimed | kFieldNodes | kFieldFactor, kOnNodes | kFieldFactor},
    {FaultKind::kDiskFail, "disk_fail", kTimed | kFieldNodes, kOnNodes},
    {FaultKind::kBitRot, "bit_rot", kOnNodes | kFieldCount, kOnNodes},
    {FaultKind::kClockStep, "clock_step", kOnNodes | kFieldOffset, kOnNodes | kFieldOffset},
    {FaultKind::kClockDrift, "clock_drift", kTimed | kFieldNodes | kFieldDriftPpm, kOnNodes | kFieldDriftPpm},
};

const FaultKindInfo* find_fault_kind(const std::string& name) {
  for (const FaultKindInfo& info : kFaultKinds) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string known_fault_kinds() {
  std::vector<std::string> names;
  for (const FaultKindInfo& info : kFaultKinds) names.push_back(info.name);
  return join(names);
}

std::string fields_of(const FaultKindInfo& info) {
  std::vector<std::string> names{"kind"};
  for (const FaultFieldName& field : kFaultFields) {
    if (info.allowed & field.bit) names.push_back(field.name);
  }
  return join(names);
}

// What the faults are checked against.
struct RunShape {
  uint32_t nodes = 0;
  uint32_t racks = 0;
  TimeNs duration_ns = 0;
};

std::string no_such_node(int64_t id, const RunShape& shape) {
  return "node " + std::to_string(id) + " does not exist (the topology has " + std::to_string(shape.nodes) +
         " nodes, ids 0.." + std::to_string(static_cast<int64_t>(shape.nodes) - 1) + ")";
}

std::vector<NodeId> read_nodes(FieldReader& r, const RunShape& shape) {
  const std::vector<int64_t> ids = r.integer_list("nodes", 0, std::numeric_limits<int64_t>::max());
  const YAML::Node list = r.raw("nodes");
  std::vector<NodeId> out;
  std::set<int64_t> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string where = "nodes." + std::to_string(i);
    if (ids[i] >= shape.nodes) {
      r.fail_at(where, list[i], no_such_node(ids[i], shape));
      break;
    }
    if (!seen.insert(ids[i]).second) {
      r.fail_at(where, list[i], "node " + std::to_string(ids[i]) + " is listed twice");
      break;
    }
    out.push_back(static_cast<NodeId>(ids[i]));
  }
  return out;
}

// `groups: [[0, 1], [2, 3]]`: lists of node ids, each node in at most one group.
std::vector<std::vector<NodeId>> read_groups(FieldReader& r, const RunShape& shape) {
  std::vector<std::vector<NodeId>> out;
  const YAML::Node groups = r.raw("groups");
  if (!groups.IsDefined() || groups.IsNull()) return out;
  if (!groups.IsSequence()) {
    r.fail("groups", "expected a list of node lists, e.g. [[0, 1], [2, 3]]");
    return out;
  }
  std::map<int64_t, size_t> group_of;
  for (size_t i = 0; i < groups.size(); ++i) {
    const YAML::Node group = groups[i];
    const std::string where = "groups." + std::to_string(i);
    if (!group.IsSequence() || group.size() == 0) {
      r.fail_at(where, group, "expected a non-empty list of node ids");
      return out;
    }
    out.emplace_back();
    for (size_t j = 0; j < group.size(); ++j) {
      const YAML::Node item = group[j];
      const std::string item_where = where + "." + std::to_string(j);
      const auto id = item.IsScalar() ? parse_integer(item.Scalar()) : std::nullopt;
      if (!id || *id < 0) {
        r.fail_at(item_where, item, "expected a node id (a whole number from 0)");
        return out;
      }
      if (*id >= shape.nodes) {
        r.fail_at(item_where, item, no_such_node(*id, shape));
        return out;
      }
      const auto [it, fresh] = group_of.emplace(*id, i);
      if (!fresh) {
        r.fail_at(item_where, item,
                  it->second == i ? "node " + std::to_string(*id) + " is listed twice in group " + std::to_string(i)
                                  : "partition groups overlap: node " + std::to_string(*id) + " is in groups " +
                                        std::to_string(it->second) + " and " + std::to_string(i));
        return out;
      }
      out.back().push_back(static_cast<NodeId>(*id));
    }
  }
  return out;
}

void read_fault_values(FieldReader& r, const FaultKindInfo& info, const RunShape& shape, FaultSpec& f) {
  const uint32_t allowed = info.allowed;
  if (allowed & kFieldAt) f.at_ns = r.duration("at", 0);
  if (allowed & kFieldDuration) f.duration_ns = r.duration("duration", 0);
  if (allowed & kFieldNodes) f.nodes = read_nodes(r, shape);
  if (allowed & kFieldGroups) f.groups = read_groups(r, shape);
  if (allowed & kFieldRack) {
    f.rack = static_cast<int32_t>(r.integer("rack", -1, 0, std::numeric_limits<int32_t>::max()));
    if (f.rack >= static_cast<int64_t>(shape.racks)) {
      r.fail("rack", "rack " + std::to_string(f.rack) + " does not exist (the topology has " +
                         std::to_string(shape.racks) + " racks, ids 0.." + std::to_string(shape.racks - 1) + ")");
    }
  }
  if (allowed & kFieldRate) f.rate = r.number("rate", 1.0, 0.0, 1.0);
  if (allowed & kFieldFactor) f.factor = r.number("factor", 1.0, 1.0, kSlowFactorMax);
  if (allowed & kFieldDelay) f.delay_ns = r.duration("delay", 0);
  if (allowed & kFieldJitter) f.jitter_ns = r.duration("jitter", 0);
  if (allowed & kFieldOffset) f.offset_ns = r.signed_duration("offset", 0);
  if (allowed & kFieldDriftPpm) f.drift_ppm = r.number("drift_ppm", 0.0, -kDriftPpmMax, kDriftPpmMax);
  if (allowed & kFieldCount) {
    f.count = static_cast<uint32_t>(r.integer("count", 1, 1, std::numeric_limits<uint32_t>::max()));
  }
}

// Checks that need several fields at once.
void check_fault(FieldReader& r, const FaultKindInfo& info, const RunShape& shape, const FaultSpec& f) {
  if (f.at_ns >= shape.duration_ns) {
    r.fail("at", "fault at " + format_duration(f.at_ns) + " is not before the end of the run (duration " +
                     format_duration(shape.duration_ns) + ")");
  }
  if ((info.required & kFieldNodes) && f.nodes.empty()) r.fail("nodes", "list at least one node");
  if (f.kind == FaultKind::kPartition && f.groups.size() < 2) {
    r.fail("groups", "a partition needs at least 2 groups, got " + std::to_string(f.groups.size()));
  }
  if (f.kind == FaultKind::kPartitionOneWay && f.groups.size() != 2) {
    r.fail("groups", "partition_one_way needs exactly 2 groups (from, to), got " + std::to_string(f.groups.size()));
  }
  if (f.kind == FaultKind::kLinkDown && r.has("nodes") == r.has("rack")) {
    r.fail(r.has("nodes") ? "rack" : "", "link_down takes either nodes (their access links) or rack (its uplink)");
  }
  if (f.kind == FaultKind::kDelay && f.delay_ns == 0) r.fail("delay", "must be greater than 0");
  if (f.kind == FaultKind::kReorder && f.jitter_ns == 0) r.fail("jitter", "must be greater than 0");
  if (f.kind == FaultKind::kClockStep && f.offset_ns == 0) r.fail("offset", "must not be 0");
}

void read_fault(FieldReader& r, const RunShape& shape, FaultSpec& f) {
  f.line = r.line_of("");
  if (!r.require("kind")) return;
  const std::string name = r.string("kind", "");
  const FaultKindInfo* info = find_fault_kind(name);
  if (info == nullptr) {
    r.fail("kind", "unknown fault kind '" + name + "' (known: " + known_fault_kinds() + ")");
    return;
  }
  f.kind = info->kind;
  for (const FaultFieldName& field : kFaultFields) {
    if ((info->allowed & field.bit) == 0 && r.has(field.name)) {
      r.fail(field.name, "not used by fault kind '" + name + "' (its fields: " + fields_of(*info) + ")");
      return;
    }
  }
  read_fault_values(r, *info, shape, f);
  for (const FaultFieldName& field : kFaultFields) {
    if ((info->required & field.bit) && !r.require(field.name)) return;
  }
  if (r.ok()) check_fault(r, *info, shape, f);
}

void read_schedule(FieldReader& r, const std::string& key, const RunShape& shape, std::vector<FaultSpec>& faults) {
  const size_t count = r.list_size(key);
  for (size_t i = 0; i < count; ++i) {
    FieldReader entry = r.element(key, i);
    FaultSpec fault;
    read_fault(entry, shape, fault);
    done(entry);
    faults.push_back(std::move(fault));
  }
}

void read_swarm(FieldReader& r, const RunShape& shape, SwarmSpec& swarm) {
  swarm.enabled = r.boolean("enabled", true);
  if (r.require("kinds")) {
    const std::vector<std::string> names = r.string_list("kinds");
    const YAML::Node list = r.raw("kinds");
    if (names.empty() && r.ok()) r.fail("kinds", "list at least one fault kind (known: " + known_fault_kinds() + ")");
    for (size_t i = 0; i < names.size(); ++i) {
      const FaultKindInfo* info = find_fault_kind(names[i]);
      const std::string where = "kinds." + std::to_string(i);
      if (info == nullptr) {
        r.fail_at(where, list[i], "unknown fault kind '" + names[i] + "' (known: " + known_fault_kinds() + ")");
        break;
      }
      if (std::find(swarm.kinds.begin(), swarm.kinds.end(), info->kind) != swarm.kinds.end()) {
        r.fail_at(where, list[i], "fault kind '" + names[i] + "' is listed twice");
        break;
      }
      swarm.kinds.push_back(info->kind);
    }
  }
  swarm.interval_min_ns = r.duration("interval_min", swarm.interval_min_ns);
  swarm.interval_max_ns = r.duration("interval_max", swarm.interval_max_ns);
  swarm.duration_max_ns = r.duration("duration_max", swarm.duration_max_ns);
  swarm.concurrent_max = static_cast<uint32_t>(
      r.integer("concurrent_max", swarm.concurrent_max, 1, std::max<int64_t>(1, shape.nodes)));
  if (swarm.interval_min_ns == 0) r.fail("interval_min", "must be greater than 0");
  if (swarm.interval_max_ns < swarm.interval_min_ns) {
    r.fail("interval_max", "must not be less than interval_min (" + format_duration(swarm.interval_min_ns) + ")");
  }
  if (swarm.duration_max_ns == 0) r.fail("duration_max", "must be greater than 0");
}

// `faults:` is either the schedule itself (a list) or a map with `schedule` and `swarm`.
void read_faults(FieldReader& r, const RunShape& shape, Scenario& s) {
  const YAML::Node faults = r.raw("faults");
  if (!faults.IsDefined() || faults.IsNull()) return;
  if (faults.IsSequence()) {
    read_schedule(r, "faults", shape, s.faults);
    return;
  }
  if (!faults.IsMap()) {
    r.fail("faults", "expected a list of faults, or a map with schedule and swarm");
    return;
  }
  FieldReader f = r.child("faults");
  read_schedule(f, "schedule", shape, s.faults);
  const bool has_swarm = f.has("swarm");
  FieldReader swarm = f.child("swarm");
  if (has_swarm) read_swarm(swarm, shape, s.swarm);
  done(swarm);
  done(f);
}

// ---- profiles ----

DiskProfile builtin_ssd() {
  DiskProfile p;
  p.name = "ssd";
  p.read_latency_ns = 80 * kMicrosecond;
  p.write_latency_ns = 20 * kMicrosecond;
  p.sync_latency_ns = 50 * kMicrosecond;
  p.read_bandwidth_bytes_per_s = 2e9;
  p.write_bandwidth_bytes_per_s = 1.5e9;
  p.capacity_bytes = 1ull << 40;
  return p;
}

DiskProfile builtin_hdd() {
  DiskProfile p;
  p.name = "hdd";
  p.read_latency_ns = 4 * kMillisecond;
  p.write_latency_ns = 4 * kMillisecond;
  p.sync_latency_ns = 4 * kMillisecond;
  p.read_bandwidth_bytes_per_s = 200e6;
  p.write_bandwidth_bytes_per_s = 200e6;
  p.capacity_bytes = 8ull << 40;
  return p;
}

NodeProfile builtin_node() {
  NodeProfile p;
  p.name = "default";
  p.cores = 8;
  p.disk = "ssd";
  return p;
}

void read_disk_profiles(FieldReader& disks, Scenario& s) {
  for (const std::string& name : disks.keys()) {
    FieldReader r = disks.child(name);
    // A built-in name changes only the fields given; a new profile starts from the ssd values.
    const DiskProfile base = name == "hdd" ? builtin_hdd() : builtin_ssd();
    DiskProfile p = base;
    p.name = name;
    p.read_latency_ns = r.duration("read_latency", base.read_latency_ns);
    p.write_latency_ns = r.duration("write_latency", base.write_latency_ns);
    p.sync_latency_ns = r.duration("sync_latency", base.sync_latency_ns);
    p.read_bandwidth_bytes_per_s = r.bandwidth("read_bandwidth", base.read_bandwidth_bytes_per_s);
    p.write_bandwidth_bytes_per_s = r.bandwidth("write_bandwidth", base.write_bandwidth_bytes_per_s);
    p.capacity_bytes = r.bytes("capacity", base.capacity_bytes);
    if (p.capacity_bytes == 0) r.fail("capacity", "must be greater than 0");
    p.torn_write_probability = r.number("torn_write_probability", base.torn_write_probability, 0.0, 1.0);
    done(r);
    s.disk_profiles[name] = p;
  }
}

void read_node_profiles(FieldReader& nodes, Scenario& s) {
  for (const std::string& name : nodes.keys()) {
    FieldReader r = nodes.child(name);
    const NodeProfile base = builtin_node();
    NodeProfile p = base;
    p.name = name;
    p.cores = static_cast<uint32_t>(r.integer("cores", base.cores, 1, kCoresMax));
    p.disk = r.string("disk", base.disk);
    if (s.disk_profiles.count(p.disk) == 0) {
      r.fail("disk", "unknown disk profile '" + p.disk + "' (known: " + names_of(s.disk_profiles) + ")");
    }
    FieldReader clock = r.child("clock");
    p.clock.offset_max_ns = clock.duration("offset_max", base.clock.offset_max_ns);
    p.clock.drift_ppm_max = clock.number("drift_ppm_max", base.clock.drift_ppm_max, 0.0, kDriftPpmMax);
    done(clock);
    done(r);
    s.node_profiles[name] = p;
  }
}

void read_profiles(FieldReader& r, Scenario& s) {
  s.disk_profiles["ssd"] = builtin_ssd();
  s.disk_profiles["hdd"] = builtin_hdd();
  s.node_profiles["default"] = builtin_node();
  FieldReader disks = r.child("disks");
  read_disk_profiles(disks, s);
  done(disks);
  FieldReader nodes = r.child("nodes");
  read_node_profiles(nodes, s);
  done(nodes);
}

// ---- topology ----

LinkSpec read_link(FieldReader r, LinkSpec link) {
  link.latency_ns = r.duration("latency", link.latency_ns);
  link.bandwidth_bytes_per_s = r.bandwidth("bandwidth", link.bandwidth_bytes_per_s);
  link.loss = r.number("loss", link.loss, 0.0, 1.0);
  done(r);
  return link;
}

void read_sites(FieldReader& t, Scenario& s) {
  if (!t.require("sites")) return;
  const size_t count = t.list_size("sites");
  if (count == 0 && t.ok()) t.fail("sites", "list at least one site");
  uint64_t nodes = 0;
  std::map<std::string, size_t> site_index;
  for (size_t i = 0; i < count; ++i) {
    FieldReader r = t.element("sites", i);
    SiteSpec site;
    site.name = r.string("name", "site" + std::to_string(i));
    site.racks = static_cast<uint32_t>(r.integer("racks", site.racks, 1, kRacksPerSiteMax));
    site.nodes_per_rack = static_cast<uint32_t>(r.integer("nodes_per_rack", site.nodes_per_rack, 1, kNodesPerRackMax));
    site.node_profile = r.string("node_profile", site.node_profile);
    const auto [other, fresh] = site_index.emplace(site.name, i);
    if (!fresh) {
      r.fail("name", "duplicate site name '" + site.name + "' (also topology.sites." + std::to_string(other->second) + ")");
    }
    if (s.node_profiles.count(site.node_profile) == 0) {
      r.fail("node_profile",
             "unknown node profile '" + site.node_profile + "' (known: " + names_of(s.node_profiles) + ")");
    }
    nodes += uint64_t{site.racks} * site.nodes_per_rack;
    if (nodes > kNodesMax) {
      r.fail("", "too many nodes: " + std::to_string(nodes) + " up to this site (at most " +
                     std::to_string(kNodesMax) + ")");
    }
    done(r);
    s.topology.sites.push_back(std::move(site));
  }
}

void read_topology(FieldReader& t, Scenario& s) {
  read_sites(t, s);
  FieldReader links = t.child("links");
  LinkSpec node_link{5 * kMicrosecond, 10e9 / 8, 0};
  LinkSpec rack_link{10 * kMicrosecond, 40e9 / 8, 0};
  LinkSpec site_link{20 * kMillisecond, 1e9 / 8, 0};
  s.topology.node_link = read_link(links.child("node"), node_link);
  s.topology.rack_link = read_link(links.child("rack"), rack_link);
  s.topology.site_link = read_link(links.child("site"), site_link);
  done(links);
}

// ---- the rest of the top level ----

void read_protocol(FieldReader& r, Scenario& s) {
  if (!r.require("protocol")) return;
  const YAML::Node node = r.raw("protocol");
  if (!node.IsMap()) {
    r.fail("protocol", "expected a map with at least a name, e.g. {name: echo}");
    return;
  }
  FieldReader p = r.child("protocol");
  if (p.require("name") && p.string("name", "").empty() && p.ok()) p.fail("name", "must not be empty");
  // The other protocol fields belong to the deployment, which calls finish() on its own reader.
  s.protocol.reset(node);
}

void read_outputs(FieldReader r, OutputSpec& out) {
  out.trace_path = r.string("trace", out.trace_path);
  out.message_log = r.boolean("message_log", out.message_log);
  out.resource_sample_interval_ns = r.duration("resource_sample_interval", out.resource_sample_interval_ns);
  done(r);
}

std::string default_name(const std::string& file) {
  if (file.empty() || file[0] == '<') return "scenario";
  return std::filesystem::path(file).stem().string();
}

void read_scenario(FieldReader& r, Scenario& s) {
  s.name = r.string("name", default_name(s.file));
  s.description = r.string("description", "");
  s.seed = static_cast<uint64_t>(r.integer("seed", 1, 0, std::numeric_limits<int64_t>::max()));
  if (const auto duration = r.duration_required("duration")) {
    s.duration_ns = *duration;
    if (s.duration_ns == 0) r.fail("duration", "must be greater than 0");
  }
  const std::string payload = r.choice("payload", "synthetic", {"real", "synthetic"});
  s.payload = payload == "real" ? PayloadFidelity::kReal : PayloadFidelity::kSynthetic;
  FieldReader profiles = r.child("profiles");
  read_profiles(profiles, s);
  done(profiles);
  if (r.require("topology")) {
    FieldReader topology = r.child("topology");
    read_topology(topology, s);
    done(topology);
  }
  read_protocol(r, s);
  s.workload.reset(r.raw("workload"));
  s.checks.reset(r.raw("checks"));
  const RunShape shape{s.node_count(), s.rack_count(), s.duration_ns};
  read_faults(r, shape, s);
  read_outputs(r.child("outputs"), s.output);
}

// ---- command-line overrides ----

std::optional<size_t> parse_index(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<size_t>(std::stoul(text));
}

bool map_has(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return false;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return true;
  }
  return false;
}

// Writes `path=value` into the tree, creating missing maps (or a list, before an index) on the way.
// Node handles are moved with reset(): assigning one Node to another would overwrite the tree.
Status apply_override(YAML::Node& root, const std::string& argument, OverrideOrigins& origins) {
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument, "--set " + argument + ": " + why);
  };
  const size_t equals = argument.find('=');
  if (equals == std::string::npos) return bad("expected <dotted.field.path>=<value>, e.g. protocol.coding.k=6");
  const std::string path = argument.substr(0, equals);
  std::vector<std::string> parts;
  std::stringstream split(path);
  for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
  if (path.empty() || path.back() == '.' ||
      std::find(parts.begin(), parts.end(), std::string()) != parts.end()) {
    return bad("empty field name in '" + path + "'");
  }
  YAML::Node value;
  try {
    value = YAML::Load(argument.substr(equals + 1));
  } catch (const YAML::ParserException& e) {
    return bad("bad value: " + e.msg);
  }
  YAML::Node here;
  here.reset(root);
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    const std::string at = walked.empty() ? part : walked + "." + part;
    YAML::Node fresh = last ? value
                            : YAML::Node(parse_index(parts[i + 1]) ? YAML::NodeType::Sequence : YAML::NodeType::Map);
    YAML::Node next;
    if (here.IsSequence()) {
      const auto index = parse_index(part);
      if (!index) return bad("'" + walked + "' is a list: expected an element index, got '" + part + "'");
      if (*index > here.size()) {
        return bad("index " + part + " is out of range ('" + walked + "' has " + std::to_string(here.size()) +
                   " elements; an index equal to the size appends)");
      }
      if (*index == here.size()) {
        here.push_back(fresh);
        origins[at] = argument;
      } else if (last) {
        here[*index] = fresh;
      }
      next.reset(here[*index]);
    } else if (here.IsMap() || here.IsNull()) {
      if (!map_has(here, part)) {
        here[part] = fresh;
        origins[at] = argument;
      } else if (last) {
        here[part] = fresh;
      }
      next.reset(here[part]);
    } else {
      return bad("'" + walked + "' is a single value, so it has no field '" + part + "'");
    }
    here.reset(next);
    walked = at;
  }
  origins[walked] = argument;
  return Status::ok();
}

Result<Scenario> load_tree(const std::string& text, const std::string& origin,
                           const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root.reset(YAML::Load(text));
  } catch (const YAML::ParserException& e) {
    return Status(StatusCode::kInvalidArgument,
                  origin + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    const int line = root.Mark().is_null() ? 1 : root.Mark().line + 1;
    return Status(StatusCode::kInvalidArgument,
                  origin + ":" + std::to_string(line) + ": expected a map of scenario fields at the top level");
  }
  if (!root.IsMap()) root.reset(YAML::Node(YAML::NodeType::Map));
  OverrideOrigins origins;
  for (const std::string& argument : overrides) {
    Status status = apply_override(root, argument, origins);
    if (!status.is_ok()) return status;
  }
  Scenario s;
  s.file = origin;
  s.overrides = origins;
  YAML::Emitter emitter;
  emitter << root;
  s.text = std::string(emitter.c_str()) + "\n";
  if (root.size() == 0) return Status(StatusCode::kInvalidArgument, origin + ":1: the scenario is empty");
  FieldReader reader(root, origin, "", origins);
  read_scenario(reader, s);
  Status status = reader.finish();
  if (!status.is_ok()) return status;
  return s;
}

}  // namespace

const char* fault_kind_name(FaultKind kind) {
  for (const FaultKindInfo& info : kFaultKinds) {
    if (info.kind == kind) return info.name;
  }
  return "unknown";
}

std::optional<FaultKind> fault_kind_from_name(const std::string& name) {
  const FaultKindInfo* info = find_fault_kind(name);
  if (info == nullptr) return std::nullopt;
  return info->kind;
}

uint32_t Scenario::node_count() const {
  uint64_t nodes = 0;
  for (const SiteSpec& site : topology.sites) nodes += uint64_t{site.racks} * site.nodes_per_rack;
  return static_cast<uint32_t>(std::min<uint64_t>(nodes, std::numeric_limits<uint32_t>::max()));
}

uint32_t Scenario::rack_count() const {
  uint64_t racks = 0;
  for (const SiteSpec& site : topology.sites) racks += site.racks;
  return static_cast<uint32_t>(std::min<uint64_t>(racks, std::numeric_limits<uint32_t>::max()));
}

FieldReader Scenario::section(const std::string& key) const {
  const YAML::Node* node = key == "protocol" ? &protocol : key == "workload" ? &workload
                                                         : key == "checks"   ? &checks
                                                                             : nullptr;
  if (node == nullptr) {
    std::fprintf(stderr, "Scenario::section: '%s' is not protocol, workload or checks\n", key.c_str());
    std::abort();
  }
  return FieldReader(*node, file, key, overrides);
}

Result<Scenario> load_scenario_text(const std::string& text, const std::string& origin,
                                    const std::vector<std::string>& overrides) {
  try {
    return load_tree(text, origin, overrides);
  } catch (const YAML::Exception& e) {
    // Every access above checks node types first; this only keeps a yaml-cpp surprise from escaping.
    return Status(StatusCode::kInvalidArgument, origin + ": " + e.what());
  }
}

Result<Scenario> load_scenario_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot open scenario file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(StatusCode::kIoError, "cannot read scenario file '" + path + "'");
  return load_scenario_text(text.str(), path, overrides);
}

}  // namespace pbfs
