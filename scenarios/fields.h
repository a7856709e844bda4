// Reads one YAML mapping field by field with units and ranges, and remembers which keys were read so
// that finish() can name every unknown key. The first error wins and names file:line and the dotted
// field path, e.g. "scenarios/x.yaml:12: topology.links.node.bandwidth: bad bandwidth '10Gbs' (...)".
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coding/status.h"
#include "protocols/runtime/types.h"

namespace pbfs {

class FieldReader {
 public:
  // `map` may be undefined/null (then every field takes its default); `path` is the dotted prefix.
  FieldReader(YAML::Node map, std::string file, std::string path);

  // Each getter returns the default when the key is absent, and records an error (returning the
  // default) when it is present but wrong. Required variants record an error when absent.
  TimeNs duration(const std::string& key, TimeNs default_ns);          // "50us", "1.5s", "0"
  std::optional<TimeNs> duration_required(const std::string& key);
  uint64_t bytes(const std::string& key, uint64_t default_bytes);      // "64MiB", "4KiB", "1000", "1GB"
  double bandwidth(const std::string& key, double default_bytes_per_s);  // "10Gbps", "100Mbps", "2GBps"
  double number(const std::string& key, double default_value, double min, double max);
  int64_t integer(const std::string& key, int64_t default_value, int64_t min, int64_t max);
  std::optional<int64_t> integer_required(const std::string& key, int64_t min, int64_t max);
  bool boolean(const std::string& key, bool default_value);
  std::string string(const std::string& key, const std::string& default_value);
  // One of `choices`; anything else is an error listing them.
  std::string choice(const std::string& key, const std::string& default_value,
                     const std::vector<std::string>& choices);
  std::vector<int64_t> integer_list(const std::string& key, int64_t min, int64_t max);

  // A nested mapping (undefined if absent); marks the key as known.
  FieldReader child(const std::string& key);
  // Marks the key as known and returns it unvalidated (for lists the caller walks).
  YAML::Node raw(const std::string& key);
  bool has(const std::string& key) const;

  // Records an error about `key` (or the map itself if empty).
  void fail(const std::string& key, const std::string& message);
  // Reports unknown keys (an error), then returns the first error of this reader and its children.
  Status finish();
  bool ok() const;

  const std::string& file() const { return file_; }
  std::string field_path(const std::string& key) const;
  int line_of(const std::string& key) const;  // 1-based; the map's own line if the key is absent

 private:
  YAML::Node map_;
  std::string file_;
  std::string path_;
  std::set<std::string> known_;
  std::shared_ptr<Status> first_error_;  // shared with children so the first error anywhere wins
};

// Parsers for one scalar, shared by FieldReader and the command line. They return nullopt on error.
std::optional<TimeNs> parse_duration(const std::string& text);
std::optional<uint64_t> parse_bytes(const std::string& text);
std::optional<double> parse_bandwidth(const std::string& text);  // bytes per second

}  // namespace pbfs
