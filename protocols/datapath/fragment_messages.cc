// Wire encoding of the fragment-server half of the data-path messages (store, fetch, delete, rebuild,
// corruption reports). Payloads: a kind byte (real or synthetic), the rot flips a synthetic payload
// carries, and a length-prefixed body (zeros for synthetic data, so sizes on the wire stay honest).
// Every decoder is bounds-checked and refuses impossible values with kMalformed.
#include <string>

#include "protocols/datapath/messages.h"

namespace pbfs::datapath {
namespace {

constexpr uint64_t kRecordIdBytes = 16;
constexpr uint64_t kStatusBytes = 1;
constexpr uint64_t kPayloadFixedBytes = 1 + 4 + 4;  // kind, rot flips, body length
constexpr uint64_t kDeletedFragmentBytes = kRecordIdBytes + 4;

uint64_t payload_encoded_bytes(const Payload& p) { return kPayloadFixedBytes + p.size; }

void encode_payload(WireWriter& out, const Payload& p) {
  out.boolean(p.is_real());
  out.u32(p.is_real() ? 0 : p.rot_flips);
  if (p.is_real()) {
    out.blob(*p.bytes);
    return;
  }
  out.u32(static_cast<uint32_t>(p.size));
  for (uint64_t i = 0; i < p.size; ++i) out.u8(0);
}

bool decode_payload(WireReader& in, Payload& p) {
  bool real = false;
  uint32_t rot_flips = 0;
  ByteSpan body;
  if (!in.boolean(real) || !in.u32(rot_flips) || !in.blob(body)) return false;
  if (real && rot_flips != 0) return false;  // a real payload carries its flipped bits itself
  p = real ? Payload::real(Bytes(body.begin(), body.end())) : Payload::synthetic(body.size());
  p.rot_flips = real ? 0 : rot_flips;
  return true;
}

void encode_record_id(WireWriter& out, const RecordId& id) {
  out.u64(id.client);
  out.u64(id.sequence);
}
bool decode_record_id(WireReader& in, RecordId& id) { return in.u64(id.client) && in.u64(id.sequence); }

bool decode_status(WireReader& in, StatusCode& code) {
  uint8_t raw = 0;
  if (!in.u8(raw) || raw > static_cast<uint8_t>(StatusCode::kUnsupported)) return false;
  code = static_cast<StatusCode>(raw);
  return true;
}

// Fragment indices are below kFragmentsMax (k + m <= 256).
bool decode_index(WireReader& in, uint32_t& index) { return in.u32(index) && index < kFragmentsMax; }

Status truncated(const char* name) { return Status(StatusCode::kMalformed, std::string(name) + ": truncated or invalid field"); }

template <typename T>
Result<MessagePtr> done(std::shared_ptr<T> m) {
  return MessagePtr(std::move(m));
}

Result<MessagePtr> decode_store(WireReader& in) {
  auto m = std::make_shared<StoreFragment>();
  if (!in.u64(m->request_id) || !in.u64(m->file_id) || !decode_record_id(in, m->record_id) || !decode_index(in, m->index) ||
      !decode_payload(in, m->data)) {
    return truncated(m->name());
  }
  return done(std::move(m));
}

Result<MessagePtr> decode_store_reply(WireReader& in) {
  auto m = std::make_shared<StoreFragmentReply>();
  if (!in.u64(m->request_id) || !decode_status(in, m->status)) return truncated(m->name());
  return done(std::move(m));
}

Result<MessagePtr> decode_fetch(WireReader& in) {
  auto m = std::make_shared<FetchFragment>();
  if (!in.u64(m->request_id) || !in.u64(m->file_id) || !decode_record_id(in, m->record_id) || !decode_index(in, m->index) ||
      !in.u64(m->offset) || !in.u64(m->length) || m->offset + m->length < m->offset) {
    return truncated(m->name());
  }
  return done(std::move(m));
}

Result<MessagePtr> decode_fetch_reply(WireReader& in) {
  auto m = std::make_shared<FetchFragmentReply>();
  if (!in.u64(m->request_id) || !decode_status(in, m->status) || !decode_index(in, m->index) || !in.u64(m->offset) ||
      !decode_payload(in, m->data)) {
    return truncated(m->name());
  }
  return done(std::move(m));
}

Result<MessagePtr> decode_delete(WireReader& in) {
  auto m = std::make_shared<DeleteFragments>();
  uint32_t count = 0;
  if (!in.u64(m->file_id) || !in.u32(count) || count > in.remaining() / kDeletedFragmentBytes) return truncated(m->name());
  m->fragments.resize(count);
  for (auto& [record, index] : m->fragments) {
    if (!decode_record_id(in, record) || !decode_index(in, index)) return truncated(m->name());
  }
  return done(std::move(m));
}

Result<MessagePtr> decode_rebuild(WireReader& in) {
  auto m = std::make_shared<RebuildFragment>();
  if (!in.u64(m->request_id)) return truncated(m->name());
  Result<WriteRecord> record = decode_write_record(in);
  if (!record.is_ok()) return Status(StatusCode::kMalformed, std::string(m->name()) + ": " + record.status().message());
  m->record = std::move(record).value();
  if (!decode_index(in, m->index) || m->index >= m->record.layout.fragment_count()) return truncated(m->name());
  return done(std::move(m));
}

Result<MessagePtr> decode_rebuild_reply(WireReader& in) {
  auto m = std::make_shared<RebuildFragmentReply>();
  if (!in.u64(m->request_id) || !decode_status(in, m->status) || !decode_record_id(in, m->record_id) ||
      !decode_index(in, m->index)) {
    return truncated(m->name());
  }
  return done(std::move(m));
}

Result<MessagePtr> decode_corrupt(WireReader& in) {
  auto m = std::make_shared<FragmentCorrupt>();
  if (!in.u64(m->file_id) || !decode_record_id(in, m->record_id) || !decode_index(in, m->index)) return truncated(m->name());
  return done(std::move(m));
}

}  // namespace

void StoreFragment::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u64(file_id);
  encode_record_id(out, record_id);
  out.u32(index);
  encode_payload(out, data);
}
uint64_t StoreFragment::encoded_size() const { return 8 + 8 + kRecordIdBytes + 4 + payload_encoded_bytes(data); }

void StoreFragmentReply::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(status));
}
uint64_t StoreFragmentReply::encoded_size() const { return 8 + kStatusBytes; }

void FetchFragment::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u64(file_id);
  encode_record_id(out, record_id);
  out.u32(index);
  out.u64(offset);
  out.u64(length);
}
uint64_t FetchFragment::encoded_size() const { return 8 + 8 + kRecordIdBytes + 4 + 8 + 8; }

void FetchFragmentReply::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(status));
  out.u32(index);
  out.u64(offset);
  encode_payload(out, data);
}
uint64_t FetchFragmentReply::encoded_size() const { return 8 + kStatusBytes + 4 + 8 + payload_encoded_bytes(data); }

void DeleteFragments::encode(WireWriter& out) const {
  out.u64(file_id);
  out.u32(static_cast<uint32_t>(fragments.size()));
  for (const auto& [record, index] : fragments) {
    encode_record_id(out, record);
    out.u32(index);
  }
}
uint64_t DeleteFragments::encoded_size() const { return 8 + 4 + fragments.size() * kDeletedFragmentBytes; }

void RebuildFragment::encode(WireWriter& out) const {
  out.u64(request_id);
  encode_write_record(record, out);
  out.u32(index);
}
uint64_t RebuildFragment::encoded_size() const { return 8 + write_record_encoded_bytes(record) + 4; }

void RebuildFragmentReply::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(status));
  encode_record_id(out, record_id);
  out.u32(index);
}
uint64_t RebuildFragmentReply::encoded_size() const { return 8 + kStatusBytes + kRecordIdBytes + 4; }

void FragmentCorrupt::encode(WireWriter& out) const {
  out.u64(file_id);
  encode_record_id(out, record_id);
  out.u32(index);
}
uint64_t FragmentCorrupt::encoded_size() const { return 8 + kRecordIdBytes + 4; }

void register_fragment_messages() {
  register_message_type(types::kStoreFragment, "datapath.StoreFragment", &decode_store);
  register_message_type(types::kStoreFragmentReply, "datapath.StoreFragmentReply", &decode_store_reply);
  register_message_type(types::kFetchFragment, "datapath.FetchFragment", &decode_fetch);
  register_message_type(types::kFetchFragmentReply, "datapath.FetchFragmentReply", &decode_fetch_reply);
  register_message_type(types::kDeleteFragments, "datapath.DeleteFragments", &decode_delete);
  register_message_type(types::kRebuildFragment, "datapath.RebuildFragment", &decode_rebuild);
  register_message_type(types::kRebuildFragmentReply, "datapath.RebuildFragmentReply", &decode_rebuild_reply);
  register_message_type(types::kFragmentCorrupt, "datapath.FragmentCorrupt", &decode_corrupt);
}

}  // namespace pbfs::datapath
