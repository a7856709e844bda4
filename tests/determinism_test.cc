// Whole runs are deterministic: the same scenario and seed give byte-identical trace files; another seed
// gives a different file. Also the CLI's exit codes and error messages for bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "scenarios/run.h"
#include "scenarios/scenario.h"

namespace pbfs {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pbfs-test-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::string run_to_file(const std::string& scenario_file, std::vector<std::string> overrides, const std::string& name) {
  Result<Scenario> scenario = load_scenario_file(scenario_file, overrides);
  EXPECT_TRUE(scenario.is_ok()) << scenario.status().to_string();
  if (!scenario.is_ok()) return "";
  RunOptions options;
  options.trace_path = temp_path(name);
  options.overrides = overrides;
  Result<RunOutcome> outcome = run_scenario(*scenario, options);
  EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  if (!outcome.is_ok()) return "";
  EXPECT_GT(outcome->summary.events, 1000u);
  const std::string bytes = read_file(options.trace_path);
  std::filesystem::remove(options.trace_path);
  return bytes;
}

TEST(Determinism, SameSeedGivesByteIdenticalTraces) {
  const std::string scenario = std::string(PBFS_SOURCE_DIR) + "/scenarios/echo.yaml";
  // Message log on, so every message's timing is in the file.
  const std::vector<std::string> overrides = {"outputs.message_log=true", "duration=6s"};
  const std::string a = run_to_file(scenario, overrides, "a.h5");
  const std::string b = run_to_file(scenario, overrides, "b.h5");
  std::vector<std::string> other = overrides;
  other.push_back("seed=99");
  const std::string c = run_to_file(scenario, other, "c.h5");
  ASSERT_GT(a.size(), 10000u);
  EXPECT_TRUE(a == b) << "two runs with one seed differ";
  EXPECT_FALSE(a == c) << "another seed gave the same trace";
}

TEST(Cli, BadScenarioExitsWithTwoAndNamesFileLineAndField) {
  const std::string bad = temp_path("bad.yaml");
  {
    std::ofstream out(bad);
    out << "name: bad\nseed: 1\nduration: 1s\ntopology:\n  sites:\n    - name: a\n      racks: 1\n"
           "      nodes_per_rack: 2\n  links:\n    node: {latency: 5us, bandwidth: 10Gbs}\nprotocol: {name: echo}\n";
  }
  const std::string output = temp_path("out.txt");
  const std::string cmd = std::string(PBFS_BINARY) + " run " + bad + " > " + output + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string text = read_file(output);
  EXPECT_NE(text.find(bad + ":10:"), std::string::npos) << text;
  EXPECT_NE(text.find("topology.links.node.bandwidth"), std::string::npos) << text;
  std::filesystem::remove(bad);
  std::filesystem::remove(output);
}

TEST(Cli, RunPrintsASummaryAndExitsZero) {
  const std::string trace = temp_path("cli.h5");
  const std::string output = temp_path("cli.txt");
  const std::string cmd = std::string(PBFS_BINARY) + " run " + PBFS_SOURCE_DIR + "/scenarios/echo.yaml --seed 5 --set duration=6s --out " +
                          trace + " > " + output + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  const std::string text = read_file(output);
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_NE(text.find("seed 5"), std::string::npos) << text;
  EXPECT_NE(text.find("echo.round_trips"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::exists(trace));
  std::filesystem::remove(trace);
  std::filesystem::remove(output);
}

TEST(Cli, UnknownCommandExitsWithTwo) {
  const int status = std::system((std::string(PBFS_BINARY) + " frobnicate > /dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace pbfs
