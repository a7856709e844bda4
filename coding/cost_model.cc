// Cost model text format (see scenarios/cost-model.yaml) and lookup. yaml-cpp throws; every call into
// it stays inside this file's try blocks so no exception leaves the coding library.
#include "coding/cost_model.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

namespace pbfs {
namespace {

constexpr int kCostModelVersion = 1;

bool is_ec(CostKind kind) { return kind == CostKind::kEcEncode || kind == CostKind::kEcDecode; }
bool is_aead(CostKind kind) { return kind == CostKind::kAeadSeal || kind == CostKind::kAeadOpen; }

bool same_key(const CostOp& a, const CostOp& b) {
  if (a.kind != b.kind) return false;
  if (is_aead(a.kind)) return a.algorithm == b.algorithm;
  if (is_ec(a.kind)) return a.backend == b.backend && a.k == b.k && a.m == b.m;
  return true;
}

const CostKind kAllKinds[] = {CostKind::kAeadSeal, CostKind::kAeadOpen, CostKind::kEcEncode, CostKind::kEcDecode,
                              CostKind::kChecksum};

// Errors carry origin:line and the field, like scenario errors.
struct ParseError {
  std::string message;
};

[[noreturn]] void fail(std::string_view origin, const YAML::Node& node, const std::string& what) {
  const int line = node.IsDefined() ? node.Mark().line + 1 : 0;
  throw ParseError{std::string(origin) + ":" + std::to_string(line) + ": " + what};
}

void only_keys(std::string_view origin, const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) {
  if (!map.IsMap()) fail(origin, map, where + ": expected a mapping");
  for (const auto& item : map) {
    const std::string key = item.first.as<std::string>();
    if (!allowed.count(key)) fail(origin, item.first, where + ": unknown key '" + key + "'");
  }
}

template <typename T>
T scalar(std::string_view origin, const YAML::Node& map, const std::string& key, const std::string& where) {
  const YAML::Node value = map[key];
  if (!value.IsDefined() || !value.IsScalar()) fail(origin, value.IsDefined() ? value : map, where + "." + key + ": missing or not a scalar");
  try {
    return value.as<T>();
  } catch (const YAML::Exception&) {
    fail(origin, value, where + "." + key + ": bad value '" + value.Scalar() + "'");
  }
}

CostOp parse_op(std::string_view origin, const YAML::Node& item, const std::string& where) {
  CostOp op;
  const std::string kind = scalar<std::string>(origin, item, "op", where);
  bool known = false;
  for (CostKind k : kAllKinds) {
    if (kind == cost_kind_name(k)) {
      op.kind = k;
      known = true;
    }
  }
  if (!known) fail(origin, item["op"], where + ".op: unknown operation '" + kind + "'");
  if (is_aead(op.kind)) {
    only_keys(origin, item, {"op", "algorithm", "overhead_ns", "points"}, where);
    const std::string name = scalar<std::string>(origin, item, "algorithm", where);
    const auto algorithm = aead_algorithm_from_name(name);
    if (!algorithm) fail(origin, item["algorithm"], where + ".algorithm: unknown '" + name + "'");
    op.algorithm = *algorithm;
  } else if (is_ec(op.kind)) {
    only_keys(origin, item, {"op", "backend", "k", "m", "overhead_ns", "points"}, where);
    const std::string name = scalar<std::string>(origin, item, "backend", where);
    const auto backend = erasure_backend_from_name(name);
    if (!backend) fail(origin, item["backend"], where + ".backend: unknown '" + name + "'");
    op.backend = *backend;
    op.k = scalar<uint32_t>(origin, item, "k", where);
    op.m = scalar<uint32_t>(origin, item, "m", where);
    if (!validate_coding_params({op.k, op.m, op.backend}).is_ok()) fail(origin, item, where + ": bad k, m");
  } else {
    only_keys(origin, item, {"op", "overhead_ns", "points"}, where);
  }
  return op;
}

CostCurve parse_curve(std::string_view origin, const YAML::Node& item, const std::string& where) {
  CostCurve curve;
  curve.overhead_ns = scalar<double>(origin, item, "overhead_ns", where);
  if (!(curve.overhead_ns >= 0) || !std::isfinite(curve.overhead_ns)) fail(origin, item["overhead_ns"], where + ".overhead_ns: must be >= 0");
  const YAML::Node points = item["points"];
  if (!points.IsSequence() || points.size() == 0) fail(origin, points.IsDefined() ? points : item, where + ".points: need a non-empty list");
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string at = where + ".points." + std::to_string(i);
    only_keys(origin, points[i], {"bytes", "gbps"}, at);
    CostPoint p{scalar<uint64_t>(origin, points[i], "bytes", at), scalar<double>(origin, points[i], "gbps", at)};
    if (p.bytes == 0 || !(p.gbps > 0) || !std::isfinite(p.gbps)) fail(origin, points[i], at + ": bytes and gbps must be positive");
    if (!curve.points.empty() && p.bytes <= curve.points.back().bytes) fail(origin, points[i], at + ": sizes must increase");
    curve.points.push_back(p);
  }
  return curve;
}

}  // namespace

const char* cost_kind_name(CostKind kind) {
  switch (kind) {
    case CostKind::kAeadSeal: return "aead_seal";
    case CostKind::kAeadOpen: return "aead_open";
    case CostKind::kEcEncode: return "ec_encode";
    case CostKind::kEcDecode: return "ec_decode";
    case CostKind::kChecksum: return "checksum";
  }
  return "unknown";
}

std::string CostOp::to_string() const {
  std::string s = cost_kind_name(kind);
  if (is_aead(kind)) return s + "(" + aead_algorithm_name(algorithm) + ")";
  if (is_ec(kind)) return s + "(" + erasure_backend_name(backend) + ", " + std::to_string(k) + "+" + std::to_string(m) + ")";
  return s;
}

double CostCurve::ns_at(uint64_t bytes) const {
  if (points.empty()) return overhead_ns;
  auto ns = [](const CostPoint& p) { return double(p.bytes) / p.gbps; };
  const CostPoint& first = points.front();
  if (bytes <= first.bytes) return overhead_ns + std::max(0.0, ns(first) - overhead_ns) * double(bytes) / double(first.bytes);
  for (size_t i = 1; i < points.size(); ++i) {
    if (bytes <= points[i].bytes) {
      const double t = double(bytes - points[i - 1].bytes) / double(points[i].bytes - points[i - 1].bytes);
      return ns(points[i - 1]) + t * (ns(points[i]) - ns(points[i - 1]));
    }
  }
  return double(bytes) / points.back().gbps;
}

Result<CostModel> CostModel::parse(std::string_view text, std::string_view origin) {
  CostModel model;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    only_keys(origin, root, {"version", "machine", "operations"}, "cost model");
    if (scalar<int>(origin, root, "version", "cost model") != kCostModelVersion) {
      fail(origin, root["version"], "cost model.version: only version 1 is supported");
    }
    if (root["machine"].IsDefined()) model.machine_ = scalar<std::string>(origin, root, "machine", "cost model");
    const YAML::Node ops = root["operations"];
    if (!ops.IsSequence()) fail(origin, ops.IsDefined() ? ops : root, "cost model.operations: need a list");
    for (size_t i = 0; i < ops.size(); ++i) {
      const std::string where = "operations." + std::to_string(i);
      const CostOp op = parse_op(origin, ops[i], where);
      for (const Entry& e : model.entries_) {
        if (same_key(e.op, op)) fail(origin, ops[i], where + ": " + op.to_string() + " listed twice");
      }
      model.entries_.push_back({op, parse_curve(origin, ops[i], where)});
    }
  } catch (const ParseError& e) {
    return Status(StatusCode::kInvalidArgument, e.message);
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument, std::string(origin) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Status valid = model.validate();
  if (!valid.is_ok()) return Status(StatusCode::kInvalidArgument, std::string(origin) + ": " + valid.message());
  return model;
}

Status CostModel::validate() const {
  for (CostKind kind : kAllKinds) {
    const bool present = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.op.kind == kind; });
    if (!present) return {StatusCode::kInvalidArgument, std::string("no entry for ") + cost_kind_name(kind)};
  }
  for (const Entry& e : entries_) {
    if (e.curve.points.empty()) return {StatusCode::kInvalidArgument, e.op.to_string() + " has no points"};
  }
  return Status::ok();
}

std::string CostModel::to_yaml() const {
  YAML::Emitter out;
  out.SetDoublePrecision(5);  // significant digits: measurements are not more precise than this
  out << YAML::Comment("CPU cost model: per-call overhead and GB/s of input at several sizes, measured with `pbfs calibrate`.");
  out << YAML::BeginMap << YAML::Key << "version" << YAML::Value << kCostModelVersion;
  out << YAML::Key << "machine" << YAML::Value << YAML::DoubleQuoted << machine_;
  out << YAML::Key << "operations" << YAML::Value << YAML::BeginSeq;
  for (const Entry& e : entries_) {
    out << YAML::BeginMap << YAML::Key << "op" << YAML::Value << cost_kind_name(e.op.kind);
    if (is_aead(e.op.kind)) out << YAML::Key << "algorithm" << YAML::Value << aead_algorithm_name(e.op.algorithm);
    if (is_ec(e.op.kind)) {
      out << YAML::Key << "backend" << YAML::Value << erasure_backend_name(e.op.backend);
      out << YAML::Key << "k" << YAML::Value << e.op.k << YAML::Key << "m" << YAML::Value << e.op.m;
    }
    out << YAML::Key << "overhead_ns" << YAML::Value << e.curve.overhead_ns;
    out << YAML::Key << "points" << YAML::Value << YAML::BeginSeq;
    for (const CostPoint& p : e.curve.points) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "bytes" << YAML::Value << p.bytes << YAML::Key << "gbps"
          << YAML::Value << p.gbps << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void CostModel::set(const CostOp& op, CostCurve curve) {
  for (Entry& e : entries_) {
    if (same_key(e.op, op)) {
      e.curve = std::move(curve);
      return;
    }
  }
  CostOp key = op;
  key.lost = 0;
  entries_.push_back({key, std::move(curve)});
}

int64_t CostModel::cost_ns(const CostOp& op, uint64_t bytes) const {
  const Entry* best = nullptr;
  double best_distance = std::numeric_limits<double>::infinity();
  for (const Entry& e : entries_) {
    if (e.op.kind != op.kind) continue;
    double distance = 0;
    if (is_aead(op.kind)) distance = e.op.algorithm == op.algorithm ? 0 : 1;
    if (is_ec(op.kind)) {
      distance = std::abs(double(e.op.k) - double(op.k)) + std::abs(double(e.op.m) - double(op.m)) +
                 (e.op.backend == op.backend ? 0 : 1000);
    }
    if (distance < best_distance) {
      best_distance = distance;
      best = &e;
    }
  }
  if (best == nullptr) return 0;  // only a model that failed validate() lacks a kind
  double ns = best->curve.ns_at(bytes);
  // Matrix coding does one k-term dot product per output fragment: work scales with outputs.
  if (op.kind == CostKind::kEcEncode && best->op.m != op.m) ns *= double(op.m) / double(best->op.m);
  if (op.kind == CostKind::kEcDecode) {
    const uint32_t lost = op.lost == 0 ? op.m : op.lost;
    if (lost != best->op.m) ns *= double(lost) / double(best->op.m);
  }
  return static_cast<int64_t>(std::llround(ns));
}

}  // namespace pbfs
