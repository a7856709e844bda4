// The `pbfs` command: run and validate scenarios, calibrate the cost model, and (through Debian's
// Python) report on traces and sweep parameters. Exit codes are stable for scripts (see usage()).
#include <unistd.h>

#include <cstdlib>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "apps/calibrate.h"
#include "scenarios/run.h"
#include "scenarios/scenario.h"

namespace po = boost::program_options;

// jemalloc (linked into this program) reads its options from this symbol. A large run keeps gigabytes of
// small objects that are touched at random; backing them with transparent huge pages saves most page
// faults and TLB misses. Freed pages are kept rather than handed back to the kernel after a delay (decay
// off): a simulation's memory only grows to its peak, and returned pages were faulted in and zeroed
// again, 2 MiB at a time (a quarter of the 1,000-node run's time, docs/performance.md). A MALLOC_CONF
// variable still overrides these.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1";
}

namespace {

// Exit codes.
constexpr int kExitOk = 0;            // ran; every check passed
constexpr int kExitChecksFailed = 1;  // ran; a checker reported a violation (replay command printed)
constexpr int kExitBadInput = 2;      // bad command line or scenario; nothing ran
constexpr int kExitRunError = 3;      // could not run or write the trace

void usage(std::ostream& out) {
  out << "usage: pbfs <command> [options]\n\n"
         "commands:\n"
         "  run SCENARIO [--seed N] [--out FILE] [--set KEY=VALUE]...   run a scenario, write its trace\n"
         "  validate SCENARIO [--set KEY=VALUE]...                       check a scenario file, run nothing\n"
         "  calibrate [--out FILE] [--quick]                             measure the coding kernels\n"
         "  report TRACE [--out DIR]                                     plots and a summary of a trace\n"
         "  sweep SWEEP [--out DIR] [--workers N] [--scheduler ADDRESS]  run a parameter/seed sweep\n\n"
         "exit codes: 0 ok, 1 a check failed, 2 bad input, 3 run error\n";
}

struct ScenarioArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string out;
  long long seed = -1;
};

// Parses "SCENARIO [--seed N] [--out FILE] [--set K=V]..."; returns false after printing the error.
bool parse_scenario_args(const std::vector<std::string>& args, bool allow_run_options, ScenarioArgs& parsed) {
  po::options_description options("options");
  options.add_options()("set", po::value<std::vector<std::string>>(&parsed.overrides)->composing(),
                        "override a scenario field: --set protocol.coding.k=6");
  if (allow_run_options) {
    options.add_options()("seed", po::value<long long>(&parsed.seed), "seed (overrides the scenario's)")(
        "out", po::value<std::string>(&parsed.out), "trace file (default: outputs.trace or NAME.h5)");
  }
  options.add_options()("scenario", po::value<std::string>(&parsed.scenario)->required(), "scenario file");
  po::positional_options_description positional;
  positional.add("scenario", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "pbfs: " << e.what() << "\n";
    return false;
  }
  if (parsed.seed < -1) {
    std::cerr << "pbfs: --seed must not be negative\n";
    return false;
  }
  if (parsed.seed >= 0) parsed.overrides.push_back("seed=" + std::to_string(parsed.seed));
  return true;
}

std::string format_duration(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, seconds < 120 ? "%.1fs" : "%.0fmin", seconds < 120 ? seconds : seconds / 60);
  return buf;
}

// `report` and `sweep` are Python (pbfs.analysis, pbfs.sweep): run them on Debian's interpreter with the
// build's package first on PYTHONPATH, passing the exit code through.
int command_python(const std::string& module, const std::vector<std::string>& args) {
  std::string path = PBFS_PYTHON_DIR;
  if (const char* old = std::getenv("PYTHONPATH"); old != nullptr && *old != 0) path += std::string(":") + old;
  setenv("PYTHONPATH", path.c_str(), 1);
  std::vector<std::string> words = {"/usr/bin/python3", "-m", module};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  std::perror("pbfs: cannot start /usr/bin/python3");
  return kExitRunError;
}

int command_validate(const std::vector<std::string>& args) {
  ScenarioArgs parsed;
  if (!parse_scenario_args(args, false, parsed)) return kExitBadInput;
  pbfs::Result<pbfs::Scenario> scenario = pbfs::load_scenario_file(parsed.scenario, parsed.overrides);
  if (!scenario.is_ok()) {
    std::cerr << scenario.status().message() << "\n";
    return kExitBadInput;
  }
  std::cout << parsed.scenario << ": ok (" << scenario->node_count() << " nodes, protocol "
            << scenario->protocol["name"].as<std::string>("") << ")\n";
  return kExitOk;
}

int command_run(const std::vector<std::string>& args) {
  ScenarioArgs parsed;
  if (!parse_scenario_args(args, true, parsed)) return kExitBadInput;
  pbfs::Result<pbfs::Scenario> scenario = pbfs::load_scenario_file(parsed.scenario, parsed.overrides);
  if (!scenario.is_ok()) {
    std::cerr << scenario.status().message() << "\n";
    return kExitBadInput;
  }
  pbfs::RunOptions options;
  options.trace_path = parsed.out;
  options.overrides = parsed.overrides;
  options.exit_after_run = true;  // `pbfs run` ends when the run does
  const auto wall_start = std::chrono::steady_clock::now();
  const pbfs::TimeNs duration_ns = scenario->duration_ns;
  bool progress_shown = false;
  if (isatty(STDERR_FILENO)) {
    options.progress_every_ns = std::max<pbfs::TimeNs>(duration_ns / 200, pbfs::kMillisecond);
    options.progress = [&](pbfs::TimeNs simulated_ns, uint64_t events) {
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      if (wall < 3) return;  // only runs longer than a few seconds get a progress line
      const double done = static_cast<double>(simulated_ns) / static_cast<double>(duration_ns);
      std::fprintf(stderr, "\r  simulated %.2fs / %.2fs  %.2fM events/s  ETA %s   ", simulated_ns / 1e9,
                   duration_ns / 1e9, events / wall / 1e6, format_duration(wall / done - wall).c_str());
      progress_shown = true;
    };
  }
  pbfs::Result<pbfs::RunOutcome> outcome = pbfs::run_scenario(*scenario, options);
  if (progress_shown) std::fprintf(stderr, "\n");
  if (!outcome.is_ok()) {
    const pbfs::Status s = outcome.status();
    std::cerr << s.message() << "\n";
    return s.code() == pbfs::StatusCode::kInvalidArgument ? kExitBadInput : kExitRunError;
  }
  const pbfs::sim::RunSummary& summary = outcome->summary;
  std::printf("scenario   %s (seed %llu)\n", scenario->name.c_str(), static_cast<unsigned long long>(scenario->seed));
  std::printf("simulated  %.3f s in %.2f s wall, %llu events (%.2fM events/s)\n", summary.simulated_ns / 1e9,
              summary.wall_seconds, static_cast<unsigned long long>(summary.events),
              summary.events / std::max(summary.wall_seconds, 1e-9) / 1e6);
  std::printf("messages   %llu sent, %llu delivered, %llu dropped, %llu rejected\n",
              static_cast<unsigned long long>(summary.messages_sent),
              static_cast<unsigned long long>(summary.messages_delivered),
              static_cast<unsigned long long>(summary.messages_dropped),
              static_cast<unsigned long long>(summary.messages_rejected));
  std::printf("faults     %llu injected\n", static_cast<unsigned long long>(summary.faults_injected));
  for (const auto& [name, value] : summary.metrics) std::printf("metric     %s = %g\n", name.c_str(), value);
  for (const pbfs::sim::CheckerVerdict& v : summary.verdicts) {
    const char* verdict = !v.passed ? "FAILED" : (v.assumption_violated ? "assumption violated" : "passed");
    std::printf("check      %s: %s%s%s\n", v.checker.c_str(), verdict, v.detail.empty() ? "" : " — ", v.detail.c_str());
  }
  std::printf("trace      %s\n", outcome->trace_path.c_str());
  if (!summary.all_checks_passed()) {
    std::printf("replay     %s\n", outcome->replay_command.c_str());
    return kExitChecksFailed;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? kExitBadInput : kExitOk;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "run") return command_run(args);
  if (command == "validate") return command_validate(args);
  if (command == "calibrate") return pbfs::run_calibrate_command(args);
  if (command == "report") return command_python("pbfs.report", args);
  if (command == "sweep") return command_python("pbfs.sweep", args);
  std::cerr << "pbfs: unknown command '" << command << "'\n";
  usage(std::cerr);
  return kExitBadInput;
}
