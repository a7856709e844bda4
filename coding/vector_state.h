// ISA-L's AVX/AVX-512 kernels (erasure coding and CRC32C alike) never issue vzeroupper. Until the upper
// register halves are cleared, legacy-SSE code that runs next — AES-NI in Crypto++, gf-complete in
// Jerasure — pays a state-transition penalty on every instruction (measured here: AES-GCM at half
// speed). Every ISA-L call in the coding library is followed by clear_upper_vector_state(), and the
// SSE users (AEAD, Jerasure) also clear it on entry in case other code in the process left it dirty.
#pragma once

#include <immintrin.h>

namespace pbfs {

__attribute__((target("avx"))) inline void zero_upper_avx() { _mm256_zeroupper(); }

inline void clear_upper_vector_state() {
  static const bool has_avx = __builtin_cpu_supports("avx");  // immutable after first use
  if (has_avx) zero_upper_avx();
}

}  // namespace pbfs
