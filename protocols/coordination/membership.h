// Cluster membership and configuration on top of the coordination client, the way ZooKeeper users do
// it: each node registers an ephemeral "/members/<node id>" (its rack, site and weight), everyone
// watches "/members" and re-reads it at every change, so a node that crashes or is cut off disappears
// when its session expires (about one session timeout later) and a node that starts appears at once.
// "/config" holds the cluster configuration (opaque bytes) for everyone to read and watch.
//
// Embedding: a role (catalog replica, data-path client) owns a Membership, calls start() from its own
// start(), forwards messages for which owns_message() holds and timers for which owns_tag() holds, and
// reacts to the alive listener (e.g. rebuild its Placement with the new alive flags and move the data
// that must move). MembershipAgent is the same thing as a role of its own, for nodes with nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coding/placement.h"
#include "protocols/coordination/coordination_client.h"

namespace pbfs::coordination {

struct MemberInfo {
  uint32_t rack = 0;  // global rack index
  uint32_t site = 0;
  double weight = 1.0;
  friend bool operator==(const MemberInfo&, const MemberInfo&) = default;
};
Bytes encode_member_info(const MemberInfo& info);
std::optional<MemberInfo> decode_member_info(const Bytes& data);

struct MembershipConfig {
  CoordinationClientConfig client;
  uint32_t node_count = 0;         // size of the alive vector; member names outside it are ignored
  bool register_self = true;       // false: watch only (e.g. a node that stores nothing)
  MemberInfo self;                 // what this node registers
  std::string members_path = "/members";
  std::string config_path = "/config";
  bool watch_config = false;       // read "/config" and call the config listener at every change
  // Read each new member's entry into members(): one request per member joining, per observer (so
  // n^2 at the start of an n-node cluster). Off when the nodes' places are known from the config.
  bool read_member_info = false;
  TimeNs retry_ns = 500 * kMillisecond;  // a request that failed for want of an answer is retried after this
  bool trace = true;               // membership_changes rows
};

struct MembershipChange {
  std::vector<NodeId> joined;
  std::vector<NodeId> left;
};
// Called with the whole alive set (indexed by node id) whenever it changes, and once for the first view.
using AliveListener = std::function<void(const std::vector<bool>& alive, const MembershipChange& change)>;
// Called with the configuration whenever it is read anew (at start and after every change).
using ConfigListener = std::function<void(const Bytes& config)>;

// One row per member joining or leaving, as one observer saw it.
struct MembershipRow {
  uint32_t observer;
  uint32_t member;
  uint8_t joined;       // 1 joined, 0 left
  uint32_t alive_count;  // members alive after the change
  int64_t time_ns;       // trace clock
};
const TableSchema& membership_schema();

class Membership {
 public:
  Membership(Runtime& runtime, MembershipConfig config);

  // Host forwarding.
  void start();
  void on_message(const Envelope& from, const Message& message);
  void on_timer(TimerId id, uint64_t tag);
  static bool owns_message(MessageType type) { return is_coordination_message(type); }
  static bool owns_tag(uint64_t tag);

  void set_alive_listener(AliveListener listener) { alive_listener_ = std::move(listener); }
  void set_config_listener(ConfigListener listener) { config_listener_ = std::move(listener); }
  // Leaves the cluster now (a planned leave): closes the session, so the member entry goes at once.
  void leave(DoneCallback done = nullptr);
  // Writes "/config" (creating it if needed); `done` gets kOk or the failure.
  void write_config(Bytes config, DoneCallback done);

  const std::vector<bool>& alive() const { return alive_; }
  bool view_known() const { return view_known_; }  // the member list was read at least once
  bool registered() const { return registered_; }  // this node's entry exists under its session
  uint64_t view_changes() const { return view_changes_; }
  // Rack, site and weight of the alive members whose entry was read (with read_member_info).
  const std::map<NodeId, MemberInfo>& members() const { return members_; }
  CoordinationClient& client() { return client_; }
  std::string member_path(NodeId node) const;

 private:
  void on_session(SessionEvent event);
  void pump();
  void retry_later();
  void ensure_root();
  void register_self();
  void check_own_entry();
  void read_members();
  void update_view(const std::vector<std::string>& names);
  void read_member_info(NodeId node);
  void read_config();
  void write_config_attempt(std::shared_ptr<Bytes> config, DoneCallback done, uint32_t attempts_left);
  // Wraps a completion so it is dropped if the session it belongs to has ended since.
  template <typename F>
  auto current(F f);

  Runtime& runtime_;
  MembershipConfig config_;
  CoordinationClient client_;
  uint64_t session_generation_ = 0;
  bool leaving_ = false;
  // Work to do in the current session, and what is in flight.
  bool need_root_ = false, need_register_ = false, need_members_ = false, need_config_ = false;
  bool busy_root_ = false, busy_register_ = false, busy_members_ = false, busy_config_ = false;
  TimerId retry_timer_ = 0;
  bool registered_ = false;
  bool view_known_ = false;
  uint64_t view_changes_ = 0;
  std::vector<bool> alive_;
  std::map<NodeId, MemberInfo> members_;
  AliveListener alive_listener_;
  ConfigListener config_listener_;
  TraceTableId table_ = 0;
};

// A Membership as a role of its own (port kPortCoordinationClient by convention).
class MembershipAgent final : public Role {
 public:
  MembershipAgent(Runtime& runtime, MembershipConfig config) : membership_(runtime, std::move(config)) {}
  void start() override { membership_.start(); }
  void on_message(const Envelope& from, const Message& message) override { membership_.on_message(from, message); }
  void on_timer(TimerId id, uint64_t tag) override { membership_.on_timer(id, tag); }
  Membership& membership() { return membership_; }

 private:
  Membership membership_;
};

// The placement node list with alive flags from a membership view (nodes beyond the view stay dead).
std::vector<PlacementNode> with_alive(std::vector<PlacementNode> nodes, const std::vector<bool>& alive);

}  // namespace pbfs::coordination
