// Python values <-> YAML, for the `pbfs` module: a scenario given as a dict becomes YAML text that the
// C++ loader reads like any file (so validation and messages are the same), and sweep files are parsed
// by the same YAML library as scenarios, without needing a Python YAML package.
#pragma once

#include <pybind11/pybind11.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace pbfs::python {

// YAML text for a nested dict/list/scalar value. bool -> true/false, int -> decimal, float -> the
// shortest text that reads back to the same double, str as is, None -> null. Raises TypeError naming
// the dotted path of a value of any other type (or a non-string key).
std::string yaml_from_python(const pybind11::handle& value);

// Parses YAML text into Python values, resolving plain scalars by YAML's core schema (null, bool, int,
// float; quoted scalars stay strings). Returns (value, lines) where lines maps each dotted path
// ("grid.workload.pairs", "seeds.0") to its 1-based line, for error messages. Raises the module's
// ScenarioError "origin:line: bad YAML: ..." when the text does not parse.
pybind11::tuple python_from_yaml(const std::string& text, const std::string& origin);

}  // namespace pbfs::python
