// The HDF5 trace recorder (sim/trace.h, docs/trace-format.md). It speaks HDF5's C API directly, because
// its errors are return codes that become Status values here, and it pins everything HDF5 would otherwise
// vary (object timestamps, format versions, chunk shapes, padding bytes) so equal runs give equal bytes.
#include "sim/trace.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pbfs {
namespace {

// A batch is also exactly one chunk: batches are flushed whole, so every chunk but a table's last is
// compressed and written once. A chunk holds at most 1 MiB.
constexpr size_t kBatchRowsMax = 4096;
constexpr size_t kChunkBytesMax = size_t{1} << 20;
constexpr unsigned kDeflateLevel = 1;  // 1.4x faster than level 4 on pbfs traces, for 5% more bytes
constexpr const char* kTablesGroup = "tables";
// Root attributes that create() writes; set_attribute() may not replace them.
constexpr const char* kMetadataNames[] = {"schema_version", "scenario_name", "scenario_text",
                                          "seed",           "pbfs_version",  "runtime"};

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), closer_(other.closer_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      closer_ = other.closer_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  bool valid() const { return id_ >= 0; }
  hid_t get() const { return id_; }
  // Closes now; returns what the close returned (0 when there was nothing to close).
  herr_t reset() {
    herr_t result = 0;
    if (id_ >= 0) result = closer_(id_);
    id_ = H5I_INVALID_HID;
    return result;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// HDF5 prints its error stack to stderr by default. Failures here become Status values instead, so
// printing is switched off while the recorder calls HDF5 and restored afterwards (other code in the
// process, h5py included, keeps its own setting).
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// The most specific message on HDF5's error stack (the failing system call's, when there is one). Must
// be called right after the failing HDF5 call: the next API call clears the stack.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
        auto& text = *static_cast<std::string*>(out);
        if (text.empty() && error->desc != nullptr) text = error->desc;
        return 0;
      },
      &reason);
  std::replace(reason.begin(), reason.end(), '\n', ' ');  // some messages embed a newline
  return reason.empty() ? "unknown HDF5 error" : reason;
}

size_t field_width_bytes(FieldType type) {
  switch (type) {
    case FieldType::kI64:
    case FieldType::kU64:
    case FieldType::kF64: return 8;
    case FieldType::kI32:
    case FieldType::kU32: return 4;
    case FieldType::kU16: return 2;
    case FieldType::kU8: return 1;
    case FieldType::kChars: return 0;  // any size of at least 1
  }
  return 0;
}

hid_t predefined_type(FieldType type) {
  switch (type) {
    case FieldType::kI64: return H5T_STD_I64LE;
    case FieldType::kU64: return H5T_STD_U64LE;
    case FieldType::kI32: return H5T_STD_I32LE;
    case FieldType::kU32: return H5T_STD_U32LE;
    case FieldType::kU16: return H5T_STD_U16LE;
    case FieldType::kU8: return H5T_STD_U8LE;
    case FieldType::kF64: return H5T_IEEE_F64LE;
    case FieldType::kChars: break;
  }
  return H5I_INVALID_HID;
}

// A scalar, variable-length UTF-8 string type: h5py reads such attributes as str, and long values (the
// scenario text) live in the global heap instead of the 64 KiB object header.
Handle string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.valid() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0) {
    return Handle();
  }
  return type;
}

// Writes (or replaces) an attribute: a scalar when `count` is 0, else a 1-D array of `count` values.
// Returns false with HDF5's error stack filled on failure.
bool write_attribute(hid_t location, const std::string& name, hid_t type, const void* value, hsize_t count = 0) {
  const htri_t exists = H5Aexists(location, name.c_str());
  if (exists < 0 || (exists > 0 && H5Adelete(location, name.c_str()) < 0)) return false;
  Handle space(count == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr), H5Sclose);
  if (!space.valid()) return false;
  Handle attribute(H5Acreate2(location, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attribute.valid() && H5Awrite(attribute.get(), type, value) >= 0 && attribute.reset() >= 0;
}

bool write_string_attribute(hid_t location, const std::string& name, const std::string& value) {
  Handle type = string_type();
  const char* text = value.c_str();
  return type.valid() && write_attribute(location, name, type.get(), &text);
}

struct TraceTable {
  TableSchema schema;                // a private copy: its strings point into `strings`
  std::deque<std::string> strings;   // a deque never moves its elements
  std::vector<std::pair<size_t, size_t>> padding;  // (offset, bytes) not covered by a field
  size_t batch_rows_max = 0;
  std::vector<uint8_t> batch;        // batch_rows_max rows
  size_t batch_rows = 0;
  uint64_t rows = 0;                 // appended so far
  uint64_t rows_in_file = 0;         // flushed so far
  std::vector<uint8_t> retained;     // every row, when the recorder retains rows
  Handle type;                       // compound type: file and memory type alike
  Handle dataset;
};

}  // namespace

struct TraceRecorder::Impl {
  std::string path;
  RunMetadata metadata;
  bool retain_rows = false;
  bool closed = false;
  Status status;  // the first failure; later writes are skipped, close() returns it
  Handle file;
  Handle tables_group;
  std::vector<std::unique_ptr<TraceTable>> tables;
  std::map<std::string, uint32_t, std::less<>> ids;

  [[noreturn]] void fail(const std::string& what) const {
    std::fprintf(stderr, "pbfs: trace %s (seed %llu): %s\n", path.c_str(),
                 static_cast<unsigned long long>(metadata.seed), what.c_str());
    std::abort();
  }
  void require(bool condition, const char* what) const {
    if (!condition) fail(what);
  }
  Status error(const std::string& what) const {
    return Status(StatusCode::kIoError, "trace " + path + ": " + what + ": " + hdf5_reason());
  }
  void record(Status failure) {
    if (status.is_ok()) status = std::move(failure);
  }

  Status create_file();
  Status write_metadata();
  void validate(const TableSchema& schema) const;
  std::unique_ptr<TraceTable> copy_schema(const TableSchema& schema) const;
  Status create_dataset(TraceTable& table);
  void flush(TraceTable& table);
  Status write_batch(TraceTable& table);
  Status close_file();
  bool accept_attribute(const std::string& name) const;
  void write_root_attribute(const std::string& name, hid_t type, const void* value);
};

Status TraceRecorder::Impl::create_file() {
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  // No object timestamps, and one fixed format version, so the bytes depend on the content only. The
  // 1.10 format gives appendable datasets an extensible-array chunk index.
  if (!fcpl.valid() || !fapl.valid() || !gcpl.valid() || H5Pset_obj_track_times(fcpl.get(), 0) < 0 ||
      H5Pset_obj_track_times(gcpl.get(), 0) < 0 ||
      H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110) < 0 ||
      H5Pset_file_locking(fapl.get(), 1, 1) < 0) {
    return error("cannot set up file properties");
  }
  file = Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!file.valid()) {
    return Status(StatusCode::kIoError, "cannot create trace file " + path + ": " + hdf5_reason());
  }
  tables_group = Handle(H5Gcreate2(file.get(), kTablesGroup, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!tables_group.valid()) return error("cannot create group /tables");
  return write_metadata();
}

Status TraceRecorder::Impl::write_metadata() {
  const hid_t root = file.get();
  const uint32_t version = kTraceSchemaVersion;
  const uint64_t seed = metadata.seed;
  if (!write_attribute(root, "schema_version", H5T_STD_U32LE, &version) ||
      !write_string_attribute(root, "scenario_name", metadata.scenario_name) ||
      !write_string_attribute(root, "scenario_text", metadata.scenario_text) ||
      !write_attribute(root, "seed", H5T_STD_U64LE, &seed) ||
      !write_string_attribute(root, "pbfs_version", metadata.pbfs_version) ||
      !write_string_attribute(root, "runtime", metadata.runtime)) {
    return error("cannot write run metadata");
  }
  return Status::ok();
}

// A schema that does not describe a row is a programmer error, caught on first use.
void TraceRecorder::Impl::validate(const TableSchema& schema) const {
  require(schema.name != nullptr && schema.name[0] != '\0', "table schema without a name");
  const std::string name = schema.name;
  if (name == "." || name.find('/') != std::string::npos) fail("table name '" + name + "' is not a plain name");
  if (schema.row_size == 0 || schema.fields.empty()) fail("table '" + name + "' has no row size or no fields");
  std::vector<std::pair<size_t, size_t>> spans;
  for (const FieldDesc& field : schema.fields) {
    const std::string field_name = field.name != nullptr ? field.name : "";
    const size_t width = field_width_bytes(field.type);
    if (field_name.empty()) fail("table '" + name + "' has a field without a name");
    if ((width != 0 && field.size != width) || field.size == 0) {
      fail("table '" + name + "' field '" + field_name + "' has a size that does not match its type");
    }
    if (field.offset > schema.row_size || field.size > schema.row_size - field.offset) {
      fail("table '" + name + "' field '" + field_name + "' lies outside the row");
    }
    for (const FieldDesc& other : schema.fields) {
      if (&other != &field && other.name != nullptr && field_name == other.name) {
        fail("table '" + name + "' has two fields named '" + field_name + "'");
      }
    }
    spans.emplace_back(field.offset, field.size);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i - 1].first + spans[i - 1].second > spans[i].first) fail("table '" + name + "' has overlapping fields");
  }
}

// Copies the schema's strings (a caller such as the Python module may build schemas that do not outlive
// this call) and finds the padding bytes that append() zeroes.
std::unique_ptr<TraceTable> TraceRecorder::Impl::copy_schema(const TableSchema& schema) const {
  auto table = std::make_unique<TraceTable>();
  auto keep = [&](const char* text) { return table->strings.emplace_back(text != nullptr ? text : "").c_str(); };
  table->schema.name = keep(schema.name);
  table->schema.description = keep(schema.description);
  table->schema.row_size = schema.row_size;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const FieldDesc& field : schema.fields) {
    table->schema.fields.push_back(
        FieldDesc{keep(field.name), field.type, field.offset, field.size, keep(field.description)});
    spans.emplace_back(field.offset, field.size);
  }
  std::sort(spans.begin(), spans.end());
  size_t covered = 0;
  for (const auto& [offset, size] : spans) {
    if (offset > covered) table->padding.emplace_back(covered, offset - covered);
    covered = offset + size;
  }
  if (covered < schema.row_size) table->padding.emplace_back(covered, schema.row_size - covered);
  table->batch_rows_max = std::clamp<size_t>(kChunkBytesMax / schema.row_size, 1, kBatchRowsMax);
  table->batch.resize(table->batch_rows_max * schema.row_size);
  return table;
}

Status TraceRecorder::Impl::create_dataset(TraceTable& table) {
  const TableSchema& schema = table.schema;
  const std::string where = std::string("table ") + schema.name;
  table.type = Handle(H5Tcreate(H5T_COMPOUND, schema.row_size), H5Tclose);
  if (!table.type.valid()) return error(where + ": cannot create its type");
  for (const FieldDesc& field : schema.fields) {
    Handle chars;
    hid_t member = predefined_type(field.type);
    if (field.type == FieldType::kChars) {
      chars = Handle(H5Tcopy(H5T_C_S1), H5Tclose);
      if (!chars.valid() || H5Tset_size(chars.get(), field.size) < 0 ||
          H5Tset_strpad(chars.get(), H5T_STR_NULLPAD) < 0) {
        return error(where + ": cannot create the type of field " + field.name);
      }
      member = chars.get();
    }
    if (H5Tinsert(table.type.get(), field.name, field.offset, member) < 0) {
      return error(where + ": cannot add field " + field.name);
    }
  }
  const hsize_t rows = 0, rows_max = H5S_UNLIMITED, chunk_rows = table.batch_rows_max;
  Handle space(H5Screate_simple(1, &rows, &rows_max), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (!space.valid() || !dcpl.valid() || !dapl.valid() || H5Pset_obj_track_times(dcpl.get(), 0) < 0 ||
      H5Pset_chunk(dcpl.get(), 1, &chunk_rows) < 0 || H5Pset_shuffle(dcpl.get()) < 0 ||
      H5Pset_deflate(dcpl.get(), kDeflateLevel) < 0 ||
      // Whole chunks are written once, so caching them would only cost memory.
      H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT) < 0) {
    return error(where + ": cannot set up its properties");
  }
  table.dataset = Handle(H5Dcreate2(tables_group.get(), schema.name, table.type.get(), space.get(), H5P_DEFAULT,
                                    dcpl.get(), dapl.get()),
                         H5Dclose);
  if (!table.dataset.valid()) return error(where + ": cannot create its dataset");
  std::vector<const char*> docs;
  for (const FieldDesc& field : schema.fields) docs.push_back(field.description);
  Handle text = string_type();
  if (!write_string_attribute(table.dataset.get(), "description", schema.description) || !text.valid() ||
      !write_attribute(table.dataset.get(), "field_descriptions", text.get(), docs.data(), docs.size())) {
    return error(where + ": cannot write its descriptions");
  }
  return Status::ok();
}

void TraceRecorder::Impl::flush(TraceTable& table) {
  if (table.batch_rows == 0) return;
  if (status.is_ok()) record(write_batch(table));
  table.rows_in_file += table.batch_rows;
  table.batch_rows = 0;
}

Status TraceRecorder::Impl::write_batch(TraceTable& table) {
  QuietHdf5Errors quiet;
  const hsize_t start = table.rows_in_file, count = table.batch_rows, rows = start + count;
  const std::string where = std::string("table ") + table.schema.name;
  if (H5Dset_extent(table.dataset.get(), &rows) < 0) return error(where + ": cannot extend");
  Handle file_space(H5Dget_space(table.dataset.get()), H5Sclose);
  Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  if (!file_space.valid() || !memory_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
      H5Dwrite(table.dataset.get(), table.type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
               table.batch.data()) < 0) {
    return error(where + ": cannot write rows " + std::to_string(start) + ".." + std::to_string(rows));
  }
  return Status::ok();
}

Status TraceRecorder::Impl::close_file() {
  QuietHdf5Errors quiet;
  for (auto& table : tables) flush(*table);
  Status result = status;
  auto close = [&](Handle& handle, const char* what) {
    if (handle.reset() < 0 && result.is_ok()) result = error(std::string("cannot close ") + what);
  };
  for (auto& table : tables) {
    close(table->dataset, table->schema.name);
    close(table->type, table->schema.name);
  }
  close(tables_group, "/tables");
  close(file, "the file");
  return result;
}

// Asserts that set_attribute() may write `name`; false when an earlier failure stopped all writing.
bool TraceRecorder::Impl::accept_attribute(const std::string& name) const {
  require(!closed, "set_attribute() after close()");
  require(!name.empty(), "set_attribute() without a name");
  for (const char* reserved : kMetadataNames) {
    if (name == reserved) fail("set_attribute() may not replace the run metadata attribute " + name);
  }
  return status.is_ok();
}

void TraceRecorder::Impl::write_root_attribute(const std::string& name, hid_t type, const void* value) {
  if (type < 0 || !write_attribute(file.get(), name, type, value)) record(error("cannot write attribute " + name));
}

Result<std::unique_ptr<TraceRecorder>> TraceRecorder::create(const std::string& path, const RunMetadata& metadata,
                                                             bool retain_rows) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->metadata = metadata;
  impl->retain_rows = retain_rows;
  {
    QuietHdf5Errors quiet;
    Status created = impl->create_file();
    if (!created.is_ok()) {
      impl.reset();  // closes what was opened while HDF5's printing is still off
      return created;
    }
  }
  return std::unique_ptr<TraceRecorder>(new TraceRecorder(std::move(impl), path));
}

TraceRecorder::TraceRecorder(std::unique_ptr<Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

TraceRecorder::~TraceRecorder() {
  if (impl_->closed) return;
  const Status closed = close();
  if (!closed.is_ok()) std::fprintf(stderr, "pbfs: %s\n", closed.to_string().c_str());
}

uint32_t TraceRecorder::table(const TableSchema& schema) {
  Impl& impl = *impl_;
  impl.require(!impl.closed, "table() after close()");
  impl.validate(schema);
  if (auto found = impl.ids.find(std::string_view(schema.name)); found != impl.ids.end()) {
    const TableSchema& known = impl.tables[found->second]->schema;
    if (known.row_size != schema.row_size || known.fields.size() != schema.fields.size()) {
      impl.fail(std::string("table '") + schema.name + "' declared twice with different rows");
    }
    return found->second;
  }
  const auto id = static_cast<uint32_t>(impl.tables.size());
  impl.tables.push_back(impl.copy_schema(schema));
  impl.ids.emplace(schema.name, id);
  if (impl.status.is_ok()) {
    QuietHdf5Errors quiet;
    impl.record(impl.create_dataset(*impl.tables.back()));
  }
  return id;
}

void TraceRecorder::append(uint32_t table_id, const void* row) {
  Impl& impl = *impl_;
  if (table_id >= impl.tables.size()) impl.fail("append() to unknown table " + std::to_string(table_id));
  impl.require(!impl.closed, "append() after close()");
  TraceTable& table = *impl.tables[table_id];
  const size_t row_size = table.schema.row_size;
  uint8_t* slot = table.batch.data() + table.batch_rows * row_size;
  std::memcpy(slot, row, row_size);
  // Struct padding is indeterminate; zeroing it keeps equal rows equal bytes.
  for (const auto& [offset, size] : table.padding) std::memset(slot + offset, 0, size);
  if (impl.retain_rows) table.retained.insert(table.retained.end(), slot, slot + row_size);
  ++table.rows;
  if (++table.batch_rows == table.batch_rows_max) impl.flush(table);
}

void TraceRecorder::set_attribute(const std::string& name, const std::string& value) {
  if (!impl_->accept_attribute(name)) return;
  QuietHdf5Errors quiet;
  Handle type = string_type();
  const char* text = value.c_str();
  impl_->write_root_attribute(name, type.get(), &text);
}

void TraceRecorder::set_attribute(const std::string& name, int64_t value) {
  if (!impl_->accept_attribute(name)) return;
  QuietHdf5Errors quiet;
  impl_->write_root_attribute(name, H5T_STD_I64LE, &value);
}

void TraceRecorder::set_attribute(const std::string& name, double value) {
  if (!impl_->accept_attribute(name)) return;
  QuietHdf5Errors quiet;
  impl_->write_root_attribute(name, H5T_IEEE_F64LE, &value);
}

Status TraceRecorder::close() {
  if (impl_->closed) return impl_->status;
  impl_->closed = true;
  impl_->status = impl_->close_file();
  return impl_->status;
}

std::vector<TraceRecorder::TableView> TraceRecorder::tables() const {
  std::vector<TableView> views;
  views.reserve(impl_->tables.size());
  for (const auto& table : impl_->tables) views.push_back(TableView{&table->schema, table->rows, &table->retained});
  return views;
}

}  // namespace pbfs
