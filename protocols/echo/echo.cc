// Ping/echo roles and their wire encoding.
#include "protocols/echo/echo.h"

namespace pbfs::echo {
namespace {

enum TimerTag : uint64_t { kTagInterval = 1, kTagTimeout = 2 };

void encode_payload(WireWriter& out, const Payload& p) {
  out.boolean(p.is_real());
  if (p.is_real()) {
    out.blob(*p.bytes);
  } else {
    out.u32(static_cast<uint32_t>(p.size));
    // Synthetic payloads still occupy their size on the wire, as zero bytes.
    for (uint64_t i = 0; i < p.size; ++i) out.u8(0);
  }
}

bool decode_payload(WireReader& in, Payload& p) {
  bool real;
  if (!in.boolean(real)) return false;
  ByteSpan bytes;
  if (!in.blob(bytes)) return false;
  p = real ? Payload::real(Bytes(bytes.begin(), bytes.end())) : Payload::synthetic(bytes.size());
  return true;
}

template <typename T>
Result<std::shared_ptr<const Message>> decode_ping_like(WireReader& in) {
  auto m = std::make_shared<T>();
  if (!in.u64(m->sequence) || !in.i64(m->sent_local_ns) || !decode_payload(in, m->payload)) {
    return Status(StatusCode::kMalformed, std::string(m->name()) + " truncated");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

}  // namespace

void Ping::encode(WireWriter& out) const {
  out.u64(sequence);
  out.i64(sent_local_ns);
  encode_payload(out, payload);
}
Result<std::shared_ptr<const Message>> Ping::decode(WireReader& in) { return decode_ping_like<Ping>(in); }

void Pong::encode(WireWriter& out) const {
  out.u64(sequence);
  out.i64(sent_local_ns);
  encode_payload(out, payload);
}
Result<std::shared_ptr<const Message>> Pong::decode(WireReader& in) { return decode_ping_like<Pong>(in); }

void register_echo_messages() {
  register_message_type(Ping::kType, "echo.Ping", &Ping::decode);
  register_message_type(Pong::kType, "echo.Pong", &Pong::decode);
}

const TableSchema& round_trip_schema() {
  static const TableSchema schema{
      "echo_round_trips",
      "one row per completed ping/pong round trip",
      sizeof(RoundTripRow),
      {PBFS_FIELD(RoundTripRow, client, "node that sent the ping"),
       PBFS_FIELD(RoundTripRow, server, "node that echoed it"),
       PBFS_FIELD(RoundTripRow, sequence, "ping number"),
       PBFS_FIELD(RoundTripRow, start_ns, "trace-clock time the ping was sent"),
       PBFS_FIELD(RoundTripRow, end_ns, "trace-clock time the pong arrived"),
       PBFS_FIELD(RoundTripRow, bytes, "payload bytes each way")}};
  return schema;
}

Pinger::Pinger(Runtime& runtime, PingerConfig config) : runtime_(runtime), config_(config) {
  if (config_.trace_round_trips) table_ = runtime_.trace_table(round_trip_schema());
}

void Pinger::start() {
  if (config_.interval_ns > 0) runtime_.set_timer(config_.interval_ns, kTagInterval);
  send_ping();
}

void Pinger::send_ping() {
  if (config_.count_max != 0 && next_sequence_ >= config_.count_max) return;
  auto ping = std::make_shared<Ping>();
  ping->sequence = next_sequence_++;
  ping->sent_local_ns = runtime_.trace_now_ns();
  ping->payload = config_.real_payload ? Payload::real(Bytes(config_.message_bytes, 0xab))
                                       : Payload::synthetic(config_.message_bytes);
  outstanding_since_ns_ = ping->sent_local_ns;
  runtime_.send(config_.peer, kPortEcho, std::move(ping));
  if (config_.interval_ns == 0 && config_.timeout_ns > 0) {
    if (timeout_timer_ != 0) runtime_.cancel_timer(timeout_timer_);
    timeout_timer_ = runtime_.set_timer(config_.timeout_ns, kTagTimeout);
  }
}

void Pinger::on_message(const Envelope& from, const Message& message) {
  if (message.type() != Pong::kType) {
    runtime_.count("echo.unexpected_message");
    return;
  }
  const auto& pong = static_cast<const Pong&>(message);
  ++completed_;
  if (config_.trace_round_trips) {
    RoundTripRow row{runtime_.node_id(), from.from, pong.sequence, pong.sent_local_ns, runtime_.trace_now_ns(),
                     pong.payload.size};
    runtime_.trace(table_, &row);
  }
  // Closed loop: only the answer to the newest ping releases the next one (late duplicates do not).
  if (config_.interval_ns == 0 && pong.sequence + 1 == next_sequence_) send_ping();
}

void Pinger::on_timer(TimerId id, uint64_t tag) {
  if (tag == kTagInterval) {
    send_ping();
    runtime_.set_timer(config_.interval_ns, kTagInterval);
  } else if (tag == kTagTimeout && id == timeout_timer_) {
    timeout_timer_ = 0;
    runtime_.count("echo.ping_timeout");
    send_ping();
  }
}

void Echoer::on_message(const Envelope& from, const Message& message) {
  if (message.type() != Ping::kType) {
    runtime_.count("echo.unexpected_message");
    return;
  }
  const auto& ping = static_cast<const Ping&>(message);
  auto pong = std::make_shared<Pong>();
  pong->sequence = ping.sequence;
  pong->sent_local_ns = ping.sent_local_ns;
  pong->payload = ping.payload;
  runtime_.send(from.from, from.from_port, std::move(pong));
}

}  // namespace pbfs::echo
