// The znode tree and session table alone: ZooKeeper's rules for create/delete/set (parents, versions,
// ephemerals, sequential names), closing a session deleting its ephemerals, the triggers that fire
// watches, and the log format: snapshot + transactions replay to the same state, and a torn,
// corrupted or out-of-order tail is cut off.
#include "protocols/coordination/coordination_state.h"

#include <gtest/gtest.h>

namespace pbfs::coordination {
namespace {

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Applies transactions the way the server does, remembering them for replay tests.
struct Applier {
  CoordinationState state;
  std::vector<Txn> log;
  std::vector<Trigger> triggers;

  CoordCode commit(CoordCode code, Txn txn) {
    if (code != CoordCode::kOk) return code;
    txn.zxid = state.zxid() + 1;
    triggers.clear();
    EXPECT_TRUE(state.apply(txn, &triggers));
    log.push_back(txn);
    return code;
  }
  CoordCode create(const std::string& path, const std::string& data = "", uint8_t flags = 0, SessionId session = 0,
                   std::string* created = nullptr) {
    Txn txn;
    CoordCode code = state.prepare_create(path, bytes(data), flags, session, txn);
    if (code == CoordCode::kOk && created != nullptr) *created = txn.path;
    return commit(code, txn);
  }
  CoordCode remove(const std::string& path, int32_t version = kAnyVersion) {
    Txn txn;
    const CoordCode code = state.prepare_delete(path, version, 0, txn);
    return commit(code, txn);
  }
  CoordCode set(const std::string& path, const std::string& data, int32_t version = kAnyVersion) {
    Txn txn;
    const CoordCode code = state.prepare_set(path, bytes(data), version, 0, txn);
    return commit(code, txn);
  }
  SessionId open(SessionId id, TimeNs timeout_ns = kSecond) {
    Txn txn;
    EXPECT_EQ(state.prepare_create_session(timeout_ns, txn), CoordCode::kOk);
    txn.session = id;
    commit(CoordCode::kOk, txn);
    return id;
  }
  CoordCode close(SessionId id) {
    Txn txn;
    const CoordCode code = state.prepare_close_session(id, txn);
    return commit(code, txn);
  }
};

TEST(CoordinationState, CreateNeedsAParentAndRefusesDuplicates) {
  Applier a;
  EXPECT_EQ(a.create("/a/b"), CoordCode::kNoNode);
  EXPECT_EQ(a.create("/a", "x"), CoordCode::kOk);
  EXPECT_EQ(a.create("/a"), CoordCode::kNodeExists);
  EXPECT_EQ(a.create("/"), CoordCode::kNodeExists);
  EXPECT_EQ(a.create("/a/b", "y"), CoordCode::kOk);
  EXPECT_EQ(a.create("bad"), CoordCode::kBadArguments);
  EXPECT_EQ(a.create("/a/"), CoordCode::kBadArguments);
  const Znode* root = a.state.find("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(a.state.children_of(*root), std::vector<std::string>{"a"});
  const Znode* n = a.state.find("/a");
  Stat s = a.state.stat_of(*n);
  EXPECT_EQ(s.czxid, 1u);
  EXPECT_EQ(s.pzxid, 2u);
  EXPECT_EQ(s.cversion, 1u);
  EXPECT_EQ(s.num_children, 1u);
  EXPECT_EQ(s.data_length, 1u);
  EXPECT_EQ(a.state.zxid(), 2u);
}

TEST(CoordinationState, DataTooLargeAndLimitsAreRefused) {
  StateLimits limits;
  limits.data_bytes_max = 4;
  limits.nodes_max = 3;  // the root counts
  Applier a{CoordinationState(limits), {}, {}};
  EXPECT_EQ(a.create("/a", "12345"), CoordCode::kBadArguments);
  EXPECT_EQ(a.create("/a", "1234"), CoordCode::kOk);
  EXPECT_EQ(a.set("/a", "12345"), CoordCode::kBadArguments);
  EXPECT_EQ(a.create("/b"), CoordCode::kOk);
  EXPECT_EQ(a.create("/c"), CoordCode::kLimitExceeded);
}

TEST(CoordinationState, SetAndDeleteCheckVersions) {
  Applier a;
  ASSERT_EQ(a.create("/a", "v0"), CoordCode::kOk);
  EXPECT_EQ(a.set("/a", "v1", 1), CoordCode::kBadVersion);
  EXPECT_EQ(a.set("/a", "v1", 0), CoordCode::kOk);
  EXPECT_EQ(a.set("/a", "v2"), CoordCode::kOk);
  const Znode* n = a.state.find("/a");
  EXPECT_EQ(n->version, 2u);
  EXPECT_EQ(n->data, bytes("v2"));
  EXPECT_EQ(n->mzxid, a.state.zxid());
  EXPECT_EQ(a.set("/missing", "x"), CoordCode::kNoNode);
  ASSERT_EQ(a.create("/a/child"), CoordCode::kOk);
  EXPECT_EQ(a.remove("/a"), CoordCode::kNotEmpty);
  EXPECT_EQ(a.remove("/a/child"), CoordCode::kOk);
  EXPECT_EQ(a.remove("/a", 1), CoordCode::kBadVersion);
  EXPECT_EQ(a.remove("/a", 2), CoordCode::kOk);
  EXPECT_EQ(a.remove("/a"), CoordCode::kNoNode);
  EXPECT_EQ(a.remove("/"), CoordCode::kBadArguments);
}

TEST(CoordinationState, SequentialNamesUseTheParentsChildVersion) {
  Applier a;
  ASSERT_EQ(a.create("/q"), CoordCode::kOk);
  std::string first, second, third;
  ASSERT_EQ(a.create("/q/item-", "", kCreateSequential, 0, &first), CoordCode::kOk);
  ASSERT_EQ(a.create("/q/item-", "", kCreateSequential, 0, &second), CoordCode::kOk);
  EXPECT_EQ(first, "/q/item-0000000000");
  EXPECT_EQ(second, "/q/item-0000000001");
  ASSERT_EQ(a.remove(first), CoordCode::kOk);  // a delete also advances the counter
  ASSERT_EQ(a.create("/q/", "", kCreateSequential, 0, &third), CoordCode::kOk);
  EXPECT_EQ(third, "/q/0000000003");
}

TEST(CoordinationState, EphemeralsBelongToALiveSessionAndGoWithIt) {
  Applier a;
  EXPECT_EQ(a.create("/e", "", kCreateEphemeral, 42), CoordCode::kSessionExpired);
  const SessionId s = a.open(42);
  const SessionId t = a.open(43);
  ASSERT_EQ(a.create("/e1", "", kCreateEphemeral, s), CoordCode::kOk);
  ASSERT_EQ(a.create("/e2", "", kCreateEphemeral, s), CoordCode::kOk);
  ASSERT_EQ(a.create("/f", "", kCreateEphemeral, t), CoordCode::kOk);
  EXPECT_EQ(a.create("/e1/child"), CoordCode::kNoChildrenForEphemerals);
  EXPECT_EQ(a.state.stat_of(*a.state.find("/e1")).ephemeral_owner, s);
  EXPECT_EQ(a.state.sessions().at(s).ephemerals.size(), 2u);
  ASSERT_EQ(a.close(s), CoordCode::kOk);
  EXPECT_EQ(a.state.find("/e1"), nullptr);
  EXPECT_EQ(a.state.find("/e2"), nullptr);
  EXPECT_NE(a.state.find("/f"), nullptr);
  EXPECT_FALSE(a.state.sessions().contains(s));
  // Both deletions fired, in path order, under the one closing zxid.
  ASSERT_EQ(a.triggers.size(), 2u);
  EXPECT_EQ(a.triggers[0].kind, Trigger::kDeleted);
  EXPECT_EQ(a.triggers[0].path, "/e1");
  EXPECT_EQ(a.triggers[1].path, "/e2");
  EXPECT_EQ(a.state.find("/")->pzxid, a.state.zxid());
  EXPECT_EQ(a.close(s), CoordCode::kSessionExpired);
  // Deleting an ephemeral by hand removes it from its session's list too.
  ASSERT_EQ(a.remove("/f"), CoordCode::kOk);
  EXPECT_TRUE(a.state.sessions().at(t).ephemerals.empty());
}

TEST(CoordinationState, ApplyRefusesWhatDoesNotFollowOrDoesNotFit) {
  CoordinationState state;
  Txn txn;
  txn.kind = TxnKind::kCreate;
  txn.path = "/a";
  txn.zxid = 2;  // a gap
  EXPECT_FALSE(state.apply(txn, nullptr));
  txn.zxid = 1;
  txn.path = "/x/y";  // no parent
  EXPECT_FALSE(state.apply(txn, nullptr));
  EXPECT_EQ(state.zxid(), 0u);
  txn.path = "/a";
  EXPECT_TRUE(state.apply(txn, nullptr));
  txn.zxid = 2;
  EXPECT_FALSE(state.apply(txn, nullptr));  // exists
  Txn session;
  session.kind = TxnKind::kCreateSession;
  session.zxid = 2;
  session.session = 0;  // a session id must be chosen
  EXPECT_FALSE(state.apply(session, nullptr));
}

// Builds a state through the log path: a snapshot record, then transaction records.
Bytes log_of(const std::vector<Txn>& txns, size_t snapshot_after, Applier& replica, uint64_t generation) {
  Bytes file;
  for (size_t i = 0; i < snapshot_after; ++i) EXPECT_TRUE(replica.state.apply(txns[i], nullptr));
  const Bytes snap = encode_snapshot_record(replica.state, generation);
  file.insert(file.end(), snap.begin(), snap.end());
  for (size_t i = snapshot_after; i < txns.size(); ++i) {
    const Bytes r = encode_txn_record(txns[i]);
    file.insert(file.end(), r.begin(), r.end());
  }
  return file;
}

Applier busy_history() {
  Applier a;
  const SessionId s = a.open(1000);
  a.open(2000, 3 * kSecond);
  a.create("/members");
  a.create("/members/1", "rack", kCreateEphemeral, s);
  a.create("/config", "cfg");
  a.set("/config", "cfg2");
  a.create("/q");
  a.create("/q/x-", "", kCreateSequential);
  a.create("/q/x-", "", kCreateSequential);
  a.remove("/q/x-0000000000");
  a.create("/members/2", "", kCreateEphemeral, 2000);
  a.close(s);
  return a;
}

void expect_same(const CoordinationState& a, const CoordinationState& b) {
  EXPECT_EQ(a.zxid(), b.zxid());
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (const auto& [path, n] : a.nodes()) {
    const Znode* m = b.find(path);
    ASSERT_NE(m, nullptr) << path;
    EXPECT_EQ(a.stat_of(n), b.stat_of(*m)) << path;
    EXPECT_EQ(n.data, m->data) << path;
    EXPECT_EQ(n.children, m->children) << path;
  }
  ASSERT_EQ(a.sessions().size(), b.sessions().size());
  for (const auto& [id, s] : a.sessions()) {
    ASSERT_TRUE(b.sessions().contains(id));
    EXPECT_EQ(s.timeout_ns, b.sessions().at(id).timeout_ns);
    EXPECT_EQ(s.ephemerals, b.sessions().at(id).ephemerals);
  }
}

TEST(CoordinationLog, SnapshotPlusTransactionsReplayToTheSameState) {
  const Applier history = busy_history();
  for (size_t cut : {size_t{0}, size_t{4}, history.log.size()}) {
    Applier replica;
    const Bytes file = log_of(history.log, cut, replica, 7);
    std::optional<LoadedLog> loaded = load_log(file, StateLimits{});
    ASSERT_TRUE(loaded.has_value()) << cut;
    EXPECT_EQ(loaded->generation, 7u);
    EXPECT_EQ(loaded->txns_replayed, history.log.size() - cut);
    EXPECT_EQ(loaded->valid_bytes, file.size());
    EXPECT_FALSE(loaded->damaged_tail);
    expect_same(history.state, loaded->state);
  }
}

TEST(CoordinationLog, ATornOrCorruptTailIsCutAtTheLastGoodRecord) {
  const Applier history = busy_history();
  Applier replica;
  const Bytes file = log_of(history.log, 3, replica, 1);
  // Every truncation point replays exactly the whole records before it.
  size_t last_records = 0;
  for (size_t len = 0; len <= file.size(); ++len) {
    std::optional<LoadedLog> loaded = load_log(ByteSpan(file.data(), len), StateLimits{});
    if (!loaded) continue;  // the snapshot itself is cut
    EXPECT_GE(loaded->txns_replayed, last_records);
    last_records = loaded->txns_replayed;
    EXPECT_EQ(loaded->damaged_tail, loaded->valid_bytes < len);
    EXPECT_EQ(loaded->state.zxid(), 3 + loaded->txns_replayed);
  }
  EXPECT_EQ(last_records, history.log.size() - 3);
  // A flipped bit in the middle of the log stops the replay there (and never yields a wrong state).
  Bytes rotten = file;
  rotten[file.size() - 20] ^= 0x10;
  std::optional<LoadedLog> loaded = load_log(rotten, StateLimits{});
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->damaged_tail);
  EXPECT_EQ(loaded->txns_replayed, history.log.size() - 3 - 1);
  // A flipped bit in the snapshot makes the whole file unusable.
  rotten = file;
  rotten[12] ^= 0x01;
  EXPECT_FALSE(load_log(rotten, StateLimits{}).has_value());
  EXPECT_FALSE(load_log(Bytes{}, StateLimits{}).has_value());
}

TEST(CoordinationLog, ARecordThatDoesNotFollowEndsTheReplay) {
  const Applier history = busy_history();
  Applier replica;
  Bytes file = log_of(history.log, 2, replica, 1);
  // A well-formed record with a zxid from the past (an old tail left behind) is not applied.
  const Bytes stale = encode_txn_record(history.log[1]);
  file.insert(file.end(), stale.begin(), stale.end());
  std::optional<LoadedLog> loaded = load_log(file, StateLimits{});
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->damaged_tail);
  expect_same(history.state, loaded->state);
}

TEST(CoordinationLog, TransactionsRoundTrip) {
  const Applier history = busy_history();
  for (const Txn& txn : history.log) {
    Bytes body;
    WireWriter w(body);
    encode_txn(w, txn);
    WireReader r(body);
    Txn back;
    ASSERT_TRUE(decode_txn(r, back));
    EXPECT_TRUE(r.at_end());
    EXPECT_EQ(back, txn);
    for (size_t len = 0; len < body.size(); ++len) {
      WireReader cut(ByteSpan(body.data(), len));
      Txn t;
      EXPECT_FALSE(decode_txn(cut, t)) << len;
    }
  }
}

}  // namespace
}  // namespace pbfs::coordination
