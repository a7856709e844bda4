// Reads one YAML mapping field by field with units and ranges, and remembers which keys were read so
// that finish() can name every unknown key. The first error wins and names file:line and the dotted
// field path, e.g. "scenarios/x.yaml:12: topology.links.node.bandwidth: bad bandwidth '10Gbs' (...)".
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coding/status.h"
#include "protocols/runtime/types.h"

namespace pbfs {

// Dotted field path -> the command-line argument that wrote it ("faults.0.at" -> "faults.0.at=2s").
// An error about such a field (or anything below it) names "--set <argument>" instead of file:line,
// since the value is not in the file.
using OverrideOrigins = std::map<std::string, std::string>;

class FieldReader {
 public:
  // `map` may be undefined/null (then every field takes its default); `path` is the dotted prefix.
  // `overrides` are the fields the command line wrote (Scenario::overrides), for error messages.
  FieldReader(YAML::Node map, std::string file, std::string path, OverrideOrigins overrides = {});

  // Each getter returns the default when the key is absent (or has no value: `key:` or `key: ~`), and
  // records an error (returning the default) when it is present but wrong. Required variants record an
  // error when absent.
  TimeNs duration(const std::string& key, TimeNs default_ns);          // "50us", "1.5s", "0"
  std::optional<TimeNs> duration_required(const std::string& key);
  TimeNs signed_duration(const std::string& key, TimeNs default_ns);   // also "-500ms" (clock steps)
  uint64_t bytes(const std::string& key, uint64_t default_bytes);      // "64MiB", "4KiB", "1000", "1GB"
  double bandwidth(const std::string& key, double default_bytes_per_s);  // "10Gbps", "100Mbps", "2GBps"; > 0
  double number(const std::string& key, double default_value, double min, double max);
  int64_t integer(const std::string& key, int64_t default_value, int64_t min, int64_t max);
  std::optional<int64_t> integer_required(const std::string& key, int64_t min, int64_t max);
  bool boolean(const std::string& key, bool default_value);
  std::string string(const std::string& key, const std::string& default_value);
  // One of `choices`; anything else is an error listing them.
  std::string choice(const std::string& key, const std::string& default_value,
                     const std::vector<std::string>& choices);
  std::vector<int64_t> integer_list(const std::string& key, int64_t min, int64_t max);
  std::vector<std::string> string_list(const std::string& key);

  // A nested mapping (undefined if absent); marks the key as known.
  FieldReader child(const std::string& key);
  // Number of elements of the list at `key` (0 if absent; an error if it is not a list).
  size_t list_size(const std::string& key);
  // The mapping at element `index` of the list at `key`, path "<key>.<index>".
  FieldReader element(const std::string& key, size_t index);
  // Marks the key as known and returns it unvalidated (for lists the caller walks). Undefined if absent.
  YAML::Node raw(const std::string& key);
  bool has(const std::string& key) const;
  // Marks the key as known; records "required field is missing" (pointing at a likely misspelling) or
  // "has no value" unless it is present with a value. Returns whether it is.
  bool require(const std::string& key);
  // Every key in file order, all marked as known (for maps of named things such as profiles).
  std::vector<std::string> keys();

  // Records an error about `key` (or the map itself if empty).
  void fail(const std::string& key, const std::string& message);
  // Records an error about a node below this map, e.g. subpath "groups.1.0" for a node from raw().
  void fail_at(const std::string& subpath, const YAML::Node& node, const std::string& message);
  // Reports unknown keys (an error), then returns the first error of this reader and its children.
  Status finish();
  bool ok() const;

  const std::string& file() const { return file_; }
  std::string field_path(const std::string& key) const;
  int line_of(const std::string& key) const;  // 1-based; the map's own line if the key is absent

 private:
  struct Entry {
    std::string key;
    int line;  // 1-based line of the key
    YAML::Node value;
  };
  FieldReader(YAML::Node map, std::string file, std::string path, std::shared_ptr<Status> first_error,
              std::shared_ptr<const OverrideOrigins> overrides, int line);
  void index_entries();
  const Entry* find(const std::string& key) const;
  void mark_known(const std::string& key);
  // The scalar text at `key`, marking it known; nullopt if absent/null, or (after an error naming
  // `what`) if it is a map or list.
  std::optional<std::string> scalar(const std::string& key, const char* what);
  void record(const std::string& field, int line, const std::string& message);

  YAML::Node map_;
  std::string file_;
  std::string path_;
  std::set<std::string> known_;
  std::shared_ptr<Status> first_error_;  // shared with children so the first error anywhere wins
  std::vector<std::string> known_order_;  // as read, for the "known:" list of an unknown field
  std::vector<Entry> entries_;            // the map's keys in file order
  int line_ = 0;                          // the map's line (the parent key's line if absent)
  std::shared_ptr<const OverrideOrigins> overrides_;
};

// Parsers for one scalar, shared by FieldReader and the command line. They return nullopt on error.
std::optional<TimeNs> parse_duration(const std::string& text);
std::optional<uint64_t> parse_bytes(const std::string& text);
std::optional<double> parse_bandwidth(const std::string& text);  // bytes per second
std::optional<int64_t> parse_integer(const std::string& text);   // decimal, optional leading '-'

// "2s", "1500ms", "-20us": the largest unit that divides the value exactly (for messages).
std::string format_duration(TimeNs ns);

}  // namespace pbfs
