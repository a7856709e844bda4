// A scenario: everything one simulated run needs (topology, profiles, protocol, workload, faults,
// checks, outputs, duration, seed), loaded from YAML and validated before anything runs. Errors name the
// file, line and field. Protocol and workload sections are validated by the deployment that runs them,
// through the same FieldReader, so their errors look the same.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coding/status.h"
#include "protocols/runtime/types.h"
#include "scenarios/fields.h"

namespace pbfs {

struct LinkSpec {
  TimeNs latency_ns = 0;
  double bandwidth_bytes_per_s = 0;  // scenario writes bits per second ("10Gbps"); stored as bytes/s
  double loss = 0;                   // probability a message is lost on this link
};

struct DiskProfile {
  std::string name;
  TimeNs read_latency_ns = 0;
  TimeNs write_latency_ns = 0;  // into the volatile write cache
  TimeNs sync_latency_ns = 0;   // fixed cost of a flush, plus dirty bytes / write bandwidth
  double read_bandwidth_bytes_per_s = 0;
  double write_bandwidth_bytes_per_s = 0;
  uint64_t capacity_bytes = 0;
  double torn_write_probability = 0;  // on crash, an unsynced write persists partially
};

struct ClockProfile {
  TimeNs offset_max_ns = 0;  // each node's initial offset drawn uniformly in [-max, +max]
  double drift_ppm_max = 0;  // each node's drift drawn uniformly in [-max, +max]
};

struct NodeProfile {
  std::string name;
  uint32_t cores = 1;
  std::string disk;  // name of a DiskProfile
  ClockProfile clock;
};

struct SiteSpec {
  std::string name;
  uint32_t racks = 1;
  uint32_t nodes_per_rack = 1;
  std::string node_profile = "default";
};

// A tree per site (node - rack switch - site core) and a full mesh between site cores.
struct TopologySpec {
  std::vector<SiteSpec> sites;
  LinkSpec node_link;  // node <-> its rack switch
  LinkSpec rack_link;  // rack switch <-> site core
  LinkSpec site_link;  // site core <-> every other site core
};

enum class FaultKind : uint8_t {
  kCrash,             // node crashes (volatile state lost); restarts after `duration` unless 0
  kIsolate,           // node's access link cut both ways
  kPartition,         // `groups` cannot reach each other (both directions)
  kPartitionOneWay,   // messages from groups[0] to groups[1] are dropped, the reverse still flows
  kLinkDown,          // the access link of each node in `nodes` (or the uplink of `rack`) is down
  kDrop,              // each message from/to `nodes` (all if empty) dropped with `rate`
  kDuplicate,         // ... duplicated with `rate`
  kDelay,             // ... delayed by `delay` (plus uniform `jitter`) with `rate`
  kReorder,           // ... delayed by uniform [0, jitter] with `rate`, so later messages overtake
  kDiskFull,          // node's disk reports no space for writes
  kDiskSlow,          // node's disk service times multiplied by `factor`
  kDiskFail,          // node's disk fails: every operation errors and its content is lost
  kBitRot,            // `count` random bits flipped in the node's durable data
  kClockStep,         // node's clock jumps by `offset`
  kClockDrift,        // node's drift set to `drift_ppm`
};
const char* fault_kind_name(FaultKind kind);
std::optional<FaultKind> fault_kind_from_name(const std::string& name);

struct FaultSpec {
  FaultKind kind = FaultKind::kCrash;
  TimeNs at_ns = 0;
  TimeNs duration_ns = 0;  // 0: until the end of the run
  std::vector<NodeId> nodes;
  std::vector<std::vector<NodeId>> groups;
  int32_t rack = -1;  // kLinkDown on a rack uplink: global rack index
  double rate = 1.0;
  double factor = 1.0;
  TimeNs delay_ns = 0;
  TimeNs jitter_ns = 0;
  TimeNs offset_ns = 0;
  double drift_ppm = 0;
  uint32_t count = 1;
  int line = 0;  // where it was written, for messages
};

// Random faults whose rates the seed picks (TigerBeetle's swarm testing): each kind listed is enabled
// or not by the seed, and gets a seed-chosen mean interval within [interval_min, interval_max].
struct SwarmSpec {
  bool enabled = false;
  std::vector<FaultKind> kinds;
  TimeNs interval_min_ns = kSecond;
  TimeNs interval_max_ns = 10 * kSecond;
  TimeNs duration_max_ns = 5 * kSecond;
  uint32_t concurrent_max = 1;  // never more than this many nodes faulty at once (the fault atlas)
};

struct OutputSpec {
  std::string trace_path;  // empty: <scenario name>.h5 in the working directory
  bool message_log = false;
  TimeNs resource_sample_interval_ns = kSecond;  // 0: no samples
};

enum class PayloadFidelity : uint8_t { kReal, kSynthetic };

struct Scenario {
  std::string file;       // path it was loaded from ("<string>" for text)
  std::string text;       // the scenario as run (overrides applied), stored in the trace
  std::string name;
  std::string description;
  uint64_t seed = 1;
  TimeNs duration_ns = 0;
  PayloadFidelity payload = PayloadFidelity::kSynthetic;
  TopologySpec topology;
  std::map<std::string, NodeProfile> node_profiles;  // includes "default"
  std::map<std::string, DiskProfile> disk_profiles;  // includes "ssd" and "hdd"
  std::vector<FaultSpec> faults;
  SwarmSpec swarm;
  OutputSpec output;
  YAML::Node protocol;  // validated by the deployment (scenarios/deployment.h)
  YAML::Node workload;
  YAML::Node checks;
  OverrideOrigins overrides;  // fields written by --set, so later errors about them name the argument

  uint32_t node_count() const;
  uint32_t rack_count() const;  // over all sites: global rack indexes are 0..rack_count()-1
  // A reader over the "protocol", "workload" or "checks" section whose errors look like every other
  // scenario error (file:line or the --set argument, and the dotted path).
  FieldReader section(const std::string& key) const;
};

// Loads and validates. `overrides` are "dotted.path=value" strings applied to the YAML tree before
// validation (list elements by index: faults.0.at=2s). Every error names file:line and the field.
Result<Scenario> load_scenario_file(const std::string& path, const std::vector<std::string>& overrides = {});
Result<Scenario> load_scenario_text(const std::string& text, const std::string& origin,
                                    const std::vector<std::string>& overrides = {});

}  // namespace pbfs
