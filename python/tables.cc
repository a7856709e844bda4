// Trace tables as numpy structured arrays (python/tables.h).
#include "python/tables.h"

#include <string>

namespace py = pybind11;

namespace pbfs::python {
namespace {

// numpy's type string for a field: explicit little-endian, as the trace file stores it.
std::string numpy_format(const FieldDesc& field) {
  switch (field.type) {
    case FieldType::kI64: return "<i8";
    case FieldType::kU64: return "<u8";
    case FieldType::kI32: return "<i4";
    case FieldType::kU32: return "<u4";
    case FieldType::kU16: return "<u2";
    case FieldType::kU8: return "u1";
    case FieldType::kF64: return "<f8";
    case FieldType::kChars: return "S" + std::to_string(field.size);
  }
  throw std::logic_error("unknown field type in table schema");
}

}  // namespace

py::dtype dtype_of(const TableSchema& schema) {
  py::list names, formats, offsets;
  for (const FieldDesc& field : schema.fields) {
    names.append(field.name);
    formats.append(numpy_format(field));
    offsets.append(field.offset);
  }
  py::dict spec;
  spec["names"] = names;
  spec["formats"] = formats;
  spec["offsets"] = offsets;
  spec["itemsize"] = schema.row_size;
  return py::dtype::from_args(spec);
}

py::array table_array(const TraceRecorder::TableView& table, const py::handle& owner) {
  const py::dtype dtype = dtype_of(*table.schema);
  const auto rows = static_cast<py::ssize_t>(table.rows);
  if (table.retained == nullptr || table.retained->size() != table.rows * table.schema->row_size) {
    throw std::logic_error(std::string("table ") + table.schema->name + " was not retained in memory");
  }
  if (rows == 0) return py::array(dtype, {py::ssize_t{0}}, {static_cast<py::ssize_t>(table.schema->row_size)});
  py::array array(dtype, {rows}, {static_cast<py::ssize_t>(table.schema->row_size)}, table.retained->data(), owner);
  // The rows are the run's record: a view that could be written would change them for everyone.
  array.attr("setflags")(py::arg("write") = false);
  return array;
}

}  // namespace pbfs::python
