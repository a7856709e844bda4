// Python values <-> YAML (python/yaml_bridge.h). Both directions walk nested containers with an explicit
// depth limit, so a self-referencing dict or a YAML alias loop is an error rather than a crash.
#include "python/yaml_bridge.h"

#include <cmath>
#include <regex>

#include "python/errors.h"

namespace py = pybind11;

namespace pbfs::python {
namespace {

constexpr int kDepthMax = 64;

std::string child_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

[[noreturn]] void type_error(const std::string& path, const std::string& what) {
  throw py::type_error("scenario value " + (path.empty() ? std::string("(top level)") : path) + ": " + what);
}

// The text YAML should carry for a Python scalar; nullopt when `value` is not a scalar we know.
std::optional<std::string> scalar_text(const py::handle& handle) {
  const auto value = py::reinterpret_borrow<py::object>(handle);
  const py::module_ numbers = py::module_::import("numbers");
  if (PyBool_Check(value.ptr())) return std::string(value.ptr() == Py_True ? "true" : "false");
  if (py::hasattr(value, "dtype") && py::str(value.attr("dtype").attr("kind")).cast<std::string>() == "b") {
    return std::string(py::bool_(value) ? "true" : "false");  // numpy.bool_
  }
  if (py::isinstance(value, numbers.attr("Integral"))) return py::str(py::int_(value)).cast<std::string>();
  if (py::isinstance(value, numbers.attr("Real"))) {
    const double number = py::float_(value).cast<double>();
    if (std::isnan(number)) return std::string(".nan");
    if (std::isinf(number)) return std::string(number > 0 ? ".inf" : "-.inf");
    return py::repr(py::float_(number)).cast<std::string>();  // shortest text that reads back exactly
  }
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  return std::nullopt;
}

YAML::Node node_from_python(const py::handle& value, const std::string& path, int depth) {
  if (depth > kDepthMax) type_error(path, "nested more than " + std::to_string(kDepthMax) + " levels (a cycle?)");
  if (value.is_none()) return YAML::Node(YAML::NodeType::Null);
  if (std::optional<std::string> text = scalar_text(value)) return YAML::Node(*text);
  const py::module_ abc = py::module_::import("collections.abc");
  if (py::isinstance(value, abc.attr("Mapping"))) {
    YAML::Node map(YAML::NodeType::Map);
    for (const py::handle key : value) {
      if (!py::isinstance<py::str>(key)) {
        type_error(path, "key " + py::repr(key).cast<std::string>() + " is not a string");
      }
      const std::string name = key.cast<std::string>();
      map[name] = node_from_python(value[key], child_path(path, name), depth + 1);
    }
    return map;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    YAML::Node list(YAML::NodeType::Sequence);
    size_t index = 0;
    for (const py::handle item : value) {
      list.push_back(node_from_python(item, child_path(path, std::to_string(index)), depth + 1));
      ++index;
    }
    return list;
  }
  type_error(path, "cannot be written as YAML (type " + py::str(value.get_type().attr("__name__")).cast<std::string>() +
                       "; use dict, list, str, int, float, bool or None)");
}

// A plain scalar resolved by YAML 1.2's core schema.
py::object resolve_plain(const std::string& text) {
  static const std::regex null_re("null|Null|NULL|~|");
  static const std::regex true_re("true|True|TRUE");
  static const std::regex false_re("false|False|FALSE");
  static const std::regex decimal_re("[-+]?[0-9]+");
  static const std::regex octal_re("0o[0-7]+");
  static const std::regex hex_re("0x[0-9a-fA-F]+");
  static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex inf_re("[-+]?\\.(inf|Inf|INF)");
  static const std::regex nan_re("\\.(nan|NaN|NAN)");
  const py::object to_int = py::module_::import("builtins").attr("int");
  if (std::regex_match(text, null_re)) return py::none();
  if (std::regex_match(text, true_re)) return py::bool_(true);
  if (std::regex_match(text, false_re)) return py::bool_(false);
  if (std::regex_match(text, decimal_re)) return to_int(text, 10);
  if (std::regex_match(text, octal_re)) return to_int(text.substr(2), 8);
  if (std::regex_match(text, hex_re)) return to_int(text.substr(2), 16);
  if (std::regex_match(text, float_re)) return py::float_(std::stod(text));
  if (std::regex_match(text, inf_re)) return py::float_(text[0] == '-' ? -INFINITY : INFINITY);
  if (std::regex_match(text, nan_re)) return py::float_(NAN);
  return py::str(text);
}

py::object python_from_node(const YAML::Node& node, const std::string& path, int depth, py::dict& lines) {
  if (depth > kDepthMax) throw_scenario_error(path + ": nested more than " + std::to_string(kDepthMax) + " levels");
  if (!lines.contains(path)) lines[py::str(path)] = node.Mark().line + 1;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return py::none();
    case YAML::NodeType::Scalar:
      return node.Tag() == "?" ? resolve_plain(node.Scalar()) : py::object(py::str(node.Scalar()));
    case YAML::NodeType::Sequence: {
      py::list list;
      for (size_t i = 0; i < node.size(); ++i) {
        list.append(python_from_node(node[i], child_path(path, std::to_string(i)), depth + 1, lines));
      }
      return list;
    }
    case YAML::NodeType::Map: {
      py::dict map;
      for (const auto& entry : node) {
        const std::string key = entry.first.Scalar();
        lines[py::str(child_path(path, key))] = entry.first.Mark().line + 1;
        map[py::str(key)] = python_from_node(entry.second, child_path(path, key), depth + 1, lines);
      }
      return map;
    }
  }
  return py::none();
}

}  // namespace

std::string yaml_from_python(const py::handle& value) {
  YAML::Emitter out;
  out << node_from_python(value, "", 0);
  return std::string(out.c_str()) + "\n";
}

py::tuple python_from_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_scenario_error(origin + ":" + std::to_string(e.mark.line + 1) + ": bad YAML: " + e.msg);
  }
  py::dict lines;
  py::object value = python_from_node(root, "", 0, lines);
  return py::make_tuple(value, lines);
}

}  // namespace pbfs::python
