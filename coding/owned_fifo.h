// A first-in first-out queue of items allocated one by one and linked through their own member
// `std::unique_ptr<T> next`. Pushing touches only the new item and the last one, popping only the first
// (which the caller reads anyway), and the queue itself is two pointers and a count. A queue per server
// with storage blocks of its own (std::deque) pays a cache miss on its block at every push and pop when a
// thousand servers (or disks) take turns; this one has no such block.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace pbfs {

template <typename T>
class OwnedFifo {
 public:
  OwnedFifo() = default;
  OwnedFifo(const OwnedFifo&) = delete;
  OwnedFifo& operator=(const OwnedFifo&) = delete;
  ~OwnedFifo() { clear(); }

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  T& front() { return *head_; }

  void push_back(std::unique_ptr<T> item) {
    T* last = item.get();
    if (tail_ != nullptr) {
      tail_->next = std::move(item);
    } else {
      head_ = std::move(item);
    }
    tail_ = last;
    ++size_;
  }
  // The first item, taken out of the queue (which must not be empty).
  std::unique_ptr<T> pop_front() {
    std::unique_ptr<T> first = std::move(head_);
    head_ = std::move(first->next);
    if (head_ == nullptr) tail_ = nullptr;
    --size_;
    return first;
  }
  // One item at a time, so a long queue is not freed by recursion through `next`.
  void clear() {
    while (head_ != nullptr) head_ = std::move(head_->next);
    tail_ = nullptr;
    size_ = 0;
  }
  // f(T&) for the items from first to last, until f returns false; f must not push or pop.
  template <typename F>
  void for_each_while(F&& f) {
    for (T* item = head_.get(); item != nullptr && f(*item); item = item->next.get()) {
    }
  }

 private:
  std::unique_ptr<T> head_;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pbfs
