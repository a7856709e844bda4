// The lock-service client: the same LeaseService API as a FleaseNode, backed by requests to the lock
// server(s). A granted lease is believed from the moment the request was sent, for t_max of the
// client's clock, so only the clocks' rates matter here, not their offsets.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "protocols/flease/lease.h"
#include "protocols/lock_service/lock_messages.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::lock_service {

struct LockClientConfig {
  std::vector<NodeId> servers;  // tried in order, moving on at a timeout or "not primary"
  TimeNs lease_ns = 14 * kSecond;
  TimeNs renew_before_ns = 4 * kSecond;
  TimeNs message_timeout_ns = 500 * kMillisecond;
  uint32_t retries = 3;
  bool trace = true;
  TimeNs cpu_per_message_ns = 0;  // modelled handling cost of every message received
};

class LockClient final : public Role, public lease::LeaseService {
 public:
  LockClient(Runtime& runtime, LockClientConfig config);

  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  static bool owns_tag(uint64_t tag);

  void acquire(ResourceId resource) override;
  void release(ResourceId resource) override;
  void lookup(ResourceId resource) override;
  lease::LeaseView lease(ResourceId resource) const override;
  void add_listener(lease::LeaseListener* listener) override;
  void remove_listener(lease::LeaseListener* listener) override;

 private:
  struct Lease {
    ResourceId resource = 0;
    uint32_t index = 0;
    bool wanted = false;
    bool held = false;
    uint64_t epoch = 0;
    TimeNs expiry_local_ns = 0;
    TimeNs since_local_ns = 0, since_true_ns = 0;
    uint32_t renewals = 0;
    NodeId known_holder = kNoNode;
    uint64_t known_epoch = 0;
    TimeNs known_expiry_local_ns = 0;
    bool attempt_open = false;
    lease::AttemptKind kind = lease::AttemptKind::kAcquire;
    TimeNs attempt_start_local_ns = 0, attempt_start_true_ns = 0;
    uint16_t rounds = 0;
    uint32_t messages = 0;
    uint32_t failures = 0;
    uint64_t request_id = 0;
    TimeNs request_sent_local_ns = 0;
    TimerId request_timer = 0, attempt_timer = 0, renew_timer = 0, expiry_timer = 0;
  };

  Lease& lease_of(ResourceId resource);
  Lease* find_lease(ResourceId resource);
  void begin_attempt(Lease& l, lease::AttemptKind kind);
  void send_request(Lease& l);
  void request_failed(Lease& l, const char* reason);
  void handle_reply(const LockReply& m);
  void granted(Lease& l, const LockReply& m, TimeNs now);
  void finish_attempt(Lease& l, lease::AttemptOutcome outcome);
  void lose(Lease& l, lease::EndReason reason);
  void arm(TimerId& slot, TimeNs delay_ns, uint64_t kind, uint32_t index);
  void disarm(TimerId& slot);
  void on_lease_timer(Lease& l, uint64_t kind);
  TimeNs jitter_ns(TimeNs max_ns);
  lease::LeaseView view_of(const Lease& l) const;

  Runtime& runtime_;
  LockClientConfig config_;
  NodeId self_;
  size_t server_index_ = 0;
  uint64_t next_request_id_ = 1;
  std::deque<Lease> leases_;
  std::unordered_map<ResourceId, uint32_t> lease_index_;  // looked up only, never iterated
  std::vector<lease::LeaseListener*> listeners_;
  TraceTableId attempts_table_ = 0;
  TraceTableId intervals_table_ = 0;
};

}  // namespace pbfs::lock_service
