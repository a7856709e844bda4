// Erasure coding backends. Every operation — encoding parity, rebuilding lost data, rebuilding lost
// parity — is one linear map from k source fragments to t target fragments over GF(2^8), so each
// backend implements a single "apply a prepared map" primitive and decoding maps are prepared once per
// erasure pattern (Jerasure's own decode would invert the matrix on every call).
#include "coding/erasure.h"

#include "coding/check.h"
#include "coding/vector_state.h"

extern "C" {
#include <gf_complete.h>  // has no extern "C" of its own
}
#include <cauchy.h>
#include <isa-l/erasure_code.h>
#include <jerasure.h>
#include <reed_sol.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace pbfs {
namespace {

constexpr int kWordBits = 8;                       // w: GF(2^8) for every backend
constexpr uint32_t kPacketBytesLimit = 1u << 20;  // sanity bound for packet sizes read from the wire
constexpr size_t kPatternCacheMax = 1024;

// Jerasure's field tables are built lazily and not thread-safe: build them once, up front.
void init_jerasure_fields() {
  static std::once_flag once;
  std::call_once(once, [] {
    PBFS_CODING_CHECK(galois_init_default_field(8) == 0);
    PBFS_CODING_CHECK(galois_init_default_field(32) == 0);
  });
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t round_up(uint64_t a, uint64_t unit) { return ceil_div(a, unit) * unit; }

bool is_jerasure(ErasureBackend backend) { return backend != ErasureBackend::kIsal; }

struct ScheduleDelete {
  void operator()(int** schedule) const { jerasure_free_schedule(schedule); }
};
using Schedule = std::unique_ptr<int*, ScheduleDelete>;

// A prepared linear map from k sources to `targets` outputs, in the backend's own form.
struct LinearMap {
  uint32_t targets = 0;
  std::vector<int> jerasure_matrix;  // jerasure_vandermonde: targets x k coefficients
  Schedule schedule;                 // jerasure_cauchy: smart XOR schedule of the bit matrix
  std::vector<uint8_t> isal_tables;  // isal: 32 * k * targets expanded tables
};

// Fragments taking part in one reconstruct call. Fixed capacity and left uninitialised past `count`:
// this runs per call, and small stripes cannot afford heap allocations or 4 KiB of zeroing.
struct Selection {
  uint32_t count = 0;
  std::array<uint32_t, kFragmentsMax> index;
  std::array<uint8_t*, kFragmentsMax> ptr;
  void add(uint32_t i, const uint8_t* p) {
    index[count] = i;
    ptr[count] = const_cast<uint8_t*>(p);  // sources are only read; the libraries lack const
    ++count;
  }
};

}  // namespace

const char* erasure_backend_name(ErasureBackend backend) {
  switch (backend) {
    case ErasureBackend::kJerasureVandermonde: return "jerasure_vandermonde";
    case ErasureBackend::kJerasureCauchy: return "jerasure_cauchy";
    case ErasureBackend::kIsal: return "isal";
  }
  return "unknown";
}

std::optional<ErasureBackend> erasure_backend_from_name(std::string_view name) {
  for (auto b : {ErasureBackend::kJerasureVandermonde, ErasureBackend::kJerasureCauchy, ErasureBackend::kIsal}) {
    if (name == erasure_backend_name(b)) return b;
  }
  return std::nullopt;
}

bool erasure_backend_valid(uint8_t wire_value) { return wire_value >= 1 && wire_value <= 3; }

Status validate_coding_params(const CodingParams& p) {
  if (!erasure_backend_valid(static_cast<uint8_t>(p.backend))) return {StatusCode::kInvalidArgument, "unknown erasure backend"};
  if (p.k < 1 || p.m < 1 || p.k + p.m > kFragmentsMax) {
    return {StatusCode::kInvalidArgument, "need k >= 1, m >= 1, k + m <= 256 (got k=" + std::to_string(p.k) +
                                              ", m=" + std::to_string(p.m) + ")"};
  }
  if (p.backend == ErasureBackend::kJerasureCauchy &&
      (p.packet_bytes_max < 8 || p.packet_bytes_max % 8 != 0 || p.packet_bytes_max > kPacketBytesLimit)) {
    return {StatusCode::kInvalidArgument, "packet_bytes_max must be a multiple of 8 in [8, 1 MiB]"};
  }
  return Status::ok();
}

uint64_t StripeLayout::unit_bytes() const {
  if (backend == ErasureBackend::kJerasureCauchy && packet_bytes != 0) return uint64_t{kWordBits} * packet_bytes;
  return kFragmentAlignment;
}

Status validate_stripe_layout(const StripeLayout& l) {
  auto bad = [](const std::string& why) { return Status(StatusCode::kMalformed, "stripe layout: " + why); };
  if (!erasure_backend_valid(static_cast<uint8_t>(l.backend))) return bad("unknown erasure backend");
  if (l.k < 1 || l.m < 1 || l.k + l.m > kFragmentsMax) return bad("k and m out of range");
  if (l.fragment_bytes > kFragmentBytesMax) return bad("fragment larger than 1 GiB");
  if (l.backend == ErasureBackend::kJerasureCauchy) {
    if ((l.packet_bytes == 0) != (l.fragment_bytes == 0)) return bad("packet size and fragment size disagree");
    if (l.packet_bytes % 8 != 0 || l.packet_bytes > kPacketBytesLimit) return bad("bad packet size");
  } else if (l.packet_bytes != 0) {
    return bad("packet size set for a matrix backend");
  }
  // The only padding allowed is up to the next unit: fragment sizes cannot lie about the payload.
  if (l.fragment_bytes != round_up(ceil_div(l.payload_bytes, l.k), l.unit_bytes())) {
    return bad("fragment size does not match payload size");
  }
  return Status::ok();
}

std::span<uint8_t> Stripe::fragment(uint32_t index) {
  PBFS_CODING_CHECK(index < layout_.fragment_count());
  return {buffer_.data() + index * layout_.fragment_bytes, layout_.fragment_bytes};
}

std::span<const uint8_t> Stripe::fragment(uint32_t index) const {
  PBFS_CODING_CHECK(index < layout_.fragment_count());
  return {buffer_.data() + index * layout_.fragment_bytes, layout_.fragment_bytes};
}

struct ErasureCoder::Impl {
  CodingParams params;
  std::vector<uint8_t> generator;  // (k + m) x k: identity rows, then the coding matrix
  LinearMap encoder;               // data -> parity
  std::map<std::string, LinearMap> patterns;  // key: chosen sources, then targets (one byte each)
  std::string key;        // reused lookup key (no allocation for k + m <= 15)
  bool parity0_all_ones = false;  // Vandermonde: parity 0 is the XOR of all data
  AlignedBuffer staging;  // for windows that break gf-complete's alignment rule
  AlignedBuffer tail;     // for the last, partial data fragment when decoding

  uint8_t multiply(uint8_t a, uint8_t b) const {
    if (params.backend == ErasureBackend::kIsal) return gf_mul(a, b);
    return static_cast<uint8_t>(galois_single_multiply(a, b, kWordBits));
  }
  void build_generator();
  LinearMap prepare_map(const std::vector<uint8_t>& rows, uint32_t targets) const;
  bool recovery_rows(const std::vector<uint32_t>& sources, const std::vector<uint32_t>& targets,
                     std::vector<uint8_t>& rows) const;
  const LinearMap& pattern(const Selection& sources, const Selection& targets);
  void apply(const LinearMap& map, uint8_t** sources, uint8_t** targets, uint64_t length, uint32_t packet_bytes);
  void apply_aligned(const LinearMap& map, Selection& sources, Selection& targets, uint64_t length, uint32_t packet_bytes);
  bool xor_last_data_target(const std::array<const uint8_t*, kFragmentsMax>& by_index, Selection& wanted, uint64_t length);
};

void ErasureCoder::Impl::build_generator() {
  const uint32_t k = params.k, m = params.m;
  generator.assign(static_cast<size_t>(k + m) * k, 0);
  if (params.backend == ErasureBackend::kIsal) {
    gf_gen_cauchy1_matrix(generator.data(), static_cast<int>(k + m), static_cast<int>(k));
    return;
  }
  for (uint32_t i = 0; i < k; ++i) generator[i * k + i] = 1;
  int* coding = params.backend == ErasureBackend::kJerasureVandermonde
                    ? reed_sol_vandermonde_coding_matrix(static_cast<int>(k), static_cast<int>(m), kWordBits)
                    : cauchy_good_general_coding_matrix(static_cast<int>(k), static_cast<int>(m), kWordBits);
  PBFS_CODING_CHECK(coding != nullptr);
  for (uint32_t i = 0; i < k * m; ++i) generator[k * k + i] = static_cast<uint8_t>(coding[i]);
  std::free(coding);
}

LinearMap ErasureCoder::Impl::prepare_map(const std::vector<uint8_t>& rows, uint32_t targets) const {
  const int k = static_cast<int>(params.k), t = static_cast<int>(targets);
  LinearMap map;
  map.targets = targets;
  switch (params.backend) {
    case ErasureBackend::kJerasureVandermonde:
      map.jerasure_matrix.assign(rows.begin(), rows.end());
      break;
    case ErasureBackend::kJerasureCauchy: {
      std::vector<int> matrix(rows.begin(), rows.end());
      int* bits = jerasure_matrix_to_bitmatrix(k, t, kWordBits, matrix.data());
      PBFS_CODING_CHECK(bits != nullptr);
      map.schedule.reset(jerasure_smart_bitmatrix_to_schedule(k, t, kWordBits, bits));
      std::free(bits);
      PBFS_CODING_CHECK(map.schedule != nullptr);
      break;
    }
    case ErasureBackend::kIsal:
      map.isal_tables.assign(static_cast<size_t>(32) * k * t, 0);
      ec_init_tables(k, t, const_cast<uint8_t*>(rows.data()), map.isal_tables.data());
      break;
  }
  return map;
}

// rows[t] = generator[target t] x inverse(generator rows of the sources): each target as a combination
// of the chosen sources. False if the sources are not independent (never for an MDS code).
bool ErasureCoder::Impl::recovery_rows(const std::vector<uint32_t>& sources, const std::vector<uint32_t>& targets,
                                       std::vector<uint8_t>& rows) const {
  const uint32_t k = params.k;
  std::vector<uint8_t> inverse(static_cast<size_t>(k) * k);
  if (params.backend == ErasureBackend::kIsal) {
    std::vector<uint8_t> square(static_cast<size_t>(k) * k);
    for (uint32_t r = 0; r < k; ++r) std::memcpy(&square[r * k], &generator[sources[r] * k], k);
    if (gf_invert_matrix(square.data(), inverse.data(), static_cast<int>(k)) != 0) return false;
  } else {
    std::vector<int> square(static_cast<size_t>(k) * k), inv(static_cast<size_t>(k) * k);
    for (uint32_t r = 0; r < k; ++r) {
      for (uint32_t c = 0; c < k; ++c) square[r * k + c] = generator[sources[r] * k + c];
    }
    if (jerasure_invert_matrix(square.data(), inv.data(), static_cast<int>(k), kWordBits) != 0) return false;
    for (size_t i = 0; i < inv.size(); ++i) inverse[i] = static_cast<uint8_t>(inv[i]);
  }
  rows.assign(targets.size() * k, 0);
  for (size_t t = 0; t < targets.size(); ++t) {
    const uint8_t* g = &generator[targets[t] * k];
    for (uint32_t c = 0; c < k; ++c) {
      uint8_t sum = 0;
      for (uint32_t l = 0; l < k; ++l) sum ^= multiply(g[l], inverse[l * k + c]);
      rows[t * k + c] = sum;
    }
  }
  return true;
}

const LinearMap& ErasureCoder::Impl::pattern(const Selection& sources, const Selection& targets) {
  key.clear();
  for (uint32_t i = 0; i < sources.count; ++i) key.push_back(static_cast<char>(sources.index[i]));
  for (uint32_t i = 0; i < targets.count; ++i) key.push_back(static_cast<char>(targets.index[i]));
  auto found = patterns.find(key);
  if (found != patterns.end()) return found->second;
  if (patterns.size() >= kPatternCacheMax) patterns.clear();  // bounded; rebuilt on demand
  std::vector<uint32_t> source_list(sources.index.begin(), sources.index.begin() + sources.count);
  std::vector<uint32_t> target_list(targets.index.begin(), targets.index.begin() + targets.count);
  std::vector<uint8_t> rows;
  PBFS_CODING_CHECK(recovery_rows(source_list, target_list, rows));
  return patterns.emplace(key, prepare_map(rows, targets.count)).first->second;
}

void ErasureCoder::Impl::apply(const LinearMap& map, uint8_t** sources, uint8_t** targets, uint64_t length,
                               uint32_t packet_bytes) {
  if (length == 0 || map.targets == 0) return;
  PBFS_CODING_CHECK(length <= kFragmentBytesMax);
  const int k = static_cast<int>(params.k), t = static_cast<int>(map.targets), n = static_cast<int>(length);
  if (is_jerasure(params.backend)) clear_upper_vector_state();  // gf-complete is legacy SSE
  switch (params.backend) {
    case ErasureBackend::kJerasureVandermonde:
      jerasure_matrix_encode(k, t, kWordBits, const_cast<int*>(map.jerasure_matrix.data()),
                             reinterpret_cast<char**>(sources), reinterpret_cast<char**>(targets), n);
      break;
    case ErasureBackend::kJerasureCauchy:
      PBFS_CODING_CHECK(packet_bytes > 0 && length % (uint64_t{kWordBits} * packet_bytes) == 0);
      jerasure_schedule_encode(k, t, kWordBits, map.schedule.get(), reinterpret_cast<char**>(sources),
                               reinterpret_cast<char**>(targets), n, static_cast<int>(packet_bytes));
      break;
    case ErasureBackend::kIsal:
      ec_encode_data(n, k, t, const_cast<uint8_t*>(map.isal_tables.data()), sources, targets);
      clear_upper_vector_state();
      break;
  }
}

// gf-complete aborts unless source and destination regions share their address mod 16: windows that
// do not start 16-byte aligned are staged through an aligned buffer (rare: stripes are 64-aligned).
void ErasureCoder::Impl::apply_aligned(const LinearMap& map, Selection& sources, Selection& targets, uint64_t length,
                                       uint32_t packet_bytes) {
  auto misaligned = [](const uint8_t* p) { return reinterpret_cast<uintptr_t>(p) % 16 != 0; };
  size_t staged = 0;
  if (is_jerasure(params.backend)) {
    for (uint32_t i = 0; i < sources.count; ++i) staged += misaligned(sources.ptr[i]);
    for (uint32_t i = 0; i < targets.count; ++i) staged += misaligned(targets.ptr[i]);
  }
  if (staged == 0) {
    apply(map, sources.ptr.data(), targets.ptr.data(), length, packet_bytes);
    return;
  }
  staging.resize(staged * length);
  uint8_t* slot = staging.data();
  for (uint32_t i = 0; i < sources.count; ++i) {
    if (!misaligned(sources.ptr[i])) continue;
    std::memcpy(slot, sources.ptr[i], length);
    sources.ptr[i] = slot;
    slot += length;
  }
  Selection final_targets = targets;
  for (uint32_t i = 0; i < targets.count; ++i) {
    if (!misaligned(targets.ptr[i])) continue;
    targets.ptr[i] = slot;
    slot += length;
  }
  apply(map, sources.ptr.data(), targets.ptr.data(), length, packet_bytes);
  for (uint32_t i = 0; i < targets.count; ++i) {
    if (targets.ptr[i] != final_targets.ptr[i]) std::memcpy(final_targets.ptr[i], targets.ptr[i], length);
  }
}

// Jerasure's own decoder trick for Vandermonde codes: parity 0 is the XOR of all data fragments, so
// the last lost data fragment costs k XORs instead of k multiplications once the others are rebuilt.
// Applies when parity 0 is at hand and every other data fragment is present or being rebuilt; removes
// that target from `wanted` and returns true so the caller rebuilds it after the others.
bool ErasureCoder::Impl::xor_last_data_target(const std::array<const uint8_t*, kFragmentsMax>& by_index,
                                              Selection& wanted, uint64_t length) {
  const uint32_t k = params.k;
  if (!parity0_all_ones || by_index[k] == nullptr || wanted.count == 0) return false;
  int last = -1;
  for (uint32_t t = 0; t < wanted.count; ++t) {
    if (wanted.index[t] < k) last = static_cast<int>(t);
  }
  if (last < 0) return false;
  uint32_t covered = 0;
  for (uint32_t j = 0; j < k; ++j) {
    bool have = by_index[j] != nullptr;
    for (uint32_t t = 0; t < wanted.count && !have; ++t) have = wanted.index[t] == j;
    covered += have;
  }
  auto misaligned = [](const uint8_t* p) { return reinterpret_cast<uintptr_t>(p) % 16 != 0; };
  bool aligned = !misaligned(by_index[k]);
  for (uint32_t j = 0; j < k; ++j) aligned = aligned && (by_index[j] == nullptr || !misaligned(by_index[j]));
  for (uint32_t t = 0; t < wanted.count; ++t) aligned = aligned && !misaligned(wanted.ptr[t]);
  if (covered != k || !aligned || length > kFragmentBytesMax) return false;
  std::swap(wanted.index[last], wanted.index[wanted.count - 1]);
  std::swap(wanted.ptr[last], wanted.ptr[wanted.count - 1]);
  return true;
}

ErasureCoder::ErasureCoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ErasureCoder::ErasureCoder(ErasureCoder&&) noexcept = default;
ErasureCoder& ErasureCoder::operator=(ErasureCoder&&) noexcept = default;
ErasureCoder::~ErasureCoder() = default;

Result<ErasureCoder> ErasureCoder::create(const CodingParams& params) {
  Status valid = validate_coding_params(params);
  if (!valid.is_ok()) return valid;
  init_jerasure_fields();
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->build_generator();
  std::vector<uint8_t> parity_rows(impl->generator.begin() + params.k * params.k, impl->generator.end());
  impl->encoder = impl->prepare_map(parity_rows, params.m);
  impl->parity0_all_ones = params.backend == ErasureBackend::kJerasureVandermonde &&
                           std::all_of(parity_rows.begin(), parity_rows.begin() + params.k, [](uint8_t c) { return c == 1; });
  return ErasureCoder(std::move(impl));
}

const CodingParams& ErasureCoder::params() const { return impl_->params; }
size_t ErasureCoder::cached_patterns() const { return impl_->patterns.size(); }

Result<StripeLayout> ErasureCoder::layout(uint64_t payload_bytes) const {
  const CodingParams& p = impl_->params;
  StripeLayout layout{p.backend, p.k, p.m, payload_bytes, 0, 0};
  const uint64_t minimum = ceil_div(payload_bytes, p.k);
  if (minimum > kFragmentBytesMax) return Status(StatusCode::kInvalidArgument, "payload too large for one stripe");
  if (p.backend == ErasureBackend::kJerasureCauchy && minimum > 0) {
    // Fewest rounds of 8 packets that fit, then the smallest packet (a multiple of 8) that fits.
    const uint64_t rounds = ceil_div(minimum, uint64_t{kWordBits} * p.packet_bytes_max);
    layout.packet_bytes = static_cast<uint32_t>(round_up(ceil_div(minimum, kWordBits * rounds), 8));
    layout.fragment_bytes = uint64_t{kWordBits} * layout.packet_bytes * rounds;
  } else {
    layout.fragment_bytes = round_up(minimum, kFragmentAlignment);
  }
  if (layout.fragment_bytes > kFragmentBytesMax) return Status(StatusCode::kInvalidArgument, "payload too large for one stripe");
  return layout;
}

Status ErasureCoder::prepare(uint64_t payload_bytes, Stripe& stripe) const {
  Result<StripeLayout> layout = this->layout(payload_bytes);
  if (!layout.is_ok()) return layout.status();
  stripe.layout_ = *layout;
  const uint64_t data_bytes = uint64_t{layout->k} * layout->fragment_bytes;
  stripe.buffer_.resize(layout->fragment_count() * layout->fragment_bytes);
  std::memset(stripe.buffer_.data() + payload_bytes, 0, data_bytes - payload_bytes);
  return Status::ok();
}

void ErasureCoder::encode_parity(Stripe& stripe) const {
  const StripeLayout& l = stripe.layout_;
  const CodingParams& p = impl_->params;
  PBFS_CODING_CHECK(l.k == p.k && l.m == p.m && l.backend == p.backend);
  std::array<uint8_t*, kFragmentsMax> ptrs;
  for (uint32_t i = 0; i < l.fragment_count(); ++i) ptrs[i] = stripe.buffer_.data() + i * l.fragment_bytes;
  impl_->apply(impl_->encoder, ptrs.data(), ptrs.data() + l.k, l.fragment_bytes, l.packet_bytes);
}

Status ErasureCoder::encode(ByteSpan payload, Stripe& stripe) const {
  Status prepared = prepare(payload.size(), stripe);
  if (!prepared.is_ok()) return prepared;
  if (!payload.empty()) std::memcpy(stripe.buffer_.data(), payload.data(), payload.size());
  encode_parity(stripe);
  return Status::ok();
}

namespace {
Status check_layout_for(const CodingParams& p, const StripeLayout& layout) {
  if (layout.k != p.k || layout.m != p.m || layout.backend != p.backend) {
    return {StatusCode::kInvalidArgument, "layout does not match this coder"};
  }
  return validate_stripe_layout(layout);
}
}  // namespace

Status ErasureCoder::reconstruct(const StripeLayout& layout, uint64_t offset, std::span<const FragmentView> sources,
                                 std::span<const FragmentTarget> targets) {
  const CodingParams& p = impl_->params;
  Status valid = check_layout_for(p, layout);
  if (!valid.is_ok()) return valid;
  if (targets.empty()) return Status::ok();
  const uint64_t length = targets[0].bytes.size(), unit = layout.unit_bytes();
  if (offset % unit != 0 || length % unit != 0 || offset + length > layout.fragment_bytes) {
    return {StatusCode::kInvalidArgument, "window not aligned to the coding unit or outside the fragment"};
  }
  std::array<const uint8_t*, kFragmentsMax> by_index;
  std::fill(by_index.begin(), by_index.begin() + layout.fragment_count(), nullptr);
  for (const FragmentView& s : sources) {
    if (s.index >= layout.fragment_count() || s.bytes.size() != length) {
      return {StatusCode::kInvalidArgument, "source fragment index or window size wrong"};
    }
    if (by_index[s.index] == nullptr) by_index[s.index] = s.bytes.data();
  }
  Selection chosen;
  for (uint32_t i = 0; i < layout.fragment_count() && chosen.count < p.k; ++i) {
    if (by_index[i] != nullptr) chosen.add(i, by_index[i]);
  }
  if (chosen.count < p.k) {
    return {StatusCode::kUnavailable, "need " + std::to_string(p.k) + " fragments, have " + std::to_string(chosen.count)};
  }
  Selection wanted;
  for (const FragmentTarget& t : targets) {
    if (t.index >= layout.fragment_count() || t.bytes.size() != length) {
      return {StatusCode::kInvalidArgument, "target fragment index or window size wrong"};
    }
    if (by_index[t.index] != nullptr) {  // asked for something we already have
      if (t.bytes.data() != by_index[t.index]) std::memmove(t.bytes.data(), by_index[t.index], length);
      continue;
    }
    wanted.add(t.index, t.bytes.data());
  }
  if (wanted.count == 0 || length == 0) return Status::ok();
  const bool xor_last = impl_->xor_last_data_target(by_index, wanted, length);
  if (xor_last) --wanted.count;  // the last one is rebuilt below, from the others
  if (wanted.count > 0) {
    const LinearMap& map = impl_->pattern(chosen, wanted);
    impl_->apply_aligned(map, chosen, wanted, length, layout.packet_bytes);
  }
  if (xor_last) {
    const uint32_t k = p.k, last = wanted.index[wanted.count];
    std::array<char*, kFragmentsMax> data_ptrs;
    for (uint32_t j = 0; j < k; ++j) data_ptrs[j] = reinterpret_cast<char*>(const_cast<uint8_t*>(by_index[j]));
    for (uint32_t t = 0; t <= wanted.count; ++t) {
      if (wanted.index[t] < k) data_ptrs[wanted.index[t]] = reinterpret_cast<char*>(wanted.ptr[t]);
    }
    char* coding_ptrs[1] = {reinterpret_cast<char*>(const_cast<uint8_t*>(by_index[k]))};
    std::array<int, kFragmentsMax> ones, ids;
    uint32_t n = 0;
    for (uint32_t j = 0; j < k; ++j) {
      if (j != last) ids[n++] = static_cast<int>(j);
    }
    ids[n++] = static_cast<int>(k);  // parity 0
    std::fill(ones.begin(), ones.begin() + k, 1);
    jerasure_matrix_dotprod(static_cast<int>(k), kWordBits, ones.data(), ids.data(), static_cast<int>(last),
                            data_ptrs.data(), coding_ptrs, static_cast<int>(length));
  }
  return Status::ok();
}

Status ErasureCoder::decode(const StripeLayout& layout, std::span<const FragmentView> fragments, std::span<uint8_t> out) {
  Status valid = check_layout_for(impl_->params, layout);
  if (!valid.is_ok()) return valid;
  if (out.size() != layout.payload_bytes) return {StatusCode::kInvalidArgument, "output size differs from payload size"};
  for (const FragmentView& f : fragments) {
    if (f.index >= layout.fragment_count() || f.bytes.size() != layout.fragment_bytes) {
      return {StatusCode::kInvalidArgument, "fragment index or size wrong"};
    }
  }
  if (layout.payload_bytes == 0) return Status::ok();
  const uint64_t size = layout.fragment_bytes;
  std::array<const uint8_t*, kFragmentsMax> by_index;
  std::fill(by_index.begin(), by_index.begin() + layout.fragment_count(), nullptr);
  for (const FragmentView& f : fragments) {
    if (by_index[f.index] == nullptr) by_index[f.index] = f.bytes.data();
  }
  std::vector<FragmentTarget> missing;
  uint32_t partial_index = kFragmentsMax;  // the missing data fragment that only partly fits in `out`
  for (uint32_t i = 0; i < layout.k && i * size < layout.payload_bytes; ++i) {
    const uint64_t n = std::min(size, layout.payload_bytes - i * size);
    if (by_index[i] != nullptr) {
      std::memcpy(out.data() + i * size, by_index[i], n);
    } else if (n == size) {
      missing.push_back({i, out.subspan(i * size, size)});
    } else {
      impl_->tail.resize(size);
      missing.push_back({i, impl_->tail.span()});
      partial_index = i;
    }
  }
  if (missing.empty()) return Status::ok();
  Status rebuilt = reconstruct(layout, 0, fragments, missing);
  if (!rebuilt.is_ok()) return rebuilt;
  if (partial_index != kFragmentsMax) {
    std::memcpy(out.data() + partial_index * size, impl_->tail.data(), layout.payload_bytes - partial_index * size);
  }
  return Status::ok();
}

Result<Bytes> ErasureCoder::decode(const StripeLayout& layout, std::span<const FragmentView> fragments) {
  Bytes out(layout.payload_bytes);
  Status status = decode(layout, fragments, out);
  if (!status.is_ok()) return status;
  return out;
}

}  // namespace pbfs
