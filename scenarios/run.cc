// run_scenario: the one path from a scenario to a trace and a summary.
#include "scenarios/run.h"

#include "protocols/registry.h"
#include "scenarios/deployment.h"

namespace pbfs {
namespace {

struct CounterRow {
  char name[48];
  uint64_t value;
};

const TableSchema& counter_schema() {
  static const TableSchema schema{
      "counters",
      "totals of named rare paths and rejected inputs (code probes), written at the end of the run",
      sizeof(CounterRow),
      {PBFS_FIELD(CounterRow, name, "counter name"), PBFS_FIELD(CounterRow, value, "total")}};
  return schema;
}

std::string shell_quote(const std::string& s) {
  if (s.find_first_of(" '\"$`\\") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void write_summary(TraceRecorder& trace, sim::World& world, const sim::RunSummary& summary) {
  const TraceTableId counters = world.trace_table(counter_schema());
  for (const auto& [name, value] : summary.counters) {
    CounterRow row{};
    set_chars(row.name, name);
    row.value = value;
    world.trace(counters, &row);
  }
  trace.set_attribute("simulated_ns", static_cast<int64_t>(summary.simulated_ns));
  trace.set_attribute("events", static_cast<int64_t>(summary.events));
  trace.set_attribute("messages_sent", static_cast<int64_t>(summary.messages_sent));
  trace.set_attribute("faults_injected", static_cast<int64_t>(summary.faults_injected));
  for (const auto& [name, value] : summary.metrics) trace.set_attribute("metric." + name, value);
  for (const sim::CheckerVerdict& v : summary.verdicts) {
    const char* verdict = v.passed ? (v.assumption_violated ? "assumption violated" : "passed") : "FAILED";
    trace.set_attribute("check." + v.checker, std::string(verdict) + ": " + v.detail);
  }
}

}  // namespace

std::string default_trace_path(const Scenario& scenario) {
  if (!scenario.output.trace_path.empty()) return scenario.output.trace_path;
  return (scenario.name.empty() ? std::string("trace") : scenario.name) + ".h5";
}

std::string replay_command(const Scenario& scenario, const std::vector<std::string>& overrides) {
  std::string cmd = "pbfs run " + shell_quote(scenario.file) + " --seed " + std::to_string(scenario.seed);
  for (const std::string& o : overrides) {
    if (o.rfind("seed=", 0) == 0) continue;
    cmd += " --set " + shell_quote(o);
  }
  return cmd;
}

Result<RunOutcome> run_scenario(const Scenario& scenario, const RunOptions& options) {
  register_all_messages();
  std::unique_ptr<Deployment> deployment = make_deployment(scenario.protocol["name"].as<std::string>(""));
  if (!deployment) {
    std::string known;
    for (const std::string& n : deployment_names()) known += (known.empty() ? "" : ", ") + n;
    return Status(StatusCode::kInvalidArgument,
                  scenario.file + ":" + std::to_string(scenario.protocol.Mark().line + 1) +
                      ": protocol.name: unknown protocol (known: " + known + ")");
  }
  Status configured = deployment->configure(scenario);
  if (!configured.is_ok()) return configured;

  RunOutcome outcome;
  outcome.trace_path = options.trace_path.empty() ? default_trace_path(scenario) : options.trace_path;
  outcome.replay_command = replay_command(scenario, options.overrides);
  RunMetadata metadata{scenario.name, scenario.text, scenario.seed, PBFS_VERSION, "sim"};
  Result<std::unique_ptr<TraceRecorder>> trace = TraceRecorder::create(outcome.trace_path, metadata, options.retain_rows);
  if (!trace.is_ok()) return trace.status();
  outcome.trace = std::move(trace.value());

  auto world = std::make_unique<sim::World>(scenario, outcome.trace.get());
  deployment->install(*world);
  if (options.progress) world->set_progress(options.progress, options.progress_every_ns);
  outcome.summary = world->run();
  deployment->finish(*world, outcome.summary);
  write_summary(*outcome.trace, *world, outcome.summary);
  if (options.exit_after_run) {  // deliberately not freed: the process ends next
    (void)world.release();
    (void)deployment.release();
  }
  Status closed = outcome.trace->close();
  if (!closed.is_ok()) return closed;
  return outcome;
}

}  // namespace pbfs
