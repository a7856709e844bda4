// Wire encoding of the Flease messages (protocols/flease/flease_messages.h).
#include "protocols/flease/flease_messages.h"

namespace pbfs::flease {
namespace {

void put_ballot(WireWriter& out, const Ballot& b) {
  out.i64(b.number);
  out.u32(b.node);
}
bool get_ballot(WireReader& in, Ballot& b) { return in.i64(b.number) && in.u32(b.node); }

void put_value(WireWriter& out, const LeaseValue& v) {
  out.u32(v.holder);
  out.i64(v.expiry_ns);
  out.u64(v.epoch);
}
bool get_value(WireReader& in, LeaseValue& v) { return in.u32(v.holder) && in.i64(v.expiry_ns) && in.u64(v.epoch); }

template <typename T>
Result<std::shared_ptr<const Message>> truncated() {
  return Status(StatusCode::kMalformed, std::string(T().name()) + " truncated");
}

}  // namespace

void Prepare::encode(WireWriter& out) const {
  out.u64(resource);
  put_ballot(out, ballot);
}
Result<std::shared_ptr<const Message>> Prepare::decode(WireReader& in) {
  auto m = std::make_shared<Prepare>();
  if (!in.u64(m->resource) || !get_ballot(in, m->ballot)) return truncated<Prepare>();
  return std::shared_ptr<const Message>(std::move(m));
}

void PrepareReply::encode(WireWriter& out) const {
  out.u64(resource);
  put_ballot(out, ballot);
  out.boolean(ok);
  put_ballot(out, higher);
  put_ballot(out, accepted);
  put_value(out, value);
  out.u64(epoch_floor);
}
Result<std::shared_ptr<const Message>> PrepareReply::decode(WireReader& in) {
  auto m = std::make_shared<PrepareReply>();
  if (!in.u64(m->resource) || !get_ballot(in, m->ballot) || !in.boolean(m->ok) || !get_ballot(in, m->higher) ||
      !get_ballot(in, m->accepted) || !get_value(in, m->value) || !in.u64(m->epoch_floor)) {
    return truncated<PrepareReply>();
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void Accept::encode(WireWriter& out) const {
  out.u64(resource);
  put_ballot(out, ballot);
  put_value(out, value);
}
Result<std::shared_ptr<const Message>> Accept::decode(WireReader& in) {
  auto m = std::make_shared<Accept>();
  if (!in.u64(m->resource) || !get_ballot(in, m->ballot) || !get_value(in, m->value)) return truncated<Accept>();
  return std::shared_ptr<const Message>(std::move(m));
}

void AcceptReply::encode(WireWriter& out) const {
  out.u64(resource);
  put_ballot(out, ballot);
  out.boolean(ok);
  put_ballot(out, higher);
}
Result<std::shared_ptr<const Message>> AcceptReply::decode(WireReader& in) {
  auto m = std::make_shared<AcceptReply>();
  if (!in.u64(m->resource) || !get_ballot(in, m->ballot) || !in.boolean(m->ok) || !get_ballot(in, m->higher)) {
    return truncated<AcceptReply>();
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void register_flease_messages() {
  register_message_type(Prepare::kType, "flease.Prepare", &Prepare::decode);
  register_message_type(PrepareReply::kType, "flease.PrepareReply", &PrepareReply::decode);
  register_message_type(Accept::kType, "flease.Accept", &Accept::decode);
  register_message_type(AcceptReply::kType, "flease.AcceptReply", &AcceptReply::decode);
}

}  // namespace pbfs::flease
