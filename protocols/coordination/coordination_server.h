// A model of a ZooKeeper server, hosted on one simulated node so that it can crash, restart and be
// partitioned like any other role: a znode tree with persistent, ephemeral and sequential nodes,
// sessions kept alive by pings and expired after their timeout (deleting their ephemerals), one-shot
// data and child watches, and a write-ahead log on the node's disk. One server, not an ensemble: while
// it is down the service is unavailable, and sessions survive its restart if their clients come back
// within their timeout (docs/architecture.md, "Coordination service").
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "protocols/coordination/coordination_messages.h"
#include "protocols/coordination/coordination_state.h"
#include "protocols/runtime/runtime.h"

namespace pbfs::coordination {

struct CoordinationServerConfig {
  StateLimits limits;
  TimeNs tick_ns = 50 * kMillisecond;                 // session deadlines are checked (and measured) in ticks
  TimeNs session_timeout_min_ns = 200 * kMillisecond;  // requested timeouts are clamped to [min, max]
  TimeNs session_timeout_max_ns = 60 * kSecond;
  uint32_t watches_per_session_max = 100'000;
  uint32_t replies_cached_per_session = 64;            // answers of recent writes, for retried requests
  uint64_t log_bytes_max = 4 << 20;                    // a log this long is replaced by a fresh snapshot
  uint64_t load_chunk_bytes = 1 << 20;
  uint64_t load_bytes_max = 1ull << 32;                // refuse to read more at start (a broken disk)
  TimeNs disk_retry_ns = 100 * kMillisecond;           // after a failed disk write, sync or read
  size_t outbox_max = 100'000;                         // answers waiting for the log to be durable
  std::string file_prefix = "coord/tree";              // the log alternates between <prefix>.0 and .1
  TimeNs cpu_per_message_ns = 0;                       // modelled handling cost of every message
  bool trace = true;                                   // coordination_sessions rows
};

// One row per session opened, closed, expired, or reloaded at a server start.
struct SessionRow {
  uint32_t server;
  uint64_t session;
  uint32_t client;     // node that opened it (kNoNode when unknown, e.g. reloaded)
  char event[8];       // "open", "close", "expire", "reload"
  int64_t timeout_ns;
  int64_t time_ns;     // trace clock
};
const TableSchema& session_schema();

class CoordinationServer final : public Role {
 public:
  CoordinationServer(Runtime& runtime, CoordinationServerConfig config);

  void start() override;
  void on_message(const Envelope& from, const Message& message) override;
  void on_timer(TimerId id, uint64_t tag) override;
  void on_disk(const DiskCompletion& done) override;

  // For tests and checkers.
  bool serving() const { return phase_ == Phase::kServing; }
  const CoordinationState& state() const { return state_; }
  Zxid durable_zxid() const { return durable_zxid_; }
  uint64_t server_epoch() const { return epoch_; }
  uint64_t generation() const { return generation_; }
  size_t watch_count() const;

 private:
  enum class Phase : uint8_t { kLoading, kStarting, kServing };
  struct PendingEvent {
    uint64_t sequence;
    EventType event;
    std::string path;
    Zxid zxid;
  };
  // The volatile side of a session (its durable side is in state_.sessions()).
  struct Live {
    NodeId node = kNoNode;
    PortId port = 0;
    TimeNs timeout_ns = 0;
    TimeNs heard_ns = 0;  // elapsed_ns_ when the client was last heard from
    uint64_t nonce = 0;
    std::set<std::string> data_watches, child_watches;
    uint64_t next_event = 1;
    std::deque<PendingEvent> events;  // sent or waiting, not yet acknowledged
    std::map<uint64_t, std::shared_ptr<const Response>> replies;
  };
  // A message that may leave only once the log is durable up to `needs`.
  struct Outgoing {
    Zxid needs;
    NodeId to;
    PortId port;
    MessagePtr message;
  };

  // Start: read both log files, keep the newest valid one, write a fresh snapshot, then serve.
  void load_next_chunk();
  void on_load_chunk(const DiskCompletion& done);
  void finish_load();

  void handle_connect(const Envelope& from, const ConnectRequest& m);
  void handle_ping(const Envelope& from, const Ping& m);
  void handle_request(const Envelope& from, const Request& m);
  void handle_read(Live& live, SessionId session, const Request& m, Response& reply);
  CoordCode prepare_write(SessionId session, const Request& m, Txn& txn) const;
  void handle_set_watches(const Envelope& from, const SetWatches& m);
  Live* touch(SessionId session, const Envelope& from);
  bool add_watch(Live& live, SessionId session, bool child, const std::string& path);

  // Applies a prepared transaction, logs it and fires the watches it triggers; returns its zxid.
  Zxid commit(Txn txn);
  void forget_session(SessionId session);
  void fire(const std::vector<Trigger>& triggers, Zxid zxid);
  void take_watchers(std::map<std::string, std::set<SessionId>>& table, bool child, const std::string& path,
                     std::set<SessionId>& out);
  void queue_event(SessionId session, EventType event, const std::string& path, Zxid zxid);
  void expire_sessions();
  void trace_session(SessionId session, NodeId client, const char* event, TimeNs timeout_ns);

  // Persist before answering: every answer waits in the outbox until the log covers what it shows.
  void enqueue(Zxid needs, NodeId to, PortId port, MessagePtr message);
  void release_outbox();
  void flush();
  void on_flush_done(const DiskCompletion& done);
  std::string file_name(uint32_t index) const;

  Runtime& runtime_;
  CoordinationServerConfig config_;
  Phase phase_ = Phase::kLoading;
  // Time measured by counting ticks: timers follow the clock's rate but ignore its steps, so a stepped
  // clock cannot expire every session at once (ZooKeeper also uses a monotonic clock for this).
  TimeNs elapsed_ns_ = 0;
  TimeNs scan_after_ns_ = 0;  // no session's deadline (heard + timeout) was earlier at the last scan
  CoordinationState state_;
  uint64_t epoch_ = 0;
  std::map<SessionId, Live> live_;
  std::map<uint64_t, SessionId> session_by_nonce_;
  std::map<std::string, std::set<SessionId>> data_watches_;   // get and exists watches
  std::map<std::string, std::set<SessionId>> child_watches_;  // get_children watches
  std::deque<Outgoing> outbox_;

  // Loading.
  uint32_t load_file_ = 0;
  Bytes load_bytes_[2];
  // The log.
  uint32_t current_file_ = 1;  // the first snapshot goes to file 0
  uint64_t generation_ = 0;
  uint64_t log_bytes_ = 0;     // valid length of the current file
  Bytes log_buffer_;           // records applied but not yet written
  bool force_snapshot_ = true;
  bool flushing_ = false;
  uint64_t flush_sequence_ = 0;
  uint32_t flush_ops_left_ = 0;
  bool flush_failed_ = false;
  bool flush_is_snapshot_ = false;
  uint64_t flush_bytes_ = 0;
  Zxid flush_zxid_ = 0;
  Zxid durable_zxid_ = 0;
  TraceTableId sessions_table_ = 0;
};

}  // namespace pbfs::coordination
