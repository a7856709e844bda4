// The client library against the server on the simulator: one-shot watches (each fires once per
// change), an ephemeral that disappears one session timeout after its node crashes with its watchers
// told exactly once, a partitioned client that loses its session, requests that fail after their
// attempts while the server is away, and retries through a lossy network that neither duplicate a
// write nor lose a watch event.
#include "protocols/coordination/coordination_client.h"

#include <gtest/gtest.h>

#include "protocols/coordination/test_cluster.h"

namespace pbfs::coordination {
namespace {

using testing::Cluster;
using testing::kServerNode;

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

void boot(Cluster& c, uint32_t clients) {
  c.add_server();
  for (NodeId n = 1; n <= clients; ++n) c.add_client(n);
  ASSERT_TRUE(c.run_until(
      [&] {
        for (NodeId n = 1; n <= clients; ++n) {
          if (c.client(n)->state() != SessionState::kConnected) return false;
        }
        return true;
      },
      kSecond));
}

struct EventLog {
  std::vector<std::string> events;
  std::vector<TimeNs> times;
  sim::World* world = nullptr;
  WatchCallback watcher() {
    return [this](const WatchedEvent& e) {
      events.push_back(std::string(event_type_name(e.type)) + " " + e.path);
      times.push_back(world->now_ns());
    };
  }
};

TEST(CoordinationClient, AWatchFiresOncePerChangeAndMustBeSetAgain) {
  Cluster c(3);
  boot(c, 2);
  EventLog log{{}, {}, &c.world};
  c.with_client(2, [&](CoordinationClient& cl) { cl.create("/x", bytes("0"), 0, nullptr); });
  c.run_for(50 * kMillisecond);
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.get("/x", log.watcher(), nullptr);
    cl.get_children("/", log.watcher(), nullptr);
    cl.exists("/later", log.watcher(), [](CoordCode code, const Stat&) { EXPECT_EQ(code, CoordCode::kNoNode); });
  });
  c.run_for(50 * kMillisecond);
  EXPECT_EQ(c.client(1)->watch_count(), 3u);
  // Two changes of /x: only the first is reported (the watch was used up).
  c.with_client(2, [&](CoordinationClient& cl) {
    cl.set("/x", bytes("1"), kAnyVersion, nullptr);
    cl.set("/x", bytes("2"), kAnyVersion, nullptr);
    cl.create("/later", {}, 0, nullptr);
  });
  c.run_for(100 * kMillisecond);
  EXPECT_EQ(log.events, (std::vector<std::string>{"node_data_changed /x", "node_created /later",
                                                  "node_children_changed /"}));
  EXPECT_EQ(c.client(1)->watch_count(), 0u);
  EXPECT_EQ(c.server()->watch_count(), 0u);
  // Set again, it reports the next change; a delete reaches data and child watchers of the node.
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.get("/x", log.watcher(), nullptr);
    cl.exists("/x", log.watcher(), nullptr);
    cl.get_children("/x", log.watcher(), nullptr);
  });
  c.run_for(50 * kMillisecond);
  c.with_client(2, [&](CoordinationClient& cl) { cl.remove("/x", kAnyVersion, nullptr); });
  c.run_for(100 * kMillisecond);
  ASSERT_EQ(log.events.size(), 6u);
  for (size_t i = 3; i < 6; ++i) EXPECT_EQ(log.events[i], "node_deleted /x");
  // get on a missing node sets no watch; the server holds none for this session.
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.get("/x", log.watcher(), [](CoordCode code, const Bytes&, const Stat&) { EXPECT_EQ(code, CoordCode::kNoNode); });
  });
  c.run_for(50 * kMillisecond);
  EXPECT_EQ(c.client(1)->watch_count(), 0u);
  EXPECT_EQ(c.server()->watch_count(), 0u);
}

TEST(CoordinationClient, AnEphemeralGoesOneSessionTimeoutAfterItsNodeCrashesAndWatchersHearOnce) {
  Cluster c(3);
  boot(c, 2);
  EventLog log{{}, {}, &c.world};
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/members", {}, 0, nullptr);
    cl.create("/members/1", bytes("me"), kCreateEphemeral, nullptr);
  });
  c.run_for(50 * kMillisecond);
  c.with_client(2, [&](CoordinationClient& cl) {
    cl.exists("/members/1", log.watcher(), [](CoordCode code, const Stat& s) {
      EXPECT_EQ(code, CoordCode::kOk);
      EXPECT_NE(s.ephemeral_owner, 0u);
    });
    cl.get_children("/members", log.watcher(), nullptr);
  });
  c.run_for(50 * kMillisecond);
  const TimeNs crash_at = c.world.now_ns();
  c.world.crash(1);
  c.run_for(c.session_timeout_ns / 2);
  EXPECT_NE(c.server()->state().find("/members/1"), nullptr);  // still there: the session lives
  EXPECT_TRUE(log.events.empty());
  c.run_for(4 * c.session_timeout_ns);
  ASSERT_EQ(log.events, (std::vector<std::string>{"node_deleted /members/1", "node_children_changed /members"}));
  EXPECT_EQ(c.server()->state().find("/members/1"), nullptr);
  // The last ping before the crash was at most a third of the timeout earlier; the server measures
  // silence in ticks.
  const TimeNs delay = log.times[0] - crash_at;
  EXPECT_GE(delay, c.session_timeout_ns * 2 / 3 - c.server_config.tick_ns);
  EXPECT_LE(delay, c.session_timeout_ns + 2 * c.server_config.tick_ns);
  EXPECT_EQ(c.client(2)->state(), SessionState::kConnected);
}

TEST(CoordinationClient, APartitionedClientLosesItsSessionAndLearnsItWhenItIsBack) {
  Cluster c(4);
  boot(c, 3);
  std::vector<SessionEvent> events;
  c.client(3)->set_session_callback([&](SessionEvent e) { events.push_back(e); });
  c.with_client(3, [&](CoordinationClient& cl) { cl.create("/lock", {}, kCreateEphemeral, nullptr); });
  c.run_for(50 * kMillisecond);
  const SessionId old_session = c.client(3)->session_id();
  testing::schedule(c.world, FaultKind::kPartition, 0, 3 * c.session_timeout_ns, {}, {{0, 1, 2}, {3}});
  c.run_for(c.session_timeout_ns);
  // Cut off: disconnected after 2/3 of the timeout; the server then expires the session.
  EXPECT_EQ(c.client(3)->state(), SessionState::kDisconnected);
  ASSERT_TRUE(c.run_until([&] { return c.server()->state().find("/lock") == nullptr; }, c.session_timeout_ns));
  EXPECT_FALSE(c.server()->state().sessions().contains(old_session));
  EXPECT_EQ(c.client(3)->state(), SessionState::kDisconnected);  // it cannot know yet
  // The others were never affected.
  EXPECT_EQ(c.client(1)->state(), SessionState::kConnected);
  // Healed: its next ping is answered "expired".
  ASSERT_TRUE(c.run_until([&] { return c.client(3)->state() == SessionState::kExpired; }, 3 * c.session_timeout_ns));
  EXPECT_EQ(events, (std::vector<SessionEvent>{SessionEvent::kDisconnected, SessionEvent::kExpired}));
  EXPECT_EQ(c.client(3)->session_id(), 0u);
  // A new session works.
  c.with_client(3, [](CoordinationClient& cl) { cl.connect(); });
  c.run_for(50 * kMillisecond);
  EXPECT_EQ(c.client(3)->state(), SessionState::kConnected);
  EXPECT_NE(c.client(3)->session_id(), old_session);
}

TEST(CoordinationClient, ASilentServerDisconnectsAndAnAnswerReconnects) {
  Cluster c(2);
  boot(c, 1);
  std::vector<SessionEvent> events;
  c.client(1)->set_session_callback([&](SessionEvent e) { events.push_back(e); });
  const SessionId session = c.client(1)->session_id();
  // The server still hears the pings (so the session lives) but its answers are lost.
  testing::schedule(c.world, FaultKind::kPartitionOneWay, 0, 2 * c.session_timeout_ns, {}, {{kServerNode}, {1}});
  c.run_for(c.session_timeout_ns);
  EXPECT_EQ(c.client(1)->state(), SessionState::kDisconnected);
  c.run_for(2 * c.session_timeout_ns);
  EXPECT_EQ(events, (std::vector<SessionEvent>{SessionEvent::kDisconnected, SessionEvent::kReconnected}));
  EXPECT_EQ(c.client(1)->state(), SessionState::kConnected);
  EXPECT_EQ(c.client(1)->session_id(), session);
}

TEST(CoordinationClient, RequestsFailWithConnectionLossAfterTheirAttempts) {
  Cluster c(2);
  boot(c, 1);
  c.world.crash(kServerNode);
  CoordCode code = CoordCode::kOk;
  TimeNs failed_at = 0;
  const TimeNs issued_at = c.world.now_ns();
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.get("/", {}, [&](CoordCode k, const Bytes&, const Stat&) {
      code = k;
      failed_at = c.world.now_ns();
    });
  });
  c.run_for(5 * kSecond);
  EXPECT_EQ(code, CoordCode::kConnectionLoss);
  const CoordinationClientConfig cfg = c.client_config();
  EXPECT_EQ(failed_at - issued_at, cfg.attempts_max * cfg.request_timeout_ns);
  EXPECT_EQ(c.client(1)->outstanding(), 0u);
  // The client counts nothing more than the server's silence: its session is not "expired" locally.
  EXPECT_EQ(c.client(1)->state(), SessionState::kDisconnected);
}

TEST(CoordinationClient, RequestsBeforeTheSessionWaitForIt) {
  Cluster c(2);
  c.add_server();
  c.world.add_role(1, kPortCoordinationClient, [&](Runtime& rt) { return std::make_unique<CoordinationClient>(rt, c.client_config()); });
  std::string created;
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/early", {}, 0, [&](CoordCode code, const std::string& path) { created = path; });
    cl.connect();
  });
  // The server is still loading its log when the first connect arrives; the retry gets through.
  ASSERT_TRUE(c.run_until([&] { return !created.empty(); }, 2 * kSecond));
  EXPECT_EQ(created, "/early");
}

TEST(CoordinationClient, ALossyNetworkNeitherDuplicatesWritesNorLosesEvents) {
  Cluster c(3);
  boot(c, 2);
  // A fifth of every message to or from the clients is lost.
  FaultSpec drop;
  drop.kind = FaultKind::kDrop;
  drop.at_ns = c.world.now_ns();
  drop.nodes = {1, 2};
  drop.rate = 0.2;
  c.world.schedule_fault(drop);
  std::vector<std::string> created;
  int failures = 0;
  c.with_client(1, [&](CoordinationClient& cl) {
    for (int i = 0; i < 20; ++i) {
      cl.create("/seq-", {}, kCreateSequential, [&](CoordCode code, const std::string& path) {
        if (code == CoordCode::kOk) {
          created.push_back(path);
        } else {
          ++failures;
        }
      });
    }
  });
  EventLog log{{}, {}, &c.world};
  // The usual pattern: report the event, then read again with a new watch (again if the read itself
  // runs out of attempts).
  std::function<void(const WatchedEvent&)> rearm;
  std::function<void()> watch_flag = [&] {
    c.client(2)->get("/flag", rearm, [&](CoordCode code, const Bytes&, const Stat&) {
      if (code == CoordCode::kConnectionLoss) watch_flag();
    });
  };
  rearm = [&](const WatchedEvent& e) {
    log.watcher()(e);
    watch_flag();
  };
  c.with_client(2, [&](CoordinationClient& cl) { cl.create("/flag", bytes("0"), 0, nullptr); });
  c.run_for(3 * kSecond);
  c.with_client(2, [&](CoordinationClient&) { watch_flag(); });
  c.run_for(3 * kSecond);
  // Each successful create made exactly one node (a retried create is answered from the server's
  // cache, not applied twice); a request that ran out of attempts may or may not have been applied.
  size_t nodes = 0;
  for (const auto& [path, node] : c.server()->state().nodes()) nodes += path.starts_with("/seq-") ? 1 : 0;
  EXPECT_GE(nodes, created.size());
  EXPECT_LE(nodes, created.size() + static_cast<size_t>(failures));
  EXPECT_EQ(created.size() + static_cast<size_t>(failures), 20u);
  EXPECT_GE(created.size(), 15u);
  std::set<std::string> unique(created.begin(), created.end());
  EXPECT_EQ(unique.size(), created.size());
  ASSERT_EQ(c.client(2)->watch_count(), 1u);
  // Changes spaced wider than a ping period and the request attempts: each is reported, in order,
  // exactly once (a lost event is sent again after the next ping).
  for (int i = 1; i <= 4; ++i) {
    // A set that ran out of attempts is tried again; the version makes a second application
    // impossible (kBadVersion then says the first one was applied).
    bool done = false;
    std::function<void()> change = [&] {
      c.client(1)->set("/flag", bytes(std::to_string(i)), i - 1, [&](CoordCode code, const Stat&) {
        if (code == CoordCode::kConnectionLoss) return change();
        EXPECT_TRUE(code == CoordCode::kOk || code == CoordCode::kBadVersion) << coord_code_name(code);
        done = true;
      });
    };
    c.with_client(1, [&](CoordinationClient&) { change(); });
    c.run_for(3 * kSecond);
    ASSERT_TRUE(done);
    ASSERT_EQ(log.events.size(), static_cast<size_t>(i)) << "after change " << i;
  }
  for (const std::string& e : log.events) EXPECT_EQ(e, "node_data_changed /flag");
}

}  // namespace
}  // namespace pbfs::coordination
