// Flease (Kolbeck et al., IPDPS 2011; after FaTLease, Hupfeld et al., HPDC 2008): leases negotiated
// without a lock server. One FleaseNode per node is both an acceptor (volatile round-based register
// cells, one per resource) and a proposer for the leases this node wants, so thousands of independent
// leases share the same nodes. Rules, in the paper's order, are marked "Rule n" in flease_node.cc and
// each has its own test in flease_node_test.cc.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "protocols/flease/flease_messages.h"
#include "protocols/flease/lease.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::flease {

struct FleaseConfig {
  TimeNs lease_ns = 14 * kSecond;              // t_max: how long a granted lease lasts
  TimeNs epsilon_ns = kSecond;                  // ε: bound on the difference between any two clocks
  TimeNs message_timeout_ns = 500 * kMillisecond;
  uint32_t retries = 3;                         // failed rounds retried before an attempt fails
  TimeNs renew_before_ns = 4 * kSecond;         // the holder renews this long before expiry
  std::vector<NodeId> acceptors;                // the acceptor group of every resource...
  std::function<std::vector<NodeId>(ResourceId)> group_of;  // ...unless this names one per resource
  // Rule 7: a (re)started acceptor has forgotten what it promised, so it stays silent for
  // t_max + 2ε + message timeout. Deployments turn this off only for the very first boot of a cluster.
  bool silent_at_start = true;
  bool persist_epochs = true;                   // master epochs on disk (off only in unit tests)
  bool trace = true;                            // lease_attempts / lease_intervals rows
  TimeNs cpu_per_message_ns = 0;                // modelled handling cost of every message received
};

class FleaseNode final : public Role, public lease::LeaseService {
 public:
  FleaseNode(Runtime& runtime, FleaseConfig config);

  // Role. A role that embeds a FleaseNode forwards messages for which is_flease_message() holds and
  // timers and disk completions whose tag satisfies owns_tag().
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  void on_disk(const DiskCompletion& done) override;
  static bool owns_tag(uint64_t tag);

  // LeaseService
  void acquire(ResourceId resource) override;
  void release(ResourceId resource) override;
  void lookup(ResourceId resource) override;
  lease::LeaseView lease(ResourceId resource) const override;
  void add_listener(lease::LeaseListener* listener) override;
  void remove_listener(lease::LeaseListener* listener) override;

  const FleaseConfig& config() const { return config_; }
  // Local time until which the acceptor ignores every message (Rule 7).
  TimeNs silent_until_local_ns() const { return silent_until_local_ns_; }
  // The acceptor's register for a resource, for tests; null if it holds none.
  struct CellView {
    Ballot read, write;
    LeaseValue value;
    uint64_t durable_epoch;
  };
  std::optional<CellView> acceptor_cell(ResourceId resource) const;

 private:
  enum class Phase : uint8_t { kIdle, kPreparing, kAccepting, kWaiting };
  enum class Load : uint8_t { kUnknown, kLoading, kLoaded, kBroken };
  struct PendingAck {
    NodeId to;
    PortId port;
    Ballot ballot;
    uint64_t epoch;
  };
  // Acceptor state of one resource: volatile (lost in a crash) except the durable epoch floor.
  struct Cell {
    Ballot read, write;
    LeaseValue value;
    uint64_t durable_epoch = 0;
    uint64_t persisting_epoch = 0;
    Load load = Load::kUnknown;
    std::vector<std::pair<Envelope, std::variant<Prepare, Accept>>> queued;  // while loading
    std::vector<PendingAck> pending_acks;                                    // while persisting
  };
  // Proposer state of one resource this node wants, holds or asked about.
  struct Lease {
    ResourceId resource = 0;
    uint32_t index = 0;
    std::vector<NodeId> group;
    bool wanted = false;
    // The tenure this node believes in.
    bool held = false;
    uint64_t epoch = 0;
    TimeNs expiry_local_ns = 0;
    TimeNs since_local_ns = 0, since_true_ns = 0;
    uint32_t renewals = 0;
    // What the last round taught about someone else's lease.
    LeaseValue known;
    // The attempt in progress.
    bool attempt_open = false;
    lease::AttemptKind kind = lease::AttemptKind::kAcquire;
    TimeNs attempt_start_local_ns = 0, attempt_start_true_ns = 0;
    uint16_t rounds = 0;
    uint32_t messages = 0;
    uint32_t failures = 0;
    Phase phase = Phase::kIdle;
    Ballot ballot;
    Ballot highest_seen;
    uint64_t answered_mask = 0;
    uint32_t acks = 0, nacks = 0;
    Ballot best_accepted;
    LeaseValue best_value;
    uint64_t max_epoch = 0;
    LeaseValue proposal;
    TimerId round_timer = 0, attempt_timer = 0, renew_timer = 0, expiry_timer = 0;
  };
  struct DiskOp {
    ResourceId resource;
    uint64_t epoch;
  };

  // Acceptor (Rules 1-2, 7-8).
  Cell& cell(ResourceId resource);
  bool cell_ready(Cell& cell, ResourceId resource, const Envelope& from, const std::variant<Prepare, Accept>& m);
  void handle_prepare(const Envelope& from, const Prepare& m);
  void handle_accept(const Envelope& from, const Accept& m);
  void persist_epoch(Cell& cell, ResourceId resource, uint64_t epoch);
  void finish_load(ResourceId resource, const DiskCompletion& done);
  void finish_persist(ResourceId resource, uint64_t epoch, bool ok);
  void send_accept_reply(NodeId to, PortId port, ResourceId resource, Ballot ballot, bool ok, Ballot higher);

  // Proposer (Rules 3-6, 8).
  Lease& lease_of(ResourceId resource);
  Lease* find_lease(ResourceId resource);
  void begin_attempt(Lease& l, lease::AttemptKind kind);
  void start_round(Lease& l);
  void handle_prepare_reply(const Envelope& from, const PrepareReply& m);
  void handle_accept_reply(const Envelope& from, const AcceptReply& m);
  bool first_answer(Lease& l, NodeId from);
  void decide(Lease& l);
  void decide_acquire(Lease& l, TimeNs now);
  void propose(Lease& l, const LeaseValue& value);
  void commit(Lease& l);
  void round_failed(Lease& l, const char* reason);
  void finish_attempt(Lease& l, lease::AttemptOutcome outcome);
  void schedule_attempt(Lease& l, TimeNs delay_ns);
  void arm(TimerId& slot, TimeNs delay_ns, uint64_t kind, uint32_t index);
  void disarm(TimerId& slot);
  void lose(Lease& l, lease::EndReason reason);
  void on_lease_timer(Lease& l, uint64_t kind);
  Ballot next_ballot(Lease& l);
  TimeNs jitter_ns(TimeNs max_ns);
  lease::LeaseView view_of(const Lease& l) const;
  size_t majority(const Lease& l) const { return l.group.size() / 2 + 1; }

  Runtime& runtime_;
  FleaseConfig config_;
  NodeId self_;
  TimeNs silent_until_local_ns_ = 0;
  int64_t last_ballot_number_ = -1;
  std::map<ResourceId, Cell> cells_;
  std::deque<Lease> leases_;  // stable addresses: listeners may call back while one is in use
  std::unordered_map<ResourceId, uint32_t> lease_index_;  // looked up only, never iterated
  std::map<uint64_t, DiskOp> disk_ops_;
  uint64_t next_disk_op_ = 1;
  std::vector<lease::LeaseListener*> listeners_;
  TraceTableId attempts_table_ = 0;
  TraceTableId intervals_table_ = 0;
};

// The register's epoch file for a resource, and its 16-byte record (epoch, then a check word so a torn
// or rotten record is recognised instead of read as a smaller epoch).
std::string epoch_file(ResourceId resource);
Bytes encode_epoch_record(uint64_t epoch);
std::optional<uint64_t> decode_epoch_record(const Payload& data);

}  // namespace pbfs::flease
