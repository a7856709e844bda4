// Reed–Solomon erasure coding over GF(2^8): k data + m parity fragments, any k of them rebuild the rest.
// Three backends share one API and one stripe layout rule set: Jerasure matrix coding (Vandermonde),
// Jerasure Cauchy bit-matrix coding with smart schedules, and ISA-L (4–6x faster on x86). Fragments
// of one backend only decode with the same backend; the layout (padding, packet size) travels with
// every fragment header and record so a reader never guesses it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coding/buffer.h"
#include "coding/status.h"
#include "coding/wire.h"

namespace pbfs {

// Wire values are part of the record format (docs/record-format.md): never renumber.
enum class ErasureBackend : uint8_t {
  kJerasureVandermonde = 1,
  kJerasureCauchy = 2,
  kIsal = 3,
};
// "jerasure_vandermonde", "jerasure_cauchy", "isal": the names scenarios and the cost model use.
const char* erasure_backend_name(ErasureBackend backend);
std::optional<ErasureBackend> erasure_backend_from_name(std::string_view name);
bool erasure_backend_valid(uint8_t wire_value);

constexpr uint32_t kFragmentsMax = 256;                    // k + m with w = 8
constexpr uint64_t kFragmentBytesMax = uint64_t{1} << 30;  // the libraries take int lengths
constexpr uint64_t kFragmentAlignment = 64;                // matrix backends pad fragments to this

struct CodingParams {
  uint32_t k = 8;  // data fragments, >= 1
  uint32_t m = 4;  // parity fragments, >= 1; k + m <= 256
  ErasureBackend backend = ErasureBackend::kIsal;
  // Cauchy only: largest packet; fragments are cut into rounds of 8 packets (w = 8). Larger packets
  // mean fewer schedule operations; the layout shrinks the packet to keep padding small.
  uint32_t packet_bytes_max = 8192;
};
Status validate_coding_params(const CodingParams& params);

// How a payload of payload_bytes is laid out in k + m fragments of fragment_bytes each. Data fragment i
// holds payload bytes [i * fragment_bytes, (i + 1) * fragment_bytes); bytes past the payload are zero.
struct StripeLayout {
  ErasureBackend backend = ErasureBackend::kIsal;
  uint32_t k = 0;
  uint32_t m = 0;
  uint64_t payload_bytes = 0;
  uint64_t fragment_bytes = 0;  // a multiple of unit_bytes(); 0 only for an empty payload
  uint32_t packet_bytes = 0;    // jerasure_cauchy: bytes per packet (0 iff fragment_bytes == 0); else 0

  uint32_t fragment_count() const { return k + m; }
  // Windows of fragments passed to reconstruct() start and end on multiples of this.
  uint64_t unit_bytes() const;
  bool operator==(const StripeLayout&) const = default;
};
// Checks every rule above (used on layouts read from the wire): kMalformed with the reason.
Status validate_stripe_layout(const StripeLayout& layout);

// k + m fragments of one layout in a single aligned allocation: data fragments first, so the payload
// is one contiguous region that a producer (the AEAD sealer) writes straight into.
class Stripe {
 public:
  const StripeLayout& layout() const { return layout_; }
  std::span<uint8_t> payload() { return {buffer_.data(), layout_.payload_bytes}; }
  std::span<const uint8_t> payload() const { return {buffer_.data(), layout_.payload_bytes}; }
  std::span<uint8_t> fragment(uint32_t index);
  std::span<const uint8_t> fragment(uint32_t index) const;

 private:
  friend class ErasureCoder;
  StripeLayout layout_;
  AlignedBuffer buffer_;
};

// A window [offset, offset + bytes.size()) of fragment `index`; a whole fragment has offset 0.
struct FragmentView {
  uint32_t index = 0;
  std::span<const uint8_t> bytes;
};
struct FragmentTarget {
  uint32_t index = 0;
  std::span<uint8_t> bytes;
};

// Encoder/decoder for one CodingParams. Encoding is const; decoding caches one prepared decoding
// matrix (or schedule) per erasure pattern, so an ErasureCoder is not safe to share between threads:
// make one per thread (creation costs microseconds).
class ErasureCoder {
 public:
  static Result<ErasureCoder> create(const CodingParams& params);
  ErasureCoder(ErasureCoder&&) noexcept;
  ErasureCoder& operator=(ErasureCoder&&) noexcept;
  ~ErasureCoder();

  const CodingParams& params() const;
  // The layout this coder uses for a payload; kInvalidArgument if a fragment would exceed 1 GiB.
  Result<StripeLayout> layout(uint64_t payload_bytes) const;

  // Sizes `stripe` for the payload (reusing its allocation when large enough) and zeroes the padding;
  // the caller then fills stripe.payload() and calls encode_parity().
  Status prepare(uint64_t payload_bytes, Stripe& stripe) const;
  // Computes the m parity fragments in place from the k data fragments. No copies.
  void encode_parity(Stripe& stripe) const;
  // prepare() + copy + encode_parity(): for callers whose payload is not produced in place.
  Status encode(ByteSpan payload, Stripe& stripe) const;

  // Rebuilds target windows from source windows. All windows cover the same [offset, offset + length)
  // of their fragments, aligned to layout.unit_bytes(); at least k distinct sources are needed (data
  // fragments are preferred). Targets may be data or parity fragments (repair rebuilds either).
  Status reconstruct(const StripeLayout& layout, uint64_t offset, std::span<const FragmentView> sources,
                     std::span<const FragmentTarget> targets);
  // Decodes the whole payload into `out` (exactly layout.payload_bytes) from any k whole fragments.
  // Present data fragments are copied; missing ones are rebuilt straight into `out` where they fit.
  Status decode(const StripeLayout& layout, std::span<const FragmentView> fragments, std::span<uint8_t> out);
  Result<Bytes> decode(const StripeLayout& layout, std::span<const FragmentView> fragments);

  // Number of prepared decoding patterns held (bounded; for tests and statistics).
  size_t cached_patterns() const;

  struct Impl;

 private:
  explicit ErasureCoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbfs
