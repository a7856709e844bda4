// Wire encoding of the coordination-service messages (coordination_messages.h) and the path rules.
// Every decoder is bounds-checked: counts are checked against the bytes left before anything is
// reserved, enums outside their range and ops a message cannot carry are kMalformed.
#include "protocols/coordination/coordination_messages.h"

namespace pbfs::coordination {
namespace {

Result<std::shared_ptr<const Message>> malformed(const char* name, const char* what) {
  return Status(StatusCode::kMalformed, std::string(name) + ": " + what);
}

template <typename Enum>
bool get_enum(WireReader& in, Enum& v, uint8_t max) {
  uint8_t x;
  if (!in.u8(x) || x == 0 || x > max) return false;
  v = static_cast<Enum>(x);
  return true;
}

void put_i32(WireWriter& out, int32_t v) { out.u32(static_cast<uint32_t>(v)); }
bool get_i32(WireReader& in, int32_t& v) {
  uint32_t x;
  if (!in.u32(x)) return false;
  v = static_cast<int32_t>(x);
  return true;
}

void put_stat(WireWriter& out, const Stat& s) {
  out.u64(s.czxid);
  out.u64(s.mzxid);
  out.u64(s.pzxid);
  out.u32(s.version);
  out.u32(s.cversion);
  out.u64(s.ephemeral_owner);
  out.u32(s.data_length);
  out.u32(s.num_children);
}
bool get_stat(WireReader& in, Stat& s) {
  return in.u64(s.czxid) && in.u64(s.mzxid) && in.u64(s.pzxid) && in.u32(s.version) && in.u32(s.cversion) &&
         in.u64(s.ephemeral_owner) && in.u32(s.data_length) && in.u32(s.num_children);
}

// A u32 count of entries of at least `entry_bytes_min` bytes each: a count the remaining input cannot
// hold is refused before anything is allocated.
bool get_count(WireReader& in, uint32_t& n, size_t entry_bytes_min) {
  return in.u32(n) && static_cast<uint64_t>(n) * entry_bytes_min <= in.remaining();
}

void put_registrations(WireWriter& out, const std::vector<WatchRegistration>& list) {
  out.u32(static_cast<uint32_t>(list.size()));
  for (const WatchRegistration& w : list) {
    out.str(w.path);
    out.u64(w.zxid);
  }
}
bool get_registrations(WireReader& in, std::vector<WatchRegistration>& list) {
  uint32_t n;
  if (!get_count(in, n, 4 + 8)) return false;
  list.resize(n);
  for (WatchRegistration& w : list) {
    if (!in.str(w.path) || !in.u64(w.zxid)) return false;
  }
  return true;
}

}  // namespace

const char* coord_code_name(CoordCode code) {
  switch (code) {
    case CoordCode::kOk: return "ok";
    case CoordCode::kNoNode: return "no_node";
    case CoordCode::kNodeExists: return "node_exists";
    case CoordCode::kNotEmpty: return "not_empty";
    case CoordCode::kBadVersion: return "bad_version";
    case CoordCode::kNoChildrenForEphemerals: return "no_children_for_ephemerals";
    case CoordCode::kBadArguments: return "bad_arguments";
    case CoordCode::kLimitExceeded: return "limit_exceeded";
    case CoordCode::kSessionExpired: return "session_expired";
    case CoordCode::kConnectionLoss: return "connection_loss";
    case CoordCode::kTooManyRequests: return "too_many_requests";
  }
  return "unknown";
}

const char* event_type_name(EventType type) {
  switch (type) {
    case EventType::kNodeCreated: return "node_created";
    case EventType::kNodeDeleted: return "node_deleted";
    case EventType::kNodeDataChanged: return "node_data_changed";
    case EventType::kNodeChildrenChanged: return "node_children_changed";
  }
  return "unknown";
}

const char* op_name(Op op) {
  switch (op) {
    case Op::kCreate: return "create";
    case Op::kDelete: return "delete";
    case Op::kSetData: return "set_data";
    case Op::kGetData: return "get_data";
    case Op::kGetChildren: return "get_children";
    case Op::kExists: return "exists";
    case Op::kCloseSession: return "close_session";
    case Op::kSetWatches: return "set_watches";
  }
  return "unknown";
}

void ConnectRequest::encode(WireWriter& out) const {
  out.u64(nonce);
  out.i64(timeout_ns);
}
Result<std::shared_ptr<const Message>> ConnectRequest::decode(WireReader& in) {
  auto m = std::make_shared<ConnectRequest>();
  if (!in.u64(m->nonce) || !in.i64(m->timeout_ns)) return malformed(m->name(), "truncated");
  return std::shared_ptr<const Message>(std::move(m));
}

void ConnectResponse::encode(WireWriter& out) const {
  out.u64(nonce);
  out.u8(static_cast<uint8_t>(code));
  out.u64(session);
  out.i64(timeout_ns);
  out.u64(server_epoch);
}
Result<std::shared_ptr<const Message>> ConnectResponse::decode(WireReader& in) {
  auto m = std::make_shared<ConnectResponse>();
  if (!in.u64(m->nonce) || !get_enum(in, m->code, kCoordCodeMax) || !in.u64(m->session) || !in.i64(m->timeout_ns) ||
      !in.u64(m->server_epoch)) {
    return malformed(m->name(), "truncated or bad code");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void Ping::encode(WireWriter& out) const {
  out.u64(session);
  out.u64(server_epoch);
  out.u64(events_acked);
}
Result<std::shared_ptr<const Message>> Ping::decode(WireReader& in) {
  auto m = std::make_shared<Ping>();
  if (!in.u64(m->session) || !in.u64(m->server_epoch) || !in.u64(m->events_acked)) {
    return malformed(m->name(), "truncated");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void PingResponse::encode(WireWriter& out) const {
  out.u64(session);
  out.u8(static_cast<uint8_t>(code));
  out.u64(server_epoch);
}
Result<std::shared_ptr<const Message>> PingResponse::decode(WireReader& in) {
  auto m = std::make_shared<PingResponse>();
  if (!in.u64(m->session) || !get_enum(in, m->code, kCoordCodeMax) || !in.u64(m->server_epoch)) {
    return malformed(m->name(), "truncated or bad code");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void Request::encode(WireWriter& out) const {
  out.u64(session);
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(op));
  out.str(path);
  switch (op) {
    case Op::kCreate:
      out.blob(data);
      out.u8(create_flags);
      break;
    case Op::kSetData:
      out.blob(data);
      put_i32(out, version);
      break;
    case Op::kDelete:
      put_i32(out, version);
      break;
    case Op::kGetData:
    case Op::kGetChildren:
    case Op::kExists:
      out.boolean(watch);
      break;
    case Op::kCloseSession:
    case Op::kSetWatches:
      break;
  }
}
Result<std::shared_ptr<const Message>> Request::decode(WireReader& in) {
  auto m = std::make_shared<Request>();
  if (!in.u64(m->session) || !in.u64(m->request_id) || !get_enum(in, m->op, kOpMax) || !in.str(m->path)) {
    return malformed(m->name(), "truncated header or bad op");
  }
  bool ok = true;
  switch (m->op) {
    case Op::kCreate:
      ok = in.blob(m->data) && in.u8(m->create_flags) && m->create_flags <= (kCreateEphemeral | kCreateSequential);
      break;
    case Op::kSetData:
      ok = in.blob(m->data) && get_i32(in, m->version);
      break;
    case Op::kDelete:
      ok = get_i32(in, m->version);
      break;
    case Op::kGetData:
    case Op::kGetChildren:
    case Op::kExists:
      ok = in.boolean(m->watch);
      break;
    case Op::kCloseSession:
      break;
    case Op::kSetWatches:
      return malformed(m->name(), "set_watches travels as its own message");
  }
  if (!ok) return malformed(m->name(), "truncated body or bad flags");
  return std::shared_ptr<const Message>(std::move(m));
}

void Response::encode(WireWriter& out) const {
  out.u64(request_id);
  out.u8(static_cast<uint8_t>(op));
  out.u8(static_cast<uint8_t>(code));
  out.u64(zxid);
  out.u64(server_epoch);
  if (code != CoordCode::kOk) return;
  switch (op) {
    case Op::kCreate:
      out.str(path);
      put_stat(out, stat);
      break;
    case Op::kSetData:
    case Op::kExists:
      put_stat(out, stat);
      break;
    case Op::kGetData:
      out.blob(data);
      put_stat(out, stat);
      break;
    case Op::kGetChildren:
      out.u32(static_cast<uint32_t>(children.size()));
      for (const std::string& c : children) out.str(c);
      put_stat(out, stat);
      break;
    case Op::kDelete:
    case Op::kCloseSession:
    case Op::kSetWatches:
      break;
  }
}
Result<std::shared_ptr<const Message>> Response::decode(WireReader& in) {
  auto m = std::make_shared<Response>();
  if (!in.u64(m->request_id) || !get_enum(in, m->op, kOpMax) || !get_enum(in, m->code, kCoordCodeMax) ||
      !in.u64(m->zxid) || !in.u64(m->server_epoch)) {
    return malformed(m->name(), "truncated header or bad op/code");
  }
  if (m->code != CoordCode::kOk) return std::shared_ptr<const Message>(std::move(m));
  bool ok = true;
  switch (m->op) {
    case Op::kCreate:
      ok = in.str(m->path) && get_stat(in, m->stat);
      break;
    case Op::kSetData:
    case Op::kExists:
      ok = get_stat(in, m->stat);
      break;
    case Op::kGetData:
      ok = in.blob(m->data) && get_stat(in, m->stat);
      break;
    case Op::kGetChildren: {
      uint32_t n;
      ok = get_count(in, n, 4);
      if (ok) m->children.resize(n);
      for (uint32_t i = 0; ok && i < n; ++i) ok = in.str(m->children[i]);
      ok = ok && get_stat(in, m->stat);
      break;
    }
    case Op::kDelete:
    case Op::kCloseSession:
    case Op::kSetWatches:
      break;
  }
  if (!ok) return malformed(m->name(), "truncated body");
  return std::shared_ptr<const Message>(std::move(m));
}

void SetWatches::encode(WireWriter& out) const {
  out.u64(session);
  out.u64(request_id);
  put_registrations(out, data);
  put_registrations(out, exist);
  put_registrations(out, child);
}
Result<std::shared_ptr<const Message>> SetWatches::decode(WireReader& in) {
  auto m = std::make_shared<SetWatches>();
  if (!in.u64(m->session) || !in.u64(m->request_id) || !get_registrations(in, m->data) ||
      !get_registrations(in, m->exist) || !get_registrations(in, m->child)) {
    return malformed(m->name(), "truncated or a count that lies");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void WatchEvent::encode(WireWriter& out) const {
  out.u64(session);
  out.u64(server_epoch);
  out.u64(sequence);
  out.u8(static_cast<uint8_t>(event));
  out.str(path);
  out.u64(zxid);
}
Result<std::shared_ptr<const Message>> WatchEvent::decode(WireReader& in) {
  auto m = std::make_shared<WatchEvent>();
  if (!in.u64(m->session) || !in.u64(m->server_epoch) || !in.u64(m->sequence) ||
      !get_enum(in, m->event, kEventTypeMax) || !in.str(m->path) || !in.u64(m->zxid)) {
    return malformed(m->name(), "truncated or bad event type");
  }
  return std::shared_ptr<const Message>(std::move(m));
}

void register_coordination_messages() {
  register_message_type(ConnectRequest::kType, "coord.ConnectRequest", &ConnectRequest::decode);
  register_message_type(ConnectResponse::kType, "coord.ConnectResponse", &ConnectResponse::decode);
  register_message_type(Ping::kType, "coord.Ping", &Ping::decode);
  register_message_type(PingResponse::kType, "coord.PingResponse", &PingResponse::decode);
  register_message_type(Request::kType, "coord.Request", &Request::decode);
  register_message_type(Response::kType, "coord.Response", &Response::decode);
  register_message_type(SetWatches::kType, "coord.SetWatches", &SetWatches::decode);
  register_message_type(WatchEvent::kType, "coord.WatchEvent", &WatchEvent::decode);
}

bool valid_path(const std::string& path, size_t bytes_max) {
  if (path.empty() || path.size() > bytes_max || path[0] != '/') return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string_view component(path.data() + start, end - start);
    if (component.empty() || component == "." || component == "..") return false;
    if (component.find('\0') != std::string_view::npos) return false;
    start = end + 1;
  }
  return true;
}

std::string parent_path(const std::string& path) {
  if (path.size() <= 1) return "";
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string last_component(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string child_path(const std::string& parent, const std::string& name) {
  return parent == "/" ? "/" + name : parent + "/" + name;
}

}  // namespace pbfs::coordination
