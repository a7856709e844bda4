// One simulated run, start to finish: configure the deployment, build the world, record the trace, run,
// collect metrics and checker verdicts. The `pbfs run` command and the Python module both call this, so
// a seed and a scenario give the same trace whichever way they are run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coding/status.h"
#include "scenarios/scenario.h"
#include "sim/trace.h"
#include "sim/world.h"

namespace pbfs {

struct RunOptions {
  std::string trace_path;                 // overrides the scenario's outputs.trace when not empty
  std::vector<std::string> overrides;     // as given (for the replay command)
  bool retain_rows = false;               // keep every table in memory (Python)
  std::function<void(TimeNs simulated_ns, uint64_t events)> progress;
  TimeNs progress_every_ns = 0;
  // The caller exits right after the run: leave the simulated world's memory to the operating system
  // instead of freeing tens of millions of objects one by one (seconds at the 1,000-node scale).
  bool exit_after_run = false;
};

struct RunOutcome {
  sim::RunSummary summary;
  std::string trace_path;
  std::string replay_command;
  std::unique_ptr<TraceRecorder> trace;  // closed; holds retained rows when asked for
};

// Validates the protocol sections (kInvalidArgument with file:line:field), then runs.
Result<RunOutcome> run_scenario(const Scenario& scenario, const RunOptions& options);

// "pbfs run <file> --seed <seed> [--set k=v]...": the command that replays a run.
std::string replay_command(const Scenario& scenario, const std::vector<std::string>& overrides);

// The trace path a run writes when none is given: outputs.trace, else <name>.h5.
std::string default_trace_path(const Scenario& scenario);

}  // namespace pbfs
