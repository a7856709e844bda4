// A simulated node: its clock, CPU cores, disk, timers and the roles it hosts, each with its own Runtime
// implementation that turns the role's requests into kernel events. Internal to sim/.
#pragma once

#include <boost/container/small_vector.hpp>
#include <memory>
#include <vector>

#include "protocols/runtime/runtime.h"
#include "sim/clock.h"
#include "sim/disk.h"
#include "sim/world.h"

namespace pbfs::sim {

class SimRuntime;

// Cache-line aligned and laid out by what a handler touches: the first line holds the up flag, the
// clock, the CPU account and the links to the world and the disk; the second the cores' free times
// (charged on every handler); the third and fourth the role slots. At 10^3-10^4 nodes each delivery
// starts with a cache miss on its node, and should take as few lines as possible. A data-path node
// hosts three or four roles, so four slots are inline, and their factories (read only at boot) are kept
// apart to keep a slot at 24 bytes.
class alignas(64) SimNode {
 public:
  struct Slot {
    PortId port;
    std::unique_ptr<SimRuntime> runtime;
    std::unique_ptr<Role> role;
  };
  // A timer in a reusable slot. Its id is (sequence << 32 | slot) with a sequence that never repeats on
  // this node, so a cancelled or crashed timer's event finds a different id in the slot and is ignored.
  struct Timer {
    TimerId id = 0;  // 0: free
    uint64_t tag = 0;
    PortId port = 0;
  };

  SimNode(World& world, NodeId id, const NodeProfile& profile, const DiskProfile& disk, NodeClock clock);
  ~SimNode();

  Slot* find(PortId port);
  void add(PortId port, RoleFactory factory);
  void boot_roles();   // creates every role and calls start()
  void make_role(size_t slot);  // a fresh runtime and role in `slot` (not started)
  void crash();
  // Runs `body(role)` with the role's runtime positioned at the current time (charges start there).
  template <typename Body>
  void dispatch(Slot& slot, Body&& body);

  static void timer_event(void* node, uint64_t timer_id);

  // Line 0.
  NodeId id;
  bool up = true;
  TimeNs cpu_busy_ns = 0;
  NodeClock clock;
  uint64_t incarnation = 0;
  World& world;
  std::unique_ptr<Disk> disk;
  // Line 1.
  boost::container::small_vector<TimeNs, 4> core_free_ns;  // inline for up to four cores
  uint64_t next_timer_sequence = 1;
  // Lines 2 and 3.
  alignas(64) boost::container::small_vector<Slot, 4> slots;
  std::vector<RoleFactory> factories;  // by slot
  std::vector<Timer> timers;
  std::vector<uint32_t> free_timers;
  TimerId add_timer(PortId port, uint64_t tag);
  // The live timer with this id, or nullptr.
  Timer* timer(TimerId id) {
    const uint64_t at = id & 0xffffffffu;
    return id != 0 && at < timers.size() && timers[at].id == id ? &timers[at] : nullptr;
  }
  void free_timer(Timer& t) {
    free_timers.push_back(static_cast<uint32_t>(&t - timers.data()));
    t.id = 0;
  }
};

class SimRuntime final : public Runtime {
 public:
  SimRuntime(World& world, SimNode& node, PortId port) : world_(world), node_(node), port_(port) {}

  void begin_handler(TimeNs now_ns) { effect_ns_ = now_ns; }

  NodeId node_id() const override { return node_.id; }
  TimeNs local_now_ns() const override { return node_.clock.local_ns(effect_ns_); }
  TimeNs trace_now_ns() const override { return effect_ns_; }
  void send(NodeId to, PortId port, std::shared_ptr<const Message> message) override;
  TimerId set_timer(TimeNs delay_ns, uint64_t tag) override;
  void cancel_timer(TimerId id) override;
  DiskOpId disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) override;
  DiskOpId disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) override;
  DiskOpId disk_sync(const std::string& file, uint64_t tag) override;
  DiskOpId disk_chain(std::vector<DiskStep> steps, uint64_t tag) override;
  DiskOpId disk_remove(const std::string& file, uint64_t tag) override;
  Rng& random() override;
  void charge_cpu(TimeNs cost_ns) override;
  TraceTableId trace_table(const TableSchema& schema) override { return world_.trace_table(schema); }
  void trace(TraceTableId table, const void* row) override { world_.trace(table, row); }
  void count(const char* counter) override { world_.count(counter); }

 private:
  Disk::Callback completion();

  World& world_;
  SimNode& node_;
  PortId port_;
  TimeNs effect_ns_ = 0;  // when this handler's effects take place (now plus CPU charged so far)
  std::unique_ptr<Rng> rng_;
};

template <typename Body>
void SimNode::dispatch(Slot& slot, Body&& body) {
  slot.runtime->begin_handler(world.now_ns());
  body(*slot.role);
}

}  // namespace pbfs::sim
