// Wire encoding of the lock-service messages (protocols/lock_service/lock_messages.h).
#include "protocols/lock_service/lock_messages.h"

namespace pbfs::lock_service {
namespace {

template <typename T>
Result<std::shared_ptr<const Message>> truncated() {
  return Status(StatusCode::kMalformed, std::string(T().name()) + " truncated");
}

template <typename Enum>
bool get_enum(WireReader& in, Enum& v, uint8_t max) {
  uint8_t x;
  if (!in.u8(x) || x == 0 || x > max) return false;
  v = static_cast<Enum>(x);
  return true;
}

}  // namespace

void LockRequest::encode(WireWriter& out) const {
  out.u64(resource);
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(kind));
  out.u64(epoch);
}
Result<std::shared_ptr<const Message>> LockRequest::decode(WireReader& in) {
  auto m = std::make_shared<LockRequest>();
  if (!in.u64(m->resource) || !in.u64(m->request_id) || !get_enum(in, m->kind, 4) || !in.u64(m->epoch)) {
    return truncated<LockRequest>();
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void LockReply::encode(WireWriter& out) const {
  out.u64(resource);
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(status));
  out.u32(holder);
  out.u64(epoch);
  out.i64(remaining_ns);
}
Result<std::shared_ptr<const Message>> LockReply::decode(WireReader& in) {
  auto m = std::make_shared<LockReply>();
  if (!in.u64(m->resource) || !in.u64(m->request_id) || !get_enum(in, m->status, 6) || !in.u32(m->holder) ||
      !in.u64(m->epoch) || !in.i64(m->remaining_ns)) {
    return truncated<LockReply>();
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void Replicate::encode(WireWriter& out) const {
  out.u64(sequence);
  out.u64(resource);
  out.u32(holder);
  out.u64(epoch);
  out.i64(remaining_ns);
}
Result<std::shared_ptr<const Message>> Replicate::decode(WireReader& in) {
  auto m = std::make_shared<Replicate>();
  if (!in.u64(m->sequence) || !in.u64(m->resource) || !in.u32(m->holder) || !in.u64(m->epoch) ||
      !in.i64(m->remaining_ns)) {
    return truncated<Replicate>();
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void ReplicateAck::encode(WireWriter& out) const { out.u64(sequence); }
Result<std::shared_ptr<const Message>> ReplicateAck::decode(WireReader& in) {
  auto m = std::make_shared<ReplicateAck>();
  if (!in.u64(m->sequence)) return truncated<ReplicateAck>();
  return std::shared_ptr<const Message>(std::move(m));
}

void Heartbeat::encode(WireWriter& out) const {
  out.boolean(primary);
  out.boolean(needs_state);
}
Result<std::shared_ptr<const Message>> Heartbeat::decode(WireReader& in) {
  auto m = std::make_shared<Heartbeat>();
  if (!in.boolean(m->primary) || !in.boolean(m->needs_state)) return truncated<Heartbeat>();
  return std::shared_ptr<const Message>(std::move(m));
}

void register_lock_service_messages() {
  register_message_type(LockRequest::kType, "lock.Request", &LockRequest::decode);
  register_message_type(LockReply::kType, "lock.Reply", &LockReply::decode);
  register_message_type(Replicate::kType, "lock.Replicate", &Replicate::decode);
  register_message_type(ReplicateAck::kType, "lock.ReplicateAck", &ReplicateAck::decode);
  register_message_type(Heartbeat::kType, "lock.Heartbeat", &Heartbeat::decode);
}

}  // namespace pbfs::lock_service
