// A small simulated cluster for the catalog's tests: Catalog roles on every node of a real simulator
// world (sim/world.h), a scripted test client, and a stand-in fragment server that records what the
// catalog asks of it (deletes, rebuilds) and answers rebuilds. Used only by catalog_*_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "protocols/datapath/catalog.h"
#include "protocols/datapath/catalog_test_util.h"
#include "sim/disk.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::datapath::testing {

// Sends catalog requests on command and keeps every reply by request id.
class TestClient final : public Role {
 public:
  explicit TestClient(Runtime& runtime) : runtime_(runtime) {}
  uint64_t commit(NodeId to, const WriteRecord& record, std::vector<RecordId> supersedes = {}) {
    auto m = std::make_shared<CommitRecord>();
    m->request_id = next_++;
    m->record = record;
    m->supersedes = std::move(supersedes);
    runtime_.send(to, kPortCatalog, m);
    return m->request_id;
  }
  uint64_t query(NodeId to, FileId file, Extent extent) {
    auto m = std::make_shared<QueryRange>();
    m->request_id = next_++;
    m->file_id = file;
    m->extent = extent;
    runtime_.send(to, kPortCatalog, m);
    return m->request_id;
  }
  void release(NodeId to, FileId file, uint64_t pin) {
    auto m = std::make_shared<ReleasePin>();
    m->file_id = file;
    m->pin = pin;
    runtime_.send(to, kPortCatalog, m);
  }
  uint64_t record_status(NodeId to, uint64_t shard, std::vector<FileRecord> records) {
    auto m = std::make_shared<RecordStatus>();
    m->request_id = next_++;
    m->shard = shard;
    m->records = std::move(records);
    runtime_.send(to, kPortCatalog, m);
    return m->request_id;
  }
  void send(NodeId to, std::shared_ptr<const Message> m) { runtime_.send(to, kPortCatalog, std::move(m)); }
  void on_message(const Envelope& from, const Message& message) override {
    if (message.type() == types::kRecordStatusReply) {
      const auto& r = static_cast<const RecordStatusReply&>(message);
      statuses[r.request_id] = r;
    }
    if (message.type() == types::kCommitReply) {
      const auto& r = static_cast<const CommitReply&>(message);
      commits[r.request_id] = r;
      if (on_commit_reply) on_commit_reply(from.from, r);
    } else if (message.type() == types::kQueryReply) {
      const auto& r = static_cast<const QueryReply&>(message);
      queries[r.request_id] = r;
    }
  }
  std::map<uint64_t, CommitReply> commits;
  std::map<uint64_t, QueryReply> queries;
  std::map<uint64_t, RecordStatusReply> statuses;
  std::function<void(NodeId, const CommitReply&)> on_commit_reply;

 private:
  Runtime& runtime_;
  uint64_t next_ = 1;
};

// Records DeleteFragments and RebuildFragment; answers rebuilds with `rebuild_status`.
class FakeFragmentServer final : public Role {
 public:
  FakeFragmentServer(Runtime& runtime, StatusCode* rebuild_status) : runtime_(runtime), rebuild_status_(rebuild_status) {}
  void on_message(const Envelope& from, const Message& message) override {
    if (message.type() == types::kDeleteFragments) {
      deletes.push_back(static_cast<const DeleteFragments&>(message));
    } else if (message.type() == types::kRebuildFragment) {
      const auto& m = static_cast<const RebuildFragment&>(message);
      rebuilds.push_back(m);
      auto reply = std::make_shared<RebuildFragmentReply>();
      reply->request_id = m.request_id;
      reply->status = *rebuild_status_;
      reply->record_id = m.record.record_id;
      reply->index = m.index;
      runtime_.send(from.from, from.from_port, reply);
    }
  }
  std::vector<DeleteFragments> deletes;
  std::vector<RebuildFragment> rebuilds;

 private:
  Runtime& runtime_;
  StatusCode* rebuild_status_;
};

// `nodes` catalog nodes (ids 0..nodes-1, one rack each) plus one more node, outside every catalog
// group, for the test client: crashing catalog nodes never takes the client down.
struct CatalogCluster {
  explicit CatalogCluster(uint32_t nodes, CatalogOptions options = {},
                          const std::function<void(DataPathConfig&)>& tweak = {}, uint64_t seed = 1,
                          TimeNs duration_ns = 3600 * kSecond) {
    register_datapath_messages();
    client_node = nodes;
    scenario = sim::testing::small_scenario(1, nodes + 1, 1, seed);
    scenario.duration_ns = duration_ns;  // World::run() only: tests step the kernel themselves
    auto c = std::make_shared<DataPathConfig>();
    c->catalog_replicas = 3;
    c->shards = 1;
    c->lease_ns = 2 * kSecond;
    c->lease_epsilon_ns = 100 * kMillisecond;
    c->pin_timeout_ns = kSecond;
    c->coding.k = 4;
    c->coding.m = 2;
    for (NodeId n = 0; n < nodes; ++n) c->nodes.push_back(PlacementNode{n, n, 0, 1.0, true});
    if (tweak) tweak(*c);
    config = c;
    world = std::make_unique<sim::World>(scenario, nullptr);
    world->observe_table(commit_schema().name, [this](const void* row) { commits.push_back(*static_cast<const CommitRow*>(row)); });
    world->observe_table(collection_schema().name,
                         [this](const void* row) { collections.push_back(*static_cast<const CollectionRow*>(row)); });
    world->observe_table(abandon_schema().name, [this](const void* row) { abandons.push_back(*static_cast<const AbandonRow*>(row)); });
    boots.assign(nodes, 0);
    for (NodeId n = 0; n <= nodes; ++n) {
      world->add_role(n, kPortFragmentServer, [this](Runtime& rt) { return std::make_unique<FakeFragmentServer>(rt, &rebuild_status); });
      if (n == client_node) continue;
      world->add_role(n, kPortCatalog, [this, n, options](Runtime& rt) {
        CatalogOptions o = options;
        o.first_boot = boots[n]++ == 0;
        return std::make_unique<Catalog>(rt, config, o);
      });
    }
    world->add_role(client_node, kPortClient, [](Runtime& rt) { return std::make_unique<TestClient>(rt); });
  }

  // Client requests and membership changes run as handlers of their roles (effects start now).
  uint64_t commit(NodeId to, const WriteRecord& record, std::vector<RecordId> supersedes = {}) {
    uint64_t id = 0;
    world->with_role(client_node, kPortClient, [&](Role& r) { id = static_cast<TestClient&>(r).commit(to, record, supersedes); });
    return id;
  }
  uint64_t query(NodeId to, FileId file, Extent extent) {
    uint64_t id = 0;
    world->with_role(client_node, kPortClient, [&](Role& r) { id = static_cast<TestClient&>(r).query(to, file, extent); });
    return id;
  }
  void release(NodeId to, FileId file, uint64_t pin) {
    world->with_role(client_node, kPortClient, [&](Role& r) { static_cast<TestClient&>(r).release(to, file, pin); });
  }
  void send(NodeId to, std::shared_ptr<const Message> m) {
    world->with_role(client_node, kPortClient, [&](Role& r) { static_cast<TestClient&>(r).send(to, m); });
  }
  void membership(const std::vector<bool>& alive) {
    for (NodeId n = 0; n < client_node; ++n) {
      world->with_role(n, kPortCatalog, [&](Role& r) { static_cast<Catalog&>(r).on_membership(alive); });
    }
  }
  Catalog* catalog(NodeId n) { return static_cast<Catalog*>(world->role(n, kPortCatalog)); }
  FakeFragmentServer& fragments(NodeId n) { return *static_cast<FakeFragmentServer*>(world->role(n, kPortFragmentServer)); }
  TestClient& client() { return *static_cast<TestClient*>(world->role(client_node, kPortClient)); }
  std::vector<NodeId> group(uint64_t shard = 0) {
    CatalogDirectory directory(config);
    return directory.group(shard);
  }
  std::optional<NodeId> primary(uint64_t shard = 0) {
    std::optional<NodeId> found;
    for (NodeId n = 0; n < client_node; ++n) {
      Catalog* c = catalog(n);
      if (c != nullptr && c->serving(shard)) {
        EXPECT_FALSE(found.has_value()) << "two serving primaries: " << *found << " and " << n;
        found = n;
      }
    }
    return found;
  }
  void run_for(TimeNs duration_ns) { world->kernel().run_until(world->now_ns() + duration_ns); }
  // Runs in small steps until `done` holds or `limit_ns` has passed; returns whether it held.
  bool run_until(const std::function<bool()>& done, TimeNs limit_ns, TimeNs step_ns = 10 * kMillisecond) {
    const TimeNs end = world->now_ns() + limit_ns;
    while (world->now_ns() < end) {
      if (done()) return true;
      run_for(step_ns);
    }
    return done();
  }
  NodeId wait_for_primary(uint64_t shard = 0, TimeNs limit_ns = 20 * kSecond) {
    EXPECT_TRUE(run_until([&] { return primary(shard).has_value(); }, limit_ns)) << "no primary elected";
    return primary(shard).value_or(kNoNode);
  }
  // Commits and waits for the reply; returns it (status kUnavailable if none came).
  CommitReply commit_and_wait(NodeId to, const WriteRecord& record, std::vector<RecordId> supersedes = {},
                              TimeNs limit_ns = 5 * kSecond) {
    const uint64_t id = commit(to, record, std::move(supersedes));
    run_until([&] { return client().commits.count(id) != 0; }, limit_ns, kMillisecond);
    if (client().commits.count(id) == 0) {
      CommitReply none;
      none.status = StatusCode::kUnavailable;
      return none;
    }
    return client().commits.at(id);
  }
  // Asks what became of `records` (of files of `shard`) and waits for the reply (status kUnavailable if
  // none came).
  RecordStatusReply record_status_and_wait(NodeId to, uint64_t shard, std::vector<FileRecord> records,
                                           TimeNs limit_ns = 5 * kSecond) {
    uint64_t id = 0;
    world->with_role(client_node, kPortClient,
                     [&](Role& r) { id = static_cast<TestClient&>(r).record_status(to, shard, std::move(records)); });
    run_until([&] { return client().statuses.count(id) != 0; }, limit_ns, kMillisecond);
    if (client().statuses.count(id) == 0) {
      RecordStatusReply none;
      none.status = StatusCode::kUnavailable;
      return none;
    }
    return client().statuses.at(id);
  }
  RecordStatusReply record_status_and_wait(NodeId to, FileId file, const std::vector<RecordId>& records) {
    std::vector<FileRecord> named;
    for (const RecordId& id : records) named.push_back({file, id});
    return record_status_and_wait(to, shard_of(*config, file), std::move(named));
  }
  QueryReply query_and_wait(NodeId to, FileId file, Extent extent, TimeNs limit_ns = 5 * kSecond) {
    const uint64_t id = query(to, file, extent);
    run_until([&] { return client().queries.count(id) != 0; }, limit_ns, kMillisecond);
    if (client().queries.count(id) == 0) {
      QueryReply none;
      none.status = StatusCode::kUnavailable;
      return none;
    }
    return client().queries.at(id);
  }
  // Record ids in the durable (synced) part of a node's log file for `shard`.
  std::vector<RecordId> durable_commits(NodeId n, uint64_t shard = 0) {
    std::vector<RecordId> out;
    const sim::Disk::File* file = world->disk(n).durable_file(catalog_log_file(shard));
    if (file == nullptr || !file->real) return out;
    LogFrameReader reader = LogFrameReader::from_start();
    reader.feed(file->bytes());
    CatalogLogEntry e;
    uint64_t hint = 0, offset = 0;
    while (reader.next(e, hint, offset) == LogFrameReader::Next::kEntry) {
      if (e.op == CatalogOp::kCommit) out.push_back(e.entry.record.record_id);
    }
    return out;
  }
  std::string describe(uint64_t shard = 0) {
    std::string out;
    for (NodeId n : group(shard)) {
      out += "\n  node " + std::to_string(n);
      if (!world->node_up(n)) {
        out += " down";
        continue;
      }
      Catalog* c = catalog(n);
      out += (c->serving(shard) ? " serving" : "") + std::string(c->recovered(shard) ? "" : " recovering") +
             " epoch " + std::to_string(c->epoch(shard)) + " applied " + std::to_string(c->applied_index(shard)) +
             " commit " + std::to_string(c->commit_index(shard)) + " last " + std::to_string(c->last_index(shard));
    }
    return out;
  }
  // Every live replica of the shard at the same applied index with the same digest.
  void expect_replicas_agree(uint64_t shard = 0) {
    std::vector<NodeId> members = group(shard);
    ASSERT_TRUE(run_until(
        [&] {
          uint64_t index = ~uint64_t{0};
          for (NodeId n : members) {
            if (!world->node_up(n)) continue;
            if (index == ~uint64_t{0}) index = catalog(n)->applied_index(shard);
            if (catalog(n)->applied_index(shard) != index) return false;
          }
          return true;
        },
        5 * kSecond))
        << "replicas did not reach the same applied index: " << describe(shard);
    std::optional<uint64_t> digest;
    for (NodeId n : members) {
      if (!world->node_up(n)) continue;
      if (!digest) digest = catalog(n)->log_digest(shard);
      EXPECT_EQ(catalog(n)->log_digest(shard), *digest) << "replica " << n << " disagrees";
    }
  }

  NodeId client_node = 0;
  Scenario scenario;
  std::shared_ptr<const DataPathConfig> config;
  std::unique_ptr<sim::World> world;
  std::vector<uint32_t> boots;
  StatusCode rebuild_status = StatusCode::kOk;
  std::vector<CommitRow> commits;
  std::vector<CollectionRow> collections;
  std::vector<AbandonRow> abandons;
};

}  // namespace pbfs::datapath::testing
