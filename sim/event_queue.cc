// Radix heap with FIFO tie-breaking (see event_queue.h).
#include "sim/event_queue.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::sim {

EventQueue::EventQueue() = default;
EventQueue::~EventQueue() = default;

[[gnu::noinline, gnu::cold]] EventQueue::Block* EventQueue::new_block() {
  blocks_.push_back(std::make_unique<Block>());
  return blocks_.back().get();
}

void EventQueue::release_block(Block* block) {
  block->next = free_blocks_;
  free_blocks_ = block;
}

void EventQueue::add_block(Chain& chain) {
  Block* block = free_blocks_;
  if (block != nullptr) {
    free_blocks_ = block->next;
    block->next = nullptr;
  } else {
    block = new_block();
  }
  if (chain.tail == nullptr) {
    chain.head = block;
  } else {
    chain.tail->next = block;
  }
  chain.tail = block;
  chain.end = block->events;
  chain.limit = block->events + kBlockEvents;
}

void EventQueue::push(TimeNs time_ns, EventFn fn, void* target, uint64_t argument) {
  const uint64_t key = static_cast<uint64_t>(time_ns);
  if (time_ns < 0 || key < last_) {
    std::fprintf(stderr, "pbfs: event scheduled in the past (%lld < %llu)\n", static_cast<long long>(time_ns),
                 static_cast<unsigned long long>(last_));
    std::abort();
  }
  const Event e{time_ns, next_sequence_++, fn, target, argument};
  const int bucket = bucket_of(key, last_);
  if (bucket == 0) {
    ready_.push_back(e);
  } else {
    append(bucket, e);
  }
  ++size_;
}

int EventQueue::lowest_nonempty() const {
  int word = 0;
  while (nonempty_[word] == 0) ++word;
  return (word << 6) + std::countr_zero(nonempty_[word]);
}

void EventQueue::refill() {
  ready_.clear();
  ready_head_ = 0;
  // Only a pop moves the reference point, so later pushes (never before now) stay valid.
  last_ = min_above_bucket0();
  const int i = lowest_nonempty();
  const Chain drained = chains_[i];
  chains_[i] = Chain{};
  nonempty_[i >> 6] &= ~(uint64_t{1} << (i & 63));
  // Every event moves to a lower bucket; each source block is recycled as soon as it has been read.
  for (Block* source = drained.head; source != nullptr;) {
    const size_t n = drained.count(source);
    for (size_t k = 0; k < n; ++k) {
      const Event& e = source->events[k];
      const int bucket = bucket_of(static_cast<uint64_t>(e.time_ns), last_);
      if (bucket == 0) [[unlikely]] {
        ready_.push_back(e);
      } else {
        append(bucket, e);
      }
    }
    Block* next = source->next;
    release_block(source);
    source = next;
  }
  // All events at the new minimum time are now in bucket 0, possibly out of insertion order.
  auto by_sequence = [](const Event& a, const Event& b) { return a.sequence < b.sequence; };
  if (ready_.size() > 1 && !std::is_sorted(ready_.begin(), ready_.end(), by_sequence)) {
    std::sort(ready_.begin(), ready_.end(), by_sequence);
  }
}

TimeNs EventQueue::next_time_ns() {
  if (ready_head_ < ready_.size()) return ready_[ready_head_].time_ns;
  return static_cast<TimeNs>(min_above_bucket0());
}

Event EventQueue::pop() {
  if (ready_head_ == ready_.size()) refill();
  --size_;
  return ready_[ready_head_++];
}

}  // namespace pbfs::sim
