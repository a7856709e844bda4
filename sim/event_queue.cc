// Radix heap with FIFO tie-breaking (see event_queue.h).
#include "sim/event_queue.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::sim {

void EventQueue::push(TimeNs time_ns, EventFn fn, void* target, uint64_t argument) {
  const uint64_t key = static_cast<uint64_t>(time_ns);
  if (time_ns < 0 || key < last_) {
    std::fprintf(stderr, "pbfs: event scheduled in the past (%lld < %llu)\n", static_cast<long long>(time_ns),
                 static_cast<unsigned long long>(last_));
    std::abort();
  }
  const int bucket = bucket_of(key, last_);
  buckets_[bucket].push_back(Event{time_ns, next_sequence_++, fn, target, argument});
  if (bucket > 0 && min_valid_ && key < min_key_) min_key_ = key;
  ++size_;
}

uint64_t EventQueue::min_above_bucket0() {
  if (!min_valid_) {
    int i = 1;
    while (buckets_[i].empty()) ++i;
    uint64_t min_key = static_cast<uint64_t>(buckets_[i].front().time_ns);
    for (const Event& e : buckets_[i]) min_key = std::min(min_key, static_cast<uint64_t>(e.time_ns));
    min_key_ = min_key;
    min_valid_ = true;
  }
  return min_key_;
}

void EventQueue::refill() {
  buckets_[0].clear();
  bucket0_head_ = 0;
  // Only a pop moves the reference point, so later pushes (never before now) stay valid.
  last_ = min_above_bucket0();
  min_valid_ = false;
  int i = 1;
  while (buckets_[i].empty()) ++i;
  std::vector<Event>& source = buckets_[i];
  for (const Event& e : source) buckets_[bucket_of(static_cast<uint64_t>(e.time_ns), last_)].push_back(e);
  source.clear();
  // All events at the new minimum time are now in bucket 0, possibly out of insertion order.
  std::vector<Event>& ready = buckets_[0];
  auto by_sequence = [](const Event& a, const Event& b) { return a.sequence < b.sequence; };
  if (ready.size() > 1 && !std::is_sorted(ready.begin(), ready.end(), by_sequence)) {
    std::sort(ready.begin(), ready.end(), by_sequence);
  }
}

TimeNs EventQueue::next_time_ns() {
  if (bucket0_head_ < buckets_[0].size()) return buckets_[0][bucket0_head_].time_ns;
  return static_cast<TimeNs>(min_above_bucket0());
}

Event EventQueue::pop() {
  if (bucket0_head_ == buckets_[0].size()) refill();
  --size_;
  return buckets_[0][bucket0_head_++];
}

}  // namespace pbfs::sim
