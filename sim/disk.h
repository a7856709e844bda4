// The disk model: one FIFO device per node with latency and bandwidth (SSD and HDD profiles), a volatile
// write cache made durable by sync, and faults: a crash loses unsynced writes (optionally tearing one),
// bit rot flips stored bits that reads then return, a full disk answers kNoSpace, a slow disk multiplies
// service times, a failed disk errors every operation and loses its content.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "coding/owned_fifo.h"
#include "protocols/runtime/runtime.h"
#include "scenarios/scenario.h"
#include "sim/block_bytes.h"
#include "sim/kernel.h"

namespace pbfs::sim {

class alignas(64) Disk {
 public:
  using Callback = std::function<void(const DiskCompletion&)>;

  // `stream_id` selects the disk's random stream (torn writes, bit rot), created on first use.
  Disk(Kernel& kernel, const DiskProfile& profile, uint64_t stream_id);

  // Queues an operation that starts no earlier than `submit_ns`; `done` runs at completion.
  DiskOpId write(TimeNs submit_ns, const std::string& file, uint64_t offset, Payload data, uint64_t tag, Callback done);
  DiskOpId read(TimeNs submit_ns, const std::string& file, uint64_t offset, uint64_t length, uint64_t tag,
                Callback done);
  DiskOpId sync(TimeNs submit_ns, const std::string& file, uint64_t tag, Callback done);
  // Writes and syncs one after the other with one completion (Runtime::disk_chain). Each step takes the
  // time it would alone; their effects land when the chain completes, or, for the steps finished by
  // then, when the node crashes or bits rot, so the content is as if each step had completed alone.
  DiskOpId chain(TimeNs submit_ns, std::vector<DiskStep> steps, uint64_t tag, Callback done);
  DiskOpId remove(TimeNs submit_ns, const std::string& file, uint64_t tag, Callback done);

  // Faults and crash.
  void crash();                        // unsynced writes lost (one may be torn); queued ops abandoned
  void set_full(bool full) { full_ = full; }
  void set_slow_factor(double factor) { slow_factor_ = factor; }
  void fail();                         // content lost, every operation errors until replace()
  void replace();                      // a new, empty, working disk
  // Flips `count` random bits of durable data; returns how many were flipped (0 if nothing stored).
  uint32_t rot_bits(uint32_t count);

  // Durable bytes plus bytes written since their file's last sync (an upper bound until then).
  uint64_t used_bytes() const { return durable_bytes_ + queued_bytes_; }
  TimeNs busy_ns() const { return busy_ns_; }
  bool failed() const { return failed_; }
  // Durable content of a file (test and checker access; synthetic files have no bytes).
  struct File {
    uint64_t size = 0;
    bool real = false;
    BlockBytes data;                      // real content (durable)
    std::vector<uint64_t> rotten_offsets;  // synthetic content: byte offsets whose bits rotted
    Bytes bytes() const { return data.bytes(); }
  };
  const File* durable_file(const std::string& name) const;

 private:
  struct PendingWrite {
    uint64_t order;  // completion order over the whole disk: a crash tears writes in this order
    uint64_t offset;
    Payload data;
  };
  // Everything the disk holds for one name. A fragment server keeps thousands of files, so the table is
  // hashed and each file carries its own cache, making reads and syncs independent of other files.
  // What a chain counts comes first, in the same line as the name it is found by (the map node's key).
  struct Entry {
    uint32_t in_flight = 0;             // writes and syncs queued: they hold a pointer to this entry
    bool exists = false;                // durable content exists (a sync or a torn write created it)
    uint64_t dirty_bytes = 0;           // bytes written (queued or cached) since the last sync
    std::vector<PendingWrite> pending;  // completed but unsynced writes, oldest first
    File durable;
  };
  // A chain's accepted step. A write holds its entry (in_flight) until applied; a sync of a file with
  // nothing written has none.
  struct Step {
    DiskOpKind kind;
    Entry* entry;
    const std::string* name;  // the entry's key
    uint64_t offset;
    Payload data;
    TimeNs end_ns;
  };
  // A chain or a read in flight. The disk runs operations in order, so they finish in the order they
  // were queued: the front is always the next to complete. A read has no steps; it takes its content
  // (`file` from `offset`, read_length bytes) when it completes. The completion handed to `done` is
  // built then, so a chain fills two cache lines. Each is allocated on its own and the chains of a disk
  // are linked through them: the allocator hands back the lines some disk's finished chain just freed,
  // still in the cache, where a queue of chains per disk would write into lines of its own, cold since
  // this disk's last chain (a thousand disks in a large run).
  struct Chain {
    uint32_t id;                          // the operation's id, low 32 bits (its event carries all of them)
    DiskOpKind kind;                      // of the last step taken (a read: kRead)
    StatusCode refused = StatusCode::kOk;  // the last step was refused: the chain stops there
    std::vector<Step> steps;              // a step whose effects have landed no longer names its entry
    uint64_t tag;
    uint64_t offset;                      // of the last step taken
    uint64_t read_length = 0;
    std::string file;                     // of the last step taken
    Callback done;
    std::unique_ptr<Chain> next;          // the disk's next operation (chains_)
  };
  static void chain_event(void* disk, uint64_t id);
  void apply_step(Step& step);
  // Lands the effects of every chained step finished by now (before a crash or bit rot looks).
  void settle();
  TimeNs reserve(TimeNs submit_ns, TimeNs service_ns);
  void finish_at(TimeNs time_ns, DiskCompletion completion, Callback done);
  Payload read_now(const std::string& file, uint64_t offset, uint64_t length, Status& status);
  static void apply(File& file, uint64_t offset, const Payload& data, uint64_t length);
  void make_durable(Entry& entry, const PendingWrite& write, uint64_t length);
  // The entry for `file` (created if `create`, else nullptr if absent) and its key. The last four found
  // are remembered: a fragment server's chains name its open log and its manifest again and again, and
  // its reads the few logs it holds.
  std::pair<Entry*, const std::string*> entry_of(const std::string& file, bool create);
  // Drops an entry that holds nothing and that no queued operation points to.
  void forget_if_empty(Entry& entry, const std::string& file);
  // Durable files in name order, so choices that walk them (bit rot) do not depend on hashing.
  std::vector<File*> durable_in_name_order();

  // Ordered by what an operation touches, a cache line each: the disk's counters and state; the
  // profile's service numbers; the remembered entries; the queue. What is read rarely comes last.
  Kernel& kernel_;
  uint64_t next_op_ = 1;
  TimeNs busy_until_ns_ = 0;
  TimeNs busy_ns_ = 0;
  double slow_factor_ = 1.0;
  uint64_t durable_bytes_ = 0;  // sum of durable file sizes
  uint64_t queued_bytes_ = 0;   // bytes of accepted writes not yet made durable or dropped
  bool full_ = false;
  bool failed_ = false;
  struct Service {  // the profile's service numbers
    TimeNs read_latency_ns, write_latency_ns, sync_latency_ns;
    double read_bandwidth_bytes_per_s, write_bandwidth_bytes_per_s;
    uint64_t capacity_bytes;
  };
  alignas(64) Service service_;
  uint64_t next_write_order_ = 0;
  uint64_t epoch_ = 0;  // bumped by crash/fail: completions of older operations are abandoned
  struct Recent {
    const std::string* name = nullptr;  // the entry's key
    Entry* entry = nullptr;
  };
  alignas(64) std::array<Recent, 4> recent_{};  // cleared whenever an entry is erased
  OwnedFifo<Chain> chains_;
  double torn_write_probability_;
  std::unordered_map<std::string, Entry> files_;
  Rng& rng();
  uint64_t stream_id_;
  std::unique_ptr<Rng> rng_;  // most disks never need one: 2.5 KB saved per node
};

}  // namespace pbfs::sim
