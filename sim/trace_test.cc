// Tests for the HDF5 trace recorder: files are reopened with HDF5's C API and checked against
// docs/trace-format.md (compound types, rows, attributes, chunking), byte-for-byte determinism, retained
// rows, error values, and the assertions that guard programmer errors.
#include "sim/trace.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace pbfs {
namespace {

// One member of every field type, with a padding byte inside (after `fate`).
struct SampleRow {
  int64_t time_ns;
  char kind[12];
  uint32_t node;
  uint64_t bytes;
  int32_t delta;
  uint16_t port;
  uint8_t fate;
  double ratio;
};
static_assert(sizeof(SampleRow) == 48);

const TableSchema& sample_schema() {
  static const TableSchema schema{"samples",
                                  "rows with every field type",
                                  sizeof(SampleRow),
                                  {PBFS_FIELD(SampleRow, time_ns, "true time"),
                                   PBFS_FIELD(SampleRow, kind, "what happened"),
                                   PBFS_FIELD(SampleRow, node, "which node"),
                                   PBFS_FIELD(SampleRow, bytes, "how many bytes"),
                                   PBFS_FIELD(SampleRow, delta, "a signed change"),
                                   PBFS_FIELD(SampleRow, port, "which port"),
                                   PBFS_FIELD(SampleRow, fate, "what became of it"),
                                   PBFS_FIELD(SampleRow, ratio, "a fraction")}};
  return schema;
}

// Seven bytes of tail padding.
struct TailRow {
  uint64_t value;
  uint8_t flag;
};

const TableSchema& tail_schema() {
  static const TableSchema schema{"tail",
                                  "rows that end in padding",
                                  sizeof(TailRow),
                                  {PBFS_FIELD(TailRow, value, "a value"), PBFS_FIELD(TailRow, flag, "a flag")}};
  return schema;
}

// `fill` is what the padding bytes hold before the fields are set (the recorder must not write it).
SampleRow make_row(uint64_t i, uint8_t fill = 0) {
  SampleRow row;
  std::memset(&row, fill, sizeof(row));
  row.time_ns = static_cast<int64_t>(i * 1000) - 5;
  set_chars(row.kind, i % 3 == 0 ? "crash" : "partition-heal!");  // the second one is truncated to 12
  row.node = i % 7 == 0 ? 0xffffffffu : static_cast<uint32_t>(i % 100);
  row.bytes = i * 4096 + (uint64_t{1} << 40);
  row.delta = -static_cast<int32_t>(i);
  row.port = static_cast<uint16_t>(i % 65536);
  row.fate = static_cast<uint8_t>(i % 5);
  row.ratio = static_cast<double>(i) / 3.0;
  return row;
}

// make_row with its padding zeroed: what the file and the retained rows must hold.
SampleRow canonical_row(uint64_t i) { return make_row(i, 0); }

RunMetadata sample_metadata() {
  RunMetadata metadata;
  metadata.scenario_name = "trace-test";
  metadata.scenario_text = "name: trace-test\nseed: 42\n";
  metadata.seed = 42;
  metadata.pbfs_version = "0.1.0";
  metadata.runtime = "sim";
  return metadata;
}

class TraceRecorderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& path : paths_) std::remove(path.c_str());
  }
  // A file name private to this test and process (ctest may run tests in parallel).
  std::string temp_path(const std::string& tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string path = ::testing::TempDir() + "pbfs_trace_" + info->name() + "_" + tag + "_" +
                       std::to_string(getpid()) + ".h5";
    paths_.push_back(path);
    return path;
  }

 private:
  std::vector<std::string> paths_;
};

std::unique_ptr<TraceRecorder> create_or_die(const std::string& path, const RunMetadata& metadata,
                                             bool retain_rows = false) {
  auto created = TraceRecorder::create(path, metadata, retain_rows);
  EXPECT_TRUE(created.is_ok()) << created.status().to_string();
  return created.is_ok() ? std::move(created).value() : nullptr;
}

// Writes `rows` sample rows (the one at `changed_row`, if any, with one more byte) and five tail rows,
// interleaved, plus two attributes.
void write_sample_file(const std::string& path, const RunMetadata& metadata, uint64_t rows, uint8_t fill = 0,
                       uint64_t changed_row = UINT64_MAX) {
  auto recorder = create_or_die(path, metadata);
  ASSERT_NE(recorder, nullptr);
  const uint32_t samples = recorder->table(sample_schema());
  const uint32_t tail = recorder->table(tail_schema());
  for (uint64_t i = 0; i < rows; ++i) {
    SampleRow row = make_row(i, fill);
    if (i == changed_row) row.bytes += 1;
    recorder->append(samples, &row);
    if (i % 1000 == 0 && i / 1000 < 5) {
      TailRow tail_row;
      std::memset(&tail_row, fill, sizeof(tail_row));
      tail_row.value = i;
      tail_row.flag = 1;
      recorder->append(tail, &tail_row);
    }
  }
  recorder->set_attribute("operations", int64_t{12345});
  recorder->set_attribute("mean_latency_ms", 1.25);
  ASSERT_TRUE(recorder->close().is_ok());
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- readers over the HDF5 C API ---

struct H5File {
  explicit H5File(const std::string& path) : id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~H5File() {
    if (id >= 0) H5Fclose(id);
  }
  hid_t id;
};

std::string read_string_attribute(hid_t location, const char* name) {
  const hid_t attribute = H5Aopen(location, name, H5P_DEFAULT);
  EXPECT_GE(attribute, 0) << name;
  const hid_t type = H5Aget_type(attribute);
  EXPECT_EQ(H5Tget_class(type), H5T_STRING) << name;
  EXPECT_TRUE(H5Tis_variable_str(type)) << name;
  EXPECT_EQ(H5Tget_cset(type), H5T_CSET_UTF8) << name;
  char* text = nullptr;
  EXPECT_GE(H5Aread(attribute, type, &text), 0) << name;
  std::string value = text != nullptr ? text : "";
  const hid_t space = H5Screate(H5S_SCALAR);
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, &text);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attribute);
  return value;
}

// Reads a scalar numeric attribute after checking that its file type is `expected_type`.
template <typename T>
T read_number_attribute(hid_t location, const char* name, hid_t expected_type) {
  const hid_t attribute = H5Aopen(location, name, H5P_DEFAULT);
  EXPECT_GE(attribute, 0) << name;
  const hid_t type = H5Aget_type(attribute);
  EXPECT_GT(H5Tequal(type, expected_type), 0) << name;
  T value{};
  EXPECT_GE(H5Aread(attribute, expected_type, &value), 0) << name;
  H5Tclose(type);
  H5Aclose(attribute);
  return value;
}

std::vector<std::string> read_string_array_attribute(hid_t location, const char* name) {
  const hid_t attribute = H5Aopen(location, name, H5P_DEFAULT);
  EXPECT_GE(attribute, 0) << name;
  const hid_t type = H5Aget_type(attribute);
  const hid_t space = H5Aget_space(attribute);
  EXPECT_EQ(H5Sget_simple_extent_ndims(space), 1);
  std::vector<char*> texts(H5Sget_simple_extent_npoints(space), nullptr);
  EXPECT_GE(H5Aread(attribute, type, texts.data()), 0);
  std::vector<std::string> values(texts.begin(), texts.end());
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, texts.data());
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attribute);
  return values;
}

// Every row of a table, read with the dataset's own type (the recorder's memory type is the same).
template <typename Row>
std::vector<Row> read_rows(hid_t dataset) {
  const hid_t type = H5Dget_type(dataset);
  EXPECT_EQ(H5Tget_size(type), sizeof(Row));
  const hid_t space = H5Dget_space(dataset);
  std::vector<Row> rows(H5Sget_simple_extent_npoints(space));
  EXPECT_GE(H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), 0);
  H5Sclose(space);
  H5Tclose(type);
  return rows;
}

bool rows_equal(const SampleRow& a, const SampleRow& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// --- tests ---

TEST_F(TraceRecorderTest, EveryFieldTypeBecomesTheDocumentedCompoundMember) {
  const std::string path = temp_path("types");
  write_sample_file(path, sample_metadata(), 10);
  H5File file(path);
  ASSERT_GE(file.id, 0);
  const hid_t dataset = H5Dopen2(file.id, "/tables/samples", H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  const hid_t type = H5Dget_type(dataset);
  ASSERT_EQ(H5Tget_class(type), H5T_COMPOUND);
  EXPECT_EQ(H5Tget_size(type), sizeof(SampleRow));
  const TableSchema& schema = sample_schema();
  ASSERT_EQ(H5Tget_nmembers(type), static_cast<int>(schema.fields.size()));
  const hid_t expected_types[] = {H5T_STD_I64LE, H5I_INVALID_HID, H5T_STD_U32LE, H5T_STD_U64LE,
                                  H5T_STD_I32LE, H5T_STD_U16LE,   H5T_STD_U8LE,  H5T_IEEE_F64LE};
  for (unsigned i = 0; i < schema.fields.size(); ++i) {
    char* name = H5Tget_member_name(type, i);
    EXPECT_STREQ(name, schema.fields[i].name);
    H5free_memory(name);
    EXPECT_EQ(H5Tget_member_offset(type, i), schema.fields[i].offset) << schema.fields[i].name;
    const hid_t member = H5Tget_member_type(type, i);
    if (schema.fields[i].type == FieldType::kChars) {
      EXPECT_EQ(H5Tget_class(member), H5T_STRING);
      EXPECT_FALSE(H5Tis_variable_str(member));
      EXPECT_EQ(H5Tget_size(member), 12u);
      EXPECT_EQ(H5Tget_strpad(member), H5T_STR_NULLPAD);
    } else {
      EXPECT_GT(H5Tequal(member, expected_types[i]), 0) << schema.fields[i].name;
    }
    H5Tclose(member);
  }
  H5Tclose(type);
  H5Dclose(dataset);
}

TEST_F(TraceRecorderTest, RowsCrossingBatchesReadBackExactly) {
  const std::string path = temp_path("rows");
  const uint64_t rows = 10000;  // two full batches of 4096 rows and a partial one
  write_sample_file(path, sample_metadata(), rows, /*fill=*/0x5a);
  H5File file(path);
  ASSERT_GE(file.id, 0);
  const hid_t dataset = H5Dopen2(file.id, "/tables/samples", H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  const std::vector<SampleRow> read = read_rows<SampleRow>(dataset);
  ASSERT_EQ(read.size(), rows);
  for (uint64_t i = 0; i < rows; ++i) {
    ASSERT_TRUE(rows_equal(read[i], canonical_row(i))) << "row " << i;
  }
  EXPECT_EQ(std::string(read[1].kind, 12), std::string("partition-he"));
  EXPECT_EQ(std::string(read[0].kind, 12), std::string("crash\0\0\0\0\0\0\0", 12));
  H5Dclose(dataset);

  const hid_t tail = H5Dopen2(file.id, "/tables/tail", H5P_DEFAULT);
  ASSERT_GE(tail, 0);
  const std::vector<TailRow> tail_rows = read_rows<TailRow>(tail);
  ASSERT_EQ(tail_rows.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(tail_rows[i].value, i * 1000);
    EXPECT_EQ(tail_rows[i].flag, 1);
  }
  H5Dclose(tail);
}

TEST_F(TraceRecorderTest, TablesAreChunkedCompressedAndExtendible) {
  const std::string path = temp_path("layout");
  write_sample_file(path, sample_metadata(), 5000);
  H5File file(path);
  const hid_t dataset = H5Dopen2(file.id, "/tables/samples", H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  const hid_t space = H5Dget_space(dataset);
  hsize_t rows = 0, rows_max = 0;
  ASSERT_EQ(H5Sget_simple_extent_dims(space, &rows, &rows_max), 1);
  EXPECT_EQ(rows, 5000u);
  EXPECT_EQ(rows_max, H5S_UNLIMITED);
  const hid_t dcpl = H5Dget_create_plist(dataset);
  ASSERT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
  hsize_t chunk_rows = 0;
  ASSERT_EQ(H5Pget_chunk(dcpl, 1, &chunk_rows), 1);
  EXPECT_EQ(chunk_rows, 4096u);
  ASSERT_EQ(H5Pget_nfilters(dcpl), 2);
  unsigned flags = 0, values[4] = {};
  size_t value_count = 4;
  EXPECT_EQ(H5Pget_filter2(dcpl, 0, &flags, &value_count, values, 0, nullptr, nullptr), H5Z_FILTER_SHUFFLE);
  value_count = 4;
  EXPECT_EQ(H5Pget_filter2(dcpl, 1, &flags, &value_count, values, 0, nullptr, nullptr), H5Z_FILTER_DEFLATE);
  ASSERT_GE(value_count, 1u);
  EXPECT_EQ(values[0], 1u);  // the deflate level (docs/trace-format.md)
  // Compression works: 5000 rows of 48 bytes take far less than 240 kB in the file.
  EXPECT_LT(H5Dget_storage_size(dataset), 5000u * sizeof(SampleRow) / 2);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Dclose(dataset);
}

TEST_F(TraceRecorderTest, TablesCarryTheirDescriptions) {
  const std::string path = temp_path("docs");
  write_sample_file(path, sample_metadata(), 3);
  H5File file(path);
  const hid_t dataset = H5Dopen2(file.id, "/tables/samples", H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  EXPECT_EQ(read_string_attribute(dataset, "description"), "rows with every field type");
  const std::vector<std::string> docs = read_string_array_attribute(dataset, "field_descriptions");
  ASSERT_EQ(docs.size(), sample_schema().fields.size());
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(docs[i], sample_schema().fields[i].description);
  H5Dclose(dataset);
}

TEST_F(TraceRecorderTest, RootAttributesHoldRunMetadataAndSetAttributes) {
  const std::string path = temp_path("metadata");
  RunMetadata metadata = sample_metadata();
  metadata.seed = (uint64_t{1} << 63) + 5;  // does not fit a signed attribute
  for (int i = 0; i < 5000; ++i) metadata.scenario_text += "# a long scenario line " + std::to_string(i) + "\n";
  ASSERT_GT(metadata.scenario_text.size(), 100000u);  // beyond a 64 KiB object header
  auto recorder = create_or_die(path, metadata);
  ASSERT_NE(recorder, nullptr);
  recorder->set_attribute("note", std::string("first"));
  recorder->set_attribute("note", std::string("second wins"));
  recorder->set_attribute("writes", int64_t{-17});
  recorder->set_attribute("writes", int64_t{99});
  recorder->set_attribute("availability", 0.999);
  recorder->set_attribute("changes_type", int64_t{1});
  recorder->set_attribute("changes_type", std::string("now a string"));
  ASSERT_TRUE(recorder->close().is_ok());

  H5File file(path);
  ASSERT_GE(file.id, 0);
  EXPECT_EQ(read_number_attribute<uint32_t>(file.id, "schema_version", H5T_STD_U32LE), kTraceSchemaVersion);
  EXPECT_EQ(read_number_attribute<uint64_t>(file.id, "seed", H5T_STD_U64LE), metadata.seed);
  EXPECT_EQ(read_string_attribute(file.id, "scenario_name"), "trace-test");
  EXPECT_EQ(read_string_attribute(file.id, "scenario_text"), metadata.scenario_text);
  EXPECT_EQ(read_string_attribute(file.id, "pbfs_version"), "0.1.0");
  EXPECT_EQ(read_string_attribute(file.id, "runtime"), "sim");
  EXPECT_EQ(read_string_attribute(file.id, "note"), "second wins");
  EXPECT_EQ(read_number_attribute<int64_t>(file.id, "writes", H5T_STD_I64LE), 99);
  EXPECT_EQ(read_number_attribute<double>(file.id, "availability", H5T_IEEE_F64LE), 0.999);
  EXPECT_EQ(read_string_attribute(file.id, "changes_type"), "now a string");
  H5O_info_t info;
  ASSERT_GE(H5Oget_info2(file.id, &info, H5O_INFO_NUM_ATTRS), 0);
  EXPECT_EQ(info.num_attrs, 10u);  // six metadata attributes and four set ones
}

TEST_F(TraceRecorderTest, SameSchemaNameGivesTheSameIdAndIdsFollowFirstUse) {
  auto recorder = create_or_die(temp_path("ids"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  EXPECT_EQ(recorder->table(tail_schema()), 0u);
  EXPECT_EQ(recorder->table(sample_schema()), 1u);
  EXPECT_EQ(recorder->table(tail_schema()), 0u);
  TableSchema copy = sample_schema();  // same name, another object
  EXPECT_EQ(recorder->table(copy), 1u);
  const auto views = recorder->tables();
  ASSERT_EQ(views.size(), 2u);
  EXPECT_STREQ(views[0].schema->name, "tail");
  EXPECT_STREQ(views[1].schema->name, "samples");
  EXPECT_TRUE(recorder->close().is_ok());
}

TEST_F(TraceRecorderTest, ATableWithoutRowsIsStillWritten) {
  const std::string path = temp_path("empty");
  {
    auto recorder = create_or_die(path, sample_metadata());
    ASSERT_NE(recorder, nullptr);
    recorder->table(tail_schema());
    // The destructor closes the file.
  }
  H5File file(path);
  ASSERT_GE(file.id, 0);
  const hid_t dataset = H5Dopen2(file.id, "/tables/tail", H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  EXPECT_EQ(read_rows<TailRow>(dataset).size(), 0u);
  H5Dclose(dataset);
}

TEST_F(TraceRecorderTest, EqualCallsGiveByteIdenticalFiles) {
  const std::string first = temp_path("first"), second = temp_path("second");
  write_sample_file(first, sample_metadata(), 9000);
  write_sample_file(second, sample_metadata(), 9000);
  const std::string bytes = file_bytes(first);
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_TRUE(bytes == file_bytes(second));
}

TEST_F(TraceRecorderTest, PaddingBytesNeverReachTheFile) {
  const std::string zeros = temp_path("zeros"), garbage = temp_path("garbage");
  write_sample_file(zeros, sample_metadata(), 9000, /*fill=*/0x00);
  write_sample_file(garbage, sample_metadata(), 9000, /*fill=*/0xa5);
  EXPECT_TRUE(file_bytes(zeros) == file_bytes(garbage));
}

TEST_F(TraceRecorderTest, DifferentContentGivesDifferentBytes) {
  const std::string base = temp_path("base"), row = temp_path("row"), seed = temp_path("seed");
  write_sample_file(base, sample_metadata(), 9000);
  write_sample_file(row, sample_metadata(), 9000, 0, /*changed_row=*/8999);
  RunMetadata other_seed = sample_metadata();
  other_seed.seed = 43;
  write_sample_file(seed, other_seed, 9000);
  EXPECT_FALSE(file_bytes(base) == file_bytes(row));
  EXPECT_FALSE(file_bytes(base) == file_bytes(seed));
}

TEST_F(TraceRecorderTest, ObjectsCarryNoTimestamps) {
  const std::string path = temp_path("times");
  write_sample_file(path, sample_metadata(), 10);
  H5File file(path);
  for (const char* object : {"/", "/tables", "/tables/samples", "/tables/tail"}) {
    H5O_info_t info;
    ASSERT_GE(H5Oget_info_by_name2(file.id, object, &info, H5O_INFO_TIME, H5P_DEFAULT), 0) << object;
    EXPECT_EQ(info.atime, 0) << object;
    EXPECT_EQ(info.mtime, 0) << object;
    EXPECT_EQ(info.ctime, 0) << object;
    EXPECT_EQ(info.btime, 0) << object;
  }
}

TEST_F(TraceRecorderTest, RetainRowsKeepsEveryRowInMemory) {
  auto recorder = create_or_die(temp_path("retain"), sample_metadata(), /*retain_rows=*/true);
  ASSERT_NE(recorder, nullptr);
  const uint32_t samples = recorder->table(sample_schema());
  const uint32_t tail = recorder->table(tail_schema());
  const uint64_t rows = 5000;
  for (uint64_t i = 0; i < rows; ++i) {
    const SampleRow row = make_row(i, 0xee);
    recorder->append(samples, &row);
  }
  auto check = [&] {
    const auto views = recorder->tables();
    ASSERT_EQ(views.size(), 2u);
    EXPECT_EQ(views[0].rows, rows);
    ASSERT_EQ(views[0].retained->size(), rows * sizeof(SampleRow));
    for (uint64_t i = 0; i < rows; ++i) {
      SampleRow kept;
      std::memcpy(&kept, views[0].retained->data() + i * sizeof(SampleRow), sizeof(kept));
      ASSERT_TRUE(rows_equal(kept, canonical_row(i))) << "row " << i;
    }
    EXPECT_EQ(views[1].rows, 0u);
    EXPECT_TRUE(views[1].retained->empty());
  };
  check();  // rows still in a partial batch are retained too
  (void)tail;
  ASSERT_TRUE(recorder->close().is_ok());
  check();  // and they outlive the file
}

TEST_F(TraceRecorderTest, WithoutRetainRowsOnlyCountsAreKept) {
  auto recorder = create_or_die(temp_path("counts"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  const uint32_t samples = recorder->table(sample_schema());
  for (uint64_t i = 0; i < 100; ++i) {
    const SampleRow row = make_row(i);
    recorder->append(samples, &row);
  }
  const auto views = recorder->tables();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].rows, 100u);
  EXPECT_TRUE(views[0].retained->empty());
  EXPECT_TRUE(recorder->close().is_ok());
}

TEST_F(TraceRecorderTest, CreatingInAMissingDirectoryIsAnErrorNamingThePath) {
  const std::string path = ::testing::TempDir() + "pbfs_no_such_directory_" + std::to_string(getpid()) + "/t.h5";
  ::testing::internal::CaptureStderr();
  auto created = TraceRecorder::create(path, sample_metadata());
  const std::string printed = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(created.is_ok());
  EXPECT_EQ(created.status().code(), StatusCode::kIoError);
  EXPECT_NE(created.status().message().find(path), std::string::npos) << created.status().message();
  EXPECT_NE(created.status().message().find("No such file or directory"), std::string::npos)
      << created.status().message();
  EXPECT_EQ(printed, "");  // HDF5's own error printing stays off
}

TEST_F(TraceRecorderTest, CloseTwiceDoesNothingMore) {
  const std::string path = temp_path("twice");
  auto recorder = create_or_die(path, sample_metadata());
  ASSERT_NE(recorder, nullptr);
  const uint32_t tail = recorder->table(tail_schema());
  const TailRow row{7, 1};
  recorder->append(tail, &row);
  EXPECT_TRUE(recorder->close().is_ok());
  const std::string bytes = file_bytes(path);
  EXPECT_TRUE(recorder->close().is_ok());
  recorder.reset();
  EXPECT_TRUE(file_bytes(path) == bytes);
  EXPECT_EQ(H5Fis_hdf5(path.c_str()), 1);
}

using TraceRecorderDeathTest = TraceRecorderTest;

TEST_F(TraceRecorderDeathTest, AppendingToAnUnknownTableAborts) {
  auto recorder = create_or_die(temp_path("unknown"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  recorder->table(tail_schema());
  const TailRow row{1, 1};
  EXPECT_DEATH(recorder->append(1, &row), "unknown table 1");
}

TEST_F(TraceRecorderDeathTest, ReusingANameWithAnotherRowSizeAborts) {
  auto recorder = create_or_die(temp_path("resize"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  recorder->table(tail_schema());
  TableSchema other = tail_schema();
  other.row_size += 8;
  EXPECT_DEATH(recorder->table(other), "declared twice");
}

TEST_F(TraceRecorderDeathTest, OverlappingFieldsAbort) {
  auto recorder = create_or_die(temp_path("overlap"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  TableSchema bad = tail_schema();
  bad.name = "bad";
  bad.fields[1].offset = 4;
  EXPECT_DEATH(recorder->table(bad), "overlapping");
}

TEST_F(TraceRecorderDeathTest, ReplacingRunMetadataAborts) {
  auto recorder = create_or_die(temp_path("reserved"), sample_metadata());
  ASSERT_NE(recorder, nullptr);
  EXPECT_DEATH(recorder->set_attribute("seed", int64_t{1}), "run metadata");
}

}  // namespace
}  // namespace pbfs
