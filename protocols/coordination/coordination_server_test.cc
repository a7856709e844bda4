// The coordination server on the simulator, driven by real clients: znode operations end to end,
// answers held until the log is durable, a crash and restart that keeps the tree and the sessions,
// watches re-armed after the restart, and the log switching to a snapshot when it grows.
#include "protocols/coordination/coordination_server.h"

#include <gtest/gtest.h>

#include "protocols/coordination/test_cluster.h"
#include "sim/disk.h"

namespace pbfs::coordination {
namespace {

using testing::Cluster;
using testing::kServerNode;

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A server on node 0 and connected clients on nodes 1..clients.
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

TEST(CoordinationServer, CreateGetSetDeleteAndChildren) {
  Cluster c(3);
  boot(c, 2);
  std::vector<std::string> log;
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/app", bytes("root"), 0, [&](CoordCode code, const std::string& path) {
      log.push_back(std::string("create ") + coord_code_name(code) + " " + path);
    });
    cl.create("/app/a", bytes("A"), 0, [&](CoordCode code, const std::string&) { log.push_back(std::string("a ") + coord_code_name(code)); });
    cl.create("/app/b", bytes("B"), 0, [&](CoordCode code, const std::string&) { log.push_back(std::string("b ") + coord_code_name(code)); });
    cl.create("/nope/x", {}, 0, [&](CoordCode code, const std::string&) { log.push_back(std::string("x ") + coord_code_name(code)); });
  });
  c.run_for(100 * kMillisecond);
  EXPECT_EQ(log, (std::vector<std::string>{"create ok /app", "a ok", "b ok", "x no_node"}));
  log.clear();
  // Another session sees them.
  c.with_client(2, [&](CoordinationClient& cl) {
    cl.get_children("/app", {}, [&](CoordCode code, const std::vector<std::string>& children, const Stat& stat) {
      EXPECT_EQ(code, CoordCode::kOk);
      EXPECT_EQ(children, (std::vector<std::string>{"a", "b"}));
      EXPECT_EQ(stat.num_children, 2u);
      log.push_back("children");
    });
    cl.get("/app/a", {}, [&](CoordCode code, const Bytes& data, const Stat& stat) {
      EXPECT_EQ(code, CoordCode::kOk);
      EXPECT_EQ(data, bytes("A"));
      EXPECT_EQ(stat.version, 0u);
      log.push_back("get");
    });
    cl.set("/app/a", bytes("A2"), 0, [&](CoordCode code, const Stat& stat) {
      EXPECT_EQ(code, CoordCode::kOk);
      EXPECT_EQ(stat.version, 1u);
      log.push_back("set");
    });
    cl.set("/app/a", bytes("A3"), 0, [&](CoordCode code, const Stat&) {
      EXPECT_EQ(code, CoordCode::kBadVersion);
      log.push_back("stale set");
    });
    cl.remove("/app", kAnyVersion, [&](CoordCode code) {
      EXPECT_EQ(code, CoordCode::kNotEmpty);
      log.push_back("remove parent");
    });
    cl.remove("/app/b", kAnyVersion, [&](CoordCode code) {
      EXPECT_EQ(code, CoordCode::kOk);
      log.push_back("remove b");
    });
    cl.exists("/app/b", {}, [&](CoordCode code, const Stat&) {
      EXPECT_EQ(code, CoordCode::kNoNode);
      log.push_back("exists b");
    });
  });
  c.run_for(100 * kMillisecond);
  // Answers come back in the order the requests were made.
  EXPECT_EQ(log, (std::vector<std::string>{"children", "get", "set", "stale set", "remove parent", "remove b", "exists b"}));
  const Znode* a = c.server()->state().find("/app/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->data, bytes("A2"));
}

TEST(CoordinationServer, SequentialNodesGetIncreasingNames) {
  Cluster c(2);
  boot(c, 1);
  std::vector<std::string> names;
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/q", {}, 0, nullptr);
    for (int i = 0; i < 3; ++i) {
      cl.create("/q/job-", {}, kCreateSequential | kCreateEphemeral,
                [&](CoordCode code, const std::string& path) { names.push_back(path); });
    }
  });
  c.run_for(100 * kMillisecond);
  EXPECT_EQ(names, (std::vector<std::string>{"/q/job-0000000000", "/q/job-0000000001", "/q/job-0000000002"}));
  const Znode* job = c.server()->state().find("/q/job-0000000001");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->ephemeral_owner, c.client(1)->session_id());
}

TEST(CoordinationServer, NoAnswerLeavesBeforeItsWriteIsDurable) {
  Cluster c(2);
  boot(c, 1);
  c.world.disk(kServerNode).set_slow_factor(2000);  // a sync now takes ~100 ms
  CoordCode answer = CoordCode::kConnectionLoss;
  bool answered = false;
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/durable", bytes("x"), 0, [&](CoordCode code, const std::string&) {
      answered = true;
      answer = code;
    });
  });
  c.run_for(20 * kMillisecond);
  // Applied in memory (a second create would be refused), but not answered: the log is not on disk.
  EXPECT_NE(c.server()->state().find("/durable"), nullptr);
  EXPECT_FALSE(answered);
  EXPECT_LT(c.server()->durable_zxid(), c.server()->state().zxid());
  c.world.crash(kServerNode);
  c.world.disk(kServerNode).set_slow_factor(1);
  c.run_for(100 * kMillisecond);
  c.world.restart(kServerNode);
  ASSERT_TRUE(c.run_until([&] { return c.server() && c.server()->serving(); }, kSecond));
  // The write was lost with the crash, and nobody was told otherwise; the client's retry then makes it.
  EXPECT_EQ(c.server()->state().find("/durable"), nullptr);
  EXPECT_FALSE(answered);
  ASSERT_TRUE(c.run_until([&] { return answered; }, 3 * kSecond));
  EXPECT_EQ(answer, CoordCode::kOk);
  EXPECT_NE(c.server()->state().find("/durable"), nullptr);
}

TEST(CoordinationServer, ACrashAndRestartKeepsTheTreeAndTheSessions) {
  Cluster c(3);
  boot(c, 2);
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/persist", bytes("p"), 0, nullptr);
    cl.create("/persist/child", bytes("c"), 0, nullptr);
    cl.create("/eph", bytes("e"), kCreateEphemeral, nullptr);
    cl.set("/persist", bytes("p2"), kAnyVersion, nullptr);
  });
  c.run_for(100 * kMillisecond);
  const uint64_t epoch_before = c.server()->server_epoch();
  const SessionId session = c.client(1)->session_id();
  c.world.crash(kServerNode);
  c.run_for(500 * kMillisecond);  // shorter than the 2 s session timeout
  c.world.restart(kServerNode);
  ASSERT_TRUE(c.run_until([&] { return c.server()->serving(); }, kSecond));
  EXPECT_GT(c.server()->server_epoch(), epoch_before);
  const CoordinationState& s = c.server()->state();
  ASSERT_NE(s.find("/persist"), nullptr);
  EXPECT_EQ(s.find("/persist")->data, bytes("p2"));
  EXPECT_EQ(s.find("/persist")->version, 1u);
  ASSERT_NE(s.find("/persist/child"), nullptr);
  ASSERT_NE(s.find("/eph"), nullptr);
  EXPECT_EQ(s.find("/eph")->ephemeral_owner, session);
  // The clients reach the restarted server within their timeout: same sessions, ephemerals kept.
  c.run_for(3 * kSecond);
  EXPECT_EQ(c.client(1)->state(), SessionState::kConnected);
  EXPECT_EQ(c.client(1)->session_id(), session);
  EXPECT_EQ(c.client(1)->server_epoch(), c.server()->server_epoch());
  EXPECT_NE(c.server()->state().find("/eph"), nullptr);
  // And they keep working.
  CoordCode code = CoordCode::kConnectionLoss;
  c.with_client(2, [&](CoordinationClient& cl) { cl.create("/after", {}, 0, [&](CoordCode k, const std::string&) { code = k; }); });
  c.run_for(100 * kMillisecond);
  EXPECT_EQ(code, CoordCode::kOk);
}

TEST(CoordinationServer, SessionsWhoseClientsDoNotReturnExpireAfterARestart) {
  Cluster c(3);
  boot(c, 2);
  c.with_client(2, [&](CoordinationClient& cl) { cl.create("/gone", {}, kCreateEphemeral, nullptr); });
  c.run_for(100 * kMillisecond);
  c.world.crash(kServerNode);
  c.world.crash(2);  // its client dies while the server is down
  c.run_for(200 * kMillisecond);
  c.world.restart(kServerNode);
  ASSERT_TRUE(c.run_until([&] { return c.server()->serving(); }, kSecond));
  ASSERT_NE(c.server()->state().find("/gone"), nullptr);
  const TimeNs restarted = c.world.now_ns();
  ASSERT_TRUE(c.run_until([&] { return c.server()->state().find("/gone") == nullptr; }, 5 * kSecond));
  // A reloaded session gets a full timeout from the restart.
  EXPECT_GE(c.world.now_ns() - restarted, c.session_timeout_ns);
  EXPECT_LE(c.world.now_ns() - restarted, c.session_timeout_ns + 2 * c.server_config.tick_ns);
  EXPECT_EQ(c.client(1)->state(), SessionState::kConnected);
}

TEST(CoordinationServer, WatchesAreSetAgainAfterARestartAndFireForChangesTheyMissed) {
  Cluster c(3);
  boot(c, 2);
  c.with_client(2, [&](CoordinationClient& cl) {
    cl.create("/w", bytes("0"), 0, nullptr);
    cl.create("/v", bytes("0"), 0, nullptr);
  });
  c.run_for(100 * kMillisecond);
  std::vector<std::string> events;
  auto watch = [&](const WatchedEvent& e) { events.push_back(std::string(event_type_name(e.type)) + " " + e.path); };
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.get("/w", watch, nullptr);
    cl.get("/v", watch, nullptr);
  });
  c.run_for(100 * kMillisecond);
  ASSERT_EQ(c.client(1)->watch_count(), 2u);
  // Client 1 is cut off while /w changes (its event is lost), then the server restarts, forgetting
  // every watch. When client 1 is back it re-sends its watches: /w fires at once, /v stays armed.
  testing::schedule(c.world, FaultKind::kIsolate, 0, 900 * kMillisecond, {1});
  c.run_for(10 * kMillisecond);
  c.with_client(2, [&](CoordinationClient& cl) { cl.set("/w", bytes("1"), kAnyVersion, nullptr); });
  c.run_for(100 * kMillisecond);
  c.world.crash(kServerNode);
  c.run_for(100 * kMillisecond);
  c.world.restart(kServerNode);
  ASSERT_TRUE(c.run_until([&] { return c.server()->serving(); }, kSecond));
  EXPECT_EQ(c.server()->watch_count(), 0u);
  EXPECT_TRUE(events.empty());
  ASSERT_TRUE(c.run_until([&] { return !events.empty(); }, 2 * kSecond));
  EXPECT_EQ(events, std::vector<std::string>{"node_data_changed /w"});
  EXPECT_EQ(c.server()->watch_count(), 1u);  // /v, registered again
  c.with_client(2, [&](CoordinationClient& cl) { cl.remove("/v", kAnyVersion, nullptr); });
  c.run_for(100 * kMillisecond);
  EXPECT_EQ(events, (std::vector<std::string>{"node_data_changed /w", "node_deleted /v"}));
  EXPECT_EQ(c.client(1)->session_id() != 0, true);
}

TEST(CoordinationServer, AGrowingLogIsReplacedByASnapshotAndStillReloads) {
  Cluster c(2);
  c.server_config.log_bytes_max = 2000;
  boot(c, 1);
  const uint64_t generation = c.server()->generation();
  // One write at a time, so each is its own log record and the log grows record by record.
  int done = 0;
  std::function<void(CoordCode, const Stat&)> next = [&](CoordCode code, const Stat&) {
    EXPECT_EQ(code, CoordCode::kOk);
    if (++done < 100) c.client(1)->set("/counter", bytes("value-" + std::to_string(done)), kAnyVersion, next);
  };
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/counter", {}, 0, nullptr);
    cl.set("/counter", bytes("value-0"), kAnyVersion, next);
  });
  c.run_for(kSecond);
  EXPECT_EQ(done, 100);
  EXPECT_GT(c.server()->generation(), generation + 1);
  const sim::Disk::File* f0 = c.world.disk(kServerNode).durable_file("coord/tree.0");
  const sim::Disk::File* f1 = c.world.disk(kServerNode).durable_file("coord/tree.1");
  ASSERT_TRUE(f0 != nullptr && f1 != nullptr);
  EXPECT_LT(f0->size, 2000u + 200u);
  EXPECT_LT(f1->size, 2000u + 200u);
  c.world.crash(kServerNode);
  c.world.restart(kServerNode);
  ASSERT_TRUE(c.run_until([&] { return c.server()->serving(); }, kSecond));
  ASSERT_NE(c.server()->state().find("/counter"), nullptr);
  EXPECT_EQ(c.server()->state().find("/counter")->data, bytes("value-99"));
  EXPECT_EQ(c.server()->state().find("/counter")->version, 100u);
}

TEST(CoordinationServer, EveryAcknowledgedWriteSurvivesACrashThatTearsTheLogTail) {
  // The crash lands at different points of the write / sync cycle; unsynced writes are torn.
  int torn_tails = 0;
  for (TimeNs offset_ns = 0; offset_ns < 120 * kMicrosecond; offset_ns += 7 * kMicrosecond) {
    // A seed per run, so the torn length (drawn from the disk's stream) differs too.
    const uint64_t seed = 1 + static_cast<uint64_t>(offset_ns / kMicrosecond);
    Cluster c(2, seed, [](Scenario& s) { s.disk_profiles.at("ssd").torn_write_probability = 1.0; });
    boot(c, 1);
    // Write k stores 2000 bytes of value k (spanning sectors, so a tear can keep part of a record).
    int acked = -1;
    std::function<void(CoordCode, const Stat&)> next = [&](CoordCode code, const Stat&) {
      if (code != CoordCode::kOk) return;
      ++acked;
      c.client(1)->set("/v", Bytes(2000, static_cast<uint8_t>(acked + 1)), kAnyVersion, next);
    };
    c.with_client(1, [&](CoordinationClient& cl) {
      cl.create("/v", Bytes(2000, 0), 0, nullptr);
      cl.set("/v", Bytes(2000, 0), kAnyVersion, next);
    });
    c.run_for(5 * kMillisecond + offset_ns);
    const int acked_at_crash = acked;
    ASSERT_GT(acked_at_crash, 5);
    c.world.crash(kServerNode);
    for (const char* name : {"coord/tree.0", "coord/tree.1"}) {
      const sim::Disk::File* f = c.world.disk(kServerNode).durable_file(name);
      if (f == nullptr) continue;
      std::optional<LoadedLog> log = load_log(f->bytes(), StateLimits{});
      torn_tails += log && log->damaged_tail ? 1 : 0;
    }
    c.world.restart(kServerNode);
    ASSERT_TRUE(c.run_until([&] { return c.server()->serving(); }, kSecond)) << offset_ns;
    const Znode* v = c.server()->state().find("/v");
    ASSERT_NE(v, nullptr);
    ASSERT_EQ(v->data.size(), 2000u);
    // The acknowledged value, or the one after it if its record was synced but its answer not sent.
    const int stored = v->data[0];
    EXPECT_EQ(v->data, Bytes(2000, v->data[0])) << offset_ns;
    EXPECT_GE(stored, acked_at_crash) << offset_ns;
    EXPECT_LE(stored, acked_at_crash + 1) << offset_ns;
    EXPECT_EQ(v->version, static_cast<uint32_t>(stored + 1)) << offset_ns;
  }
  EXPECT_GT(torn_tails, 0);  // the test did reach the torn-tail path
}

TEST(CoordinationServer, AFailedDiskHoldsAnswersUntilItWorksAgain) {
  Cluster c(2);
  boot(c, 1);
  c.world.disk(kServerNode).set_full(true);
  bool answered = false;
  c.with_client(1, [&](CoordinationClient& cl) {
    cl.create("/late", {}, 0, [&](CoordCode code, const std::string&) {
      EXPECT_EQ(code, CoordCode::kOk);
      answered = true;
    });
  });
  c.run_for(300 * kMillisecond);
  EXPECT_FALSE(answered);
  c.world.disk(kServerNode).set_full(false);
  ASSERT_TRUE(c.run_until([&] { return answered; }, 2 * kSecond));
}

}  // namespace
}  // namespace pbfs::coordination
