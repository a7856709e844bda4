// Every message of the coordination-service model (ZooKeeper-like: znodes, sessions, ephemerals, one-shot
// watches) in one place, plus the small vocabulary they share: result codes, znode stat, event types.
// Clients talk to the server with sessions; replies and watch events go back to the sender's port.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "protocols/runtime/message.h"

namespace pbfs::coordination {

using SessionId = uint64_t;  // chosen by the server when it opens the session; 0 is no session
using Zxid = uint64_t;       // position of a transaction in the server's history; 0 is "before any"

// Result of an operation, after ZooKeeper's error codes. kConnectionLoss and kTooManyRequests are
// produced by the client library only (never sent on the wire by the server).
enum class CoordCode : uint8_t {
  kOk = 1,
  kNoNode,                   // the node (or, for create, its parent) does not exist
  kNodeExists,
  kNotEmpty,                 // delete of a node that has children
  kBadVersion,               // the expected version did not match
  kNoChildrenForEphemerals,  // create under an ephemeral node
  kBadArguments,             // malformed path, data too large, unknown session state
  kLimitExceeded,            // a server limit (nodes, sessions, watches) is reached
  kSessionExpired,           // the session is gone (expired or closed); its ephemerals are deleted
  kConnectionLoss,           // client: no answer within the request's attempts
  kTooManyRequests,          // client: the outstanding-request limit is reached
};
constexpr uint8_t kCoordCodeMax = static_cast<uint8_t>(CoordCode::kTooManyRequests);
const char* coord_code_name(CoordCode code);

// What a watch reports (ZooKeeper's EventType, without the session-state "None" events: the client
// reports those through its session callback).
enum class EventType : uint8_t { kNodeCreated = 1, kNodeDeleted, kNodeDataChanged, kNodeChildrenChanged };
constexpr uint8_t kEventTypeMax = static_cast<uint8_t>(EventType::kNodeChildrenChanged);
const char* event_type_name(EventType type);

// A znode's metadata, as ZooKeeper's Stat.
struct Stat {
  Zxid czxid = 0;                 // created by
  Zxid mzxid = 0;                 // last data change
  Zxid pzxid = 0;                 // last change of the children list
  uint32_t version = 0;           // data changes since creation
  uint32_t cversion = 0;          // children changes since creation
  SessionId ephemeral_owner = 0;  // 0: persistent
  uint32_t data_length = 0;
  uint32_t num_children = 0;
  friend bool operator==(const Stat&, const Stat&) = default;
};

enum class Op : uint8_t { kCreate = 1, kDelete, kSetData, kGetData, kGetChildren, kExists, kCloseSession, kSetWatches };
constexpr uint8_t kOpMax = static_cast<uint8_t>(Op::kSetWatches);
const char* op_name(Op op);
inline bool is_write(Op op) {
  return op == Op::kCreate || op == Op::kDelete || op == Op::kSetData || op == Op::kCloseSession;
}

// Create flags (ZooKeeper's CreateMode as bits).
constexpr uint8_t kCreateEphemeral = 1;
constexpr uint8_t kCreateSequential = 2;
constexpr int32_t kAnyVersion = -1;

// Client -> server: open a new session. `nonce` lets the server answer a retried request with the same
// session instead of opening a second one.
struct ConnectRequest final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 1;
  uint64_t nonce = 0;
  TimeNs timeout_ns = 0;  // requested session timeout

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.ConnectRequest"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct ConnectResponse final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 2;
  uint64_t nonce = 0;
  CoordCode code = CoordCode::kOk;
  SessionId session = 0;
  TimeNs timeout_ns = 0;     // negotiated (clamped to the server's bounds)
  uint64_t server_epoch = 0;  // changes at every server start: the client then re-sends its watches

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.ConnectResponse"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 1 + 8 + 8 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Client -> server heartbeat, every timeout/3. It also acknowledges watch events (all up to
// `events_acked` of `server_epoch`), so the server re-sends the ones the network lost.
struct Ping final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 3;
  SessionId session = 0;
  uint64_t server_epoch = 0;
  uint64_t events_acked = 0;

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.Ping"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 8 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

struct PingResponse final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 4;
  SessionId session = 0;
  CoordCode code = CoordCode::kOk;  // kSessionExpired: the session is gone
  uint64_t server_epoch = 0;

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.PingResponse"; }
  void encode(WireWriter& out) const override;
  uint64_t encoded_size() const override { return 8 + 1 + 8; }
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Client -> server: one operation of a session. Only the fields of `op` are on the wire.
struct Request final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 5;
  SessionId session = 0;
  uint64_t request_id = 0;  // unique within the client; retries repeat it
  Op op = Op::kGetData;
  std::string path;         // empty for kCloseSession
  Bytes data;               // kCreate, kSetData
  uint8_t create_flags = 0; // kCreate
  int32_t version = kAnyVersion;  // kDelete, kSetData
  bool watch = false;       // kGetData, kGetChildren, kExists

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.Request"; }
  void encode(WireWriter& out) const override;
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Server -> client: the answer to a Request or SetWatches. `zxid` is the state the answer reflects.
// When code is kOk: kCreate carries the created path (sequential names resolved) and stat; kSetData and
// kExists carry the stat; kGetData the data and stat; kGetChildren the (sorted) children and stat.
struct Response final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 6;
  uint64_t request_id = 0;
  Op op = Op::kGetData;
  CoordCode code = CoordCode::kOk;
  Zxid zxid = 0;
  uint64_t server_epoch = 0;
  std::string path;
  Bytes data;
  Stat stat;
  std::vector<std::string> children;

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.Response"; }
  void encode(WireWriter& out) const override;
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// A watch the client still holds, with the zxid of the answer that set it: the server fires it at once
// if the node changed after that zxid.
struct WatchRegistration {
  std::string path;
  Zxid zxid = 0;
  friend bool operator==(const WatchRegistration&, const WatchRegistration&) = default;
};

// Client -> server after it sees a new server epoch (the server restarted and forgot every watch): the
// client's outstanding watches, as ZooKeeper's SetWatches. Answered by a Response with op kSetWatches.
struct SetWatches final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 7;
  SessionId session = 0;
  uint64_t request_id = 0;
  std::vector<WatchRegistration> data;   // from get
  std::vector<WatchRegistration> exist;  // from exists
  std::vector<WatchRegistration> child;  // from get_children

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.SetWatches"; }
  void encode(WireWriter& out) const override;
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

// Server -> client: a watch fired. Numbered per session and server epoch; the client delivers them in
// order, once, and acknowledges them in its pings.
struct WatchEvent final : Message {
  static constexpr MessageType kType = message_types::kCoordinationBase + 8;
  SessionId session = 0;
  uint64_t server_epoch = 0;
  uint64_t sequence = 0;  // 1, 2, ... within (session, server_epoch)
  EventType event = EventType::kNodeCreated;
  std::string path;
  Zxid zxid = 0;          // the change that fired it

  MessageType type() const override { return kType; }
  const char* name() const override { return "coord.WatchEvent"; }
  void encode(WireWriter& out) const override;
  static Result<std::shared_ptr<const Message>> decode(WireReader& in);
};

void register_coordination_messages();

inline bool is_coordination_message(MessageType type) {
  return type > message_types::kCoordinationBase && type <= message_types::kCoordinationBase + 8;
}

// Path rules (ZooKeeper's): absolute, '/'-separated, no empty, "." or ".." component, no trailing '/'
// except the root, no NUL, at most `bytes_max` bytes.
bool valid_path(const std::string& path, size_t bytes_max);
// "/a/b" -> "/a"; "/a" -> "/". The root has no parent (returns "").
std::string parent_path(const std::string& path);
// "/a/b" -> "b".
std::string last_component(const std::string& path);
// parent "/" + "x" -> "/x"; "/a" + "x" -> "/a/x".
std::string child_path(const std::string& parent, const std::string& name);

}  // namespace pbfs::coordination
