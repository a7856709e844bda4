// Simulated nodes and the Runtime each hosted role sees.
#include "sim/node.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "sim/network.h"

namespace pbfs::sim {

SimNode::SimNode(World& w, NodeId node_id, const NodeProfile& profile, const DiskProfile& disk_profile,
                 NodeClock initial_clock)
    : id(node_id), clock(initial_clock), world(w), disk(std::make_unique<Disk>(w.kernel(), disk_profile, node_id)),
      core_free_ns(profile.cores, 0) {}

SimNode::~SimNode() = default;

SimNode::Slot* SimNode::find(PortId port) {
  for (Slot& s : slots) {
    if (s.port == port) return &s;
  }
  return nullptr;
}

void SimNode::add(PortId port, RoleFactory factory) {
  if (find(port) != nullptr) {
    std::fprintf(stderr, "pbfs: node %u already has a role on port %u\n", id, port);
    std::abort();
  }
  slots.push_back(Slot{port, nullptr, nullptr});
  factories.push_back(std::move(factory));
  if (!up) return;
  make_role(slots.size() - 1);
  dispatch(slots.back(), [](Role& role) { role.start(); });
}

void SimNode::make_role(size_t i) {
  Slot& slot = slots[i];
  slot.runtime = std::make_unique<SimRuntime>(world, *this, slot.port);
  slot.runtime->begin_handler(world.now_ns());
  slot.role = factories[i](*slot.runtime);
}

void SimNode::boot_roles() {
  for (size_t i = 0; i < slots.size(); ++i) make_role(i);
  for (Slot& slot : slots) dispatch(slot, [](Role& role) { role.start(); });
}

void SimNode::crash() {
  up = false;
  ++incarnation;
  timers.clear();
  free_timers.clear();
  for (Slot& slot : slots) {
    slot.role.reset();
    slot.runtime.reset();
  }
  std::fill(core_free_ns.begin(), core_free_ns.end(), world.now_ns());
  disk->crash();
}

TimerId SimNode::add_timer(PortId port, uint64_t tag) {
  uint32_t at;
  if (!free_timers.empty()) {
    at = free_timers.back();
    free_timers.pop_back();
  } else {
    at = static_cast<uint32_t>(timers.size());
    timers.emplace_back();
  }
  const TimerId id = next_timer_sequence++ << 32 | at;
  timers[at] = Timer{id, tag, port};
  return id;
}

void SimNode::timer_event(void* target, uint64_t timer_id) {
  auto* node = static_cast<SimNode*>(target);
  Timer* live = node->timer(timer_id);
  if (live == nullptr) return;  // cancelled, or lost in a crash
  const Timer timer = *live;
  node->free_timer(*live);
  Slot* slot = node->find(timer.port);
  if (slot == nullptr || !slot->role) return;
  node->dispatch(*slot, [&](Role& role) { role.on_timer(timer_id, timer.tag); });
}

void SimRuntime::send(NodeId to, PortId port, std::shared_ptr<const Message> message) {
  world_.network().send(node_.id, port_, to, port, std::move(message), effect_ns_);
}

TimerId SimRuntime::set_timer(TimeNs delay_ns, uint64_t tag) {
  const TimerId id = node_.add_timer(port_, tag);
  const TimeNs fire_ns = effect_ns_ + node_.clock.true_duration_ns(delay_ns < 0 ? 0 : delay_ns);
  world_.kernel().at(fire_ns, &SimNode::timer_event, &node_, id);
  return id;
}

void SimRuntime::cancel_timer(TimerId id) {
  if (SimNode::Timer* t = node_.timer(id)) node_.free_timer(*t);
}

Disk::Callback SimRuntime::completion() {
  // Completions reach the role that asked, unless the node crashed in between. The capture is two words
  // (the incarnation's low 48 bits beside the port), so the callback needs no allocation of its own.
  SimNode* node = &node_;
  const uint64_t port_and_incarnation = static_cast<uint64_t>(port_) | node_.incarnation << 16;
  return [node, port_and_incarnation](const DiskCompletion& done) {
    if (!node->up || (node->incarnation << 16 | (port_and_incarnation & 0xffff)) != port_and_incarnation) return;
    SimNode::Slot* slot = node->find(static_cast<PortId>(port_and_incarnation & 0xffff));
    if (slot == nullptr || !slot->role) return;
    node->dispatch(*slot, [&](Role& role) { role.on_disk(done); });
  };
}

DiskOpId SimRuntime::disk_write(const std::string& file, uint64_t offset, Payload data, uint64_t tag) {
  return node_.disk->write(effect_ns_, file, offset, std::move(data), tag, completion());
}
DiskOpId SimRuntime::disk_read(const std::string& file, uint64_t offset, uint64_t length, uint64_t tag) {
  return node_.disk->read(effect_ns_, file, offset, length, tag, completion());
}
DiskOpId SimRuntime::disk_sync(const std::string& file, uint64_t tag) {
  return node_.disk->sync(effect_ns_, file, tag, completion());
}
DiskOpId SimRuntime::disk_chain(std::vector<DiskStep> steps, uint64_t tag) {
  return node_.disk->chain(effect_ns_, std::move(steps), tag, completion());
}
DiskOpId SimRuntime::disk_remove(const std::string& file, uint64_t tag) {
  return node_.disk->remove(effect_ns_, file, tag, completion());
}

Rng& SimRuntime::random() {
  if (!rng_) {
    const uint64_t id = (static_cast<uint64_t>(node_.id) << 16 | port_) ^ (node_.incarnation << 48);
    rng_ = std::make_unique<Rng>(derive_stream(world_.kernel().seed(), kStreamRole, id));
  }
  return *rng_;
}

void SimRuntime::charge_cpu(TimeNs cost_ns) {
  if (cost_ns <= 0) return;
  auto core = std::min_element(node_.core_free_ns.begin(), node_.core_free_ns.end());
  const TimeNs start = std::max(effect_ns_, *core);
  *core = start + cost_ns;
  effect_ns_ = start + cost_ns;
  node_.cpu_busy_ns += cost_ns;
}

}  // namespace pbfs::sim
