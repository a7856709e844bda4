// The trace recorder: an HDF5 file with a versioned schema (docs/trace-format.md). Run metadata are
// attributes of the root; every table is a chunked, compressed 1-D dataset of a compound type built from
// a TableSchema, appended in batches. Nothing time-of-day goes in, so equal seeds give equal bytes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coding/status.h"
#include "protocols/runtime/trace_schema.h"

namespace pbfs {

constexpr uint32_t kTraceSchemaVersion = 1;

struct RunMetadata {
  std::string scenario_name;
  std::string scenario_text;  // the scenario as run, overrides applied
  uint64_t seed = 0;
  std::string pbfs_version;
  std::string runtime;  // "sim" or "real"
};

class TraceRecorder {
 public:
  // Creates (truncates) the file and writes the metadata attributes. `retain_rows` also keeps every row
  // in memory so callers (the Python module) can read tables without going through the file.
  static Result<std::unique_ptr<TraceRecorder>> create(const std::string& path, const RunMetadata& metadata,
                                                       bool retain_rows = false);
  ~TraceRecorder();

  // Returns the table's id, creating the dataset the first time a schema name is seen.
  uint32_t table(const TableSchema& schema);
  // Copies one row (schema.row_size bytes); rows reach the file in batches.
  void append(uint32_t table, const void* row);
  // Root attributes added after creation (summary figures, counters).
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, double value);
  // Flushes every batch and closes the file; later calls do nothing. The destructor calls it too.
  Status close();

  const std::string& path() const { return path_; }
  // All tables seen, in creation order, with their retained rows (empty unless retain_rows).
  struct TableView {
    const TableSchema* schema;
    uint64_t rows;
    const std::vector<uint8_t>* retained;
  };
  std::vector<TableView> tables() const;

 private:
  struct Impl;
  explicit TraceRecorder(std::unique_ptr<Impl> impl, std::string path);
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace pbfs
