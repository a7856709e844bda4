// FieldReader and the unit parsers: every scalar in a scenario goes through here, so every bad value
// gets the same "<file>:<line>: <field.path>: <what is wrong>" message and units mean the same thing
// everywhere (scenario files, --set overrides, deployment sections).
#include "scenarios/fields.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace pbfs {
namespace {

using Wide = unsigned __int128;  // room for any 20-digit number times any unit scale

// "1.5 GiB" split into its number ("1.5": integer "1", fraction "5") and unit ("GiB").
struct NumberWithUnit {
  std::string_view number;
  std::string_view integer;
  std::string_view fraction;
  std::string_view unit;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::optional<NumberWithUnit> split_number(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  if (i == 0) return std::nullopt;  // no digits, or a sign: negatives are never valid here
  NumberWithUnit out;
  out.integer = text.substr(0, i);
  if (i < text.size() && text[i] == '.') {
    size_t j = i + 1;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j == i + 1) return std::nullopt;  // "5." is not a number
    out.fraction = text.substr(i + 1, j - i - 1);
    i = j;
  }
  out.number = text.substr(0, i);
  while (i < text.size() && text[i] == ' ') ++i;
  out.unit = text.substr(i);
  if (!std::all_of(out.unit.begin(), out.unit.end(), is_letter)) return std::nullopt;
  return out;
}

// number * scale, exactly; nullopt if that is not a whole number or exceeds `limit`.
std::optional<Wide> scale_exact(const NumberWithUnit& n, uint64_t scale, Wide limit) {
  if (n.integer.size() > 20 || n.fraction.size() > 18) return std::nullopt;
  Wide whole = 0;
  for (char c : n.integer) whole = whole * 10 + static_cast<unsigned>(c - '0');
  Wide fraction = 0;
  Wide denominator = 1;
  for (char c : n.fraction) {
    fraction = fraction * 10 + static_cast<unsigned>(c - '0');
    denominator *= 10;
  }
  const Wide fraction_scaled = fraction * scale;
  if (fraction_scaled % denominator != 0) return std::nullopt;
  const Wide total = whole * scale + fraction_scaled / denominator;
  if (total > limit) return std::nullopt;
  return total;
}

struct Unit {
  std::string_view name;
  uint64_t scale;
};

constexpr Unit kDurationUnits[] = {{"ns", 1},
                                   {"us", kMicrosecond},
                                   {"ms", kMillisecond},
                                   {"s", kSecond},
                                   {"min", 60 * kSecond},
                                   {"h", 3600 * kSecond}};

constexpr Unit kByteUnits[] = {{"B", 1},
                               {"KB", 1000ull},
                               {"MB", 1000ull * 1000},
                               {"GB", 1000ull * 1000 * 1000},
                               {"TB", 1000ull * 1000 * 1000 * 1000},
                               {"KiB", 1ull << 10},
                               {"MiB", 1ull << 20},
                               {"GiB", 1ull << 30},
                               {"TiB", 1ull << 40}};

struct RateUnit {
  std::string_view name;
  double bytes_per_s;
};

constexpr RateUnit kBandwidthUnits[] = {{"bps", 1.0 / 8},  {"Kbps", 1e3 / 8}, {"Mbps", 1e6 / 8},
                                        {"Gbps", 1e9 / 8}, {"Bps", 1.0},      {"KBps", 1e3},
                                        {"MBps", 1e6},     {"GBps", 1e9}};

template <typename Table>
const auto* find_unit(const Table& table, std::string_view name) {
  for (const auto& unit : table) {
    if (unit.name == name) return &unit;
  }
  return static_cast<decltype(&table[0])>(nullptr);
}

std::string kind_of(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "'" + node.Scalar() + "'";
}

std::string format_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// "must be at least 1, got 0", with the bound that is not the type's own limit.
template <typename T>
std::string range_message(T min, T max, const std::string& got) {
  const bool has_min = min > std::numeric_limits<T>::lowest();
  const bool has_max = max < std::numeric_limits<T>::max();
  auto show = [](T v) {
    if constexpr (std::is_integral_v<T>) {
      return std::to_string(v);
    } else {
      return format_number(v);
    }
  };
  if (has_min && has_max) return "must be between " + show(min) + " and " + show(max) + ", got " + got;
  if (has_min) return "must be at least " + show(min) + ", got " + got;
  return "must be at most " + show(max) + ", got " + got;
}

// Edit distance, to point at a misspelt key when a required one is missing.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

const char* const kBadDuration = "(expected a number with ns, us, ms, s, min or h, e.g. 50us or 1.5s)";
const char* const kBadBytes =
    "(expected a whole number of bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)";
const char* const kBadBandwidth = "(expected a number with bps, Kbps, Mbps, Gbps, or Bps/KBps/MBps/GBps)";

}  // namespace

// ---- scalar parsers ----

std::optional<TimeNs> parse_duration(const std::string& text) {
  const auto number = split_number(text);
  if (!number) return std::nullopt;
  uint64_t scale = 0;
  if (number->unit.empty()) {
    // A bare number is only unambiguous when it is zero.
    if (number->integer.find_first_not_of('0') != std::string_view::npos ||
        number->fraction.find_first_not_of('0') != std::string_view::npos) {
      return std::nullopt;
    }
    return 0;
  }
  const Unit* unit = find_unit(kDurationUnits, number->unit);
  if (unit == nullptr) return std::nullopt;
  scale = unit->scale;
  const auto ns = scale_exact(*number, scale, std::numeric_limits<TimeNs>::max());
  if (!ns) return std::nullopt;
  return static_cast<TimeNs>(*ns);
}

std::optional<uint64_t> parse_bytes(const std::string& text) {
  const auto number = split_number(text);
  if (!number) return std::nullopt;
  uint64_t scale = 1;  // bare integers are bytes
  if (!number->unit.empty()) {
    const Unit* unit = find_unit(kByteUnits, number->unit);
    if (unit == nullptr) return std::nullopt;
    scale = unit->scale;
  }
  const auto bytes = scale_exact(*number, scale, std::numeric_limits<uint64_t>::max());
  if (!bytes) return std::nullopt;
  return static_cast<uint64_t>(*bytes);
}

std::optional<double> parse_bandwidth(const std::string& text) {
  const auto number = split_number(text);
  if (!number || number->unit.empty()) return std::nullopt;  // bits or bytes? the unit must say
  const RateUnit* unit = find_unit(kBandwidthUnits, number->unit);
  if (unit == nullptr) return std::nullopt;
  double value = 0;
  const char* end = number->number.data() + number->number.size();
  const auto [ptr, ec] = std::from_chars(number->number.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  const double bytes_per_s = value * unit->bytes_per_s;
  if (!std::isfinite(bytes_per_s)) return std::nullopt;
  return bytes_per_s;
}

std::optional<int64_t> parse_integer(const std::string& text) {
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (begin == end || *begin == '+') return std::nullopt;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string format_duration(TimeNs ns) {
  if (ns == 0) return "0";
  static constexpr Unit kLargestFirst[] = {{"h", 3600 * kSecond}, {"min", 60 * kSecond}, {"s", kSecond},
                                           {"ms", kMillisecond},  {"us", kMicrosecond},  {"ns", 1}};
  for (const Unit& unit : kLargestFirst) {
    const auto scale = static_cast<TimeNs>(unit.scale);
    if (ns % scale == 0) return std::to_string(ns / scale) + std::string(unit.name);
  }
  return std::to_string(ns) + "ns";  // unreachable: every value is a whole number of ns
}

// ---- FieldReader: construction and bookkeeping ----

FieldReader::FieldReader(YAML::Node map, std::string file, std::string path, OverrideOrigins overrides)
    : FieldReader(std::move(map), std::move(file), std::move(path), std::make_shared<Status>(),
                  std::make_shared<const OverrideOrigins>(std::move(overrides)), 1) {}

FieldReader::FieldReader(YAML::Node map, std::string file, std::string path, std::shared_ptr<Status> first_error,
                         std::shared_ptr<const OverrideOrigins> overrides, int line)
    : map_(std::move(map)),
      file_(std::move(file)),
      path_(std::move(path)),
      first_error_(std::move(first_error)),
      line_(line),
      overrides_(std::move(overrides)) {
  if (map_.IsDefined() && !map_.Mark().is_null()) line_ = map_.Mark().line + 1;
  index_entries();
}

void FieldReader::index_entries() {
  if (!map_.IsDefined() || map_.IsNull()) return;
  if (!map_.IsMap()) {
    record(path_, line_, "expected a map of fields, got " + kind_of(map_));
    map_.reset(YAML::Node(YAML::NodeType::Undefined));  // reset, not =: assignment would write the tree
    return;
  }
  for (auto it = map_.begin(); it != map_.end(); ++it) {
    const YAML::Node key = it->first;
    const int line = key.Mark().is_null() ? line_ : key.Mark().line + 1;
    if (!key.IsScalar()) {
      record(path_, line, "a field name must be a plain word, got " + kind_of(key));
      continue;
    }
    if (const Entry* first = find(key.Scalar())) {
      record(field_path(key.Scalar()), line, "duplicate field (first on line " + std::to_string(first->line) + ")");
      continue;
    }
    entries_.push_back(Entry{key.Scalar(), line, it->second});
  }
}

const FieldReader::Entry* FieldReader::find(const std::string& key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

void FieldReader::mark_known(const std::string& key) {
  if (known_.insert(key).second) known_order_.push_back(key);
}

std::optional<std::string> FieldReader::scalar(const std::string& key, const char* what) {
  mark_known(key);
  const Entry* entry = find(key);
  if (entry == nullptr || !entry->value.IsDefined() || entry->value.IsNull()) return std::nullopt;
  if (!entry->value.IsScalar()) {
    fail(key, std::string("expected ") + what + ", got " + kind_of(entry->value));
    return std::nullopt;
  }
  return entry->value.Scalar();
}

void FieldReader::record(const std::string& field, int line, const std::string& message) {
  if (!first_error_->is_ok()) return;
  // The longest overridden path at or above this field decides whether the value came from --set.
  const std::string* origin = nullptr;
  size_t origin_length = 0;
  for (const auto& [path, argument] : *overrides_) {
    const bool covers = field == path || (field.size() > path.size() && field.compare(0, path.size(), path) == 0 &&
                                          field[path.size()] == '.');
    if (covers && path.size() >= origin_length) {
      origin = &argument;
      origin_length = path.size();
    }
  }
  std::string text = origin != nullptr ? "--set " + *origin : file_ + ":" + std::to_string(line);
  text += ": ";
  if (!field.empty()) text += field + ": ";
  text += message;
  *first_error_ = Status(StatusCode::kInvalidArgument, std::move(text));
}

std::string FieldReader::field_path(const std::string& key) const {
  if (path_.empty()) return key;
  if (key.empty()) return path_;
  return path_ + "." + key;
}

int FieldReader::line_of(const std::string& key) const {
  const Entry* entry = find(key);
  return entry != nullptr ? entry->line : line_;
}

bool FieldReader::has(const std::string& key) const { return find(key) != nullptr; }

bool FieldReader::ok() const { return first_error_->is_ok(); }

void FieldReader::fail(const std::string& key, const std::string& message) {
  record(field_path(key), line_of(key), message);
}

void FieldReader::fail_at(const std::string& subpath, const YAML::Node& node, const std::string& message) {
  int line = line_of(subpath.substr(0, subpath.find('.')));
  if (node.IsDefined() && !node.Mark().is_null()) line = node.Mark().line + 1;
  record(field_path(subpath), line, message);
}

bool FieldReader::require(const std::string& key) {
  mark_known(key);
  const Entry* entry = find(key);
  if (entry != nullptr && entry->value.IsDefined() && !entry->value.IsNull()) return true;
  if (entry != nullptr) {
    fail(key, "required field has no value");
    return false;
  }
  // A key one or two edits away is most likely this one, misspelt.
  std::string hint;
  for (const Entry& other : entries_) {
    if (known_.count(other.key) == 0 && edit_distance(other.key, key) <= 2) {
      hint = " (is '" + other.key + "' on line " + std::to_string(other.line) + " a misspelling?)";
      break;
    }
  }
  fail(key, "required field is missing" + hint);
  return false;
}

Status FieldReader::finish() {
  for (const Entry& entry : entries_) {
    if (known_.count(entry.key) != 0) continue;
    if (known_order_.empty()) {
      fail(entry.key, "unknown field (no fields are expected here)");
    } else {
      fail(entry.key, "unknown field (known: " + join(known_order_, ", ") + ")");
    }
    break;
  }
  return *first_error_;
}

// ---- FieldReader: typed getters ----

TimeNs FieldReader::duration(const std::string& key, TimeNs default_ns) {
  const auto text = scalar(key, "a duration");
  if (!text) return default_ns;
  const auto value = parse_duration(*text);
  if (!value) {
    fail(key, "bad duration '" + *text + "' " + kBadDuration);
    return default_ns;
  }
  return *value;
}

std::optional<TimeNs> FieldReader::duration_required(const std::string& key) {
  if (!require(key)) return std::nullopt;
  const bool was_ok = ok();
  const TimeNs value = duration(key, 0);
  if (was_ok && !ok()) return std::nullopt;
  return value;
}

TimeNs FieldReader::signed_duration(const std::string& key, TimeNs default_ns) {
  const auto text = scalar(key, "a duration");
  if (!text) return default_ns;
  const bool negative = !text->empty() && (*text)[0] == '-';
  const auto value = parse_duration(negative ? text->substr(1) : *text);
  if (!value) {
    fail(key, "bad duration '" + *text + "' " + kBadDuration);
    return default_ns;
  }
  return negative ? -*value : *value;
}

uint64_t FieldReader::bytes(const std::string& key, uint64_t default_bytes) {
  const auto text = scalar(key, "a size");
  if (!text) return default_bytes;
  const auto value = parse_bytes(*text);
  if (!value) {
    fail(key, "bad size '" + *text + "' " + kBadBytes);
    return default_bytes;
  }
  return *value;
}

double FieldReader::bandwidth(const std::string& key, double default_bytes_per_s) {
  const auto text = scalar(key, "a bandwidth");
  if (!text) return default_bytes_per_s;
  const auto value = parse_bandwidth(*text);
  if (!value) {
    fail(key, "bad bandwidth '" + *text + "' " + kBadBandwidth);
    return default_bytes_per_s;
  }
  if (*value <= 0) {
    fail(key, "bandwidth must be greater than 0, got '" + *text + "'");
    return default_bytes_per_s;
  }
  return *value;
}

double FieldReader::number(const std::string& key, double default_value, double min, double max) {
  const auto text = scalar(key, "a number");
  if (!text) return default_value;
  double value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    fail(key, "bad number '" + *text + "'");
    return default_value;
  }
  if (value < min || value > max) {
    fail(key, range_message(min, max, *text));
    return default_value;
  }
  return value;
}

int64_t FieldReader::integer(const std::string& key, int64_t default_value, int64_t min, int64_t max) {
  const auto text = scalar(key, "an integer");
  if (!text) return default_value;
  const auto value = parse_integer(*text);
  if (!value) {
    fail(key, "bad integer '" + *text + "' (expected a whole number)");
    return default_value;
  }
  if (*value < min || *value > max) {
    fail(key, range_message(min, max, *text));
    return default_value;
  }
  return *value;
}

std::optional<int64_t> FieldReader::integer_required(const std::string& key, int64_t min, int64_t max) {
  if (!require(key)) return std::nullopt;
  const bool was_ok = ok();
  const int64_t value = integer(key, 0, min, max);
  if (was_ok && !ok()) return std::nullopt;
  return value;
}

bool FieldReader::boolean(const std::string& key, bool default_value) {
  const auto text = scalar(key, "true or false");
  if (!text) return default_value;
  bool value = false;
  if (!YAML::convert<bool>::decode(YAML::Node(*text), value)) {
    fail(key, "bad boolean '" + *text + "' (expected true or false)");
    return default_value;
  }
  return value;
}

std::string FieldReader::string(const std::string& key, const std::string& default_value) {
  return scalar(key, "a string").value_or(default_value);
}

std::string FieldReader::choice(const std::string& key, const std::string& default_value,
                                const std::vector<std::string>& choices) {
  const auto text = scalar(key, "a name");
  if (!text) return default_value;
  if (std::find(choices.begin(), choices.end(), *text) == choices.end()) {
    fail(key, "bad value '" + *text + "' (expected one of: " + join(choices, ", ") + ")");
    return default_value;
  }
  return *text;
}

std::vector<int64_t> FieldReader::integer_list(const std::string& key, int64_t min, int64_t max) {
  std::vector<int64_t> out;
  const size_t count = list_size(key);
  const YAML::Node list = raw(key);
  for (size_t i = 0; i < count; ++i) {
    const YAML::Node item = list[i];
    const std::string where = key + "." + std::to_string(i);
    const auto value = item.IsScalar() ? parse_integer(item.Scalar()) : std::nullopt;
    if (!value) {
      fail_at(where, item, "expected an integer, got " + kind_of(item));
      return out;
    }
    if (*value < min || *value > max) {
      fail_at(where, item, range_message(min, max, item.Scalar()));
      return out;
    }
    out.push_back(*value);
  }
  return out;
}

std::vector<std::string> FieldReader::string_list(const std::string& key) {
  std::vector<std::string> out;
  const size_t count = list_size(key);
  const YAML::Node list = raw(key);
  for (size_t i = 0; i < count; ++i) {
    const YAML::Node item = list[i];
    if (!item.IsScalar()) {
      fail_at(key + "." + std::to_string(i), item, "expected a string, got " + kind_of(item));
      return out;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

// ---- FieldReader: structure ----

FieldReader FieldReader::child(const std::string& key) {
  mark_known(key);
  const Entry* entry = find(key);
  YAML::Node value(YAML::NodeType::Undefined);
  if (entry != nullptr && entry->value.IsDefined() && !entry->value.IsNull()) {
    if (entry->value.IsMap()) {
      value.reset(entry->value);
    } else {
      fail(key, "expected a map of fields, got " + kind_of(entry->value));
    }
  }
  return FieldReader(value, file_, field_path(key), first_error_, overrides_, line_of(key));
}

size_t FieldReader::list_size(const std::string& key) {
  mark_known(key);
  const Entry* entry = find(key);
  if (entry == nullptr || !entry->value.IsDefined() || entry->value.IsNull()) return 0;
  if (!entry->value.IsSequence()) {
    fail(key, "expected a list, got " + kind_of(entry->value));
    return 0;
  }
  return entry->value.size();
}

FieldReader FieldReader::element(const std::string& key, size_t index) {
  const Entry* entry = find(key);
  if (entry == nullptr || !entry->value.IsSequence() || index >= entry->value.size()) {
    // A programmer error: callers walk 0..list_size(key)-1.
    std::fprintf(stderr, "FieldReader::element: %s has no element %zu\n", field_path(key).c_str(), index);
    std::abort();
  }
  const YAML::Node list = entry->value;
  const YAML::Node item = list[index];
  const std::string subpath = key + "." + std::to_string(index);
  YAML::Node value(YAML::NodeType::Undefined);
  if (item.IsMap()) {
    value.reset(item);
  } else if (item.IsDefined() && !item.IsNull()) {
    fail_at(subpath, item, "expected a map of fields, got " + kind_of(item));
  }
  int line = line_of(key);
  if (item.IsDefined() && !item.Mark().is_null()) line = item.Mark().line + 1;
  return FieldReader(value, file_, field_path(subpath), first_error_, overrides_, line);
}

YAML::Node FieldReader::raw(const std::string& key) {
  mark_known(key);
  const Entry* entry = find(key);
  return entry != nullptr ? entry->value : YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> FieldReader::keys() {
  std::vector<std::string> out;
  for (const Entry& entry : entries_) {
    mark_known(entry.key);
    out.push_back(entry.key);
  }
  return out;
}

}  // namespace pbfs
