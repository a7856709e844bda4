// Every message of the central lock-service model, in one place: client requests and the server's
// answers, and the primary-backup traffic between the (at most two) lock servers.
#pragma once

#include <cstdint>
#include <memory>

#include "protocols/flease/lease.h"
#include "protocols/runtime/message.h"

namespace pbfs::lock_service {

using lease::ResourceId;

enum class RequestKind : uint8_t { kAcquire = 1, kRenew = 2, kRelease = 3, kLookup = 4 };
enum class ReplyStatus : uint8_t {
  kGranted = 1,      // the client holds the lease for `duration_ns` from when it sent the request
  kHeldByOther = 2,  // `holder` holds it for `remaining_ns` more (server's measure)
  kReleased = 3,
  kFree = 4,         // lookup: nobody holds it
  kNotPrimary = 5,   // ask the other server
  kLost = 6,         // renewal refused: the client's tenure is over
};

struct LockRequest final : Message {
  static constexpr MessageType kType = message_types::kLockServiceBase + 1;
  ResourceId resource = 0;
  uint64_t request_id = 0;
  RequestKind kind = RequestKind::kAcquire;
  uint64_t epoch = 0;  // renew/release: the tenure's epoch

  MessageType type() const override { return kType; }
  const char* name() const override { return "lock.Request"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 1 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct LockReply final : Message {
  static constexpr MessageType kType = message_types::kLockServiceBase + 2;
  ResourceId resource = 0;
  uint64_t request_id = 0;
  ReplyStatus status = ReplyStatus::kGranted;
  NodeId holder = kNoNode;
  uint64_t epoch = 0;
  TimeNs remaining_ns = 0;

  MessageType type() const override { return kType; }
  const char* name() const override { return "lock.Reply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 1 + 4 + 8 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Primary -> backup: the state of one resource after a change (holder kNoNode: free).
struct Replicate final : Message {
  static constexpr MessageType kType = message_types::kLockServiceBase + 3;
  uint64_t sequence = 0;
  ResourceId resource = 0;
  NodeId holder = kNoNode;
  uint64_t epoch = 0;
  TimeNs remaining_ns = 0;

  MessageType type() const override { return kType; }
  const char* name() const override { return "lock.Replicate"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 4 + 8 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct ReplicateAck final : Message {
  static constexpr MessageType kType = message_types::kLockServiceBase + 4;
  uint64_t sequence = 0;

  MessageType type() const override { return kType; }
  const char* name() const override { return "lock.ReplicateAck"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Between the two servers, both ways: liveness, and who believes it is primary.
struct Heartbeat final : Message {
  static constexpr MessageType kType = message_types::kLockServiceBase + 5;
  bool primary = false;
  bool needs_state = false;  // a backup that just (re)joined asks for the whole table

  MessageType type() const override { return kType; }
  const char* name() const override { return "lock.Heartbeat"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 2; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

void register_lock_service_messages();

}  // namespace pbfs::lock_service
