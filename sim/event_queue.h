// The pending-event set of the kernel: a radix heap keyed by virtual time, which only works because
// simulated time never goes backwards, and beats a binary heap at 10^5-10^6 pending events. Events at
// equal times pop in insertion (FIFO) order: ties are broken by a sequence number.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
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
  // Schedules an event; time_ns must not be earlier than the last popped time (asserted).
  void push(TimeNs time_ns, EventFn fn, void* target, uint64_t argument);
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Time of the next event, without consuming it; the queue must not be empty.
  TimeNs next_time_ns();
  // Removes and returns the earliest event (FIFO among equal times).
  Event pop();

 private:
  static constexpr int kBuckets = 65;
  static int bucket_of(uint64_t key, uint64_t last) {
    return key == last ? 0 : 64 - std::countl_zero(key ^ last);
  }
  void refill();
  uint64_t min_above_bucket0();  // smallest time outside bucket 0, cached until the next refill

  std::array<std::vector<Event>, kBuckets> buckets_;
  uint64_t last_ = 0;          // time of the last popped event (the radix heap's reference)
  uint64_t next_sequence_ = 0;
  size_t size_ = 0;
  size_t bucket0_head_ = 0;    // bucket 0 is consumed from the front, in sequence order
  uint64_t min_key_ = 0;
  bool min_valid_ = false;
};

}  // namespace pbfs::sim
