// The coordination-service client (coordination_client.h). Requests are numbered per client; an
// unanswered one is sent again with the same number (the server answers a repeated write from its
// cache) until attempts_max periods have passed. Watch events are delivered in the server's order,
// each once: the client takes only the next number and acknowledges it in its pings.
#include "protocols/coordination/coordination_client.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::coordination {
namespace {

constexpr uint64_t kTagMarker = 0xD0ull << 56;
constexpr uint64_t kTagMarkerMask = 0xFFull << 56;
constexpr uint64_t kValueMask = (1ull << 48) - 1;
enum TimerKind : uint64_t { kTimerConnect = 1, kTimerPing = 2, kTimerRequest = 3 };

constexpr uint64_t make_tag(uint64_t kind, uint64_t value) { return kTagMarker | (kind << 48) | (value & kValueMask); }

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs coordination client: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

const char* session_state_name(SessionState state) {
  switch (state) {
    case SessionState::kIdle: return "idle";
    case SessionState::kConnecting: return "connecting";
    case SessionState::kConnected: return "connected";
    case SessionState::kDisconnected: return "disconnected";
    case SessionState::kExpired: return "expired";
    case SessionState::kClosed: return "closed";
  }
  return "unknown";
}

CoordinationClient::CoordinationClient(Runtime& runtime, CoordinationClientConfig config)
    : runtime_(runtime), config_(std::move(config)) {
  require(config_.server != kNoNode, "no coordination server configured");
  require(config_.session_timeout_ns >= 3 && config_.request_timeout_ns > 0 && config_.connect_retry_ns > 0 &&
              config_.attempts_max >= 1 && config_.requests_max >= 1,
          "client configuration");
}

bool CoordinationClient::owns_tag(uint64_t tag) { return (tag & kTagMarkerMask) == kTagMarker; }

void CoordinationClient::start() {
  if (config_.connect_at_start) connect();
}

size_t CoordinationClient::watch_count() const {
  size_t n = 0;
  for (const WatcherTable* t : {&data_watchers_, &exist_watchers_, &child_watchers_}) {
    for (const auto& [path, list] : *t) n += list.size();
  }
  return n;
}

void CoordinationClient::notify(SessionEvent event) {
  if (session_callback_) session_callback_(event);
}

void CoordinationClient::connect() {
  if (state_ == SessionState::kConnecting || has_session()) {
    runtime_.count("coordination.client_connect_ignored");
    return;
  }
  state_ = SessionState::kConnecting;
  session_ = 0;
  server_epoch_ = 0;
  events_delivered_ = 0;
  connect_nonce_ = runtime_.random()() | 1;
  connect_delay_ns_ = std::max<TimeNs>(config_.connect_retry_ns / 8, 1);
  send_connect();
}

void CoordinationClient::send_connect() {
  auto m = std::make_shared<ConnectRequest>();
  m->nonce = connect_nonce_;
  m->timeout_ns = config_.session_timeout_ns;
  runtime_.send(config_.server, config_.server_port, std::move(m));
  // Quick retries first (a server that is still loading its log answers within milliseconds), then
  // backing off to connect_retry_ns.
  connect_timer_ = runtime_.set_timer(connect_delay_ns_, make_tag(kTimerConnect, 0));
  connect_delay_ns_ = std::min(2 * connect_delay_ns_, config_.connect_retry_ns);
}

void CoordinationClient::close(DoneCallback done) {
  if (!has_session()) {
    // Nothing open on the server: finishes at once, before close() returns.
    if (connect_timer_ != 0) runtime_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
    const bool was_open = state_ == SessionState::kConnecting;
    state_ = SessionState::kClosed;
    fail_all(CoordCode::kSessionExpired);
    if (was_open) notify(SessionEvent::kClosed);
    if (done) done(CoordCode::kOk);
    return;
  }
  Request r;
  r.op = Op::kCloseSession;
  issue(std::move(r), [this, done = std::move(done)](const Response& m) {
    // Gone already counts as closed; without an answer the server expires the session instead.
    if (has_session()) end_session(SessionState::kClosed, SessionEvent::kClosed);
    if (done) done(m.code == CoordCode::kSessionExpired ? CoordCode::kOk : m.code);
  });
}

void CoordinationClient::issue(Request request, std::function<void(const Response&)> done) {
  if (pending_.size() >= config_.requests_max) {
    runtime_.count("coordination.client_too_many_requests");
    Response r;
    r.op = request.op;
    r.code = CoordCode::kTooManyRequests;
    done(r);
    return;
  }
  const uint64_t id = next_request_id_++;
  require(id <= kValueMask, "request ids exhausted");
  request.request_id = id;
  Pending& p = pending_[id];
  if (request.op == Op::kSetWatches) {
    auto m = std::make_shared<SetWatches>();
    m->session = session_;
    m->request_id = id;
    for (const auto& [table, list] : {std::pair{&data_watchers_, &m->data}, std::pair{&exist_watchers_, &m->exist},
                                      std::pair{&child_watchers_, &m->child}}) {
      for (const auto& [path, watchers] : *table) {
        Zxid zxid = watchers.front().zxid;
        for (const Watcher& w : watchers) zxid = std::min(zxid, w.zxid);
        list->push_back(WatchRegistration{path, zxid});
      }
    }
    p.set_watches = std::move(m);
  }
  p.request = std::move(request);
  p.done = std::move(done);
  send(id, p);
  p.timer = runtime_.set_timer(config_.request_timeout_ns, make_tag(kTimerRequest, id));
}

void CoordinationClient::send(uint64_t request_id, Pending& p) {
  if (!has_session()) return;  // goes out when the session opens
  if (p.set_watches) {
    runtime_.send(config_.server, config_.server_port, p.set_watches);
    return;
  }
  auto m = std::make_shared<Request>(p.request);
  m->session = session_;
  runtime_.send(config_.server, config_.server_port, std::move(m));
}

void CoordinationClient::fail(uint64_t request_id, CoordCode code) {
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (p.timer != 0) runtime_.cancel_timer(p.timer);
  Response r;
  r.request_id = request_id;
  r.op = p.request.op;
  r.code = code;
  p.done(r);
}

void CoordinationClient::fail_all(CoordCode code) {
  // Taken out first: the callbacks may issue new requests, which must not fail with these.
  std::map<uint64_t, Pending> old;
  old.swap(pending_);
  for (auto& [id, p] : old) {
    if (p.timer != 0) runtime_.cancel_timer(p.timer);
    Response r;
    r.request_id = id;
    r.op = p.request.op;
    r.code = code;
    p.done(r);
  }
}

void CoordinationClient::on_message(const Envelope& from, const Message& message) {
  runtime_.charge_cpu(config_.cpu_per_message_ns);
  if (from.from != config_.server) {
    runtime_.count("coordination.client_unexpected_sender");
    return;
  }
  switch (message.type()) {
    case ConnectResponse::kType:
      handle_connect_response(static_cast<const ConnectResponse&>(message));
      break;
    case PingResponse::kType: {
      const auto& m = static_cast<const PingResponse&>(message);
      if (!has_session() || m.session != session_) return;
      if (m.code == CoordCode::kSessionExpired) {
        end_session(SessionState::kExpired, SessionEvent::kExpired);
        return;
      }
      heard(m.server_epoch);
      break;
    }
    case Response::kType:
      handle_response(static_cast<const Response&>(message));
      break;
    case WatchEvent::kType:
      handle_event(static_cast<const WatchEvent&>(message));
      break;
    default:
      runtime_.count("coordination.client_unexpected_message");
      break;
  }
}

void CoordinationClient::handle_connect_response(const ConnectResponse& m) {
  if (state_ != SessionState::kConnecting || m.nonce != connect_nonce_) {
    runtime_.count("coordination.client_stale_connect_response");
    return;
  }
  if (m.code != CoordCode::kOk) {
    runtime_.count("coordination.client_connect_refused");  // the connect timer tries again
    return;
  }
  if (connect_timer_ != 0) runtime_.cancel_timer(connect_timer_);
  connect_timer_ = 0;
  session_ = m.session;
  timeout_ns_ = m.timeout_ns;
  server_epoch_ = m.server_epoch;
  events_delivered_ = 0;
  silent_ns_ = 0;
  state_ = SessionState::kConnected;
  ping_interval_ns_ = timeout_ns_ / 3;
  ping_timer_ = runtime_.set_timer(ping_interval_ns_, make_tag(kTimerPing, 0));
  for (auto& [id, p] : pending_) send(id, p);  // requests issued before the session existed
  notify(SessionEvent::kConnected);
}

// Anything from the server proves the session's connection works; a higher server epoch means the
// server restarted and forgot our watches.
void CoordinationClient::heard(uint64_t server_epoch) {
  if (!has_session()) return;
  silent_ns_ = 0;
  if (server_epoch > server_epoch_) {
    runtime_.count("coordination.client_server_restarted");
    server_epoch_ = server_epoch;
    events_delivered_ = 0;
    resend_watches();
  }
  if (state_ == SessionState::kDisconnected) {
    state_ = SessionState::kConnected;
    notify(SessionEvent::kReconnected);
  }
}

void CoordinationClient::handle_response(const Response& m) {
  auto it = pending_.find(m.request_id);
  if (it == pending_.end() || it->second.request.op != m.op) {
    runtime_.count("coordination.client_stale_response");
    return;
  }
  if (m.code == CoordCode::kSessionExpired && m.op != Op::kCloseSession) {
    end_session(SessionState::kExpired, SessionEvent::kExpired);
    return;
  }
  heard(m.server_epoch);
  it = pending_.find(m.request_id);  // heard()'s callbacks may have changed the table
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (p.timer != 0) runtime_.cancel_timer(p.timer);
  p.done(m);
}

void CoordinationClient::handle_event(const WatchEvent& m) {
  if (!has_session() || m.session != session_) return;
  heard(m.server_epoch);
  if (!has_session()) return;
  if (m.server_epoch != server_epoch_ || m.sequence != events_delivered_ + 1) {
    runtime_.count("coordination.client_event_dropped");  // a copy, or one after a gap: re-sent later
    return;
  }
  events_delivered_ = m.sequence;
  std::vector<WatchCallback> callbacks;
  switch (m.event) {
    case EventType::kNodeCreated:
    case EventType::kNodeDataChanged:
      take(data_watchers_, m.path, callbacks);
      take(exist_watchers_, m.path, callbacks);
      break;
    case EventType::kNodeDeleted:
      take(data_watchers_, m.path, callbacks);
      take(exist_watchers_, m.path, callbacks);
      take(child_watchers_, m.path, callbacks);
      break;
    case EventType::kNodeChildrenChanged:
      take(child_watchers_, m.path, callbacks);
      break;
  }
  const WatchedEvent event{m.event, m.path};
  for (const WatchCallback& callback : callbacks) callback(event);
}

void CoordinationClient::take(WatcherTable& table, const std::string& path, std::vector<WatchCallback>& out) {
  auto it = table.find(path);
  if (it == table.end()) return;
  for (Watcher& w : it->second) out.push_back(std::move(w.callback));
  table.erase(it);
}

void CoordinationClient::register_watch(WatcherTable& table, const std::string& path, WatchCallback callback,
                                        Zxid zxid) {
  table[path].push_back(Watcher{std::move(callback), zxid});
}

void CoordinationClient::end_session(SessionState state, SessionEvent event) {
  state_ = state;
  session_ = 0;
  for (TimerId* t : {&ping_timer_, &connect_timer_}) {
    if (*t != 0) runtime_.cancel_timer(*t);
    *t = 0;
  }
  data_watchers_.clear();
  exist_watchers_.clear();
  child_watchers_.clear();
  std::map<uint64_t, Pending> old;
  old.swap(pending_);
  notify(event);  // may connect() again: requests issued from here on belong to the new session
  for (auto& [id, p] : old) {
    if (p.timer != 0) runtime_.cancel_timer(p.timer);
    Response r;
    r.request_id = id;
    r.op = p.request.op;
    r.code = CoordCode::kSessionExpired;
    p.done(r);
  }
}

void CoordinationClient::resend_watches() {
  if (!has_session() || watch_count() == 0) return;
  Request r;
  r.op = Op::kSetWatches;
  issue(std::move(r), [this](const Response& m) {
    if (m.code == CoordCode::kConnectionLoss) resend_watches();
  });
}

void CoordinationClient::on_ping_timer() {
  if (!has_session()) return;
  const TimeNs period = timeout_ns_ / 3;
  silent_ns_ += ping_interval_ns_;
  auto ping = std::make_shared<Ping>();
  ping->session = session_;
  ping->server_epoch = server_epoch_;
  ping->events_acked = events_delivered_;
  runtime_.send(config_.server, config_.server_port, std::move(ping));
  // Once a ping has gone unanswered, ping four times as often until the server answers (ZooKeeper's
  // client likewise reconnects at once when its connection breaks), so that a lost message or two
  // does not cost the session.
  ping_interval_ns_ = silent_ns_ >= period ? std::max<TimeNs>(period / 4, 1) : period;
  ping_timer_ = runtime_.set_timer(ping_interval_ns_, make_tag(kTimerPing, 0));
  // ZooKeeper's client gives up on a connection after 2/3 of the timeout without hearing from it.
  if (state_ == SessionState::kConnected && silent_ns_ >= 2 * period) {
    state_ = SessionState::kDisconnected;
    runtime_.count("coordination.client_disconnected");
    notify(SessionEvent::kDisconnected);
  }
}

void CoordinationClient::on_timer(TimerId id, uint64_t tag) {
  if (!owns_tag(tag)) return;
  switch ((tag >> 48) & 0xFF) {
    case kTimerConnect:
      if (id != connect_timer_) return;
      connect_timer_ = 0;
      if (state_ == SessionState::kConnecting) send_connect();
      break;
    case kTimerPing:
      if (id != ping_timer_) return;
      ping_timer_ = 0;
      on_ping_timer();
      break;
    case kTimerRequest: {
      const uint64_t request_id = tag & kValueMask;
      auto it = pending_.find(request_id);
      if (it == pending_.end() || it->second.timer != id) return;
      Pending& p = it->second;
      p.timer = 0;
      if (++p.attempts >= config_.attempts_max) {
        runtime_.count("coordination.client_connection_loss");
        fail(request_id, CoordCode::kConnectionLoss);
        return;
      }
      send(request_id, p);
      p.timer = runtime_.set_timer(config_.request_timeout_ns, make_tag(kTimerRequest, request_id));
      break;
    }
    default:
      break;
  }
}

void CoordinationClient::create(const std::string& path, Bytes data, uint8_t flags, CreateCallback done) {
  Request r;
  r.op = Op::kCreate;
  r.path = path;
  r.data = std::move(data);
  r.create_flags = flags;
  issue(std::move(r), [done = std::move(done)](const Response& m) {
    if (done) done(m.code, m.code == CoordCode::kOk ? m.path : std::string());
  });
}

void CoordinationClient::remove(const std::string& path, int32_t version, DoneCallback done) {
  Request r;
  r.op = Op::kDelete;
  r.path = path;
  r.version = version;
  issue(std::move(r), [done = std::move(done)](const Response& m) {
    if (done) done(m.code);
  });
}

void CoordinationClient::set(const std::string& path, Bytes data, int32_t version, StatCallback done) {
  Request r;
  r.op = Op::kSetData;
  r.path = path;
  r.data = std::move(data);
  r.version = version;
  issue(std::move(r), [done = std::move(done)](const Response& m) {
    if (done) done(m.code, m.stat);
  });
}

void CoordinationClient::get(const std::string& path, WatchCallback watch, DataCallback done) {
  Request r;
  r.op = Op::kGetData;
  r.path = path;
  r.watch = static_cast<bool>(watch);
  issue(std::move(r), [this, path, watch = std::move(watch), done = std::move(done)](const Response& m) {
    if (m.code == CoordCode::kOk && watch) register_watch(data_watchers_, path, watch, m.zxid);
    if (done) done(m.code, m.data, m.stat);
  });
}

void CoordinationClient::get_children(const std::string& path, WatchCallback watch, ChildrenCallback done) {
  Request r;
  r.op = Op::kGetChildren;
  r.path = path;
  r.watch = static_cast<bool>(watch);
  issue(std::move(r), [this, path, watch = std::move(watch), done = std::move(done)](const Response& m) {
    if (m.code == CoordCode::kOk && watch) register_watch(child_watchers_, path, watch, m.zxid);
    if (done) done(m.code, m.children, m.stat);
  });
}

void CoordinationClient::exists(const std::string& path, WatchCallback watch, StatCallback done) {
  Request r;
  r.op = Op::kExists;
  r.path = path;
  r.watch = static_cast<bool>(watch);
  issue(std::move(r), [this, path, watch = std::move(watch), done = std::move(done)](const Response& m) {
    if (watch && m.code == CoordCode::kOk) register_watch(data_watchers_, path, watch, m.zxid);
    if (watch && m.code == CoordCode::kNoNode) register_watch(exist_watchers_, path, watch, m.zxid);
    if (done) done(m.code, m.stat);
  });
}

}  // namespace pbfs::coordination
