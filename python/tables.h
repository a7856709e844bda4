// Trace tables as numpy structured arrays. A table's dtype is built from its TableSchema with the same
// field names, types, offsets and row size as the HDF5 compound type (docs/trace-format.md), so a row
// read from memory and a row read from the file through h5py compare equal.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "sim/trace.h"

namespace pbfs::python {

// The numpy dtype of one table's rows (little-endian fields, fixed-length bytes for char fields).
pybind11::dtype dtype_of(const TableSchema& schema);

// A read-only array over the table's retained rows, without copying them: `owner` (the Python object
// that keeps the rows alive) becomes the array's base.
pybind11::array table_array(const TraceRecorder::TableView& table, const pybind11::handle& owner);

}  // namespace pbfs::python
