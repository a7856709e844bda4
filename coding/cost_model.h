// The CPU cost model that synthetic-payload simulations charge instead of running the kernels: for each
// operation (AEAD seal/open per algorithm, erasure encode/decode per backend and (k, m), checksum) a
// per-call overhead and the throughput measured at several sizes on a real machine (`pbfs calibrate`).
// A pure value: parsed from YAML text, serialised back, no files and no clocks here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coding/aead.h"
#include "coding/erasure.h"
#include "coding/status.h"

namespace pbfs {

enum class CostKind : uint8_t { kAeadSeal, kAeadOpen, kEcEncode, kEcDecode, kChecksum };
const char* cost_kind_name(CostKind kind);  // "aead_seal", "aead_open", "ec_encode", "ec_decode", "checksum"

// One operation. Bytes passed to cost_ns() mean: aead_* the record's plaintext; ec_encode the coded
// payload (the sealed record), producing all m parity fragments; ec_decode the coded payload, rebuilding
// `lost` data fragments (calibrated with lost = m); checksum the bytes checksummed.
struct CostOp {
  CostKind kind = CostKind::kChecksum;
  AeadAlgorithm algorithm = AeadAlgorithm::kAes256Gcm;
  ErasureBackend backend = ErasureBackend::kIsal;
  uint32_t k = 0;
  uint32_t m = 0;
  uint32_t lost = 0;  // ec_decode only; 0 means m

  static CostOp aead_seal(AeadAlgorithm a = AeadAlgorithm::kAes256Gcm) { return {CostKind::kAeadSeal, a}; }
  static CostOp aead_open(AeadAlgorithm a = AeadAlgorithm::kAes256Gcm) { return {CostKind::kAeadOpen, a}; }
  static CostOp ec_encode(uint32_t k, uint32_t m, ErasureBackend b = ErasureBackend::kIsal) {
    return {CostKind::kEcEncode, AeadAlgorithm::kAes256Gcm, b, k, m};
  }
  static CostOp ec_decode(uint32_t k, uint32_t m, ErasureBackend b = ErasureBackend::kIsal, uint32_t lost = 0) {
    return {CostKind::kEcDecode, AeadAlgorithm::kAes256Gcm, b, k, m, lost};
  }
  static CostOp checksum() { return {CostKind::kChecksum}; }
  std::string to_string() const;  // "ec_encode(isal, 8+4)"
};

struct CostPoint {
  uint64_t bytes = 0;
  double gbps = 0;  // GB/s of input (1 GB/s = 1 byte/ns), per-call overhead included, as measured
  bool operator==(const CostPoint&) const = default;
};

// Time per call: exact at the measured points, linear between them, overhead plus the first point's
// rate below it, and the last point's throughput beyond it.
struct CostCurve {
  double overhead_ns = 0;
  std::vector<CostPoint> points;  // strictly increasing bytes
  double ns_at(uint64_t bytes) const;
  bool operator==(const CostCurve&) const = default;
};

class CostModel {
 public:
  // Parses and validates (kInvalidArgument naming origin:line and the field). Every operation kind must
  // appear at least once.
  static Result<CostModel> parse(std::string_view yaml_text, std::string_view origin = "<string>");
  std::string to_yaml() const;

  // Nanoseconds of CPU for one call. An (algorithm, backend, k, m) that was not calibrated uses the
  // nearest calibrated shape of the same kind, scaled by parity count (encode) or fragments rebuilt
  // (decode); the model holds at least one entry of every kind.
  int64_t cost_ns(const CostOp& op, uint64_t bytes) const;

  // Adds or replaces the curve of an operation (lost is ignored for the key).
  void set(const CostOp& op, CostCurve curve);
  const std::string& machine() const { return machine_; }
  void set_machine(std::string machine) { machine_ = std::move(machine); }
  struct Entry {
    CostOp op;
    CostCurve curve;
  };
  const std::vector<Entry>& entries() const { return entries_; }
  // OK when every kind has an entry and every curve is well formed.
  Status validate() const;

 private:
  std::string machine_;
  std::vector<Entry> entries_;
};

}  // namespace pbfs
