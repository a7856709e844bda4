// The discrete-event kernel: virtual time in integer nanoseconds, an event queue with FIFO order at equal
// times, and every random choice drawn from streams derived from the one run seed, so a seed and a
// scenario determine the whole run.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "protocols/runtime/runtime.h"
#include "sim/event_queue.h"

namespace pbfs::sim {

// Deterministic stream for (seed, purpose, id): the same triple always gives the same sequence.
Rng derive_stream(uint64_t seed, uint64_t purpose, uint64_t id);

// Stream purposes, so streams for different uses never collide.
enum StreamPurpose : uint64_t {
  kStreamRole = 1,      // id = node << 16 | port
  kStreamNetwork = 2,
  kStreamDisk = 3,
  kStreamClock = 4,
  kStreamFaults = 5,
  kStreamSwarm = 6,
  kStreamWorkload = 7,
};

class Kernel {
 public:
  explicit Kernel(uint64_t seed) : seed_(seed) {}
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  uint64_t seed() const { return seed_; }
  TimeNs now_ns() const { return now_ns_; }

  // Hot-path scheduling: fn(target, argument) at absolute time (>= now, asserted).
  void at(TimeNs time_ns, EventFn fn, void* target, uint64_t argument);
  // Convenience scheduling of a closure (slower: the closure lives in a slot table until it runs).
  void at(TimeNs time_ns, std::function<void()> closure);
  void after(TimeNs delay_ns, std::function<void()> closure) { at(now_ns_ + delay_ns, std::move(closure)); }

  // Runs events in time order until none is left at or before end_ns, or stop() is called. Time
  // ends at end_ns (or at the stopping event).
  void run_until(TimeNs end_ns);
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  uint64_t events_run() const { return events_run_; }
  size_t pending() const { return queue_.size(); }

 private:
  static void run_closure(void* kernel, uint64_t slot);

  uint64_t seed_;
  TimeNs now_ns_ = 0;
  bool stopped_ = false;
  uint64_t events_run_ = 0;
  EventQueue queue_;
  std::vector<std::function<void()>> closures_;
  std::vector<uint64_t> free_closure_slots_;
};

}  // namespace pbfs::sim
