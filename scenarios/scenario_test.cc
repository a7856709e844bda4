// Scenario loading end to end: a file using every section loads with the expected values, the example
// scenario loads, each class of bad input gives its exact message (file, line, dotted field), and
// command-line overrides change the tree before validation or fail naming the --set argument.
#include "scenarios/scenario.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pbfs {
namespace {

const std::string kDir = PBFS_SCENARIOS_DIR;

// A valid scenario of 4 nodes in 2 racks; tests append lines from line 7 on.
const std::string kBase =
    "name: t\n"                                      // 1
    "duration: 10s\n"                                // 2
    "protocol: {name: echo}\n"                       // 3
    "topology:\n"                                    // 4
    "  sites:\n"                                     // 5
    "    - {name: a, racks: 2, nodes_per_rack: 2}\n";  // 6

// The message of a load that must fail with kInvalidArgument.
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  const Result<Scenario> loaded = load_scenario_text(yaml, "x.yaml", overrides);
  if (loaded.is_ok()) return "(loaded without error)";
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << loaded.status().message();
  return loaded.status().message();
}

std::string base_with_site(const std::string& site) {
  return "name: t\nduration: 10s\nprotocol: {name: echo}\ntopology:\n  sites:\n    - " + site + "\n";
}

const char* const kKnownKinds =
    "crash, isolate, partition, partition_one_way, link_down, drop, duplicate, delay, reorder, disk_full, "
    "disk_slow, disk_fail, bit_rot, clock_step, clock_drift";

TEST(ScenarioLoad, FullFileHasEveryValue) {
  const Result<Scenario> loaded = load_scenario_file(kDir + "/testdata/full.yaml");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const Scenario& s = *loaded;
  EXPECT_EQ(s.file, kDir + "/testdata/full.yaml");
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "every section of the scenario format");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.duration_ns, 60 * kSecond);
  EXPECT_EQ(s.payload, PayloadFidelity::kReal);

  ASSERT_EQ(s.topology.sites.size(), 2u);
  EXPECT_EQ(s.topology.sites[0].name, "east");
  EXPECT_EQ(s.topology.sites[0].racks, 2u);
  EXPECT_EQ(s.topology.sites[0].nodes_per_rack, 3u);
  EXPECT_EQ(s.topology.sites[0].node_profile, "big");
  EXPECT_EQ(s.topology.sites[1].name, "west");
  EXPECT_EQ(s.topology.sites[1].node_profile, "default");
  EXPECT_EQ(s.node_count(), 8u);
  EXPECT_EQ(s.rack_count(), 3u);
  EXPECT_EQ(s.topology.node_link.latency_ns, 2 * kMicrosecond);
  EXPECT_DOUBLE_EQ(s.topology.node_link.bandwidth_bytes_per_s, 25e9 / 8);
  EXPECT_DOUBLE_EQ(s.topology.node_link.loss, 0.001);
  EXPECT_EQ(s.topology.rack_link.latency_ns, 8 * kMicrosecond);
  EXPECT_DOUBLE_EQ(s.topology.rack_link.bandwidth_bytes_per_s, 100e9 / 8);
  EXPECT_DOUBLE_EQ(s.topology.rack_link.loss, 0.0);
  EXPECT_EQ(s.topology.site_link.latency_ns, 35 * kMillisecond);
  EXPECT_DOUBLE_EQ(s.topology.site_link.bandwidth_bytes_per_s, 500e6);
  EXPECT_DOUBLE_EQ(s.topology.site_link.loss, 0.01);

  const DiskProfile& nvme = s.disk_profiles.at("nvme");
  EXPECT_EQ(nvme.name, "nvme");
  EXPECT_EQ(nvme.read_latency_ns, 10 * kMicrosecond);
  EXPECT_EQ(nvme.write_latency_ns, 5 * kMicrosecond);
  EXPECT_EQ(nvme.sync_latency_ns, 15 * kMicrosecond);
  EXPECT_DOUBLE_EQ(nvme.read_bandwidth_bytes_per_s, 6e9);
  EXPECT_DOUBLE_EQ(nvme.write_bandwidth_bytes_per_s, 4e9);
  EXPECT_EQ(nvme.capacity_bytes, 4'000'000'000'000u);
  EXPECT_DOUBLE_EQ(nvme.torn_write_probability, 0.25);
  // Overriding a built-in changes only the fields given.
  const DiskProfile& hdd = s.disk_profiles.at("hdd");
  EXPECT_EQ(hdd.capacity_bytes, 16ull << 40);
  EXPECT_EQ(hdd.read_latency_ns, 4 * kMillisecond);
  EXPECT_DOUBLE_EQ(hdd.read_bandwidth_bytes_per_s, 200e6);
  EXPECT_EQ(s.disk_profiles.at("ssd").capacity_bytes, 1ull << 40);

  const NodeProfile& big = s.node_profiles.at("big");
  EXPECT_EQ(big.cores, 32u);
  EXPECT_EQ(big.disk, "nvme");
  EXPECT_EQ(big.clock.offset_max_ns, 2 * kMillisecond);
  EXPECT_DOUBLE_EQ(big.clock.drift_ppm_max, 50.0);
  EXPECT_EQ(s.node_profiles.at("default").cores, 4u);
  EXPECT_EQ(s.node_profiles.at("default").disk, "ssd");

  EXPECT_EQ(s.protocol["name"].as<std::string>(), "pbfs");
  EXPECT_EQ(s.protocol["coding"]["k"].as<int>(), 4);
  EXPECT_EQ(s.workload["write_bytes"].as<std::string>(), "64KiB");
  EXPECT_TRUE(s.checks["linearizable"].as<bool>());

  EXPECT_EQ(s.output.trace_path, "out/full.h5");
  EXPECT_TRUE(s.output.message_log);
  EXPECT_EQ(s.output.resource_sample_interval_ns, 250 * kMillisecond);

  EXPECT_TRUE(s.swarm.enabled);
  EXPECT_EQ(s.swarm.kinds, (std::vector<FaultKind>{FaultKind::kCrash, FaultKind::kDrop, FaultKind::kClockStep}));
  EXPECT_EQ(s.swarm.interval_min_ns, 2 * kSecond);
  EXPECT_EQ(s.swarm.interval_max_ns, 20 * kSecond);
  EXPECT_EQ(s.swarm.duration_max_ns, 3 * kSecond);
  EXPECT_EQ(s.swarm.concurrent_max, 2u);
}

TEST(ScenarioLoad, FullFileHasEveryFaultKind) {
  const Result<Scenario> loaded = load_scenario_file(kDir + "/testdata/full.yaml");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const std::vector<FaultSpec>& f = loaded->faults;
  ASSERT_EQ(f.size(), 16u);
  EXPECT_EQ(f[0].kind, FaultKind::kCrash);
  EXPECT_EQ(f[0].at_ns, 5 * kSecond);
  EXPECT_EQ(f[0].duration_ns, 10 * kSecond);
  EXPECT_EQ(f[0].nodes, (std::vector<NodeId>{0}));
  EXPECT_EQ(f[0].line, 47);
  EXPECT_EQ(f[1].kind, FaultKind::kIsolate);
  EXPECT_EQ(f[1].duration_ns, 0);
  EXPECT_EQ(f[1].nodes, (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(f[2].kind, FaultKind::kPartition);
  EXPECT_EQ(f[2].groups, (std::vector<std::vector<NodeId>>{{0, 1, 2, 3, 4, 5}, {6, 7}}));
  EXPECT_EQ(f[3].kind, FaultKind::kPartitionOneWay);
  EXPECT_EQ(f[3].groups, (std::vector<std::vector<NodeId>>{{6}, {7}}));
  EXPECT_EQ(f[4].kind, FaultKind::kLinkDown);
  EXPECT_EQ(f[4].rack, 2);
  EXPECT_TRUE(f[4].nodes.empty());
  EXPECT_EQ(f[5].kind, FaultKind::kLinkDown);
  EXPECT_EQ(f[5].at_ns, 12500 * kMillisecond);
  EXPECT_EQ(f[5].rack, -1);
  EXPECT_EQ(f[5].nodes, (std::vector<NodeId>{3}));
  EXPECT_EQ(f[6].kind, FaultKind::kDrop);
  EXPECT_DOUBLE_EQ(f[6].rate, 0.1);
  EXPECT_TRUE(f[6].nodes.empty());
  EXPECT_EQ(f[7].kind, FaultKind::kDuplicate);
  EXPECT_DOUBLE_EQ(f[7].rate, 0.5);
  EXPECT_EQ(f[8].kind, FaultKind::kDelay);
  EXPECT_EQ(f[8].delay_ns, 3 * kMillisecond);
  EXPECT_EQ(f[8].jitter_ns, kMillisecond);
  EXPECT_DOUBLE_EQ(f[8].rate, 0.2);
  EXPECT_EQ(f[9].kind, FaultKind::kReorder);
  EXPECT_EQ(f[9].jitter_ns, 500 * kMicrosecond);
  EXPECT_DOUBLE_EQ(f[9].rate, 1.0);
  EXPECT_EQ(f[10].kind, FaultKind::kDiskFull);
  EXPECT_EQ(f[11].kind, FaultKind::kDiskSlow);
  EXPECT_DOUBLE_EQ(f[11].factor, 10.0);
  EXPECT_EQ(f[12].kind, FaultKind::kDiskFail);
  EXPECT_EQ(f[13].kind, FaultKind::kBitRot);
  EXPECT_EQ(f[13].count, 3u);
  EXPECT_EQ(f[14].kind, FaultKind::kClockStep);
  EXPECT_EQ(f[14].offset_ns, -500 * kMillisecond);
  EXPECT_EQ(f[15].kind, FaultKind::kClockDrift);
  EXPECT_DOUBLE_EQ(f[15].drift_ppm, -200.0);
}

TEST(ScenarioLoad, DefaultsForAMinimalFile) {
  const Result<Scenario> loaded = load_scenario_text(kBase, "<string>");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const Scenario& s = *loaded;
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.payload, PayloadFidelity::kSynthetic);
  EXPECT_EQ(s.topology.node_link.latency_ns, 5 * kMicrosecond);
  EXPECT_DOUBLE_EQ(s.topology.node_link.bandwidth_bytes_per_s, 10e9 / 8);
  EXPECT_EQ(s.topology.rack_link.latency_ns, 10 * kMicrosecond);
  EXPECT_DOUBLE_EQ(s.topology.rack_link.bandwidth_bytes_per_s, 40e9 / 8);
  EXPECT_EQ(s.topology.site_link.latency_ns, 20 * kMillisecond);
  EXPECT_DOUBLE_EQ(s.topology.site_link.bandwidth_bytes_per_s, 1e9 / 8);
  const DiskProfile& ssd = s.disk_profiles.at("ssd");
  EXPECT_EQ(ssd.write_latency_ns, 20 * kMicrosecond);
  EXPECT_EQ(ssd.read_latency_ns, 80 * kMicrosecond);
  EXPECT_EQ(ssd.sync_latency_ns, 50 * kMicrosecond);
  EXPECT_DOUBLE_EQ(ssd.read_bandwidth_bytes_per_s, 2e9);
  EXPECT_DOUBLE_EQ(ssd.write_bandwidth_bytes_per_s, 1.5e9);
  EXPECT_EQ(ssd.capacity_bytes, 1ull << 40);
  EXPECT_EQ(s.disk_profiles.at("hdd").capacity_bytes, 8ull << 40);
  const NodeProfile& node = s.node_profiles.at("default");
  EXPECT_EQ(node.cores, 8u);
  EXPECT_EQ(node.disk, "ssd");
  EXPECT_EQ(node.clock.offset_max_ns, 0);
  EXPECT_EQ(node.clock.drift_ppm_max, 0.0);
  EXPECT_TRUE(s.faults.empty());
  EXPECT_FALSE(s.swarm.enabled);
  EXPECT_FALSE(s.workload.IsDefined());
  EXPECT_EQ(s.output.trace_path, "");
  EXPECT_FALSE(s.output.message_log);
  EXPECT_EQ(s.output.resource_sample_interval_ns, kSecond);
}

TEST(ScenarioLoad, NameDefaultsToTheFileStem) {
  const Result<Scenario> loaded = load_scenario_text("duration: 1s\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n",
                                                     "dir/overwrites.yaml");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->name, "overwrites");
  EXPECT_EQ(loaded->node_count(), 1u);
  EXPECT_EQ(loaded->topology.sites[0].name, "site0");
}

TEST(ScenarioLoad, EchoExample) {
  const Result<Scenario> loaded = load_scenario_file(kDir + "/echo.yaml");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const Scenario& s = *loaded;
  EXPECT_EQ(s.name, "echo");
  EXPECT_EQ(s.duration_ns, 10 * kSecond);
  EXPECT_EQ(s.node_count(), 8u);
  EXPECT_EQ(s.rack_count(), 4u);
  EXPECT_EQ(s.protocol["name"].as<std::string>(), "echo");
  EXPECT_EQ(s.workload["pairs"].as<int>(), 4);
  ASSERT_EQ(s.faults.size(), 2u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::kCrash);
  EXPECT_EQ(s.faults[1].kind, FaultKind::kPartition);
  // The deployment reads its sections through section(), with the same units.
  FieldReader protocol = s.section("protocol");
  EXPECT_EQ(protocol.string("name", ""), "echo");
  EXPECT_EQ(protocol.bytes("message_bytes", 1000), 1024u);
  EXPECT_TRUE(protocol.finish().is_ok());
}

TEST(ScenarioLoad, FaultKindNamesRoundTrip) {
  for (int k = 0; k <= static_cast<int>(FaultKind::kClockDrift); ++k) {
    const auto kind = static_cast<FaultKind>(k);
    EXPECT_EQ(fault_kind_from_name(fault_kind_name(kind)), kind) << fault_kind_name(kind);
  }
  EXPECT_FALSE(fault_kind_from_name("explode").has_value());
  EXPECT_FALSE(fault_kind_from_name("Crash").has_value());
}

TEST(ScenarioErrors, ExampleMessagesFromTheFormat) {
  EXPECT_EQ(error_of("name: t\n"
                     "duration: 10s\n"
                     "protocol: {name: echo}\n"
                     "topology:\n"
                     "  sites:\n"
                     "    - name: a\n"
                     "      rakcs: 2\n"),
            "x.yaml:7: topology.sites.0.rakcs: unknown field (known: name, racks, nodes_per_rack, node_profile)");
  EXPECT_EQ(error_of("name: t\n"
                     "duration: 10s\n"
                     "protocol: {name: echo}\n"
                     "topology:\n"
                     "  sites:\n"
                     "    - name: a\n"
                     "      racks: 1\n"
                     "      nodes_per_rack: 2\n"
                     "  links:\n"
                     "    rack: {bandwidth: 40Gbps}\n"
                     "    node:\n"
                     "      bandwidth: 10Gbs\n"),
            "x.yaml:12: topology.links.node.bandwidth: bad bandwidth '10Gbs' (expected a number with bps, Kbps, "
            "Mbps, Gbps, or Bps/KBps/MBps/GBps)");
}

TEST(ScenarioErrors, FileErrorsNameThePath) {
  const std::string path = kDir + "/testdata/bad_bandwidth.yaml";
  const Result<Scenario> loaded = load_scenario_file(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message(),
            path + ":12: topology.links.node.bandwidth: bad bandwidth '10Gbs' (expected a number with bps, Kbps, "
                   "Mbps, Gbps, or Bps/KBps/MBps/GBps)");
  const Result<Scenario> missing = load_scenario_file(kDir + "/testdata/no_such_file.yaml");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "cannot open scenario file '" + kDir + "/testdata/no_such_file.yaml'");
}

TEST(ScenarioErrors, YamlSyntaxErrorsGiveTheLine) {
  const std::string path = kDir + "/testdata/syntax_error.yaml";
  const Result<Scenario> loaded = load_scenario_file(path);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message(), path + ":6: YAML syntax error: end of map flow not found");
  EXPECT_EQ(error_of("name: t\nduration: 10s\n  protocol: {name: echo}\n"),
            "x.yaml:3: YAML syntax error: illegal map value");
  EXPECT_EQ(error_of("name: t\nduration: 10s\nfaults: [1, 2\nseed: 1\n"),
            "x.yaml:4: YAML syntax error: end of sequence flow not found");
}

TEST(ScenarioErrors, TopLevel) {
  EXPECT_EQ(error_of(""), "x.yaml:1: the scenario is empty");
  EXPECT_EQ(error_of("# nothing but a comment\n"), "x.yaml:1: the scenario is empty");
  EXPECT_EQ(error_of("- a\n- b\n"), "x.yaml:1: expected a map of scenario fields at the top level");
  EXPECT_EQ(error_of(kBase + "colour: blue\n"),
            "x.yaml:7: colour: unknown field (known: name, description, seed, duration, payload, profiles, "
            "topology, protocol, workload, checks, faults, outputs)");
  EXPECT_EQ(error_of(kBase + "duration: 5s\n"), "x.yaml:7: duration: duplicate field (first on line 2)");
  EXPECT_EQ(error_of(kBase + "payload: fake\n"),
            "x.yaml:7: payload: bad value 'fake' (expected one of: real, synthetic)");
  EXPECT_EQ(error_of(kBase + "seed: -1\n"), "x.yaml:7: seed: must be at least 0, got -1");
  EXPECT_EQ(error_of(kBase + "outputs: {message_log: maybe}\n"),
            "x.yaml:7: outputs.message_log: bad boolean 'maybe' (expected true or false)");
  EXPECT_EQ(error_of(kBase + "outputs: {trace: a.h5, sample: 1s}\n"),
            "x.yaml:7: outputs.sample: unknown field (known: trace, message_log, resource_sample_interval)");
}

TEST(ScenarioErrors, Duration) {
  EXPECT_EQ(error_of("name: t\nduration: 0\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n"),
            "x.yaml:2: duration: must be greater than 0");
  EXPECT_EQ(error_of("name: t\nduration: 10 seconds\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n"),
            "x.yaml:2: duration: bad duration '10 seconds' (expected a number with ns, us, ms, s, min or h, e.g. "
            "50us or 1.5s)");
  EXPECT_EQ(error_of("name: t\nduration: -5s\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n"),
            "x.yaml:2: duration: bad duration '-5s' (expected a number with ns, us, ms, s, min or h, e.g. 50us "
            "or 1.5s)");
  EXPECT_EQ(error_of("name: t\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n"),
            "x.yaml:1: duration: required field is missing");
  EXPECT_EQ(error_of("name: t\nduraton: 1s\nprotocol: {name: echo}\ntopology: {sites: [{}]}\n"),
            "x.yaml:1: duration: required field is missing (is 'duraton' on line 2 a misspelling?)");
}

TEST(ScenarioErrors, Topology) {
  EXPECT_EQ(error_of("name: t\nduration: 10s\nprotocol: {name: echo}\n"),
            "x.yaml:1: topology: required field is missing");
  EXPECT_EQ(error_of("name: t\nduration: 10s\nprotocol: {name: echo}\ntopology: {sites: []}\n"),
            "x.yaml:4: topology.sites: list at least one site");
  EXPECT_EQ(error_of("name: t\nduration: 10s\nprotocol: {name: echo}\ntopology: {links: {}}\n"),
            "x.yaml:4: topology.sites: required field is missing");
  EXPECT_EQ(error_of(base_with_site("{name: a, racks: 2, nodes_per_rack: 0}")),
            "x.yaml:6: topology.sites.0.nodes_per_rack: must be between 1 and 100000, got 0");
  EXPECT_EQ(error_of(base_with_site("{name: a, racks: 0}")),
            "x.yaml:6: topology.sites.0.racks: must be between 1 and 100000, got 0");
  EXPECT_EQ(error_of(base_with_site("{name: a, racks: 100000, nodes_per_rack: 100}")),
            "x.yaml:6: topology.sites.0: too many nodes: 10000000 up to this site (at most 1000000)");
  EXPECT_EQ(error_of(base_with_site("{name: a, node_profile: fast}")),
            "x.yaml:6: topology.sites.0.node_profile: unknown node profile 'fast' (known: default)");
  EXPECT_EQ(error_of(kBase + "    - {name: a}\n"),
            "x.yaml:7: topology.sites.1.name: duplicate site name 'a' (also topology.sites.0)");
  EXPECT_EQ(error_of(kBase + "    - just_a_name\n"),
            "x.yaml:7: topology.sites.1: expected a map of fields, got 'just_a_name'");
  EXPECT_EQ(error_of(kBase + "  links: {site: {bandwidth: 0Gbps}}\n"),
            "x.yaml:7: topology.links.site.bandwidth: bandwidth must be greater than 0, got '0Gbps'");
  EXPECT_EQ(error_of(kBase + "  links: {node: {loss: 1.5}}\n"),
            "x.yaml:7: topology.links.node.loss: must be between 0 and 1, got 1.5");
  EXPECT_EQ(error_of(kBase + "  links: {rack: {loss: -0.1}}\n"),
            "x.yaml:7: topology.links.rack.loss: must be between 0 and 1, got -0.1");
  EXPECT_EQ(error_of(kBase + "  links:\n    rack:\n      latency: 10\n"),
            "x.yaml:9: topology.links.rack.latency: bad duration '10' (expected a number with ns, us, ms, s, min "
            "or h, e.g. 50us or 1.5s)");
  EXPECT_EQ(error_of(kBase + "  links: {core: {}}\n"),
            "x.yaml:7: topology.links.core: unknown field (known: node, rack, site)");
}

TEST(ScenarioErrors, Profiles) {
  EXPECT_EQ(error_of(kBase + "profiles:\n  nodes:\n    big: {disk: nvme}\n"),
            "x.yaml:9: profiles.nodes.big.disk: unknown disk profile 'nvme' (known: hdd, ssd)");
  EXPECT_EQ(error_of(kBase + "profiles:\n  disks:\n    ssd: {capacity: 1TiB5}\n"),
            "x.yaml:9: profiles.disks.ssd.capacity: bad size '1TiB5' (expected a whole number of bytes, or a "
            "number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
  EXPECT_EQ(error_of(kBase + "profiles:\n  disks:\n    tiny: {capacity: 0}\n"),
            "x.yaml:9: profiles.disks.tiny.capacity: must be greater than 0");
  EXPECT_EQ(error_of(kBase + "profiles:\n  disks:\n    ssd: {write_bandwidth: 0MBps}\n"),
            "x.yaml:9: profiles.disks.ssd.write_bandwidth: bandwidth must be greater than 0, got '0MBps'");
  EXPECT_EQ(error_of(kBase + "profiles:\n  nodes:\n    big: {cores: 0}\n"),
            "x.yaml:9: profiles.nodes.big.cores: must be between 1 and 4096, got 0");
  EXPECT_EQ(error_of(kBase + "profiles:\n  nodes:\n    big:\n      clock: {drift: 5}\n"),
            "x.yaml:10: profiles.nodes.big.clock.drift: unknown field (known: offset_max, drift_ppm_max)");
  EXPECT_EQ(error_of(kBase + "profiles:\n  cpus: {}\n"),
            "x.yaml:8: profiles.cpus: unknown field (known: disks, nodes)");
  // A site may use a profile the file defines.
  EXPECT_EQ(error_of("name: t\nduration: 10s\nprotocol: {name: echo}\ntopology:\n  sites: [{node_profile: big}]\n"
                     "profiles: {nodes: {big: {cores: 64}}}\n"),
            "(loaded without error)");
}

TEST(ScenarioErrors, Protocol) {
  EXPECT_EQ(error_of("name: t\nduration: 10s\ntopology: {sites: [{}]}\n"),
            "x.yaml:1: protocol: required field is missing");
  EXPECT_EQ(error_of("name: t\nduration: 10s\ntopology: {sites: [{}]}\nprotocol: echo\n"),
            "x.yaml:4: protocol: expected a map with at least a name, e.g. {name: echo}");
  EXPECT_EQ(error_of("name: t\nduration: 10s\ntopology: {sites: [{}]}\nprotocol: {k: 4}\n"),
            "x.yaml:4: protocol.name: required field is missing");
  EXPECT_EQ(error_of("name: t\nduration: 10s\ntopology: {sites: [{}]}\nprotocol: {name: [echo]}\n"),
            "x.yaml:4: protocol.name: expected a string, got a list");
  // Other protocol fields are the deployment's to validate, so they load here.
  EXPECT_EQ(error_of("name: t\nduration: 10s\ntopology: {sites: [{}]}\nprotocol: {name: echo, anything: 1}\n"),
            "(loaded without error)");
}

TEST(ScenarioErrors, FaultNodesAndTimes) {
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: [1, 4]}\n"),
            "x.yaml:8: faults.0.nodes.1: node 4 does not exist (the topology has 4 nodes, ids 0..3)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: [-1]}\n"),
            "x.yaml:8: faults.0.nodes.0: must be at least 0, got -1");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: [2, 2]}\n"),
            "x.yaml:8: faults.0.nodes.1: node 2 is listed twice");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 10s, nodes: [1]}\n"),
            "x.yaml:8: faults.0.at: fault at 10s is not before the end of the run (duration 10s)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: -1s, nodes: [1]}\n"),
            "x.yaml:8: faults.0.at: bad duration '-1s' (expected a number with ns, us, ms, s, min or h, e.g. "
            "50us or 1.5s)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, nodes: [1]}\n"),
            "x.yaml:8: faults.0.at: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: []}\n"),
            "x.yaml:8: faults.0.nodes: list at least one node");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s}\n"),
            "x.yaml:8: faults.0.nodes: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {at: 1s}\n"), "x.yaml:8: faults.0.kind: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults: 3\n"),
            "x.yaml:7: faults: expected a list of faults, or a map with schedule and swarm");
}

TEST(ScenarioErrors, FaultKindsAndTheirFields) {
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: explode, at: 1s}\n"),
            std::string("x.yaml:8: faults.0.kind: unknown fault kind 'explode' (known: ") + kKnownKinds + ")");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: [0], rate: 0.5}\n"),
            "x.yaml:8: faults.0.rate: not used by fault kind 'crash' (its fields: kind, at, duration, nodes)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: crash, at: 1s, nodes: [0], nodez: 1}\n"),
            "x.yaml:8: faults.0.nodez: unknown field (known: kind, at, duration, nodes)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: disk_slow, at: 1s, nodes: [0]}\n"),
            "x.yaml:8: faults.0.factor: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: disk_slow, at: 1s, nodes: [0], factor: 0.5}\n"),
            "x.yaml:8: faults.0.factor: must be between 1 and 1e+06, got 0.5");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: drop, at: 1s, rate: 2}\n"),
            "x.yaml:8: faults.0.rate: must be between 0 and 1, got 2");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: delay, at: 1s, delay: 0}\n"),
            "x.yaml:8: faults.0.delay: must be greater than 0");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: reorder, at: 1s}\n"),
            "x.yaml:8: faults.0.jitter: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: clock_step, at: 1s, nodes: [0], offset: 0}\n"),
            "x.yaml:8: faults.0.offset: must not be 0");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: clock_drift, at: 1s, nodes: [0], drift_ppm: 2e6}\n"),
            "x.yaml:8: faults.0.drift_ppm: must be between -1e+06 and 1e+06, got 2e6");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: bit_rot, at: 1s, nodes: [0], count: 0}\n"),
            "x.yaml:8: faults.0.count: must be between 1 and 4294967295, got 0");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: link_down, at: 1s, nodes: [0], rack: 1}\n"),
            "x.yaml:8: faults.0.rack: link_down takes either nodes (their access links) or rack (its uplink)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: link_down, at: 1s}\n"),
            "x.yaml:8: faults.0: link_down takes either nodes (their access links) or rack (its uplink)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: link_down, at: 1s, rack: 2}\n"),
            "x.yaml:8: faults.0.rack: rack 2 does not exist (the topology has 2 racks, ids 0..1)");
}

TEST(ScenarioErrors, Partitions) {
  EXPECT_EQ(error_of(kBase +
                     "faults:\n"                      // 7
                     "  schedule:\n"                  // 8
                     "    - kind: partition\n"        // 9
                     "      at: 1s\n"                 // 10
                     "      groups: [[0, 1], [1, 2]]\n"),  // 11
            "x.yaml:11: faults.schedule.0.groups.1.0: partition groups overlap: node 1 is in groups 0 and 1");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition, at: 1s, groups: [[0, 0], [1]]}\n"),
            "x.yaml:8: faults.0.groups.0.1: node 0 is listed twice in group 0");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition, at: 1s, groups: [[0, 1]]}\n"),
            "x.yaml:8: faults.0.groups: a partition needs at least 2 groups, got 1");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition, at: 1s, groups: [[0], []]}\n"),
            "x.yaml:8: faults.0.groups.1: expected a non-empty list of node ids");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition, at: 1s, groups: [[0], [9]]}\n"),
            "x.yaml:8: faults.0.groups.1.0: node 9 does not exist (the topology has 4 nodes, ids 0..3)");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition, at: 1s, groups: [0, 1]}\n"),
            "x.yaml:8: faults.0.groups.0: expected a non-empty list of node ids");
  EXPECT_EQ(error_of(kBase + "faults:\n  - {kind: partition_one_way, at: 1s, groups: [[0], [1], [2]]}\n"),
            "x.yaml:8: faults.0.groups: partition_one_way needs exactly 2 groups (from, to), got 3");
}

TEST(ScenarioErrors, Swarm) {
  EXPECT_EQ(error_of(kBase + "faults:\n  swarm: {kinds: [crash, melt]}\n"),
            std::string("x.yaml:8: faults.swarm.kinds.1: unknown fault kind 'melt' (known: ") + kKnownKinds + ")");
  EXPECT_EQ(error_of(kBase + "faults:\n  swarm: {kinds: [crash, crash]}\n"),
            "x.yaml:8: faults.swarm.kinds.1: fault kind 'crash' is listed twice");
  EXPECT_EQ(error_of(kBase + "faults:\n  swarm: {interval_min: 1s}\n"),
            "x.yaml:8: faults.swarm.kinds: required field is missing");
  EXPECT_EQ(error_of(kBase + "faults:\n  swarm: {kinds: [drop], interval_min: 5s, interval_max: 2s}\n"),
            "x.yaml:8: faults.swarm.interval_max: must not be less than interval_min (5s)");
  EXPECT_EQ(error_of(kBase + "faults:\n  swarm: {kinds: [drop], concurrent_max: 5}\n"),
            "x.yaml:8: faults.swarm.concurrent_max: must be between 1 and 4, got 5");
  EXPECT_EQ(error_of(kBase + "faults:\n  storm: {}\n"), "x.yaml:8: faults.storm: unknown field (known: schedule, swarm)");
  const Result<Scenario> disabled =
      load_scenario_text(kBase + "faults:\n  swarm: {enabled: false, kinds: [drop]}\n", "x.yaml");
  ASSERT_TRUE(disabled.is_ok()) << disabled.status().to_string();
  EXPECT_FALSE(disabled->swarm.enabled);
}

// ---- command-line overrides ----

TEST(ScenarioOverrides, ChangeCreateAndAppend) {
  const std::string path = kDir + "/echo.yaml";
  const Result<Scenario> loaded =
      load_scenario_file(path, {"protocol.coding.k=6", "faults.0.at=2500ms", "duration=20s",
                                "topology.sites.1.racks=3", "faults.2.kind=bit_rot", "faults.2.at=4s",
                                "faults.2.nodes=[6, 7]", "outputs.trace=run.h5", "faults.1.groups.1=[4, 5, 6, 7, 8, 9]"});
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const Scenario& s = *loaded;
  EXPECT_EQ(s.protocol["coding"]["k"].as<int>(), 6);
  EXPECT_EQ(s.protocol["message_bytes"].as<std::string>(), "1KiB");
  EXPECT_EQ(s.duration_ns, 20 * kSecond);
  EXPECT_EQ(s.node_count(), 10u);
  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(s.faults[0].at_ns, 2500 * kMillisecond);
  EXPECT_EQ(s.faults[0].nodes, (std::vector<NodeId>{1}));
  EXPECT_EQ(s.faults[1].groups[1], (std::vector<NodeId>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(s.faults[2].kind, FaultKind::kBitRot);
  EXPECT_EQ(s.faults[2].at_ns, 4 * kSecond);
  EXPECT_EQ(s.faults[2].nodes, (std::vector<NodeId>{6, 7}));
  EXPECT_EQ(s.output.trace_path, "run.h5");
  EXPECT_EQ(s.overrides.at("protocol.coding"), "protocol.coding.k=6");
  EXPECT_EQ(s.overrides.at("faults.2"), "faults.2.kind=bit_rot");
  EXPECT_EQ(s.overrides.at("faults.2.at"), "faults.2.at=4s");
  EXPECT_EQ(s.overrides.count("faults.1"), 0u);
}

TEST(ScenarioOverrides, BuildAWholeScenarioFromNothing) {
  const Result<Scenario> loaded = load_scenario_text(
      "", "<string>",
      {"duration=3s", "protocol.name=echo", "topology.sites.0.racks=2", "topology.sites.0.nodes_per_rack=3",
       "topology.sites.1={name: far}", "faults.0={kind: isolate, at: 1s, nodes: [6]}"});
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->duration_ns, 3 * kSecond);
  EXPECT_EQ(loaded->node_count(), 7u);
  EXPECT_EQ(loaded->topology.sites[1].name, "far");
  ASSERT_EQ(loaded->faults.size(), 1u);
  EXPECT_EQ(loaded->faults[0].nodes, (std::vector<NodeId>{6}));
  // A key present without a value is filled in like an absent one.
  const Result<Scenario> filled = load_scenario_text(kBase + "outputs:\n", "x.yaml", {"outputs.trace=x.h5"});
  ASSERT_TRUE(filled.is_ok()) << filled.status().to_string();
  EXPECT_EQ(filled->output.trace_path, "x.h5");
  // A later override of the same field wins.
  const Result<Scenario> twice = load_scenario_text(kBase, "x.yaml", {"seed=5", "seed=6"});
  ASSERT_TRUE(twice.is_ok()) << twice.status().to_string();
  EXPECT_EQ(twice->seed, 6u);
}

TEST(ScenarioOverrides, TextIsTheScenarioAsRun) {
  const std::string path = kDir + "/echo.yaml";
  const Result<Scenario> plain = load_scenario_file(path);
  const Result<Scenario> again = load_scenario_file(path);
  const Result<Scenario> changed = load_scenario_file(path, {"faults.0.at=2500ms", "seed=7"});
  ASSERT_TRUE(plain.is_ok() && again.is_ok() && changed.is_ok());
  EXPECT_EQ(plain->text, again->text);  // deterministic
  EXPECT_NE(plain->text, changed->text);
  EXPECT_NE(changed->text.find("at: 2500ms"), std::string::npos) << changed->text;
  EXPECT_NE(changed->text.find("seed: 7"), std::string::npos) << changed->text;
  // Loading the text gives the same scenario as the file plus the overrides.
  const Result<Scenario> reloaded = load_scenario_text(changed->text, "<trace>");
  ASSERT_TRUE(reloaded.is_ok()) << reloaded.status().to_string() << "\n" << changed->text;
  EXPECT_EQ(reloaded->text, changed->text);
  EXPECT_EQ(reloaded->seed, 7u);
  EXPECT_EQ(reloaded->faults[0].at_ns, 2500 * kMillisecond);
  EXPECT_EQ(reloaded->faults[1].groups, changed->faults[1].groups);
  EXPECT_EQ(reloaded->node_count(), changed->node_count());
  EXPECT_EQ(reloaded->workload["count"].as<int>(), 1000);
}

TEST(ScenarioOverrides, MalformedOverridesNameTheArgument) {
  const std::string echo = kDir + "/echo.yaml";
  auto error = [&](const std::string& argument) {
    const Result<Scenario> loaded = load_scenario_file(echo, {"seed=3", argument});
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << argument;
    return loaded.status().message();
  };
  EXPECT_EQ(error("duration"), "--set duration: expected <dotted.field.path>=<value>, e.g. protocol.coding.k=6");
  EXPECT_EQ(error("=5"), "--set =5: empty field name in ''");
  EXPECT_EQ(error("faults..at=1s"), "--set faults..at=1s: empty field name in 'faults..at'");
  EXPECT_EQ(error("faults.0.=1s"), "--set faults.0.=1s: empty field name in 'faults.0.'");
  EXPECT_EQ(error("faults.5.at=1s"),
            "--set faults.5.at=1s: index 5 is out of range ('faults' has 2 elements; an index equal to the size "
            "appends)");
  EXPECT_EQ(error("faults.first.at=1s"), "--set faults.first.at=1s: 'faults' is a list: expected an element index, "
                                         "got 'first'");
  EXPECT_EQ(error("seed.low=1"), "--set seed.low=1: 'seed' is a single value, so it has no field 'low'");
  EXPECT_EQ(error("protocol.message_bytes=[1,").substr(0, 47), "--set protocol.message_bytes=[1,: bad value: en");
}

TEST(ScenarioOverrides, BadValuesNameTheArgument) {
  const std::string echo = kDir + "/echo.yaml";
  auto error = [&](const std::vector<std::string>& overrides) {
    const Result<Scenario> loaded = load_scenario_file(echo, overrides);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
    return loaded.status().message();
  };
  EXPECT_EQ(error({"duration=abc"}),
            "--set duration=abc: duration: bad duration 'abc' (expected a number with ns, us, ms, s, min or h, e.g. "
            "50us or 1.5s)");
  EXPECT_EQ(error({"topology.sites.0.rakcs=3"}),
            "--set topology.sites.0.rakcs=3: topology.sites.0.rakcs: unknown field (known: name, racks, "
            "nodes_per_rack, node_profile)");
  EXPECT_EQ(error({"faults.0.at=20s"}),
            "--set faults.0.at=20s: faults.0.at: fault at 20s is not before the end of the run (duration 10s)");
  EXPECT_EQ(error({"faults.0.kind=melt"}),
            std::string("--set faults.0.kind=melt: faults.0.kind: unknown fault kind 'melt' (known: ") +
                kKnownKinds + ")");
  EXPECT_EQ(error({"faults.2.kind=crash"}), "--set faults.2.kind=crash: faults.2.at: required field is missing");
  EXPECT_EQ(error({"topology.links.node={bandwidth: 1Gbs}"}),
            "--set topology.links.node={bandwidth: 1Gbs}: topology.links.node.bandwidth: bad bandwidth '1Gbs' "
            "(expected a number with bps, Kbps, Mbps, Gbps, or Bps/KBps/MBps/GBps)");
  // A value left in the file is still reported at its line, even when an override made it wrong.
  EXPECT_EQ(error({"duration=1s"}),
            echo + ":15: faults.0.at: fault at 2s is not before the end of the run (duration 1s)");
}

TEST(ScenarioOverrides, DeploymentSectionsNameTheArgumentToo) {
  const std::string echo = kDir + "/echo.yaml";
  const Result<Scenario> loaded = load_scenario_file(echo, {"protocol.message_bytes=lots"});
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  FieldReader protocol = loaded->section("protocol");
  protocol.string("name", "");
  EXPECT_EQ(protocol.bytes("message_bytes", 1000), 1000u);
  EXPECT_EQ(protocol.finish().message(),
            "--set protocol.message_bytes=lots: protocol.message_bytes: bad size 'lots' (expected a whole number "
            "of bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
  FieldReader workload = loaded->section("workload");
  workload.integer("pairs", 1, 1, 100);
  EXPECT_EQ(workload.finish().message(), echo + ":13: workload.interval: unknown field (known: pairs)");
}

}  // namespace
}  // namespace pbfs
