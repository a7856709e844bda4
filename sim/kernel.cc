// Kernel: time, scheduling, and seed-derived random streams.
#include "sim/kernel.h"

#include <cstdio>
#include <cstdlib>

namespace pbfs::sim {
namespace {

// SplitMix64 finaliser: spreads (seed, purpose, id) into well-separated 64-bit stream seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

Rng derive_stream(uint64_t seed, uint64_t purpose, uint64_t id) {
  return Rng(mix(mix(mix(seed) ^ purpose) ^ id));
}

void Kernel::at(TimeNs time_ns, EventFn fn, void* target, uint64_t argument) {
  if (time_ns < now_ns_) {
    std::fprintf(stderr, "pbfs: event at %lld before now %lld (seed %llu)\n", static_cast<long long>(time_ns),
                 static_cast<long long>(now_ns_), static_cast<unsigned long long>(seed_));
    std::abort();
  }
  queue_.push(time_ns, fn, target, argument);
}

void Kernel::at(TimeNs time_ns, std::function<void()> closure) {
  uint64_t slot;
  if (!free_closure_slots_.empty()) {
    slot = free_closure_slots_.back();
    free_closure_slots_.pop_back();
    closures_[slot] = std::move(closure);
  } else {
    slot = closures_.size();
    closures_.push_back(std::move(closure));
  }
  at(time_ns, &Kernel::run_closure, this, slot);
}

void Kernel::run_closure(void* kernel, uint64_t slot) {
  auto* self = static_cast<Kernel*>(kernel);
  std::function<void()> closure = std::move(self->closures_[slot]);
  self->closures_[slot] = nullptr;
  self->free_closure_slots_.push_back(slot);
  closure();
}

void Kernel::run_until(TimeNs end_ns) {
  stopped_ = false;
  while (!stopped_ && !queue_.empty() && queue_.next_time_ns() <= end_ns) {
    const Event e = queue_.pop();
    now_ns_ = e.time_ns;
    ++events_run_;
    e.fn(e.target, e.argument);
  }
  if (!stopped_ && end_ns > now_ns_) now_ns_ = end_ns;
}

}  // namespace pbfs::sim
