// A FIFO queue in one power-of-two array of reused slots: added at the back, taken from either end,
// indexed from the front. std::deque allocates a block of 512 bytes at a time, so for large elements it
// allocates and frees a block every two or three of them; a ring allocates only when it outgrows its
// largest size so far, and keeps that size. It suits queues of large elements that stay short, like a
// disk's chains and a fragment server's stores; a long queue would hold its peak in memory.
// References stay valid until the next push_back (which may grow the array).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace pbfs {

template <typename T>
class Ring {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t capacity() const { return slots_.size(); }
  T& operator[](size_t i) { return slots_[(head_ + i) & mask()]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & mask()]; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  T& back() { return (*this)[count_ - 1]; }

  void push_back(T value) { claim_back() = std::move(value); }
  // The next slot at the back, added to the queue as its last use left it (a default T the first
  // time): the caller sets what it needs, and keeps whatever capacity the slot's members still hold.
  T& claim_back() {
    if (count_ == slots_.size()) grow();
    ++count_;
    return back();
  }
  // Removes the front element; its slot keeps the value until claimed again (see take_front).
  void pop_front() {
    head_ = (head_ + 1) & mask();
    --count_;
  }
  // Removes and returns the front element (the slot keeps only a moved-from value).
  T take_front() {
    T value = std::move(front());
    pop_front();
    return value;
  }
  T take_back() {
    T value = std::move(back());
    --count_;
    return value;
  }
  void clear() {
    while (!empty()) (void)take_front();
  }

 private:
  size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<T> grown(slots_.empty() ? 8 : slots_.size() * 2);
    for (size_t i = 0; i < count_; ++i) grown[i] = std::move((*this)[i]);
    slots_ = std::move(grown);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace pbfs
