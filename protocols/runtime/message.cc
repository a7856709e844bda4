// Message framing and the decoder table.
#include "protocols/runtime/message.h"

#include <cstdio>
#include <cstdlib>
#include <map>

namespace pbfs {
namespace {

struct Registered {
  const char* name;
  MessageDecoder decoder;
};

// Filled by register_all_messages() before any runtime starts; read-only afterwards.
std::map<MessageType, Registered>& registry() {
  static std::map<MessageType, Registered> table;
  return table;
}

}  // namespace

uint64_t Message::encoded_size() const {
  Bytes body;
  WireWriter w(body);
  encode(w);
  return body.size();
}

void register_message_type(MessageType type, const char* name, MessageDecoder decoder) {
  auto [it, inserted] = registry().emplace(type, Registered{name, std::move(decoder)});
  if (!inserted && std::string(it->second.name) != name) {
    std::fprintf(stderr, "pbfs: message type 0x%04x registered twice (%s, %s)\n", type, it->second.name, name);
    std::abort();
  }
}

Bytes encode_frame(const Message& m) {
  Bytes out;
  WireWriter w(out);
  w.u16(m.type());
  w.u32(0);
  m.encode(w);
  const uint32_t body = static_cast<uint32_t>(out.size() - kFrameHeaderBytes);
  for (int i = 0; i < 4; ++i) out[2 + i] = static_cast<uint8_t>(body >> (8 * i));
  return out;
}

Result<MessagePtr> decode_frame(ByteSpan frame) {
  WireReader r(frame);
  uint16_t type;
  uint32_t length;
  if (!r.u16(type) || !r.u32(length)) return Status(StatusCode::kMalformed, "frame header truncated");
  if (length != r.remaining()) {
    return Status(StatusCode::kMalformed, "frame length " + std::to_string(length) + " but " +
                                              std::to_string(r.remaining()) + " bytes follow");
  }
  auto it = registry().find(type);
  if (it == registry().end()) return Status(StatusCode::kMalformed, "unknown message type " + std::to_string(type));
  ByteSpan body_span;
  (void)r.raw(length, body_span);
  WireReader body(body_span);
  Result<MessagePtr> message = it->second.decoder(body);
  if (!message.is_ok()) return message;
  if (!body.at_end()) {
    return Status(StatusCode::kMalformed, std::string(it->second.name) + ": " +
                                              std::to_string(body.remaining()) + " trailing bytes");
  }
  return message;
}

}  // namespace pbfs
