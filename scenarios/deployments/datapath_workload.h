// Workloads for the data path: which operation a client issues next (read or write, file, offset,
// size), drawn from the workload's own random stream so a seed fixes the whole sequence. Closed loop
// (a fixed number of operations in flight per client, optional think time) or open loop (Poisson
// arrivals at a rate); shared files or "workstations" (each client mostly on its own files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coding/ids.h"
#include "coding/status.h"
#include "protocols/runtime/runtime.h"
#include "scenarios/fields.h"

namespace pbfs {

struct WorkloadSpec {
  uint32_t clients = 0;          // the first `clients` nodes issue operations (0: every node)
  bool open_loop = false;
  uint32_t concurrency = 1;      // closed loop: operations in flight per client
  TimeNs think_ns = 0;           // closed loop: pause after each completion
  double rate_per_s = 10;        // open loop: arrivals per second per client
  uint64_t operations = 0;       // in all; 0: until the run ends
  double read_fraction = 0.5;
  uint32_t files = 16;
  uint64_t file_bytes = 64ull << 20;
  std::string size_distribution = "fixed";  // fixed | uniform | exponential
  uint64_t size_min = 4096, size_max = 4096, size_mean = 4096;
  std::string offsets = "uniform";          // uniform | hotspot | sequential
  double hotspot_fraction = 0.1;            // the hot part of each file...
  double hotspot_probability = 0.9;         // ...gets this share of operations
  uint64_t align_bytes = 4096;
  bool workstations = false;                // each client mostly touches its own files
  double foreign_fraction = 0.05;           // workstations: share of operations on another's files
};

// Reads the workload section; errors go to the reader (file:line:field).
WorkloadSpec read_workload(FieldReader& reader, uint32_t node_count);

struct NextOperation {
  bool read = false;
  FileId file = 0;
  Extent extent;
};

// Per-client operation generator.
class WorkloadGenerator {
 public:
  WorkloadGenerator(const WorkloadSpec& spec, uint32_t client_index, uint32_t client_count, Rng rng);
  NextOperation next();
  TimeNs next_arrival_gap_ns();  // open loop
  Rng& rng() { return rng_; }

 private:
  uint64_t draw_size();
  const WorkloadSpec& spec_;
  uint32_t client_index_;
  uint32_t client_count_;
  Rng rng_;
  std::vector<uint64_t> sequential_cursor_;  // by file
};

}  // namespace pbfs
