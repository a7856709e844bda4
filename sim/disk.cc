// Disk model implementation.
#include "sim/disk.h"

#include <algorithm>
#include <boost/random/uniform_01.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <cmath>
#include <tuple>

namespace pbfs::sim {
namespace {

Status disk_failed() { return Status(StatusCode::kIoError, "disk failed"); }

}  // namespace

Disk::Disk(Kernel& kernel, const DiskProfile& profile, uint64_t stream_id)
    : kernel_(kernel),
      service_{profile.read_latency_ns,          profile.write_latency_ns,          profile.sync_latency_ns,
               profile.read_bandwidth_bytes_per_s, profile.write_bandwidth_bytes_per_s, profile.capacity_bytes},
      torn_write_probability_(profile.torn_write_probability),
      stream_id_(stream_id) {
  static_assert(sizeof(Service) + 2 * sizeof(uint64_t) == 64, "the service numbers and two counters fill a line");
  static_assert(sizeof(Chain) == 128, "a chain in flight fills two cache lines");
}

Rng& Disk::rng() {
  if (!rng_) rng_ = std::make_unique<Rng>(derive_stream(kernel_.seed(), kStreamDisk, stream_id_));
  return *rng_;
}

TimeNs Disk::reserve(TimeNs submit_ns, TimeNs service_ns) {
  const TimeNs service = static_cast<TimeNs>(std::llround(static_cast<double>(service_ns) * slow_factor_));
  const TimeNs start = std::max({submit_ns, busy_until_ns_, kernel_.now_ns()});
  busy_until_ns_ = start + service;
  busy_ns_ += service;
  return busy_until_ns_;
}

void Disk::finish_at(TimeNs time_ns, DiskCompletion completion, Callback done) {
  const uint64_t epoch = epoch_;
  kernel_.at(time_ns, [this, epoch, completion = std::move(completion), done = std::move(done)]() mutable {
    if (epoch != epoch_) return;  // the node crashed or the disk failed meanwhile
    done(completion);
  });
}

void Disk::apply(File& file, uint64_t offset, const Payload& data, uint64_t length) {
  const uint64_t end = offset + length;
  if (data.is_real()) {
    if (!file.real) file.data.resize(file.size);  // synthetic bytes so far: zeros
    file.real = true;
    file.data.write(offset, data.bytes->data(), length);
  } else {
    std::erase_if(file.rotten_offsets, [&](uint64_t o) { return o >= offset && o < end; });
    if (file.real && file.data.size() < end) file.data.resize(end);
  }
  file.size = std::max(file.size, end);
}

void Disk::make_durable(Entry& entry, const PendingWrite& write, uint64_t length) {
  const uint64_t before = entry.durable.size;
  apply(entry.durable, write.offset, write.data, length);
  entry.exists = true;
  durable_bytes_ += entry.durable.size - before;
}

std::pair<Disk::Entry*, const std::string*> Disk::entry_of(const std::string& file, bool create) {
  for (const Recent& r : recent_) {
    if (r.entry != nullptr && *r.name == file) return {r.entry, r.name};
  }
  auto it = create ? files_.try_emplace(file).first : files_.find(file);
  if (it == files_.end()) return {nullptr, nullptr};
  std::copy_backward(recent_.begin(), recent_.end() - 1, recent_.end());
  recent_[0] = Recent{&it->first, &it->second};
  return {&it->second, &it->first};
}

void Disk::forget_if_empty(Entry& e, const std::string& file) {
  if (!e.exists && e.pending.empty() && e.dirty_bytes == 0 && e.in_flight == 0) {
    recent_ = {};
    files_.erase(file);
  }
}

DiskOpId Disk::write(TimeNs submit_ns, const std::string& file, uint64_t offset, Payload data, uint64_t tag,
                     Callback done) {
  std::vector<DiskStep> steps;
  steps.push_back(DiskStep::write(file, offset, std::move(data)));
  return chain(submit_ns, std::move(steps), tag, std::move(done));
}

DiskOpId Disk::sync(TimeNs submit_ns, const std::string& file, uint64_t tag, Callback done) {
  std::vector<DiskStep> steps;
  steps.push_back(DiskStep::sync(file));
  return chain(submit_ns, std::move(steps), tag, std::move(done));
}

DiskOpId Disk::chain(TimeNs submit_ns, std::vector<DiskStep> steps, uint64_t tag, Callback done) {
  const DiskOpId id = next_op_++;
  auto owned = std::make_unique<Chain>(static_cast<uint32_t>(id), DiskOpKind::kSync, StatusCode::kOk,
                                      std::vector<Step>(), tag, 0, 0, std::string(), std::move(done));
  Chain& c = *owned;  // built where it stays, not moved there at the end
  c.steps.reserve(steps.size());
  TimeNs end = std::max(submit_ns, kernel_.now_ns());
  std::string* last_file = nullptr;
  for (DiskStep& step : steps) {
    StatusCode refused = StatusCode::kOk;
    Entry* e = nullptr;
    const std::string* name = nullptr;
    if (step.kind == DiskOpKind::kWrite) {
      end = reserve(submit_ns, service_.write_latency_ns);
      if (failed_) {
        refused = StatusCode::kIoError;
      } else if (full_ || used_bytes() + step.data.size > service_.capacity_bytes) {
        refused = StatusCode::kNoSpace;
      } else {
        // The write reaches the cache when it completes (reads issued later see it). The entry stays
        // (in_flight) until then, so landing needs no lookup.
        queued_bytes_ += step.data.size;
        std::tie(e, name) = entry_of(step.file, true);
        e->dirty_bytes += step.data.size;
        ++e->in_flight;
      }
    } else {
      // Writes queued before this sync complete before it (FIFO), so it flushes them all.
      uint64_t dirty = 0;
      std::tie(e, name) = entry_of(step.file, false);
      if (e != nullptr) {
        dirty = e->dirty_bytes;
        e->dirty_bytes = 0;
        ++e->in_flight;
      }
      end = reserve(submit_ns, service_.sync_latency_ns +
                                   static_cast<TimeNs>(static_cast<double>(dirty) * 1e9 / service_.write_bandwidth_bytes_per_s));
      if (failed_) refused = StatusCode::kIoError;
    }
    c.kind = step.kind;
    c.offset = step.offset;
    last_file = &step.file;
    if (refused != StatusCode::kOk) {
      c.refused = refused;
      break;
    }
    c.steps.push_back(Step{step.kind, e, name, step.offset, std::move(step.data), end});
  }
  if (last_file != nullptr) c.file = std::move(*last_file);
  chains_.push_back(std::move(owned));
  kernel_.at(end, &Disk::chain_event, this, id);
  return id;
}

void Disk::chain_event(void* disk, uint64_t id) {
  auto* self = static_cast<Disk*>(disk);
  // Abandoned by a crash or failure: a different id at the front (ids in flight differ in their low bits).
  if (self->chains_.empty() || self->chains_.front().id != static_cast<uint32_t>(id)) return;
  const std::unique_ptr<Chain> owned = self->chains_.pop_front();
  Chain& c = *owned;
  for (Step& step : c.steps) self->apply_step(step);
  DiskCompletion done{id, c.kind, c.tag, Status(), std::move(c.file), c.offset, Payload{}};
  if (c.refused == StatusCode::kIoError) done.status = disk_failed();
  if (c.refused == StatusCode::kNoSpace) done.status = Status(StatusCode::kNoSpace, "disk full writing " + done.file);
  if (c.kind == DiskOpKind::kRead) {
    // The content is taken at completion time, so writes that complete before it are seen.
    if (self->failed_) {
      done.status = disk_failed();
    } else {
      done.data = self->read_now(done.file, done.offset, c.read_length, done.status);
    }
  }
  c.done(done);
}

void Disk::apply_step(Step& step) {
  Entry* e = step.entry;
  if (e == nullptr) return;
  step.entry = nullptr;  // landed: applying it again does nothing
  --e->in_flight;
  if (step.kind == DiskOpKind::kWrite) {
    e->pending.push_back(PendingWrite{next_write_order_++, step.offset, std::move(step.data)});
    return;
  }
  // Everything of this file that reached the cache by now becomes durable.
  for (const PendingWrite& w : e->pending) {
    make_durable(*e, w, w.data.size);
    queued_bytes_ -= w.data.size;
  }
  // Released rather than cleared: the next write's buffer then comes from lines the allocator just
  // freed, still cached, instead of this file's own, cold since its last sync.
  e->pending = std::vector<PendingWrite>();
  forget_if_empty(*e, *step.name);
}

void Disk::settle() {
  const TimeNs now = kernel_.now_ns();
  // Steps finish in order: after the first that has not, none has.
  chains_.for_each_while([&](Chain& c) {
    for (Step& step : c.steps) {
      if (step.end_ns > now) return false;
      apply_step(step);
    }
    return true;
  });
}

Payload Disk::read_now(const std::string& file, uint64_t offset, uint64_t length, Status& status) {
  const Entry* entry = entry_of(file, false).first;
  const File* durable = entry != nullptr && entry->exists ? &entry->durable : nullptr;
  bool exists = durable != nullptr;
  bool real = durable != nullptr && durable->real;
  uint64_t size = durable ? durable->size : 0;
  if (entry != nullptr) {
    for (const PendingWrite& w : entry->pending) {
      exists = true;
      real = real || w.data.is_real();
      size = std::max(size, w.offset + w.data.size);
    }
  }
  if (!exists) {
    status = Status(StatusCode::kNotFound, "no file " + file);
    return Payload{};
  }
  const uint64_t end = std::min(size, offset + length);
  const uint64_t n = end > offset ? end - offset : 0;
  if (!real) {
    Payload p = Payload::synthetic(n);
    uint32_t flips = 0;
    if (durable) {
      for (uint64_t o : durable->rotten_offsets) flips += (o >= offset && o < end) ? 1 : 0;
    }
    p.rot_flips = flips;
    return p;
  }
  Bytes out(n, 0);
  if (durable && durable->real) {
    const uint64_t have = offset < durable->data.size() ? std::min<uint64_t>(n, durable->data.size() - offset) : 0;
    durable->data.read(offset, out.data(), have);
  }
  for (const PendingWrite& w : entry->pending) {  // the cache overlays durable data, newest last
    if (!w.data.is_real()) continue;
    const uint64_t lo = std::max(offset, w.offset);
    const uint64_t hi = std::min(end, w.offset + w.data.size);
    for (uint64_t o = lo; o < hi; ++o) out[o - offset] = (*w.data.bytes)[o - w.offset];
  }
  return Payload::real(std::move(out));
}

DiskOpId Disk::read(TimeNs submit_ns, const std::string& file, uint64_t offset, uint64_t length, uint64_t tag,
                    Callback done) {
  const DiskOpId id = next_op_++;
  const TimeNs service = service_.read_latency_ns +
                         static_cast<TimeNs>(static_cast<double>(length) * 1e9 / service_.read_bandwidth_bytes_per_s);
  const TimeNs end = reserve(submit_ns, service);
  chains_.push_back(std::make_unique<Chain>(static_cast<uint32_t>(id), DiskOpKind::kRead, StatusCode::kOk,
                                            std::vector<Step>(), tag, offset, length, file, std::move(done)));
  kernel_.at(end, &Disk::chain_event, this, id);
  return id;
}

DiskOpId Disk::remove(TimeNs submit_ns, const std::string& file, uint64_t tag, Callback done) {
  const DiskOpId id = next_op_++;
  const TimeNs end = reserve(submit_ns, service_.write_latency_ns);
  DiskCompletion c{id, DiskOpKind::kRemove, tag, Status(), file, 0, Payload{}};
  if (failed_) {
    c.status = disk_failed();
  } else {
    // Removal is a metadata operation: durable once done (like unlink followed by a directory fsync).
    bool existed = false;
    if (auto it = files_.find(file); it != files_.end()) {
      Entry& e = it->second;
      existed = e.exists || !e.pending.empty();
      if (e.exists) durable_bytes_ -= e.durable.size;
      for (const PendingWrite& w : e.pending) queued_bytes_ -= w.data.size;
      e.exists = false;
      e.durable = File{};
      e.pending.clear();
      forget_if_empty(e, file);
    }
    if (!existed) c.status = Status(StatusCode::kNotFound, "no file " + file);
  }
  finish_at(end, std::move(c), std::move(done));
  return id;
}

void Disk::crash() {
  settle();
  chains_.clear();
  ++epoch_;
  busy_until_ns_ = kernel_.now_ns();
  // Torn writes are drawn in completion order over the whole disk, independent of the table's layout.
  std::vector<std::pair<const PendingWrite*, Entry*>> cached;
  for (auto& [name, e] : files_) {
    for (const PendingWrite& w : e.pending) cached.emplace_back(&w, &e);
  }
  std::sort(cached.begin(), cached.end(), [](const auto& a, const auto& b) { return a.first->order < b.first->order; });
  boost::random::uniform_01<double> uniform;
  for (const auto& [w, e] : cached) {
    if (torn_write_probability_ <= 0 || uniform(rng()) >= torn_write_probability_) continue;
    // A torn write: a prefix of whole 512-byte sectors reached the media.
    const uint64_t sectors = w->data.size / 512;
    if (sectors == 0) continue;
    const uint64_t kept = boost::random::uniform_int_distribution<uint64_t>(0, sectors - 1)(rng()) * 512;
    if (kept == 0) continue;
    make_durable(*e, *w, kept);
  }
  recent_ = {};
  for (auto it = files_.begin(); it != files_.end();) {
    it->second.pending.clear();
    it->second.dirty_bytes = 0;
    it->second.in_flight = 0;  // their completions are abandoned (epoch)
    it = it->second.exists ? std::next(it) : files_.erase(it);
  }
  queued_bytes_ = 0;
}

void Disk::fail() {
  chains_.clear();
  ++epoch_;
  failed_ = true;
  recent_ = {};
  files_.clear();
  durable_bytes_ = 0;
  queued_bytes_ = 0;
}

void Disk::replace() {
  failed_ = false;
  full_ = false;
  slow_factor_ = 1.0;
}

std::vector<Disk::File*> Disk::durable_in_name_order() {
  std::vector<std::pair<const std::string*, File*>> named;
  for (auto& [name, e] : files_) {
    if (e.exists) named.emplace_back(&name, &e.durable);
  }
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::vector<File*> out;
  out.reserve(named.size());
  for (const auto& [name, f] : named) out.push_back(f);
  return out;
}

uint32_t Disk::rot_bits(uint32_t count) {
  settle();
  const std::vector<File*> durable = durable_in_name_order();
  uint64_t total = 0;
  for (const File* file : durable) total += file->size;
  if (total == 0) return 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t target = boost::random::uniform_int_distribution<uint64_t>(0, total - 1)(rng());
    for (File* file : durable) {
      if (target >= file->size) {
        target -= file->size;
        continue;
      }
      const int bit = boost::random::uniform_int_distribution<int>(0, 7)(rng());
      if (file->real) {
        file->data[target] ^= static_cast<uint8_t>(1u << bit);
      } else {
        file->rotten_offsets.push_back(target);
      }
      break;
    }
  }
  return count;
}

const Disk::File* Disk::durable_file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() || !it->second.exists ? nullptr : &it->second.durable;
}

}  // namespace pbfs::sim
