// A small ping/echo protocol that exercises the kernel before the PBFS protocols: a pinger sends
// numbered pings of a given size to a peer, which echoes them back; round trips are traced.
#pragma once

#include <cstdint>

#include "protocols/runtime/runtime.h"

namespace pbfs::echo {

struct Ping final : Message {
  static constexpr MessageType kType = message_types::kEchoBase + 1;
  uint64_t sequence = 0;
  TimeNs sent_local_ns = 0;
  Payload payload;  // real bytes or synthetic size

  MessageType type() const override { return kType; }
  const char* name() const override { return "echo.Ping"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 1 + 4 + payload.size; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct Pong final : Message {
  static constexpr MessageType kType = message_types::kEchoBase + 2;
  uint64_t sequence = 0;
  TimeNs sent_local_ns = 0;
  Payload payload;

  MessageType type() const override { return kType; }
  const char* name() const override { return "echo.Pong"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 1 + 4 + payload.size; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

void register_echo_messages();

// One row per completed round trip.
struct RoundTripRow {
  uint32_t client;
  uint32_t server;
  uint64_t sequence;
  int64_t start_ns;  // trace clock
  int64_t end_ns;
  uint64_t bytes;
};
const TableSchema& round_trip_schema();

struct PingerConfig {
  NodeId peer = kNoNode;
  uint64_t message_bytes = 1000;
  TimeNs interval_ns = 0;       // 0: closed loop (next ping when the pong arrives)
  uint64_t count_max = 0;       // 0: unbounded
  TimeNs timeout_ns = kSecond;  // a lost ping is resent after this long
  bool real_payload = false;
  bool trace_round_trips = true;
};

class Pinger final : public Role {
 public:
  Pinger(Runtime& runtime, PingerConfig config);
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  uint64_t completed() const { return completed_; }

 private:
  void send_ping();
  Runtime& runtime_;
  PingerConfig config_;
  uint64_t next_sequence_ = 0;
  uint64_t completed_ = 0;
  TimeNs outstanding_since_ns_ = -1;  // trace clock of the ping in flight (closed loop)
  TimerId timeout_timer_ = 0;
  TraceTableId table_ = 0;
};

class Echoer final : public Role {
 public:
  explicit Echoer(Runtime& runtime) : runtime_(runtime) {}
  void on_message(const Envelope& from, const Message& message) override;

 private:
  Runtime& runtime_;
};

}  // namespace pbfs::echo
