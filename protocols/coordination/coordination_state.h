// The coordination server's durable state — the znode tree and the table of open sessions — and the
// transactions that change it, kept apart from the server role so that the live path and the replay of
// the on-disk log run the very same code. Also the log file format (framed, checksummed records).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocols/coordination/coordination_messages.h"

namespace pbfs::coordination {

struct StateLimits {
  size_t path_bytes_max = 1024;
  uint32_t data_bytes_max = 1 << 20;  // ZooKeeper's default jute.maxbuffer
  uint64_t nodes_max = 1'000'000;
  uint32_t sessions_max = 100'000;
};

enum class TxnKind : uint8_t { kCreateSession = 1, kCloseSession, kCreate, kDelete, kSetData };
constexpr uint8_t kTxnKindMax = static_cast<uint8_t>(TxnKind::kSetData);

// One change of the state, as logged. Prepared (validated, sequential names resolved) against the
// state it will be applied to, so applying it cannot fail.
struct Txn {
  Zxid zxid = 0;
  TxnKind kind = TxnKind::kCreate;
  SessionId session = 0;    // the session that asked (owns an ephemeral), was closed or is created
  uint64_t request_id = 0;  // the client's request id; 0 for the server's own (expiry)
  std::string path;
  Bytes data;
  bool ephemeral = false;
  TimeNs timeout_ns = 0;    // kCreateSession
  friend bool operator==(const Txn&, const Txn&) = default;
};

// What a transaction did to a path, for firing watches (the server maps these to watch events).
struct Trigger {
  enum Kind : uint8_t { kCreated, kDeleted, kDataChanged } kind;
  std::string path;
};

struct Znode {
  Bytes data;
  Zxid czxid = 0, mzxid = 0, pzxid = 0;
  uint32_t version = 0, cversion = 0;
  SessionId ephemeral_owner = 0;
  std::set<std::string> children;  // names, sorted
};

struct SessionRecord {
  TimeNs timeout_ns = 0;
  std::set<std::string> ephemerals;  // full paths
};

class CoordinationState {
 public:
  explicit CoordinationState(StateLimits limits = {});

  const StateLimits& limits() const { return limits_; }
  // The zxid of the last transaction applied.
  Zxid zxid() const { return zxid_; }
  const Znode* find(const std::string& path) const;
  Stat stat_of(const Znode& node) const;
  std::vector<std::string> children_of(const Znode& node) const;
  uint64_t node_count() const { return nodes_.size(); }
  const std::map<std::string, Znode>& nodes() const { return nodes_; }
  const std::map<SessionId, SessionRecord>& sessions() const { return sessions_; }

  // Validation. On kOk the transaction is filled in (zxid left 0; apply() wants zxid() + 1).
  CoordCode prepare_create(const std::string& path, const Bytes& data, uint8_t flags, SessionId session, Txn& txn) const;
  CoordCode prepare_delete(const std::string& path, int32_t version, SessionId session, Txn& txn) const;
  CoordCode prepare_set(const std::string& path, const Bytes& data, int32_t version, SessionId session, Txn& txn) const;
  CoordCode prepare_create_session(TimeNs timeout_ns, Txn& txn) const;
  CoordCode prepare_close_session(SessionId session, Txn& txn) const;

  // Applies a prepared transaction whose zxid is zxid() + 1 (a kCreateSession names its new session, an
  // id chosen by the server, nonzero and unused). Returns
  // false, changing nothing, if it does not apply (only a damaged log can make that happen). Appends
  // what changed to `triggers` when given.
  bool apply(const Txn& txn, std::vector<Trigger>* triggers);

  // Whole-state image, for the log's snapshot records.
  void encode(WireWriter& out) const;
  static std::optional<CoordinationState> decode(WireReader& in, StateLimits limits);

 private:
  bool apply_create(const Txn& txn, std::vector<Trigger>* triggers);
  bool apply_delete(const std::string& path, Zxid zxid, std::vector<Trigger>* triggers);
  bool apply_close_session(const Txn& txn, std::vector<Trigger>* triggers);

  StateLimits limits_;
  Zxid zxid_ = 0;
  std::map<std::string, Znode> nodes_;  // ordered: a parent sorts before its descendants
  std::map<SessionId, SessionRecord> sessions_;
};

// The log file: a sequence of records, each `u32 body length, u32 crc32c(body), body`. A file starts
// with a snapshot record (the whole state and the file's generation) followed by transaction records
// with consecutive zxids. Replay stops at the first record that is truncated, fails its checksum or
// does not follow — a torn or never-synced tail.
Bytes encode_snapshot_record(const CoordinationState& state, uint64_t generation);
Bytes encode_txn_record(const Txn& txn);

struct LoadedLog {
  uint64_t generation = 0;
  CoordinationState state;
  uint64_t txns_replayed = 0;
  uint64_t valid_bytes = 0;  // length of the usable prefix
  bool damaged_tail = false;  // bytes after the usable prefix
};
// Nullopt when the file does not start with a valid snapshot record.
std::optional<LoadedLog> load_log(ByteSpan file, StateLimits limits);

// Transaction body codec (inside a record), exposed for tests.
void encode_txn(WireWriter& out, const Txn& txn);
bool decode_txn(WireReader& in, Txn& txn);

}  // namespace pbfs::coordination
