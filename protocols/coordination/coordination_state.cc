// The znode tree and session table, their transactions, and the log file format.
#include "protocols/coordination/coordination_state.h"

#include <cstdio>
#include <cstdlib>

#include "coding/checksum.h"

namespace pbfs::coordination {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs coordination: broken invariant: %s\n", what);
    std::abort();
  }
}

enum RecordType : uint8_t { kRecordSnapshot = 1, kRecordTxn = 2 };
constexpr size_t kRecordHeaderBytes = 8;

// The parent of a path as create() sees it: for a sequential create the requested path may end in
// '/' (the name is then only the counter).
std::string create_parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Bytes frame_record(const Bytes& body) {
  Bytes out;
  out.reserve(body.size() + kRecordHeaderBytes);
  WireWriter w(out);
  w.u32(static_cast<uint32_t>(body.size()));
  w.u32(crc32c(body));
  w.raw(body);
  return out;
}

}  // namespace

CoordinationState::CoordinationState(StateLimits limits) : limits_(limits) { nodes_["/"] = Znode{}; }

const Znode* CoordinationState::find(const std::string& path) const {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

Stat CoordinationState::stat_of(const Znode& n) const {
  Stat s;
  s.czxid = n.czxid;
  s.mzxid = n.mzxid;
  s.pzxid = n.pzxid;
  s.version = n.version;
  s.cversion = n.cversion;
  s.ephemeral_owner = n.ephemeral_owner;
  s.data_length = static_cast<uint32_t>(n.data.size());
  s.num_children = static_cast<uint32_t>(n.children.size());
  return s;
}

std::vector<std::string> CoordinationState::children_of(const Znode& node) const {
  return std::vector<std::string>(node.children.begin(), node.children.end());
}

CoordCode CoordinationState::prepare_create(const std::string& path, const Bytes& data, uint8_t flags,
                                            SessionId session, Txn& txn) const {
  const bool sequential = (flags & kCreateSequential) != 0;
  const bool ephemeral = (flags & kCreateEphemeral) != 0;
  const std::string parent = create_parent(path);
  if (parent.empty() || path.size() > limits_.path_bytes_max) return CoordCode::kBadArguments;
  if (!sequential && !valid_path(path, limits_.path_bytes_max)) return CoordCode::kBadArguments;
  if (data.size() > limits_.data_bytes_max) return CoordCode::kBadArguments;
  if (path == "/") return CoordCode::kNodeExists;
  const Znode* p = find(parent);
  if (p == nullptr) return CoordCode::kNoNode;
  std::string final_path = path;
  if (sequential) {
    char suffix[16];
    std::snprintf(suffix, sizeof(suffix), "%010u", p->cversion);
    final_path += suffix;
    if (!valid_path(final_path, limits_.path_bytes_max)) return CoordCode::kBadArguments;
  }
  if (p->ephemeral_owner != 0) return CoordCode::kNoChildrenForEphemerals;
  if (find(final_path) != nullptr) return CoordCode::kNodeExists;
  if (nodes_.size() >= limits_.nodes_max) return CoordCode::kLimitExceeded;
  if (ephemeral && !sessions_.contains(session)) return CoordCode::kSessionExpired;
  txn = Txn{};
  txn.kind = TxnKind::kCreate;
  txn.session = session;
  txn.path = final_path;
  txn.data = data;
  txn.ephemeral = ephemeral;
  return CoordCode::kOk;
}

CoordCode CoordinationState::prepare_delete(const std::string& path, int32_t version, SessionId session,
                                            Txn& txn) const {
  if (!valid_path(path, limits_.path_bytes_max) || path == "/") return CoordCode::kBadArguments;
  const Znode* n = find(path);
  if (n == nullptr) return CoordCode::kNoNode;
  if (version != kAnyVersion && static_cast<uint32_t>(version) != n->version) return CoordCode::kBadVersion;
  if (!n->children.empty()) return CoordCode::kNotEmpty;
  txn = Txn{};
  txn.kind = TxnKind::kDelete;
  txn.session = session;
  txn.path = path;
  return CoordCode::kOk;
}

CoordCode CoordinationState::prepare_set(const std::string& path, const Bytes& data, int32_t version,
                                         SessionId session, Txn& txn) const {
  if (!valid_path(path, limits_.path_bytes_max)) return CoordCode::kBadArguments;
  if (data.size() > limits_.data_bytes_max) return CoordCode::kBadArguments;
  const Znode* n = find(path);
  if (n == nullptr) return CoordCode::kNoNode;
  if (version != kAnyVersion && static_cast<uint32_t>(version) != n->version) return CoordCode::kBadVersion;
  txn = Txn{};
  txn.kind = TxnKind::kSetData;
  txn.session = session;
  txn.path = path;
  txn.data = data;
  return CoordCode::kOk;
}

CoordCode CoordinationState::prepare_create_session(TimeNs timeout_ns, Txn& txn) const {
  if (sessions_.size() >= limits_.sessions_max) return CoordCode::kLimitExceeded;
  txn = Txn{};
  txn.kind = TxnKind::kCreateSession;
  txn.timeout_ns = timeout_ns;
  return CoordCode::kOk;
}

CoordCode CoordinationState::prepare_close_session(SessionId session, Txn& txn) const {
  if (!sessions_.contains(session)) return CoordCode::kSessionExpired;
  txn = Txn{};
  txn.kind = TxnKind::kCloseSession;
  txn.session = session;
  return CoordCode::kOk;
}

bool CoordinationState::apply(const Txn& txn, std::vector<Trigger>* triggers) {
  if (txn.zxid != zxid_ + 1) return false;
  bool applied = false;
  switch (txn.kind) {
    case TxnKind::kCreateSession:
      applied = txn.session != 0 && !sessions_.contains(txn.session);
      if (applied) sessions_[txn.session] = SessionRecord{txn.timeout_ns, {}};
      break;
    case TxnKind::kCloseSession:
      applied = apply_close_session(txn, triggers);
      break;
    case TxnKind::kCreate:
      applied = apply_create(txn, triggers);
      break;
    case TxnKind::kDelete: {
      const Znode* n = find(txn.path);
      applied = n != nullptr && txn.path != "/" && n->children.empty() && apply_delete(txn.path, txn.zxid, triggers);
      break;
    }
    case TxnKind::kSetData: {
      auto it = nodes_.find(txn.path);
      applied = it != nodes_.end();
      if (applied) {
        it->second.data = txn.data;
        it->second.mzxid = txn.zxid;
        ++it->second.version;
        if (triggers) triggers->push_back(Trigger{Trigger::kDataChanged, txn.path});
      }
      break;
    }
  }
  if (applied) zxid_ = txn.zxid;
  return applied;
}

bool CoordinationState::apply_create(const Txn& txn, std::vector<Trigger>* triggers) {
  const std::string parent = parent_path(txn.path);
  auto p = nodes_.find(parent);
  if (p == nodes_.end() || p->second.ephemeral_owner != 0 || nodes_.contains(txn.path)) return false;
  if (txn.ephemeral && !sessions_.contains(txn.session)) return false;
  Znode node;
  node.data = txn.data;
  node.czxid = node.mzxid = node.pzxid = txn.zxid;
  node.ephemeral_owner = txn.ephemeral ? txn.session : 0;
  p->second.children.insert(last_component(txn.path));
  ++p->second.cversion;
  p->second.pzxid = txn.zxid;
  if (txn.ephemeral) sessions_[txn.session].ephemerals.insert(txn.path);
  nodes_.emplace(txn.path, std::move(node));
  if (triggers) triggers->push_back(Trigger{Trigger::kCreated, txn.path});
  return true;
}

// Removes a node known to exist and to have no children.
bool CoordinationState::apply_delete(const std::string& path, Zxid zxid, std::vector<Trigger>* triggers) {
  auto it = nodes_.find(path);
  require(it != nodes_.end() && it->second.children.empty(), "deleting a missing or non-empty node");
  Znode& parent = nodes_.at(parent_path(path));
  parent.children.erase(last_component(path));
  ++parent.cversion;
  parent.pzxid = zxid;
  if (it->second.ephemeral_owner != 0) {
    auto s = sessions_.find(it->second.ephemeral_owner);
    if (s != sessions_.end()) s->second.ephemerals.erase(path);
  }
  nodes_.erase(it);
  if (triggers) triggers->push_back(Trigger{Trigger::kDeleted, path});
  return true;
}

bool CoordinationState::apply_close_session(const Txn& txn, std::vector<Trigger>* triggers) {
  auto s = sessions_.find(txn.session);
  if (s == sessions_.end()) return false;
  // Ephemerals have no children, so each can go on its own; path order keeps replay identical.
  const std::set<std::string> ephemerals = s->second.ephemerals;
  for (const std::string& path : ephemerals) apply_delete(path, txn.zxid, triggers);
  sessions_.erase(txn.session);
  return true;
}

void CoordinationState::encode(WireWriter& out) const {
  out.u64(zxid_);
  out.u32(static_cast<uint32_t>(sessions_.size()));
  for (const auto& [id, s] : sessions_) {
    out.u64(id);
    out.i64(s.timeout_ns);
  }
  out.u64(nodes_.size());
  for (const auto& [path, n] : nodes_) {
    out.str(path);
    out.blob(n.data);
    out.u64(n.czxid);
    out.u64(n.mzxid);
    out.u64(n.pzxid);
    out.u32(n.version);
    out.u32(n.cversion);
    out.u64(n.ephemeral_owner);
  }
}

std::optional<CoordinationState> CoordinationState::decode(WireReader& in, StateLimits limits) {
  CoordinationState state(limits);
  state.nodes_.clear();
  uint32_t session_count;
  if (!in.u64(state.zxid_) || !in.u32(session_count) || session_count > in.remaining() / 16) return std::nullopt;
  for (uint32_t i = 0; i < session_count; ++i) {
    SessionId id;
    SessionRecord record;
    if (!in.u64(id) || !in.i64(record.timeout_ns) || id == 0) return std::nullopt;
    if (!state.sessions_.emplace(id, std::move(record)).second) return std::nullopt;
  }
  uint64_t node_count;
  if (!in.u64(node_count) || node_count == 0 || node_count > in.remaining() / 48) return std::nullopt;
  for (uint64_t i = 0; i < node_count; ++i) {
    std::string path;
    Znode n;
    if (!in.str(path) || !in.blob(n.data) || !in.u64(n.czxid) || !in.u64(n.mzxid) || !in.u64(n.pzxid) ||
        !in.u32(n.version) || !in.u32(n.cversion) || !in.u64(n.ephemeral_owner)) {
      return std::nullopt;
    }
    // The root comes first and every parent before its children (map order), so one pass rebuilds the
    // children sets and the sessions' ephemerals.
    if (i == 0) {
      if (path != "/") return std::nullopt;
    } else {
      if (!valid_path(path, limits.path_bytes_max) || state.nodes_.contains(path)) return std::nullopt;
      auto parent = state.nodes_.find(parent_path(path));
      if (parent == state.nodes_.end() || parent->second.ephemeral_owner != 0) return std::nullopt;
      parent->second.children.insert(last_component(path));
    }
    if (n.ephemeral_owner != 0) {
      auto s = state.sessions_.find(n.ephemeral_owner);
      if (s == state.sessions_.end()) return std::nullopt;
      s->second.ephemerals.insert(path);
    }
    state.nodes_.emplace(std::move(path), std::move(n));
  }
  return state;
}

void encode_txn(WireWriter& out, const Txn& txn) {
  out.u64(txn.zxid);
  out.u8(static_cast<uint8_t>(txn.kind));
  out.u64(txn.session);
  out.u64(txn.request_id);
  out.str(txn.path);
  out.blob(txn.data);
  out.boolean(txn.ephemeral);
  out.i64(txn.timeout_ns);
}

bool decode_txn(WireReader& in, Txn& txn) {
  uint8_t kind;
  if (!in.u64(txn.zxid) || !in.u8(kind) || kind == 0 || kind > kTxnKindMax) return false;
  txn.kind = static_cast<TxnKind>(kind);
  return in.u64(txn.session) && in.u64(txn.request_id) && in.str(txn.path) && in.blob(txn.data) &&
         in.boolean(txn.ephemeral) && in.i64(txn.timeout_ns);
}

Bytes encode_snapshot_record(const CoordinationState& state, uint64_t generation) {
  Bytes body;
  WireWriter w(body);
  w.u8(kRecordSnapshot);
  w.u64(generation);
  state.encode(w);
  return frame_record(body);
}

Bytes encode_txn_record(const Txn& txn) {
  Bytes body;
  WireWriter w(body);
  w.u8(kRecordTxn);
  encode_txn(w, txn);
  return frame_record(body);
}

std::optional<LoadedLog> load_log(ByteSpan file, StateLimits limits) {
  WireReader in(file);
  std::optional<LoadedLog> log;
  while (in.remaining() >= kRecordHeaderBytes) {
    uint32_t length, crc;
    ByteSpan body;
    if (!in.u32(length) || !in.u32(crc) || !in.raw(length, body) || crc32c(body) != crc || body.empty()) break;
    WireReader b(body);
    uint8_t type;
    (void)b.u8(type);
    if (!log) {
      uint64_t generation;
      if (type != kRecordSnapshot || !b.u64(generation)) return std::nullopt;
      std::optional<CoordinationState> state = CoordinationState::decode(b, limits);
      if (!state || !b.at_end()) return std::nullopt;
      log = LoadedLog{generation, std::move(*state), 0, in.position(), false};
      continue;
    }
    Txn txn;
    if (type != kRecordTxn || !decode_txn(b, txn) || !b.at_end() || !log->state.apply(txn, nullptr)) break;
    ++log->txns_replayed;
    log->valid_bytes = in.position();
  }
  if (log) log->damaged_tail = log->valid_bytes < file.size();
  return log;
}

}  // namespace pbfs::coordination
