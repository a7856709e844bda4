// The coordination-service client: an asynchronous ZooKeeper-style API (sessions, znode operations,
// one-shot watches) for protocol roles. It is a Role (install it on a port of its own) and can also be
// embedded in another role, which then forwards it the messages for which is_coordination_message()
// holds and the timers whose tag owns_tag() accepts. Every callback runs inside the host's handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocols/coordination/coordination_messages.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::coordination {

struct CoordinationClientConfig {
  NodeId server = kNoNode;
  PortId server_port = kPortCoordination;
  TimeNs session_timeout_ns = 4 * kSecond;         // asked for; the server may clamp it. Pings go every
                                                   // timeout/3 (a quarter of that while unanswered)
  TimeNs request_timeout_ns = 500 * kMillisecond;  // an unanswered request is sent again after this...
  uint32_t attempts_max = 4;                       // ...this many times in all, then fails: kConnectionLoss
  TimeNs connect_retry_ns = 500 * kMillisecond;    // connecting retries after 1/8 of this, doubling up
                                                   // to this, until it succeeds
  uint32_t requests_max = 1024;                    // outstanding requests; more fail at once (the
                                                   // callback runs before the call returns): kTooManyRequests
  bool connect_at_start = false;                   // as a stand-alone role: connect in start()
  TimeNs cpu_per_message_ns = 0;                   // modelled handling cost of every message received
};

enum class SessionState : uint8_t {
  kIdle,          // never connected
  kConnecting,    // waiting for the server to open a session
  kConnected,
  kDisconnected,  // the session exists but the server has been silent for 2/3 of its timeout
  kExpired,       // the server said the session is gone: its ephemerals and watches are gone too
  kClosed,        // closed by close()
};
const char* session_state_name(SessionState state);

// What the session callback reports (ZooKeeper's KeeperState changes).
enum class SessionEvent : uint8_t { kConnected, kDisconnected, kReconnected, kExpired, kClosed };

struct WatchedEvent {
  EventType type;
  std::string path;
};

using WatchCallback = std::function<void(const WatchedEvent&)>;  // empty: no watch
using CreateCallback = std::function<void(CoordCode, const std::string& created_path)>;
using DataCallback = std::function<void(CoordCode, const Bytes& data, const Stat& stat)>;
using ChildrenCallback = std::function<void(CoordCode, const std::vector<std::string>& children, const Stat& stat)>;
using StatCallback = std::function<void(CoordCode, const Stat& stat)>;
using DoneCallback = std::function<void(CoordCode)>;
using SessionCallback = std::function<void(SessionEvent)>;

class CoordinationClient final : public Role {
 public:
  CoordinationClient(Runtime& runtime, CoordinationClientConfig config);

  // Role / embedding.
  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  static bool owns_tag(uint64_t tag);

  // Session. connect() opens a new session (again after kExpired or kClosed; ignored while one is
  // open or opening). close() ends it at once on the server: its ephemerals go now, not after the
  // timeout (without an open session, close() finishes before it returns).
  void set_session_callback(SessionCallback callback) { session_callback_ = std::move(callback); }
  void connect();
  void close(DoneCallback done = nullptr);
  SessionState state() const { return state_; }
  bool has_session() const { return state_ == SessionState::kConnected || state_ == SessionState::kDisconnected; }
  SessionId session_id() const { return session_; }
  TimeNs negotiated_timeout_ns() const { return timeout_ns_; }
  uint64_t server_epoch() const { return server_epoch_; }

  // Operations. Each calls its callback exactly once: with the server's answer, with kConnectionLoss
  // after attempts_max unanswered attempts, or with kSessionExpired if the session ends first. Issued
  // before a session exists, they wait for it (their attempts still count). A watch is set only when
  // the operation succeeds (exists: also when the node is missing) and fires at most once.
  void create(const std::string& path, Bytes data, uint8_t flags, CreateCallback done);
  void remove(const std::string& path, int32_t version, DoneCallback done);
  void set(const std::string& path, Bytes data, int32_t version, StatCallback done);
  void get(const std::string& path, WatchCallback watch, DataCallback done);
  void get_children(const std::string& path, WatchCallback watch, ChildrenCallback done);
  void exists(const std::string& path, WatchCallback watch, StatCallback done);

  size_t outstanding() const { return pending_.size(); }
  size_t watch_count() const;

 private:
  struct Pending {
    Request request;                      // session filled in at each send
    std::shared_ptr<const SetWatches> set_watches;  // op kSetWatches only
    std::function<void(const Response&)> done;
    uint32_t attempts = 0;
    TimerId timer = 0;
  };
  struct Watcher {
    WatchCallback callback;
    Zxid zxid;
  };
  using WatcherTable = std::map<std::string, std::vector<Watcher>>;

  void issue(Request request, std::function<void(const Response&)> done);
  void send(uint64_t request_id, Pending& p);
  void fail(uint64_t request_id, CoordCode code);
  void fail_all(CoordCode code);
  void send_connect();
  void send_ping();
  void on_ping_timer();
  void heard(uint64_t server_epoch);
  void handle_connect_response(const ConnectResponse& m);
  void handle_response(const Response& m);
  void handle_event(const WatchEvent& m);
  void end_session(SessionState state, SessionEvent event);
  void resend_watches();
  void register_watch(WatcherTable& table, const std::string& path, WatchCallback callback, Zxid zxid);
  static void take(WatcherTable& table, const std::string& path, std::vector<WatchCallback>& out);
  void notify(SessionEvent event);

  Runtime& runtime_;
  CoordinationClientConfig config_;
  SessionState state_ = SessionState::kIdle;
  SessionId session_ = 0;
  TimeNs timeout_ns_ = 0;
  uint64_t server_epoch_ = 0;
  uint64_t connect_nonce_ = 0;
  TimerId connect_timer_ = 0;
  TimeNs connect_delay_ns_ = 0;   // before the next connect attempt
  TimerId ping_timer_ = 0;
  TimeNs ping_interval_ns_ = 0;   // of the ping timer now running
  TimeNs silent_ns_ = 0;          // time since the server was last heard, counted in ping intervals
  uint64_t events_delivered_ = 0;  // last watch event delivered in this server epoch
  uint64_t next_request_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  WatcherTable data_watchers_;   // get, and exists on a node that exists
  WatcherTable exist_watchers_;  // exists on a missing node
  WatcherTable child_watchers_;  // get_children
  SessionCallback session_callback_;
};

}  // namespace pbfs::coordination
