// A growable array whose elements never move, built from blocks that double in size from 2^kFirstShift
// up to 2^kMaxShift elements and then stay at that size. The catalog keeps one of these per replica for
// record slots, arena words and index nodes: a replica with few records must not pay for a full block
// (hundreds of replicas per run), while a large one must not waste a half-empty doubled block (the
// per-record memory goal).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace pbfs::datapath {

template <typename T, unsigned kFirstShift, unsigned kMaxShift>
class BlockArray {
  static_assert(kFirstShift <= kMaxShift && kMaxShift < 32);

 public:
  T& operator[](uint64_t i) { return blocks_[block_of(i)][offset_in_block(i)]; }
  const T& operator[](uint64_t i) const { return blocks_[block_of(i)][offset_in_block(i)]; }

  // Makes index i (and every index below it) addressable; new elements are value-initialised.
  void ensure(uint64_t i) {
    const size_t block = block_of(i);
    while (blocks_.size() <= block) {
      blocks_.push_back(std::make_unique<T[]>(block_size(blocks_.size())));
      capacity_ += block_size(blocks_.size() - 1);
    }
  }
  // One past the last index of the block holding i: runs that must not straddle blocks stop here.
  static uint64_t block_end(uint64_t i) {
    const size_t block = block_of(i);
    return block_start(block) + block_size(block);
  }
  uint64_t capacity() const { return capacity_; }
  size_t memory_bytes() const { return capacity_ * sizeof(T) + blocks_.capacity() * sizeof(void*); }

 private:
  static constexpr uint64_t kFirst = uint64_t{1} << kFirstShift;
  static constexpr uint64_t kMax = uint64_t{1} << kMaxShift;
  static constexpr size_t kGrowingBlocks = kMaxShift - kFirstShift + 1;  // they cover [0, kMax)

  // Block 0 holds [0, kFirst); block b in 1..kMaxShift-kFirstShift holds [2^(f+b-1), 2^(f+b)); then
  // blocks of kMax elements.
  static size_t block_of(uint64_t i) {
    if (i < kFirst) return 0;
    if (i < kMax) return static_cast<size_t>(std::bit_width(i)) - kFirstShift;
    return kGrowingBlocks - 1 + static_cast<size_t>(i >> kMaxShift);
  }
  static uint64_t offset_in_block(uint64_t i) {
    if (i < kFirst) return i;
    if (i < kMax) return i - std::bit_floor(i);
    return i & (kMax - 1);
  }
  static uint64_t block_start(size_t block) {
    if (block == 0) return 0;
    if (block < kGrowingBlocks) return kFirst << (block - 1);
    return static_cast<uint64_t>(block - kGrowingBlocks + 1) << kMaxShift;
  }
  static uint64_t block_size(size_t block) {
    if (block == 0) return kFirst;
    if (block < kGrowingBlocks) return kFirst << (block - 1);
    return kMax;
  }

  std::vector<std::unique_ptr<T[]>> blocks_;
  uint64_t capacity_ = 0;
};

}  // namespace pbfs::datapath
