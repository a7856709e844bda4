// Status -> Python exception (python/errors.h). The exception types live on the extension module and
// are looked up there when raised, so this file keeps no state of its own.
#include "python/errors.h"

namespace py = pybind11;

namespace pbfs::python {
namespace {

constexpr const char* kModuleName = "pbfs._pbfs";

[[noreturn]] void raise(const char* type_name, const std::string& message) {
  py::object type = py::module_::import(kModuleName).attr(type_name);
  PyErr_SetString(type.ptr(), message.c_str());
  throw py::error_already_set();
}

}  // namespace

void register_errors(py::module_& module) {
  py::object scenario_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "pbfs._pbfs.ScenarioError",
      "A scenario (file, YAML text, dict or override) is invalid. The message is the one `pbfs run` prints:\n"
      "'file:line: field.path: what is wrong' (or '--set key=value: ...' for an override).",
      PyExc_ValueError, nullptr));
  py::object run_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "pbfs._pbfs.RunError",
      "A valid scenario could not be run to the end, e.g. its trace file could not be written.",
      PyExc_RuntimeError, nullptr));
  if (!scenario_error || !run_error) throw py::error_already_set();
  module.attr("ScenarioError") = scenario_error;
  module.attr("RunError") = run_error;
}

void throw_scenario_error(const std::string& message) { raise("ScenarioError", message); }

void throw_status(const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument) raise("ScenarioError", status.message());
  raise("RunError", status.message());
}

}  // namespace pbfs::python
