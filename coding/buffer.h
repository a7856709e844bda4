// An owned, 64-byte-aligned, uninitialized byte buffer. Erasure coding and AEAD write every byte they
// hand out, so zero-filling (what std::vector does) would be a wasted pass over megabytes; the alignment
// keeps SIMD kernels on their fast paths and satisfies gf-complete's same-alignment rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace pbfs {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  // Contents are indeterminate until written.
  explicit AlignedBuffer(size_t size_bytes) { resize(size_bytes); }

  // Keeps the allocation when it is large enough (contents are then kept too), else reallocates
  // (contents lost). Lets a caller reuse one buffer across many writes.
  void resize(size_t size_bytes) {
    if (size_bytes > capacity_) {
      data_.reset(size_bytes == 0 ? nullptr : new (std::align_val_t(kAlignment)) uint8_t[size_bytes]);
      capacity_ = size_bytes;
    }
    size_ = size_bytes;
  }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_.get(), size_}; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }

 private:
  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kAlignment)); }
  };
  std::unique_ptr<uint8_t[], AlignedDelete> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace pbfs
