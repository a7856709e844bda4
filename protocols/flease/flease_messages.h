// Every Flease message, in one place: the two phases of the per-lease round-based register (Paxos
// prepare/accept over the lease's acceptor group) and the values it stores. Each message names the
// resource, so one acceptor serves any number of independent leases.
#pragma once

#include <cstdint>
#include <memory>

#include "protocols/flease/lease.h"
#include "protocols/runtime/message.h"

namespace pbfs::flease {

using lease::ResourceId;

// A ballot: the proposer's clock when it began the round, then its node id to break ties. Built from
// time, ballots rise across restarts without any persistent proposer state.
struct Ballot {
  int64_t number = -1;  // -1: below every real ballot
  NodeId node = kNoNode;

  bool is_none() const { return number < 0; }
  friend bool operator==(const Ballot&, const Ballot&) = default;
  friend auto operator<=>(const Ballot& a, const Ballot& b) {
    if (a.number != b.number) return a.number <=> b.number;
    return a.node <=> b.node;
  }
};

// The register's value: who holds the lease until when (absolute time in the proposer's clock, which
// every node compares with its own, trusting that clocks differ by at most ε), with which epoch.
struct LeaseValue {
  NodeId holder = kNoNode;  // kNoNode: free (never held, or released)
  TimeNs expiry_ns = 0;
  uint64_t epoch = 0;
  friend bool operator==(const LeaseValue&, const LeaseValue&) = default;
};

struct Prepare final : Message {
  static constexpr MessageType kType = message_types::kFleaseBase + 1;
  ResourceId resource = 0;
  Ballot ballot;

  MessageType type() const override { return kType; }
  const char* name() const override { return "flease.Prepare"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 12; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Answer to Prepare. ok: the acceptor promised `ballot` and reports its last accepted value. !ok: it
// had already seen `higher`, and the proposer's round cannot succeed.
struct PrepareReply final : Message {
  static constexpr MessageType kType = message_types::kFleaseBase + 2;
  ResourceId resource = 0;
  Ballot ballot;         // the prepare this answers
  bool ok = false;
  Ballot higher;         // !ok: the ballot that beat it
  Ballot accepted;       // ok: ballot of the accepted value (none: nothing accepted)
  LeaseValue value;      // ok: accepted value
  uint64_t epoch_floor = 0;  // ok: highest epoch this acceptor has made durable for the resource

  MessageType type() const override { return kType; }
  const char* name() const override { return "flease.PrepareReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 12 + 1 + 12 + 12 + 20 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct Accept final : Message {
  static constexpr MessageType kType = message_types::kFleaseBase + 3;
  ResourceId resource = 0;
  Ballot ballot;
  LeaseValue value;

  MessageType type() const override { return kType; }
  const char* name() const override { return "flease.Accept"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 12 + 20; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct AcceptReply final : Message {
  static constexpr MessageType kType = message_types::kFleaseBase + 4;
  ResourceId resource = 0;
  Ballot ballot;
  bool ok = false;
  Ballot higher;  // !ok: the ballot that beat it

  MessageType type() const override { return kType; }
  const char* name() const override { return "flease.AcceptReply"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 12 + 1 + 12; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

inline bool is_flease_message(MessageType type) {
  return type > message_types::kFleaseBase && type <= AcceptReply::kType;
}

void register_flease_messages();

}  // namespace pbfs::flease
