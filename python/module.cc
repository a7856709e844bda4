// The `pbfs._pbfs` extension: loads scenarios (file, YAML text or dict, with overrides) and runs them
// in-process through run_scenario, the path `pbfs run` takes, so a seed gives the same trace either way.
// The GIL is released while the simulation runs; tables come back as numpy arrays over the run's rows.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "python/errors.h"
#include "python/tables.h"
#include "python/yaml_bridge.h"
#include "scenarios/run.h"
#include "scenarios/scenario.h"

namespace py = pybind11;

namespace pbfs::python {
namespace {

// A loaded scenario and where it came from, so overrides (the seed among them) can be applied by
// loading it again exactly as the command line does.
struct LoadedScenario {
  Scenario scenario;
  std::string path;    // the file, when loaded from one
  std::string text;    // the YAML text, when loaded from text or a dict
  std::string origin;  // "<string>", "<dict>" or a name the caller gave
  std::vector<std::string> overrides;
};

using LoadedPtr = std::shared_ptr<LoadedScenario>;

LoadedPtr load(std::string path, std::string text, std::string origin, std::vector<std::string> overrides) {
  Result<Scenario> scenario = path.empty() ? load_scenario_text(text, origin, overrides)
                                           : load_scenario_file(path, overrides);
  // Whatever the reason (a missing file included), a scenario that does not load is bad input: exit 2.
  if (!scenario.is_ok()) throw_scenario_error(scenario.status().message());
  return std::make_shared<LoadedScenario>(LoadedScenario{std::move(scenario.value()), std::move(path), std::move(text),
                                                         std::move(origin), std::move(overrides)});
}

LoadedPtr with_overrides(const LoadedScenario& base, const std::vector<std::string>& extra) {
  std::vector<std::string> overrides = base.overrides;
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load(base.path, base.text, base.origin, std::move(overrides));
}

// One finished run. Tables handed to Python are views into `outcome.trace`'s retained rows.
struct RunResult {
  RunOutcome outcome;
  std::string scenario_name;
  std::string scenario_text;
  uint64_t seed = 0;
  bool rows_retained = false;
};

// Runs with the GIL released. A progress callback takes the GIL for each call; if it raises, later
// calls are skipped and the exception is raised when the run has finished.
std::shared_ptr<RunResult> run(const LoadedScenario& loaded, const std::string& trace_path, bool retain_rows,
                               const std::optional<py::function>& progress, TimeNs progress_every_ns) {
  RunOptions options;
  options.trace_path = trace_path;
  options.overrides = loaded.overrides;
  options.retain_rows = retain_rows;
  std::optional<py::error_already_set> progress_error;
  if (progress) {
    options.progress_every_ns =
        progress_every_ns > 0 ? progress_every_ns : std::max<TimeNs>(loaded.scenario.duration_ns / 100, 1);
    options.progress = [&](TimeNs simulated_ns, uint64_t events) {
      py::gil_scoped_acquire gil;
      if (progress_error) return;
      try {
        (*progress)(simulated_ns, events);
      } catch (py::error_already_set& e) {
        progress_error = std::move(e);
      }
    };
  }
  // Copies of a YAML node share their node memory, and reading a node through a non-const handle can
  // change it: each run gets its own deep copy (made while the GIL still serialises Python threads), so
  // runs of one Scenario in several threads never touch the same nodes.
  Scenario scenario = loaded.scenario;
  scenario.protocol = YAML::Clone(loaded.scenario.protocol);
  scenario.workload = YAML::Clone(loaded.scenario.workload);
  scenario.checks = YAML::Clone(loaded.scenario.checks);
  std::optional<Result<RunOutcome>> outcome;
  {
    py::gil_scoped_release release;
    outcome.emplace(run_scenario(scenario, options));
  }
  if (progress_error) throw *progress_error;
  if (!outcome->is_ok()) throw_status(outcome->status());
  auto result = std::make_shared<RunResult>();
  result->outcome = std::move(outcome->value());
  result->scenario_name = loaded.scenario.name;
  result->scenario_text = loaded.scenario.text;
  result->seed = loaded.scenario.seed;
  result->rows_retained = retain_rows;
  return result;
}

std::vector<std::string> overrides_arg(const std::optional<std::vector<std::string>>& overrides) {
  return overrides ? *overrides : std::vector<std::string>{};
}

const char* payload_name(PayloadFidelity payload) {
  return payload == PayloadFidelity::kReal ? "real" : "synthetic";
}

const char* verdict_name(const sim::CheckerVerdict& verdict) {
  if (!verdict.passed) return "FAILED";
  return verdict.assumption_violated ? "assumption violated" : "passed";
}

}  // namespace

void bind_scenario(py::module_& m) {
  py::class_<LoadedScenario, LoadedPtr>(m, "Scenario",
                                         "A validated scenario. Create one with load_scenario_file(), "
                                         "load_scenario_text() or load_scenario_dict() (or pbfs.load_scenario()).")
      .def_property_readonly("name", [](const LoadedScenario& s) { return s.scenario.name; })
      .def_property_readonly("description", [](const LoadedScenario& s) { return s.scenario.description; })
      .def_property_readonly("seed", [](const LoadedScenario& s) { return s.scenario.seed; })
      .def_property_readonly("duration_ns", [](const LoadedScenario& s) { return s.scenario.duration_ns; },
                             "simulated duration of the run, in nanoseconds")
      .def_property_readonly("node_count", [](const LoadedScenario& s) { return s.scenario.node_count(); })
      .def_property_readonly(
          "protocol", [](const LoadedScenario& s) { return s.scenario.protocol["name"].as<std::string>(""); },
          "protocol.name: the deployment that runs it")
      .def_property_readonly("payload", [](const LoadedScenario& s) { return payload_name(s.scenario.payload); })
      .def_property_readonly("text", [](const LoadedScenario& s) { return s.scenario.text; },
                             "the scenario as it runs (overrides applied), as stored in the trace")
      .def_property_readonly("file", [](const LoadedScenario& s) { return s.scenario.file; },
                             "the file it was loaded from, or its origin (\"<string>\", \"<dict>\")")
      .def_property_readonly("overrides", [](const LoadedScenario& s) { return s.overrides; },
                             "the \"key=value\" overrides applied, in order")
      .def_property_readonly(
          "default_trace_path", [](const LoadedScenario& s) { return default_trace_path(s.scenario); },
          "where run() writes the trace when not told: outputs.trace, else NAME.h5")
      .def("with_overrides", &with_overrides, py::arg("overrides"),
           "A copy with more \"dotted.key=value\" overrides applied after the existing ones (validated again).")
      .def(
          "run",
          [](const LoadedScenario& s, std::optional<int64_t> seed, const std::string& trace_path, bool retain_rows,
             std::optional<py::function> progress, TimeNs progress_every_ns) {
            if (seed && *seed < 0) throw py::value_error("seed must not be negative");
            LoadedPtr seeded = seed ? with_overrides(s, {"seed=" + std::to_string(*seed)}) : nullptr;
            return run(seeded ? *seeded : s, trace_path, retain_rows, progress, progress_every_ns);
          },
          py::arg("seed") = py::none(), py::arg("trace_path") = "", py::arg("retain_rows") = true,
          py::arg("progress") = py::none(), py::arg("progress_every_ns") = 0,
          "Runs the scenario in this process and returns a RunResult.\n\n"
          "seed: overrides the scenario's seed (as `pbfs run --seed` does); trace_path: the HDF5 trace to write\n"
          "(default: default_trace_path); retain_rows: keep every table in memory for RunResult.tables (turn\n"
          "off for very large runs and read the file instead); progress: called as progress(simulated_ns,\n"
          "events) every progress_every_ns of simulated time (default: 1% of the duration).\n"
          "The GIL is released while the simulation runs. Raises ScenarioError if the protocol sections\n"
          "are invalid, RunError if the run cannot complete (e.g. the trace cannot be written).")
      .def("__repr__", [](const LoadedScenario& s) {
        return "<pbfs.Scenario " + s.scenario.name + " (" + s.scenario.file + ", seed " +
               std::to_string(s.scenario.seed) + ", " + format_duration(s.scenario.duration_ns) + ")>";
      });
}

void bind_summary(py::module_& m) {
  py::class_<sim::CheckerVerdict>(m, "CheckerVerdict", "One online checker's verdict on a run.")
      .def_readonly("checker", &sim::CheckerVerdict::checker)
      .def_readonly("passed", &sim::CheckerVerdict::passed)
      .def_readonly("assumption_violated", &sim::CheckerVerdict::assumption_violated,
                    "the run broke the protocol's assumptions (e.g. clock drift beyond its bound)")
      .def_readonly("violations", &sim::CheckerVerdict::violations)
      .def_readonly("detail", &sim::CheckerVerdict::detail, "the first violation, or what was checked")
      .def_property_readonly("verdict", &verdict_name, "\"passed\", \"FAILED\" or \"assumption violated\"")
      .def("__repr__", [](const sim::CheckerVerdict& v) {
        const std::string detail = v.detail.empty() ? "" : " - " + v.detail;
        return "<CheckerVerdict " + v.checker + ": " + verdict_name(v) + detail + ">";
      });
  py::class_<sim::RunSummary>(m, "RunSummary", "Totals of one run, as `pbfs run` prints them.")
      .def_readonly("simulated_ns", &sim::RunSummary::simulated_ns)
      .def_readonly("events", &sim::RunSummary::events)
      .def_readonly("wall_seconds", &sim::RunSummary::wall_seconds, "wall-clock time of the run (not in the trace)")
      .def_readonly("messages_sent", &sim::RunSummary::messages_sent)
      .def_readonly("messages_delivered", &sim::RunSummary::messages_delivered)
      .def_readonly("messages_dropped", &sim::RunSummary::messages_dropped)
      .def_readonly("messages_rejected", &sim::RunSummary::messages_rejected)
      .def_readonly("faults_injected", &sim::RunSummary::faults_injected)
      .def_readonly("counters", &sim::RunSummary::counters, "named rare paths and rejected inputs -> count")
      .def_readonly("metrics", &sim::RunSummary::metrics, "deployment figures, e.g. echo.rtt_p50_us")
      .def_readonly("verdicts", &sim::RunSummary::verdicts)
      .def_property_readonly("all_checks_passed", &sim::RunSummary::all_checks_passed)
      .def("__repr__", [](const sim::RunSummary& s) {
        return "<RunSummary " + format_duration(s.simulated_ns) + " simulated, " + std::to_string(s.events) +
               " events, " + std::to_string(s.messages_sent) + " messages, " + std::to_string(s.faults_injected) +
               " faults, checks " + (s.all_checks_passed() ? "passed" : "FAILED") + ">";
      });
}

void bind_run_result(py::module_& m) {
  py::class_<RunResult, std::shared_ptr<RunResult>>(m, "RunResult", "One finished run: summary, verdicts, tables.")
      .def_property_readonly("summary", [](const RunResult& r) { return r.outcome.summary; })
      .def_property_readonly("verdicts", [](const RunResult& r) { return r.outcome.summary.verdicts; })
      .def_property_readonly("passed", [](const RunResult& r) { return r.outcome.summary.all_checks_passed(); },
                             "every checker passed (the command line exits 0)")
      .def_property_readonly("trace_path", [](const RunResult& r) { return r.outcome.trace_path; })
      .def_property_readonly("replay_command", [](const RunResult& r) { return r.outcome.replay_command; },
                             "the `pbfs run ...` command that replays this run")
      .def_readonly("seed", &RunResult::seed)
      .def_readonly("scenario_name", &RunResult::scenario_name)
      .def_readonly("scenario_text", &RunResult::scenario_text)
      .def_readonly("rows_retained", &RunResult::rows_retained, "whether tables are in memory (run(retain_rows=True))")
      .def_property_readonly("table_names", [](const RunResult& r) {
        std::vector<std::string> names;
        for (const auto& table : r.outcome.trace->tables()) names.emplace_back(table.schema->name);
        return names;
      }, "tables the run created, in creation order")
      .def_property_readonly("tables", [](py::object self) {
        const RunResult& r = self.cast<const RunResult&>();
        if (!r.rows_retained) throw py::value_error("the run was made with retain_rows=False: read its trace file");
        py::dict tables;
        for (const auto& table : r.outcome.trace->tables()) tables[table.schema->name] = table_array(table, self);
        return tables;
      }, "name -> read-only numpy structured array over the run's rows (no copy; needs retain_rows)")
      .def("table", [](py::object self, const std::string& name) -> py::array {
        const RunResult& r = self.cast<const RunResult&>();
        if (!r.rows_retained) throw py::value_error("the run was made with retain_rows=False: read its trace file");
        std::string known;
        for (const auto& table : r.outcome.trace->tables()) {
          if (name == table.schema->name) return table_array(table, self);
          known += (known.empty() ? "" : ", ") + std::string(table.schema->name);
        }
        throw py::key_error("this run has no table '" + name + "' (it has: " + known + ")");
      }, py::arg("name"), "One table as a read-only numpy structured array (KeyError if the run has none).")
      .def("describe_table", [](const RunResult& r, const std::string& name) -> py::dict {
        for (const auto& table : r.outcome.trace->tables()) {
          if (name != table.schema->name) continue;
          py::dict fields;
          for (const FieldDesc& f : table.schema->fields) fields[f.name] = f.description;
          py::dict out;
          out["description"] = table.schema->description;
          out["dtype"] = dtype_of(*table.schema);
          out["fields"] = fields;
          return out;
        }
        throw py::key_error("this run has no table '" + name + "'");
      }, py::arg("name"), "{description, dtype, fields: {name: description}} of one table.")
      .def("__repr__", [](const RunResult& r) {
        return "<pbfs.RunResult " + r.scenario_name + " seed " + std::to_string(r.seed) + ", checks " +
               (r.outcome.summary.all_checks_passed() ? "passed" : "FAILED") + ", trace " + r.outcome.trace_path + ">";
      });
}

}  // namespace pbfs::python

PYBIND11_MODULE(_pbfs, m) {
  using namespace pbfs::python;
  m.doc() = "pbfs simulator bindings. Use the `pbfs` package (pbfs.load_scenario, pbfs.run) rather than this module.";
  register_errors(m);
  // Result types first, so the signatures in Scenario's docstrings name them.
  bind_summary(m);
  bind_run_result(m);
  bind_scenario(m);
  m.def("load_scenario_file",
        [](const std::string& path, std::optional<std::vector<std::string>> overrides) {
          return load(path, "", "", overrides_arg(overrides));
        },
        py::arg("path"), py::arg("overrides") = py::none(),
        "Loads and validates a scenario file; overrides are \"dotted.key=value\" strings (as --set).");
  m.def("load_scenario_text",
        [](const std::string& text, const std::string& origin, std::optional<std::vector<std::string>> overrides) {
          return load("", text, origin, overrides_arg(overrides));
        },
        py::arg("text"), py::arg("origin") = "<string>", py::arg("overrides") = py::none(),
        "Loads and validates scenario YAML text; errors name `origin` as the file.");
  m.def("load_scenario_dict",
        [](const py::object& mapping, std::optional<std::vector<std::string>> overrides) {
          return load("", yaml_from_python(mapping), "<dict>", overrides_arg(overrides));
        },
        py::arg("mapping"), py::arg("overrides") = py::none(),
        "Loads and validates a scenario given as nested dicts/lists; errors name \"<dict>\", the line of\n"
        "yaml_from_python(mapping) and the field.");
  m.def("yaml_from_python", &yaml_from_python, py::arg("value"),
        "The YAML text a nested dict/list/scalar value is loaded as.");
  m.def("python_from_yaml", &python_from_yaml, py::arg("text"), py::arg("origin") = "<string>",
        "Parses YAML (core schema) into Python values; returns (value, {dotted.path: line}).");
  m.attr("version") = PBFS_VERSION;
  m.attr("trace_schema_version") = pbfs::kTraceSchemaVersion;
}
