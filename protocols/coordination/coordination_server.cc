// The coordination server (coordination_server.h). Writes are applied to the in-memory state at once
// (so later requests are validated against them) but nothing that shows them — an answer, a watch
// event — leaves before the log record is on disk: answers wait in a FIFO outbox keyed by the zxid
// they need to be durable. Answers to reads wait too, so no client ever sees a state a crash can undo.
#include "protocols/coordination/coordination_server.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace pbfs::coordination {
namespace {

constexpr uint64_t kTagMarker = 0xD1ull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;
constexpr uint64_t kValueMask = (1ull << 48) - 1;
enum TagKind : uint64_t { kTagTick = 1, kTagFlushRetry, kTagLoadRetry, kTagLoad, kTagFlush };

constexpr uint64_t make_tag(uint64_t kind, uint64_t value) { return kTagMarker | (kind << 48) | (value & kValueMask); }
constexpr uint64_t tag_kind(uint64_t tag) { return (tag >> 48) & 0xFF; }
constexpr uint64_t tag_value(uint64_t tag) { return tag & kValueMask; }

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs coordination server: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

const TableSchema& session_schema() {
  static const TableSchema schema{
      "coordination_sessions",
      "one row per coordination-service session opened, closed, expired, or reloaded at a server start",
      sizeof(SessionRow),
      {PBFS_FIELD(SessionRow, server, "coordination server node"),
       PBFS_FIELD(SessionRow, session, "session id"),
       PBFS_FIELD(SessionRow, client, "node that opened the session (4294967295: unknown)"),
       PBFS_FIELD(SessionRow, event, "open, close, expire or reload"),
       PBFS_FIELD(SessionRow, timeout_ns, "negotiated session timeout"),
       PBFS_FIELD(SessionRow, time_ns, "trace-clock time")}};
  return schema;
}

CoordinationServer::CoordinationServer(Runtime& runtime, CoordinationServerConfig config)
    : runtime_(runtime), config_(std::move(config)), state_(config_.limits) {
  require(config_.tick_ns > 0 && config_.session_timeout_min_ns > 0 &&
              config_.session_timeout_min_ns <= config_.session_timeout_max_ns && config_.load_chunk_bytes > 0,
          "server configuration");
}

std::string CoordinationServer::file_name(uint32_t index) const {
  return config_.file_prefix + "." + std::to_string(index);
}

size_t CoordinationServer::watch_count() const {
  size_t n = 0;
  for (const auto& [path, sessions] : data_watches_) n += sessions.size();
  for (const auto& [path, sessions] : child_watches_) n += sessions.size();
  return n;
}

void CoordinationServer::start() {
  if (config_.trace) sessions_table_ = runtime_.trace_table(session_schema());
  phase_ = Phase::kLoading;
  load_file_ = 0;
  load_bytes_[0].clear();
  load_bytes_[1].clear();
  load_next_chunk();
}

void CoordinationServer::load_next_chunk() {
  runtime_.disk_read(file_name(load_file_), load_bytes_[load_file_].size(), config_.load_chunk_bytes,
                     make_tag(kTagLoad, load_file_));
}

void CoordinationServer::on_load_chunk(const DiskCompletion& done) {
  if (phase_ != Phase::kLoading || tag_value(done.tag) != load_file_) return;
  if (!done.status.is_ok() && done.status.code() != StatusCode::kNotFound) {
    runtime_.count("coordination.load_failed");
    load_bytes_[0].clear();
    load_bytes_[1].clear();
    load_file_ = 0;
    runtime_.set_timer(config_.disk_retry_ns, make_tag(kTagLoadRetry, 0));
    return;
  }
  Bytes& bytes = load_bytes_[load_file_];
  if (done.status.is_ok() && done.data.is_real()) {
    bytes.insert(bytes.end(), done.data.bytes->begin(), done.data.bytes->end());
    if (done.data.size == config_.load_chunk_bytes && bytes.size() < config_.load_bytes_max) {
      load_next_chunk();
      return;
    }
  }
  if (++load_file_ < 2) {
    load_next_chunk();
    return;
  }
  finish_load();
}

void CoordinationServer::finish_load() {
  std::optional<LoadedLog> logs[2] = {load_log(load_bytes_[0], config_.limits),
                                      load_log(load_bytes_[1], config_.limits)};
  int best = -1;
  for (int i = 0; i < 2; ++i) {
    if (logs[i] && (best < 0 || logs[i]->generation > logs[best]->generation)) best = i;
  }
  if (best >= 0) {
    LoadedLog& log = *logs[best];
    if (log.damaged_tail) runtime_.count("coordination.log_tail_discarded");
    state_ = std::move(log.state);
    generation_ = log.generation;
    current_file_ = static_cast<uint32_t>(best);
    log_bytes_ = log.valid_bytes;
  } else {
    state_ = CoordinationState(config_.limits);
    generation_ = 0;
    current_file_ = 1;
    log_bytes_ = 0;
  }
  load_bytes_[0] = Bytes();
  load_bytes_[1] = Bytes();
  durable_zxid_ = flush_zxid_ = state_.zxid();
  // Sessions survive the restart: each gets a full timeout from now to reach the server again.
  for (const auto& [id, record] : state_.sessions()) {
    Live& live = live_[id];
    live.timeout_ns = record.timeout_ns;
    live.heard_ns = elapsed_ns_;
    scan_after_ns_ = std::min(scan_after_ns_, elapsed_ns_ + record.timeout_ns);
    trace_session(id, kNoNode, "reload", record.timeout_ns);
  }
  // A fresh snapshot in the other file starts this incarnation: its generation is the server epoch
  // clients see, and nothing is appended after a tail a crash may have torn.
  phase_ = Phase::kStarting;
  force_snapshot_ = true;
  flush();
}

void CoordinationServer::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_.cpu_per_message_ns);
  if (phase_ != Phase::kServing) {
    runtime_.count("coordination.server_not_ready");
    return;
  }
  switch (message.type()) {
    case ConnectRequest::kType:
      handle_connect(from, static_cast<const ConnectRequest&>(message));
      break;
    case Ping::kType:
      handle_ping(from, static_cast<const Ping&>(message));
      break;
    case Request::kType:
      handle_request(from, static_cast<const Request&>(message));
      break;
    case SetWatches::kType:
      handle_set_watches(from, static_cast<const SetWatches&>(message));
      break;
    default:
      runtime_.count("coordination.unexpected_message");
      break;
  }
}

CoordinationServer::Live* CoordinationServer::touch(SessionId session, const Envelope& from) {
  auto it = live_.find(session);
  if (it == live_.end()) return nullptr;
  it->second.node = from.from;
  it->second.port = from.from_port;
  it->second.heard_ns = elapsed_ns_;
  return &it->second;
}

void CoordinationServer::handle_connect(const Envelope& from, const ConnectRequest& m) {
  auto reply = std::make_shared<ConnectResponse>();
  reply->nonce = m.nonce;
  reply->server_epoch = epoch_;
  if (auto known = session_by_nonce_.find(m.nonce); known != session_by_nonce_.end()) {
    Live* live = touch(known->second, from);
    if (live != nullptr) {  // a retried connect: the same session again
      runtime_.count("coordination.duplicate_connect");
      reply->session = known->second;
      reply->timeout_ns = live->timeout_ns;
      enqueue(state_.zxid(), from.from, from.from_port, std::move(reply));
      return;
    }
  }
  const TimeNs timeout = std::clamp(m.timeout_ns, config_.session_timeout_min_ns, config_.session_timeout_max_ns);
  Txn txn;
  reply->code = state_.prepare_create_session(timeout, txn);
  if (reply->code != CoordCode::kOk) {
    enqueue(state_.zxid(), from.from, from.from_port, std::move(reply));
    return;
  }
  // Random high bits keep ids unique even if the server's history starts again (a replaced disk).
  txn.session = (runtime_.random()() & 0xFFFFFFull) << 40 | ((state_.zxid() + 1) & ((1ull << 40) - 1));
  const Zxid zxid = commit(txn);
  Live& live = live_[txn.session];
  live.node = from.from;
  live.port = from.from_port;
  live.timeout_ns = timeout;
  live.heard_ns = elapsed_ns_;
  live.nonce = m.nonce;
  scan_after_ns_ = std::min(scan_after_ns_, elapsed_ns_ + timeout);
  session_by_nonce_[m.nonce] = txn.session;
  trace_session(txn.session, from.from, "open", timeout);
  reply->session = txn.session;
  reply->timeout_ns = timeout;
  enqueue(zxid, from.from, from.from_port, std::move(reply));
}

void CoordinationServer::handle_ping(const Envelope& from, const Ping& m) {
  auto reply = std::make_shared<PingResponse>();
  reply->session = m.session;
  reply->server_epoch = epoch_;
  Live* live = touch(m.session, from);
  if (live == nullptr) {
    reply->code = CoordCode::kSessionExpired;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  if (m.server_epoch == epoch_) {
    while (!live->events.empty() && live->events.front().sequence <= m.events_acked) live->events.pop_front();
  }
  runtime_.send(from.from, from.from_port, std::move(reply));
  // Events the client has not acknowledged are sent again (it drops the copies it already has); those
  // whose change is not durable yet are still waiting in the outbox.
  for (const PendingEvent& e : live->events) {
    if (e.zxid > durable_zxid_) break;
    auto event = std::make_shared<WatchEvent>();
    event->session = m.session;
    event->server_epoch = epoch_;
    event->sequence = e.sequence;
    event->event = e.event;
    event->path = e.path;
    event->zxid = e.zxid;
    runtime_.send(from.from, from.from_port, std::move(event));
  }
}

void CoordinationServer::handle_request(const Envelope& from, const Request& m) {
  auto reply = std::make_shared<Response>();
  reply->request_id = m.request_id;
  reply->op = m.op;
  reply->server_epoch = epoch_;
  reply->zxid = state_.zxid();
  Live* live = touch(m.session, from);
  if (live == nullptr) {
    reply->code = CoordCode::kSessionExpired;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  if (!is_write(m.op)) {
    handle_read(*live, m.session, m, *reply);
    enqueue(state_.zxid(), from.from, from.from_port, std::move(reply));
    return;
  }
  if (auto cached = live->replies.find(m.request_id); cached != live->replies.end()) {
    runtime_.count("coordination.duplicate_request");
    enqueue(cached->second->zxid, from.from, from.from_port, cached->second);
    return;
  }
  Txn txn;
  reply->code = prepare_write(m.session, m, txn);
  if (reply->code != CoordCode::kOk) {
    enqueue(state_.zxid(), from.from, from.from_port, std::move(reply));
    return;
  }
  txn.request_id = m.request_id;
  const bool closing = m.op == Op::kCloseSession;
  if (closing) trace_session(m.session, from.from, "close", live->timeout_ns);
  reply->zxid = commit(txn);  // a close forgets `live`
  if (const Znode* node = state_.find(txn.path); node != nullptr && !closing) {
    reply->stat = state_.stat_of(*node);
    if (m.op == Op::kCreate) reply->path = txn.path;
  }
  if (!closing) {
    live->replies[m.request_id] = reply;
    if (live->replies.size() > config_.replies_cached_per_session) live->replies.erase(live->replies.begin());
  }
  const Zxid needs = reply->zxid;
  enqueue(needs, from.from, from.from_port, std::move(reply));
}

CoordCode CoordinationServer::prepare_write(SessionId session, const Request& m, Txn& txn) const {
  switch (m.op) {
    case Op::kCreate:
      return state_.prepare_create(m.path, m.data, m.create_flags, session, txn);
    case Op::kDelete:
      return state_.prepare_delete(m.path, m.version, session, txn);
    case Op::kSetData:
      return state_.prepare_set(m.path, m.data, m.version, session, txn);
    case Op::kCloseSession:
      return state_.prepare_close_session(session, txn);
    default:
      return CoordCode::kBadArguments;
  }
}

void CoordinationServer::handle_read(Live& live, SessionId session, const Request& m, Response& reply) {
  if (!valid_path(m.path, config_.limits.path_bytes_max)) {
    reply.code = CoordCode::kBadArguments;
    return;
  }
  const Znode* node = state_.find(m.path);
  // ZooKeeper's rules: get and get_children set no watch on a missing node; exists always does (it
  // then fires when the node is created).
  if (node == nullptr && m.op != Op::kExists) {
    reply.code = CoordCode::kNoNode;
    return;
  }
  if (m.watch && !add_watch(live, session, m.op == Op::kGetChildren, m.path)) {
    reply.code = CoordCode::kLimitExceeded;
    return;
  }
  if (node == nullptr) {
    reply.code = CoordCode::kNoNode;
    return;
  }
  reply.stat = state_.stat_of(*node);
  if (m.op == Op::kGetData) reply.data = node->data;
  if (m.op == Op::kGetChildren) reply.children = state_.children_of(*node);
}

bool CoordinationServer::add_watch(Live& live, SessionId session, bool child, const std::string& path) {
  std::set<std::string>& mine = child ? live.child_watches : live.data_watches;
  if (mine.contains(path)) return true;
  if (live.data_watches.size() + live.child_watches.size() >= config_.watches_per_session_max) {
    runtime_.count("coordination.watch_limit");
    return false;
  }
  mine.insert(path);
  (child ? child_watches_ : data_watches_)[path].insert(session);
  return true;
}

void CoordinationServer::handle_set_watches(const Envelope& from, const SetWatches& m) {
  auto reply = std::make_shared<Response>();
  reply->request_id = m.request_id;
  reply->op = Op::kSetWatches;
  reply->server_epoch = epoch_;
  reply->zxid = state_.zxid();
  Live* live = touch(m.session, from);
  if (live == nullptr) {
    reply->code = CoordCode::kSessionExpired;
    runtime_.send(from.from, from.from_port, std::move(reply));
    return;
  }
  // ZooKeeper's SetWatches: a watch whose node changed after the zxid it was set at fires now; the
  // others are registered again.
  const Zxid now = state_.zxid();
  for (const WatchRegistration& w : m.data) {
    const Znode* node = state_.find(w.path);
    if (node == nullptr) {
      queue_event(m.session, EventType::kNodeDeleted, w.path, now);
    } else if (node->mzxid > w.zxid) {
      queue_event(m.session, EventType::kNodeDataChanged, w.path, now);
    } else {
      (void)add_watch(*live, m.session, false, w.path);
    }
  }
  for (const WatchRegistration& w : m.exist) {
    if (state_.find(w.path) != nullptr) {
      queue_event(m.session, EventType::kNodeCreated, w.path, now);
    } else {
      (void)add_watch(*live, m.session, false, w.path);
    }
  }
  for (const WatchRegistration& w : m.child) {
    const Znode* node = state_.find(w.path);
    if (node == nullptr) {
      queue_event(m.session, EventType::kNodeDeleted, w.path, now);
    } else if (node->pzxid > w.zxid) {
      queue_event(m.session, EventType::kNodeChildrenChanged, w.path, now);
    } else {
      (void)add_watch(*live, m.session, true, w.path);
    }
  }
  enqueue(now, from.from, from.from_port, std::move(reply));
}

Zxid CoordinationServer::commit(Txn txn) {
  txn.zxid = state_.zxid() + 1;
  std::vector<Trigger> triggers;
  require(state_.apply(txn, &triggers), "a prepared transaction did not apply");
  const Bytes record = encode_txn_record(txn);
  log_buffer_.insert(log_buffer_.end(), record.begin(), record.end());
  if (txn.kind == TxnKind::kCloseSession) forget_session(txn.session);
  fire(triggers, txn.zxid);
  flush();
  return txn.zxid;
}

void CoordinationServer::forget_session(SessionId session) {
  auto it = live_.find(session);
  if (it == live_.end()) return;
  for (const std::string& path : it->second.data_watches) {
    auto w = data_watches_.find(path);
    w->second.erase(session);
    if (w->second.empty()) data_watches_.erase(w);
  }
  for (const std::string& path : it->second.child_watches) {
    auto w = child_watches_.find(path);
    w->second.erase(session);
    if (w->second.empty()) child_watches_.erase(w);
  }
  if (it->second.nonce != 0) session_by_nonce_.erase(it->second.nonce);
  live_.erase(it);
}

void CoordinationServer::take_watchers(std::map<std::string, std::set<SessionId>>& table, bool child,
                                       const std::string& path, std::set<SessionId>& out) {
  auto it = table.find(path);
  if (it == table.end()) return;
  for (SessionId s : it->second) {
    auto live = live_.find(s);
    if (live != live_.end()) (child ? live->second.child_watches : live->second.data_watches).erase(path);
    out.insert(s);
  }
  table.erase(it);
}

void CoordinationServer::fire(const std::vector<Trigger>& triggers, Zxid zxid) {
  for (const Trigger& t : triggers) {
    std::set<SessionId> on_node, on_parent;
    const std::string parent = parent_path(t.path);
    EventType event = EventType::kNodeDataChanged;
    switch (t.kind) {
      case Trigger::kCreated:
        event = EventType::kNodeCreated;
        take_watchers(data_watches_, false, t.path, on_node);
        take_watchers(child_watches_, true, parent, on_parent);
        break;
      case Trigger::kDeleted:
        // One NodeDeleted per session even if it watched both the data and the children.
        event = EventType::kNodeDeleted;
        take_watchers(data_watches_, false, t.path, on_node);
        take_watchers(child_watches_, true, t.path, on_node);
        take_watchers(child_watches_, true, parent, on_parent);
        break;
      case Trigger::kDataChanged:
        take_watchers(data_watches_, false, t.path, on_node);
        break;
    }
    for (SessionId s : on_node) queue_event(s, event, t.path, zxid);
    for (SessionId s : on_parent) queue_event(s, EventType::kNodeChildrenChanged, parent, zxid);
  }
}

void CoordinationServer::queue_event(SessionId session, EventType event, const std::string& path, Zxid zxid) {
  auto it = live_.find(session);
  if (it == live_.end()) return;
  Live& live = it->second;
  const PendingEvent pending{live.next_event++, event, path, zxid};
  live.events.push_back(pending);
  auto message = std::make_shared<WatchEvent>();
  message->session = session;
  message->server_epoch = epoch_;
  message->sequence = pending.sequence;
  message->event = event;
  message->path = path;
  message->zxid = zxid;
  enqueue(zxid, live.node, live.port, std::move(message));
}

void CoordinationServer::expire_sessions() {
  // No session can have expired before the earliest deadline seen at the last scan (hearing from a
  // session only moves its deadline later), so most ticks scan nothing.
  if (elapsed_ns_ <= scan_after_ns_) return;
  std::vector<SessionId> expired;
  scan_after_ns_ = std::numeric_limits<TimeNs>::max();
  for (const auto& [id, live] : live_) {
    if (elapsed_ns_ - live.heard_ns > live.timeout_ns) expired.push_back(id);
    scan_after_ns_ = std::min(scan_after_ns_, live.heard_ns + live.timeout_ns);
  }
  for (SessionId id : expired) {
    Txn txn;
    if (state_.prepare_close_session(id, txn) != CoordCode::kOk) continue;
    runtime_.count("coordination.session_expired");
    trace_session(id, live_.at(id).node, "expire", live_.at(id).timeout_ns);
    commit(txn);
  }
}

void CoordinationServer::trace_session(SessionId session, NodeId client, const char* event, TimeNs timeout_ns) {
  if (!config_.trace) return;
  SessionRow row{};
  row.server = runtime_.node_id();
  row.session = session;
  row.client = client;
  set_chars(row.event, event);
  row.timeout_ns = timeout_ns;
  row.time_ns = runtime_.trace_now_ns();
  runtime_.trace(sessions_table_, &row);
}

void CoordinationServer::enqueue(Zxid needs, NodeId to, PortId port, MessagePtr message) {
  if (outbox_.empty() && needs <= durable_zxid_) {
    if (to != kNoNode) runtime_.send(to, port, std::move(message));
    return;
  }
  if (outbox_.size() >= config_.outbox_max) {
    runtime_.count("coordination.outbox_full");  // the client retries; events are re-sent on pings
    return;
  }
  outbox_.push_back(Outgoing{needs, to, port, std::move(message)});
}

void CoordinationServer::release_outbox() {
  while (!outbox_.empty() && outbox_.front().needs <= durable_zxid_) {
    Outgoing& o = outbox_.front();
    if (o.to != kNoNode) runtime_.send(o.to, o.port, std::move(o.message));
    outbox_.pop_front();
  }
}

// One write (and its sync) at a time; records applied meanwhile wait in log_buffer_ and go out
// together (group commit). When the log grows past log_bytes_max, or after a failed write, the whole
// state goes to the other file as a snapshot with the next generation instead.
void CoordinationServer::flush() {
  if (flushing_ || phase_ == Phase::kLoading) return;
  if (!force_snapshot_ && log_buffer_.empty()) return;
  flushing_ = true;
  flush_failed_ = false;
  flush_zxid_ = state_.zxid();
  const uint64_t tag = make_tag(kTagFlush, ++flush_sequence_);
  flush_is_snapshot_ = force_snapshot_ || log_bytes_ + log_buffer_.size() > config_.log_bytes_max;
  if (flush_is_snapshot_) {
    const std::string target = file_name(1 - current_file_);
    Bytes snapshot = encode_snapshot_record(state_, generation_ + 1);
    flush_bytes_ = snapshot.size();
    runtime_.disk_remove(target, tag);  // the file never keeps a longer, older tail
    runtime_.disk_write(target, 0, Payload::real(std::move(snapshot)), tag);
    runtime_.disk_sync(target, tag);
    flush_ops_left_ = 3;
  } else {
    flush_bytes_ = log_buffer_.size();
    runtime_.disk_write(file_name(current_file_), log_bytes_, Payload::real(std::move(log_buffer_)), tag);
    runtime_.disk_sync(file_name(current_file_), tag);
    flush_ops_left_ = 2;
  }
  log_buffer_ = Bytes();
}

void CoordinationServer::on_flush_done(const DiskCompletion& done) {
  if (!flushing_ || tag_value(done.tag) != (flush_sequence_ & kValueMask)) return;
  if (done.kind != DiskOpKind::kRemove && !done.status.is_ok()) flush_failed_ = true;
  if (--flush_ops_left_ > 0) return;
  flushing_ = false;
  if (flush_failed_) {
    // Whatever reached the disk is superseded by the snapshot written at the next attempt.
    runtime_.count("coordination.log_write_failed");
    force_snapshot_ = true;
    runtime_.set_timer(config_.disk_retry_ns, make_tag(kTagFlushRetry, 0));
    return;
  }
  if (flush_is_snapshot_) {
    current_file_ = 1 - current_file_;
    ++generation_;
    log_bytes_ = flush_bytes_;
    force_snapshot_ = false;
  } else {
    log_bytes_ += flush_bytes_;
  }
  require(flush_zxid_ >= durable_zxid_, "durable zxid went back");
  durable_zxid_ = flush_zxid_;
  if (phase_ == Phase::kStarting) {
    phase_ = Phase::kServing;
    epoch_ = generation_;
    runtime_.set_timer(config_.tick_ns, make_tag(kTagTick, 0));
  }
  release_outbox();
  flush();
}

void CoordinationServer::on_disk(const DiskCompletion& done) {
  if ((done.tag & kTagMarkerMask) != kTagMarker) return;
  if (tag_kind(done.tag) == kTagLoad) {
    on_load_chunk(done);
  } else if (tag_kind(done.tag) == kTagFlush) {
    on_flush_done(done);
  }
}

void CoordinationServer::on_timer(TimerId id, uint64_t tag) {
  if ((tag & kTagMarkerMask) != kTagMarker) return;
  switch (tag_kind(tag)) {
    case kTagTick:
      elapsed_ns_ += config_.tick_ns;
      expire_sessions();
      runtime_.set_timer(config_.tick_ns, make_tag(kTagTick, 0));
      break;
    case kTagFlushRetry:
      flush();
      break;
    case kTagLoadRetry:
      if (phase_ == Phase::kLoading) load_next_chunk();
      break;
    default:
      break;
  }
}

}  // namespace pbfs::coordination
