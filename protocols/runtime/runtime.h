// The one interface protocol code sees. A role (fragment server, catalog replica, lease acceptor, ...)
// reacts to inputs — a message, a timer, a finished disk operation — and asks its Runtime for effects.
// Two runtimes implement it: the simulator (sim/) and real sockets and files (net/). Nothing in
// protocols/ touches sockets, threads, wall clocks or global randomness.
#pragma once

#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coding/status.h"
#include "coding/wire.h"
#include "protocols/runtime/message.h"
#include "protocols/runtime/trace_schema.h"
#include "protocols/runtime/types.h"

namespace pbfs {

// Bytes a message or disk carries. `bytes` is null for synthetic payloads: then only `size` exists and
// content is a deterministic function of provenance, checked by the checkers instead of compared.
struct Payload {
  uint64_t size = 0;
  std::shared_ptr<const Bytes> bytes;
  // Synthetic payloads only: bits flipped by bit rot inside it (a real payload carries the flipped
  // bytes themselves), so a modelled checksum can notice.
  uint32_t rot_flips = 0;

  static Payload real(Bytes data) {
    const uint64_t n = data.size();
    return Payload{n, std::make_shared<const Bytes>(std::move(data))};
  }
  static Payload synthetic(uint64_t size) { return Payload{size, nullptr}; }
  bool is_real() const { return bytes != nullptr; }
};

enum class DiskOpKind : uint8_t { kWrite, kRead, kSync, kRemove };
using DiskOpId = uint64_t;

struct DiskCompletion {
  DiskOpId id = 0;
  DiskOpKind kind = DiskOpKind::kWrite;
  uint64_t tag = 0;        // the caller's tag, returned unchanged
  Status status;           // kNoSpace when full, kIoError when failed, kNotFound for a missing file
  std::string file;
  uint64_t offset = 0;
  Payload data;            // reads: what the disk returned (bit rot included)
};

// One step of a disk chain (Runtime::disk_chain): a write or a sync.
struct DiskStep {
  DiskOpKind kind = DiskOpKind::kWrite;  // kWrite or kSync
  std::string file;
  uint64_t offset = 0;
  Payload data;
  static DiskStep write(std::string file, uint64_t offset, Payload data) {
    return DiskStep{DiskOpKind::kWrite, std::move(file), offset, std::move(data)};
  }
  static DiskStep sync(std::string file) { return DiskStep{DiskOpKind::kSync, std::move(file), 0, Payload{}}; }
};

// Who sent a message: the node and the role's port (replies go there).
struct Envelope {
  NodeId from = kNoNode;
  PortId from_port = 0;
};

using Rng = boost::random::mt19937_64;
using TraceTableId = uint32_t;

class Runtime {
 public:
  virtual ~Runtime() = default;

  virtual NodeId node_id() const = 0;
  // This node's own clock: it may be offset, drift and step. All protocol timing uses it.
  virtual TimeNs local_now_ns() const = 0;
  // The reference clock for trace rows only (true time in the simulator); protocol logic never
  // branches on it.
  virtual TimeNs trace_now_ns() const = 0;

  // Sends to the role listening on `port` of node `to`. Delivery is not guaranteed.
  virtual void send(NodeId to, PortId port, std::shared_ptr<const Message> message) = 0;

  // Fires on_timer(id, tag) after `delay_ns` of this node's clock. Timers die with a crash.
  virtual TimerId set_timer(TimeNs delay_ns, uint64_t tag) = 0;
  virtual void cancel_timer(TimerId id) = 0;

  // Disk operations complete later through on_disk(). Writes land in the volatile write cache until a
  // sync of the same file completes; a crash loses unsynced data.
  virtual DiskOpId disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) = 0;
  virtual DiskOpId disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) = 0;
  virtual DiskOpId disk_sync(const std::string& file, uint64_t tag) = 0;
  virtual DiskOpId disk_remove(const std::string& file, uint64_t tag) = 0;
  // Writes and syncs run in order as one operation with one completion, like linked requests: each step
  // starts when the one before it has finished, the chain stops at the first failure, and on_disk gets
  // the last step's kind, file and offset (or the failed step's, with its status). A crash part-way
  // keeps what the finished steps did. Group commit uses it to sync and append several files for one
  // completion instead of one per step.
  virtual DiskOpId disk_chain(std::vector<DiskStep> steps, uint64_t tag) = 0;

  // A deterministic stream private to this role (seeded from the run seed, node and port).
  virtual Rng& random() = 0;
  // Charges CPU work: effects asked for after this call take place once the work is done.
  virtual void charge_cpu(TimeNs cost_ns) = 0;

  virtual TraceTableId trace_table(const TableSchema& schema) = 0;
  virtual void trace(TraceTableId table, const void* row) = 0;
  // Counts a rare path or a rejected input by name (a code probe); totals land in the trace.
  virtual void count(const char* counter) = 0;
};

class Role {
 public:
  virtual ~Role() = default;
  // Called once after the role is created, at boot and after every restart.
  virtual void start() {}
  virtual void on_message(const Envelope& from, const Message& message) = 0;
  virtual void on_timer(TimerId id, uint64_t tag) {}
  virtual void on_disk(const DiskCompletion& done) {}
};

}  // namespace pbfs
