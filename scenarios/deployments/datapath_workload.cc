// Workload generation for the data path.
#include "scenarios/deployments/datapath_workload.h"

#include <algorithm>
#include <boost/random/exponential_distribution.hpp>
#include <boost/random/uniform_01.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <cmath>

namespace pbfs {

WorkloadSpec read_workload(FieldReader& r, uint32_t node_count) {
  WorkloadSpec w;
  w.clients = static_cast<uint32_t>(r.integer("clients", 0, 0, node_count));
  w.open_loop = r.choice("mode", "closed", {"closed", "open"}) == "open";
  w.concurrency = static_cast<uint32_t>(r.integer("concurrency", 1, 1, 4096));
  w.think_ns = r.duration("think", 0);
  w.rate_per_s = r.number("rate", 10, 1e-6, 1e9);
  w.operations = static_cast<uint64_t>(r.integer("operations", 0, 0, INT64_MAX));
  w.read_fraction = r.number("read_fraction", 0.5, 0, 1);
  w.files = static_cast<uint32_t>(r.integer("files", 16, 1, 1 << 30));
  w.file_bytes = r.bytes("file_bytes", 64ull << 20);
  w.align_bytes = r.bytes("align", 4096);
  FieldReader size = r.child("size");
  w.size_distribution = size.choice("distribution", "fixed", {"fixed", "uniform", "exponential"});
  w.size_min = size.bytes("min", 4096);
  w.size_max = size.bytes("max", w.size_min);
  w.size_mean = size.bytes("mean", (w.size_min + w.size_max) / 2);
  if (w.size_min == 0) size.fail("min", "sizes must be at least 1 byte");
  if (w.size_max < w.size_min) size.fail("max", "max is below min");
  w.offsets = r.choice("offsets", "uniform", {"uniform", "hotspot", "sequential"});
  FieldReader hot = r.child("hotspot");
  w.hotspot_fraction = hot.number("fraction", 0.1, 1e-9, 1);
  w.hotspot_probability = hot.number("probability", 0.9, 0, 1);
  w.workstations = r.choice("pattern", "shared", {"shared", "workstations"}) == "workstations";
  w.foreign_fraction = r.number("foreign_fraction", 0.05, 0, 1);
  if (w.align_bytes == 0) r.fail("align", "must be at least 1 byte");
  if (w.size_max > w.file_bytes) r.fail("file_bytes", "smaller than the largest operation");
  static_cast<void>(size.finish());  // unknown keys in the sub-maps are errors (shared first error)
  static_cast<void>(hot.finish());
  return w;
}

WorkloadGenerator::WorkloadGenerator(const WorkloadSpec& spec, uint32_t client_index, uint32_t client_count, Rng rng)
    : spec_(spec), client_index_(client_index), client_count_(client_count), rng_(rng),
      sequential_cursor_(spec.files, 0) {}

uint64_t WorkloadGenerator::draw_size() {
  if (spec_.size_distribution == "fixed") return spec_.size_min;
  if (spec_.size_distribution == "uniform") {
    return boost::random::uniform_int_distribution<uint64_t>(spec_.size_min, spec_.size_max)(rng_);
  }
  const double x = boost::random::exponential_distribution<double>(1.0 / static_cast<double>(spec_.size_mean))(rng_);
  return std::clamp<uint64_t>(static_cast<uint64_t>(x), spec_.size_min, spec_.size_max);
}

NextOperation WorkloadGenerator::next() {
  boost::random::uniform_01<double> uniform;
  NextOperation op;
  op.read = uniform(rng_) < spec_.read_fraction;
  // Files: shared namespace, or each client's own block of `files` with an occasional foreign one.
  uint32_t owner = client_index_;
  if (spec_.workstations && client_count_ > 1 && uniform(rng_) < spec_.foreign_fraction) {
    owner = (client_index_ + 1 + boost::random::uniform_int_distribution<uint32_t>(0, client_count_ - 2)(rng_)) %
            client_count_;
  }
  const uint32_t file_index = boost::random::uniform_int_distribution<uint32_t>(0, spec_.files - 1)(rng_);
  op.file = spec_.workstations ? static_cast<FileId>(owner) * spec_.files + file_index + 1 : file_index + 1;
  const uint64_t size = draw_size();
  const uint64_t slots = std::max<uint64_t>(1, (spec_.file_bytes - size) / spec_.align_bytes + 1);
  uint64_t slot = 0;
  if (spec_.offsets == "sequential") {
    uint64_t& cursor = sequential_cursor_[file_index];
    if (cursor + size > spec_.file_bytes) cursor = 0;
    op.extent = Extent{cursor, size};
    cursor += (size + spec_.align_bytes - 1) / spec_.align_bytes * spec_.align_bytes;
    return op;
  }
  if (spec_.offsets == "hotspot" && uniform(rng_) < spec_.hotspot_probability) {
    const uint64_t hot = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(static_cast<double>(slots) * spec_.hotspot_fraction)));
    slot = boost::random::uniform_int_distribution<uint64_t>(0, hot - 1)(rng_);
  } else {
    slot = boost::random::uniform_int_distribution<uint64_t>(0, slots - 1)(rng_);
  }
  op.extent = Extent{slot * spec_.align_bytes, size};
  return op;
}

TimeNs WorkloadGenerator::next_arrival_gap_ns() {
  const double gap_s = boost::random::exponential_distribution<double>(spec_.rate_per_s)(rng_);
  return std::max<TimeNs>(1, static_cast<TimeNs>(gap_s * 1e9));
}

}  // namespace pbfs
