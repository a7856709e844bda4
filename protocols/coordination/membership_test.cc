// Membership on the simulator: every node sees the others join at once and leave one session timeout
// after they crash (or at once when they leave on purpose); a node restarted before its old entry
// expired registers again after it goes; a coordination-server restart within the timeout changes
// nobody's view; the config is read and watched; and a run is reproducible from its seed.
#include "protocols/coordination/membership.h"

#include <gtest/gtest.h>

#include "protocols/coordination/test_cluster.h"

namespace pbfs::coordination {
namespace {

using testing::Cluster;
using testing::kServerNode;

constexpr uint32_t kNodes = 6;  // node 0: the coordination server; nodes 1..5: members

std::vector<bool> alive_set(std::initializer_list<NodeId> nodes) {
  std::vector<bool> alive(kNodes, false);
  for (NodeId n : nodes) alive[n] = true;
  return alive;
}

struct Observed {
  std::vector<MembershipRow> rows;
};

void boot(Cluster& c, Observed& seen, bool read_member_info = false) {
  c.world.observe_table(membership_schema().name, [&](const void* row) {
    seen.rows.push_back(*static_cast<const MembershipRow*>(row));
  });
  c.add_server();
  for (NodeId n = 1; n < kNodes; ++n) {
    MembershipConfig config = c.member_config(n);
    config.read_member_info = read_member_info;
    c.add_member(n, config);
  }
}

bool all_see(Cluster& c, const std::vector<bool>& expected, std::initializer_list<NodeId> observers) {
  for (NodeId n : observers) {
    Membership* m = c.member(n);
    if (m == nullptr || !m->view_known() || m->alive() != expected) return false;
  }
  return true;
}

// When each observer learnt that `member` joined (joined=1) or left, after `since`.
std::vector<TimeNs> learnt(const Observed& seen, NodeId member, bool joined, TimeNs since) {
  std::vector<TimeNs> times;
  for (const MembershipRow& r : seen.rows) {
    if (r.member == member && r.joined == (joined ? 1 : 0) && r.time_ns >= since) times.push_back(r.time_ns);
  }
  return times;
}

TEST(Membership, EveryoneSeesJoinsAtOnceAndACrashAfterTheSessionTimeout) {
  Cluster c(kNodes);
  Observed seen;
  boot(c, seen, /*read_member_info=*/true);
  // The first connects reach a server still loading its log; the quick retries make it in time.
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, 100 * kMillisecond));
  for (NodeId n = 1; n < kNodes; ++n) EXPECT_TRUE(c.member(n)->registered()) << n;
  // Rack, site and weight come with the entries.
  ASSERT_TRUE(c.run_until([&] { return c.member(1)->members().size() == 5; }, 100 * kMillisecond));
  EXPECT_EQ(c.member(1)->members().at(4), (MemberInfo{1, 0, 5.0}));

  const TimeNs crash_at = c.world.now_ns();
  c.world.crash(3);
  c.run_for(c.session_timeout_ns / 2);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 4, 5}));  // too early to tell
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 4, 5}), {1, 2, 4, 5}); }, 2 * c.session_timeout_ns));
  const std::vector<TimeNs> left = learnt(seen, 3, false, crash_at);
  ASSERT_EQ(left.size(), 4u);  // each survivor saw it once
  for (TimeNs t : left) {
    EXPECT_GE(t - crash_at, c.session_timeout_ns * 2 / 3 - c.server_config.tick_ns);
    EXPECT_LE(t - crash_at, c.session_timeout_ns + 2 * c.server_config.tick_ns + 10 * kMillisecond);
  }
  EXPECT_FALSE(c.member(1)->members().contains(3));
  EXPECT_TRUE(c.member(2)->members().contains(4));

  // Back after its entry expired: it joins as soon as it has a session.
  const TimeNs restart_at = c.world.now_ns();
  c.world.restart(3);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, 100 * kMillisecond));
  for (TimeNs t : learnt(seen, 3, true, restart_at)) EXPECT_LE(t - restart_at, 10 * kMillisecond);
}

TEST(Membership, APlannedLeaveIsSeenAtOnce) {
  Cluster c(kNodes);
  Observed seen;
  boot(c, seen);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, kSecond));
  EXPECT_TRUE(c.member(1)->members().empty());  // entries are not read unless asked for
  std::vector<std::pair<std::vector<bool>, MembershipChange>> calls;
  c.member(1)->set_alive_listener([&](const std::vector<bool>& alive, const MembershipChange& change) {
    calls.emplace_back(alive, change);
  });
  CoordCode left = CoordCode::kConnectionLoss;
  c.with_member(5, [&](Membership& m) { m.leave([&](CoordCode code) { left = code; }); });
  c.run_for(10 * kMillisecond);
  EXPECT_EQ(left, CoordCode::kOk);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4}), {1, 2, 3, 4}));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, alive_set({1, 2, 3, 4}));
  EXPECT_TRUE(calls[0].second.joined.empty());
  EXPECT_EQ(calls[0].second.left, std::vector<NodeId>{5});
  // It stays gone: leaving does not reconnect.
  c.run_for(3 * c.session_timeout_ns);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4}), {1, 2, 3, 4}));
  EXPECT_EQ(calls.size(), 1u);
}

TEST(Membership, ANodeBackBeforeItsOldEntryExpiredRegistersOnceItGoes) {
  Cluster c(kNodes);
  Observed seen;
  boot(c, seen);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, kSecond));
  const TimeNs crash_at = c.world.now_ns();
  c.world.crash(2);
  c.run_for(100 * kMillisecond);
  c.world.restart(2);
  c.run_for(200 * kMillisecond);
  // Its previous life's entry is still there under the old session: the new one waits for it to go.
  EXPECT_FALSE(c.member(2)->registered());
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 3}));
  ASSERT_TRUE(c.run_until([&] { return c.member(2)->registered(); }, 2 * c.session_timeout_ns));
  EXPECT_GE(c.world.now_ns() - crash_at, c.session_timeout_ns * 2 / 3 - c.server_config.tick_ns);
  c.run_for(50 * kMillisecond);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}));
  // Every other observer's rows about node 2 alternate join, leave, join... (a re-read after a watch
  // may fold a leave and the next join into no change at all, as with ZooKeeper).
  for (NodeId observer : {1, 3, 4, 5}) {
    int last = -1;
    for (const MembershipRow& r : seen.rows) {
      if (r.observer != observer || r.member != 2) continue;
      EXPECT_NE(static_cast<int>(r.joined), last) << "observer " << observer;
      last = r.joined;
    }
    EXPECT_EQ(last, 1) << "observer " << observer;
  }
}

TEST(Membership, AServerRestartWithinTheTimeoutChangesNobodysView) {
  Cluster c(kNodes);
  Observed seen;
  boot(c, seen);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, kSecond));
  const size_t rows = seen.rows.size();
  c.world.crash(kServerNode);
  c.run_for(c.session_timeout_ns / 2);
  c.world.restart(kServerNode);
  c.run_for(3 * c.session_timeout_ns);
  EXPECT_EQ(seen.rows.size(), rows);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}));
  // The watches came back with the sessions: a crash is still noticed.
  c.world.crash(4);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 5}), {1, 2, 3, 5}); }, 2 * c.session_timeout_ns));
}

TEST(Membership, AnIsolatedNodeIsDroppedAndRejoinsWithANewSession) {
  Cluster c(kNodes);
  Observed seen;
  boot(c, seen);
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, kSecond));
  const SessionId old_session = c.member(5)->client().session_id();
  testing::schedule(c.world, FaultKind::kIsolate, 0, 2 * c.session_timeout_ns, {5});
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4}), {1, 2, 3, 4}); }, 2 * c.session_timeout_ns));
  ASSERT_TRUE(c.run_until([&] { return all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5}); }, 3 * c.session_timeout_ns));
  EXPECT_NE(c.member(5)->client().session_id(), old_session);
  EXPECT_TRUE(c.member(5)->registered());
}

TEST(Membership, TheConfigIsReadAndWatched) {
  Cluster c(kNodes);
  c.add_server();
  std::vector<std::string> got;
  for (NodeId n = 1; n < kNodes; ++n) {
    MembershipConfig config = c.member_config(n);
    config.watch_config = n == 4;
    config.register_self = n != 5;  // node 5 only watches
    c.add_member(n, config);
  }
  c.run_for(kSecond);  // the members connect once the server has loaded its log
  c.member(4)->set_config_listener([&](const Bytes& b) { got.emplace_back(b.begin(), b.end()); });
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4}), {1, 2, 3, 4, 5}));
  EXPECT_FALSE(c.member(5)->registered());
  CoordCode written = CoordCode::kConnectionLoss;
  c.with_member(1, [&](Membership& m) { m.write_config(Bytes{'v', '1'}, [&](CoordCode code) { written = code; }); });
  c.run_for(50 * kMillisecond);
  EXPECT_EQ(written, CoordCode::kOk);
  c.with_member(2, [&](Membership& m) { m.write_config(Bytes{'v', '2'}, nullptr); });
  c.run_for(50 * kMillisecond);
  EXPECT_EQ(got, (std::vector<std::string>{"v1", "v2"}));
  const Znode* config = c.server()->state().find("/config");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->data, (Bytes{'v', '2'}));
}

TEST(Membership, PlacementNodesFollowTheView) {
  std::vector<PlacementNode> nodes(4);
  for (uint32_t i = 0; i < 4; ++i) nodes[i].id = i;
  const std::vector<PlacementNode> out = with_alive(nodes, std::vector<bool>{true, false, true});
  EXPECT_TRUE(out[0].alive);
  EXPECT_FALSE(out[1].alive);
  EXPECT_TRUE(out[2].alive);
  EXPECT_FALSE(out[3].alive);  // beyond the view
  EXPECT_EQ(decode_member_info(encode_member_info(MemberInfo{3, 1, 2.5})), (MemberInfo{3, 1, 2.5}));
  EXPECT_FALSE(decode_member_info(Bytes{1, 2, 3}).has_value());
  EXPECT_FALSE(decode_member_info(encode_member_info(MemberInfo{0, 0, -1})).has_value());
}

std::vector<MembershipRow> churn_run(uint64_t seed) {
  Cluster c(kNodes, seed);
  Observed seen;
  boot(c, seen);
  c.run_for(kSecond);
  testing::schedule(c.world, FaultKind::kCrash, 0, 3 * kSecond, {2});
  testing::schedule(c.world, FaultKind::kIsolate, 500 * kMillisecond, 4 * kSecond, {4});
  FaultSpec drop;
  drop.kind = FaultKind::kDrop;
  drop.at_ns = c.world.now_ns();
  drop.duration_ns = 5 * kSecond;
  drop.rate = 0.1;
  c.world.schedule_fault(drop);
  c.run_for(12 * kSecond);
  EXPECT_TRUE(all_see(c, alive_set({1, 2, 3, 4, 5}), {1, 2, 3, 4, 5})) << "seed " << seed;
  return seen.rows;
}

TEST(Membership, ARunIsReproducibleFromItsSeed) {
  const std::vector<MembershipRow> a = churn_run(7);
  const std::vector<MembershipRow> b = churn_run(7);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 5u * 5u);  // the initial views plus the churn
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].observer, b[i].observer);
    EXPECT_EQ(a[i].member, b[i].member);
    EXPECT_EQ(a[i].joined, b[i].joined);
    EXPECT_EQ(a[i].time_ns, b[i].time_ns);
  }
}

}  // namespace
}  // namespace pbfs::coordination
