// How C++ Status values become Python exceptions in the `pbfs` module: a bad scenario raises
// ScenarioError (a ValueError) with exactly the message the command line prints, anything else that
// stops a run raises RunError (a RuntimeError).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "coding/status.h"

namespace pbfs::python {

// Registers ScenarioError and RunError on the extension module.
void register_errors(pybind11::module_& module);

[[noreturn]] void throw_scenario_error(const std::string& message);
// kInvalidArgument -> ScenarioError (the command line's exit code 2), any other code -> RunError (3).
[[noreturn]] void throw_status(const Status& status);

}  // namespace pbfs::python
