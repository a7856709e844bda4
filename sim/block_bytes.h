// The real content of a simulated file, in fixed 16 KiB blocks. Manifests and logs grow by small appends
// all run long: in one contiguous buffer each doubling would copy everything into fresh memory, and an
// element-wise container pays per byte; here an append copies its bytes once and never moves them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "coding/wire.h"

namespace pbfs::sim {

class BlockBytes {
 public:
  uint64_t size() const { return size_; }

  // Grows (zero-filled) or shrinks to `n` bytes.
  void resize(uint64_t n) {
    if (n > size_) {
      reserve(n);
      spans(size_, n - size_, [](uint8_t* at, uint64_t, uint64_t take) { std::memset(at, 0, take); });
    }
    size_ = n;
  }
  // Writes `n` bytes at `offset`, growing the content (zero-filled up to `offset`) if needed.
  void write(uint64_t offset, const uint8_t* from, uint64_t n) {
    if (offset > size_) resize(offset);
    reserve(offset + n);
    spans(offset, n, [&](uint8_t* at, uint64_t done, uint64_t take) { std::memcpy(at, from + done, take); });
    size_ = std::max(size_, offset + n);
  }
  // Copies `n` bytes from `offset` (which must lie within the content) into `to`.
  void read(uint64_t offset, uint8_t* to, uint64_t n) const {
    spans(offset, n, [&](const uint8_t* at, uint64_t done, uint64_t take) { std::memcpy(to + done, at, take); });
  }
  Bytes read(uint64_t offset, uint64_t n) const {
    Bytes out(n);
    read(offset, out.data(), n);
    return out;
  }
  Bytes bytes() const { return read(0, size_); }
  uint8_t& operator[](uint64_t i) { return blocks_[i / kBlock][i % kBlock]; }
  uint8_t operator[](uint64_t i) const { return blocks_[i / kBlock][i % kBlock]; }

 private:
  static constexpr uint64_t kBlock = 16 * 1024;
  // Blocks for `n` bytes. Their bytes past size_ are undefined: resize and write set them before use.
  void reserve(uint64_t n) {
    while (blocks_.size() * kBlock < n) blocks_.push_back(std::make_unique_for_overwrite<uint8_t[]>(kBlock));
  }
  // Calls f(block pointer, bytes done before it, bytes in it) for each block piece of [offset, offset + n).
  template <typename F>
  void spans(uint64_t offset, uint64_t n, F&& f) const {
    for (uint64_t done = 0; done < n;) {
      const uint64_t at = offset + done, in = at % kBlock, take = std::min(kBlock - in, n - done);
      f(blocks_[at / kBlock].get() + in, done, take);
      done += take;
    }
  }
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  uint64_t size_ = 0;
};

}  // namespace pbfs::sim
