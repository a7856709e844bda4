// The pending-event set of the kernel: a radix heap keyed by virtual time, which only works because
// simulated time never goes backwards, and beats a binary heap at 10^5-10^6 pending events. Events at
// equal times pop in insertion (FIFO) order: ties are broken by a sequence number.
//
// The heap's digits are four bits wide: an event's bucket is the highest hexadecimal digit in which its
// time differs from the last popped time, and that digit's value (16 levels x 15 values). A refill
// empties the lowest non-empty bucket into lower ones, so an event moves at most 16 times before it
// pops, where one-bit buckets moved an event a few milliseconds ahead once per bit. A bitmap of
// non-empty buckets finds the lowest one.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "protocols/runtime/types.h"

namespace pbfs::sim {

// What an event does: fn(target, argument). Plain function pointers keep events 40 bytes and trivially
// movable, so the heap moves them cheaply.
using EventFn = void (*)(void* target, uint64_t argument);

struct Event {
  TimeNs time_ns;
  uint64_t sequence;
  EventFn fn;
  void* target;
  uint64_t argument;
};

class EventQueue {
 public:
  EventQueue();
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Schedules an event; time_ns must not be earlier than the last popped time (asserted).
  void push(TimeNs time_ns, EventFn fn, void* target, uint64_t argument);
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Time of the next event, without consuming it; the queue must not be empty.
  TimeNs next_time_ns();
  // Removes and returns the earliest event (FIFO among equal times).
  Event pop();

 private:
  // Buckets 1..64 are chains of fixed-size blocks drawn from one free list, not vectors: a refill
  // empties a bucket into lower ones, and with vectors every bucket would keep (and first grow, by
  // copying, into freshly faulted pages) its own peak capacity. Blocks are recycled while still warm,
  // so memory follows the number of pending events.
  static constexpr size_t kBlockEvents = 25;  // a block is about 1 KiB
  struct Block {
    Block* next = nullptr;
    Event events[kBlockEvents];
  };
  // Every block but the tail is full; `end` is the tail's next free slot, `limit` its end (both null
  // while the chain is empty), so appending is a compare and a store.
  struct Chain {
    Block* head = nullptr;
    Block* tail = nullptr;
    Event* end = nullptr;
    Event* limit = nullptr;
    uint64_t min = UINT64_MAX;  // the earliest time appended since the chain was last emptied
    size_t count(const Block* b) const { return b == tail ? static_cast<size_t>(end - b->events) : kBlockEvents; }
  };
  // Bucket 0 is ready_; bucket 1 + 16 * level + digit holds the events whose highest hexadecimal digit
  // differing from `last` is `level`, where their digit is `digit` (always above last's digit there).
  static constexpr int kBuckets = 1 + 16 * 16;
  static int bucket_of(uint64_t key, uint64_t last) {
    if (key == last) return 0;
    const int level = (63 - std::countl_zero(key ^ last)) >> 2;
    return 1 + (level << 4) + static_cast<int>((key >> (level << 2)) & 15);
  }
  void append(int bucket, const Event& e) {
    Chain& chain = chains_[bucket];
    if (chain.end == chain.limit) [[unlikely]] {
      if (chain.tail == nullptr) nonempty_[bucket >> 6] |= uint64_t{1} << (bucket & 63);
      add_block(chain);
    }
    *chain.end++ = e;
    if (static_cast<uint64_t>(e.time_ns) < chain.min) chain.min = static_cast<uint64_t>(e.time_ns);
  }
  int lowest_nonempty() const;
  void add_block(Chain& chain);
  Block* new_block();
  void release_block(Block* block);
  void refill();
  // The smallest time outside bucket 0: the lowest non-empty bucket's minimum (every time in a bucket is
  // below every time in a higher one), kept as events are appended, so no bucket is scanned for it.
  uint64_t min_above_bucket0() const { return chains_[lowest_nonempty()].min; }

  std::vector<Event> ready_;                // bucket 0: events at time last_, consumed from the front
  std::array<Chain, kBuckets> chains_;      // index 0 unused
  std::array<uint64_t, (kBuckets + 63) / 64> nonempty_{};  // bit b: chains_[b] holds events
  Block* free_blocks_ = nullptr;
  std::vector<std::unique_ptr<Block>> blocks_;  // owns every block, free or in a chain
  uint64_t last_ = 0;          // time of the last popped event (the radix heap's reference)
  uint64_t next_sequence_ = 0;
  size_t size_ = 0;
  size_t ready_head_ = 0;
};

}  // namespace pbfs::sim
