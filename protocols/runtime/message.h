// Protocol messages. Inside the simulator a message travels as a typed object that knows its encoded
// size (bandwidth is charged for it, no serialization is paid); every type also has a wire encoding so
// the real runtime can send the very same messages. Decoding goes through a table of registered types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "coding/status.h"
#include "coding/wire.h"
#include "protocols/runtime/types.h"

namespace pbfs {

using MessageType = uint16_t;

class Message {
 public:
  virtual ~Message() = default;
  virtual MessageType type() const = 0;
  virtual const char* name() const = 0;
  // Writes the body (without the frame header); decode_message() reverses it.
  virtual void encode(WireWriter& out) const = 0;
  // Size in bytes of the encoded body; the default encodes once. Override where a payload would make
  // that expensive (synthetic payloads have a size but no bytes).
  virtual uint64_t encoded_size() const;
};

using MessagePtr = std::shared_ptr<const Message>;

// Frame: u16 type, u32 body length, body. frame_size() is what the network is charged for.
constexpr uint64_t kFrameHeaderBytes = 6;
inline uint64_t frame_size(const Message& m) { return kFrameHeaderBytes + m.encoded_size(); }

using MessageDecoder = std::function<Result<MessagePtr>(WireReader& body)>;

// Registers a decoder for a type. Each protocol has one idempotent register_<protocol>_messages()
// function; register_all_messages() (protocols/registry.h) calls them all before anything is decoded.
// Registering the same type twice with different names is a programmer error.
void register_message_type(MessageType type, const char* name, MessageDecoder decoder);

// Encodes a message with its frame header.
Bytes encode_frame(const Message& m);
// Decodes one whole frame; truncated input, an unknown type, a length that lies or trailing bytes in
// the body give kMalformed (the caller counts and drops the message).
Result<MessagePtr> decode_frame(ByteSpan frame);

// Type ranges, one per protocol, so a type number tells a reader where to look.
namespace message_types {
constexpr MessageType kEchoBase = 0x0100;
constexpr MessageType kFleaseBase = 0x0200;
constexpr MessageType kLockServiceBase = 0x0280;
constexpr MessageType kDataPathBase = 0x0300;
constexpr MessageType kCoordinationBase = 0x0400;
}  // namespace message_types

}  // namespace pbfs
