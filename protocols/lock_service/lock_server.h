// The central lock-service model Flease is compared against: one lock server, or a primary and a
// backup, granting the same leases. The primary answers a request only after the backup has the change
// (synchronous replication), so current holders can keep renewing through a takeover; a server that
// takes over, or restarts, grants no new tenure for t_max + ε, so leases it never heard of expire first.
// Like any primary-backup pair without a third party, a partition between the two servers makes two
// primaries: the model shows that failure mode rather than hiding it.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "protocols/lock_service/lock_messages.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::lock_service {

struct LockServerConfig {
  std::vector<NodeId> servers;  // one or two; servers[0] starts as the primary
  TimeNs lease_ns = 14 * kSecond;
  TimeNs epsilon_ns = kSecond;  // added to the server's view of every lease: rate drift and delays
  TimeNs heartbeat_ns = 500 * kMillisecond;
  TimeNs takeover_ns = 2 * kSecond;  // backup silence after which it takes over
  bool silent_at_start = true;       // off only for the very first boot of the cluster
  TimeNs cpu_per_message_ns = 0;     // modelled handling cost of every message received
};

class LockServer final : public Role {
 public:
  enum class Mode : uint8_t { kSilent, kBackup, kPrimary };

  LockServer(Runtime& runtime, LockServerConfig config);
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;

  Mode mode() const { return mode_; }
  size_t grants() const { return grants_.size(); }

 private:
  struct Grant {
    NodeId holder = kNoNode;
    uint64_t epoch = 0;
    TimeNs expiry_local_ns = 0;
  };
  struct PendingReply {
    NodeId to;
    PortId port;
    std::shared_ptr<LockReply> reply;
  };

  void handle_request(const Envelope& from, const LockRequest& m);
  void grant(const Envelope& from, const LockRequest& m, std::shared_ptr<LockReply> reply, TimeNs now);
  void handle_replicate(const Envelope& from, const Replicate& m);
  void handle_heartbeat(const Envelope& from, const Heartbeat& m);
  void commit_change(ResourceId resource, const Envelope& to, std::shared_ptr<LockReply> reply);
  void tick();
  bool has_peer() const { return peer_ != kNoNode; }
  bool backup_alive(TimeNs now) const { return has_peer() && now - peer_heard_local_ns_ < config_.takeover_ns; }
  void flush_pending();

  Runtime& runtime_;
  LockServerConfig config_;
  NodeId self_;
  NodeId peer_ = kNoNode;
  Mode mode_ = Mode::kSilent;
  TimeNs fresh_after_local_ns_ = 0;  // no new tenure before this (takeover or restart)
  TimeNs peer_heard_local_ns_ = 0;
  bool peer_is_primary_ = false;
  std::map<ResourceId, Grant> grants_;
  std::map<ResourceId, uint64_t> epochs_;  // highest epoch issued or replicated, per resource
  uint64_t next_sequence_ = 1;
  std::map<uint64_t, PendingReply> pending_;  // waiting for the backup's ack
  TimerId tick_timer_ = 0;
};

}  // namespace pbfs::lock_service
