// The data-path client on the simulator, with real fragment servers and a small test catalog that
// orders commits per file and answers queries (the real Catalog role has its own tests and an end-to-end
// test). Each test is one sentence of the design: writes read back exactly, later writes win, fragments
// are durable before the acknowledgement, reads survive m lost or corrupt fragments and fail cleanly
// beyond, late binding uses the first k, compaction keeps the bytes, leader hints are followed.
#include "protocols/datapath/client.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "protocols/datapath/catalog.h"
#include "protocols/datapath/fragment_server.h"
#include "protocols/datapath/fragment_sim_test_util.h"
#include "protocols/datapath/provenance.h"
#include "sim/disk.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::datapath {
namespace {

std::shared_ptr<const CostModel> shipped_cost_model() {
  std::ifstream in(std::string(PBFS_SCENARIOS_DIR) + "/cost-model.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<CostModel> model = CostModel::parse(text, "cost-model.yaml");
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  return std::make_shared<const CostModel>(std::move(model).value());
}

// The test catalog: the replica at rank `primary_rank` of each shard's group is its primary, the others
// redirect to it. Per file: a sequence counter and the current records. Commits are idempotent by record
// id; a conditional commit needs every listed record current and no newer unlisted record overlapping.
class TestCatalog final : public Role {
 public:
  TestCatalog(Runtime& runtime, std::shared_ptr<const DataPathConfig> config, uint32_t primary_rank)
      : runtime_(runtime), directory_(config), config_(std::move(config)), primary_rank_(primary_rank) {}

  void on_message(const Envelope& from, const Message& m) override {
    switch (m.type()) {
      case types::kCommitRecord: on_commit(from, static_cast<const CommitRecord&>(m)); break;
      case types::kQueryRange: on_query(from, static_cast<const QueryRange&>(m)); break;
      case types::kReleasePin: released.push_back(static_cast<const ReleasePin&>(m).pin); break;
      case types::kFragmentCorrupt:
        if (primary(static_cast<const FragmentCorrupt&>(m).file_id) == runtime_.node_id())
          corrupt.push_back(static_cast<const FragmentCorrupt&>(m));
        break;
      default: break;
    }
  }

  NodeId primary(FileId file) { return directory_.group_of_file(file).at(primary_rank_); }
  const std::vector<CatalogEntry>& current(FileId file) { return files_[file].current; }

  std::vector<uint64_t> released;
  std::vector<FragmentCorrupt> corrupt;
  uint32_t commits = 0, conflicts = 0, redirects = 0;
  bool refuse_conditional = false;  // as if a newer write always got in first

 private:
  struct FileState {
    uint64_t next_sequence = 1;
    std::vector<CatalogEntry> current;  // ascending sequence
  };

  bool redirect(const Envelope& from, FileId file, uint64_t request_id, bool query) {
    if (primary(file) == runtime_.node_id()) return false;
    ++redirects;
    if (query) {
      auto reply = std::make_shared<QueryReply>();
      reply->request_id = request_id;
      reply->status = StatusCode::kNotLeader;
      reply->leader_hint = primary(file);
      runtime_.send(from.from, from.from_port, std::move(reply));
    } else {
      auto reply = std::make_shared<CommitReply>();
      reply->request_id = request_id;
      reply->status = StatusCode::kNotLeader;
      reply->leader_hint = primary(file);
      runtime_.send(from.from, from.from_port, std::move(reply));
    }
    return true;
  }

  void on_commit(const Envelope& from, const CommitRecord& m) {
    if (redirect(from, m.record.file_id, m.request_id, false)) return;
    FileState& f = files_[m.record.file_id];
    auto reply = std::make_shared<CommitReply>();
    reply->request_id = m.request_id;
    auto current = [&](const RecordId& id) {
      return std::find_if(f.current.begin(), f.current.end(), [&](const CatalogEntry& e) { return e.record.record_id == id; });
    };
    if (auto done = current(m.record.record_id); done != f.current.end()) {
      reply->sequence = done->sequence;  // a retried commit
    } else if (!conditional_ok(f, m)) {
      ++conflicts;
      reply->status = StatusCode::kConflict;
    } else {
      for (const RecordId& id : m.supersedes) f.current.erase(current(id));
      f.current.push_back(CatalogEntry{f.next_sequence++, m.record});
      reply->sequence = f.current.back().sequence;
      ++commits;
    }
    runtime_.send(from.from, from.from_port, std::move(reply));
  }

  bool conditional_ok(const FileState& f, const CommitRecord& m) const {
    if (m.supersedes.empty()) return true;
    if (refuse_conditional) return false;
    uint64_t newest_listed = 0;
    for (const RecordId& id : m.supersedes) {
      auto it = std::find_if(f.current.begin(), f.current.end(), [&](const CatalogEntry& e) { return e.record.record_id == id; });
      if (it == f.current.end()) return false;
      newest_listed = std::max(newest_listed, it->sequence);
    }
    for (const CatalogEntry& e : f.current) {
      const Extent& x = e.record.extent;
      const bool overlaps = x.offset < m.record.extent.end() && m.record.extent.offset < x.end();
      if (overlaps && e.sequence > newest_listed) return false;
    }
    return true;
  }

  void on_query(const Envelope& from, const QueryRange& m) {
    if (redirect(from, m.file_id, m.request_id, true)) return;
    auto reply = std::make_shared<QueryReply>();
    reply->request_id = m.request_id;
    reply->pin = next_pin_++;
    for (const CatalogEntry& e : files_[m.file_id].current) {
      if (e.record.extent.offset < m.extent.end() && m.extent.offset < e.record.extent.end()) reply->entries.push_back(e);
    }
    runtime_.send(from.from, from.from_port, std::move(reply));
  }

  Runtime& runtime_;
  CatalogDirectory directory_;
  std::shared_ptr<const DataPathConfig> config_;
  uint32_t primary_rank_;
  std::map<FileId, FileState> files_;
  uint64_t next_pin_ = 1;
};

constexpr FileId kFile = 42;

using sim::testing::counter;
constexpr NodeId kClientNode = 0;

struct Cluster {
  std::shared_ptr<DataPathConfig> config = std::make_shared<DataPathConfig>();
  std::unique_ptr<sim::World> world;
  std::vector<OperationResult> results;      // in completion order
  std::vector<OperationResult> compactions;
  std::vector<OperationRow> rows;
  uint32_t primary_rank = 0;
  bool real_catalog = false;  // the replicated Catalog role instead of the test catalog
  std::vector<uint32_t> boots;
  ClientOptions client_options;

  explicit Cluster(bool real, std::function<void(DataPathConfig&)> tune = nullptr) {
    Scenario s = sim::testing::small_scenario(1, 4, 3);  // 12 nodes in 4 racks
    s.duration_ns = 30 * kSecond;
    world = std::make_unique<sim::World>(s, nullptr);
    DataPathConfig& c = *config;
    c.coding = CodingParams{4, 2, ErasureBackend::kIsal};
    c.segment_bytes = 4096;
    c.real_payload = real;
    c.shards = 8;
    c.request_timeout_ns = 100 * kMillisecond;
    c.cost_model = shipped_cost_model();
    for (NodeId n = 0; n < world->node_count(); ++n) c.nodes.push_back({n, world->rack_of(n), world->site_of(n), 1.0, true});
    if (tune) tune(c);
    world->observe_table("operations", [this](const void* row) { rows.push_back(*static_cast<const OperationRow*>(row)); });
  }

  // Installs the roles; call after tuning config / primary_rank / client_options.
  void install() {
    std::shared_ptr<const DataPathConfig> shared = config;
    boots.assign(world->node_count(), 0);
    for (NodeId n = 0; n < world->node_count(); ++n) {
      world->add_role(n, kPortFragmentServer, [shared](Runtime& rt) { return std::make_unique<FragmentServer>(rt, shared); });
      const uint32_t rank = primary_rank;
      if (real_catalog) {
        world->add_role(n, kPortCatalog, [this, shared, n](Runtime& rt) {
          CatalogOptions options;
          options.first_boot = boots[n]++ == 0;
          return std::make_unique<Catalog>(rt, shared, options);
        });
      } else {
        world->add_role(n, kPortCatalog, [shared, rank](Runtime& rt) { return std::make_unique<TestCatalog>(rt, shared, rank); });
      }
    }
    const ClientOptions options = client_options;
    world->add_role(kClientNode, kPortClient, [this, shared, options](Runtime& rt) {
      auto client = std::make_unique<Client>(rt, shared, options);
      client->set_compaction_listener([this](const OperationResult& r) { compactions.push_back(r); });
      return client;
    });
  }

  // Runs `body` as the client's own handler at time t.
  void at(TimeNs t, std::function<void(Client&)> body) {
    world->kernel().at(t, [this, body] {
      world->with_role(kClientNode, kPortClient, [&](Role& r) { body(static_cast<Client&>(r)); });
    });
  }
  OperationCallback keep() {
    return [this](const OperationResult& r) { results.push_back(r); };
  }
  // Issues the operations one after another (each when the previous one completed), from time t.
  void sequence(TimeNs t, std::vector<std::function<void(Client&, OperationCallback)>> steps) {
    auto shared = std::make_shared<std::vector<std::function<void(Client&, OperationCallback)>>>(std::move(steps));
    auto next = std::make_shared<std::function<void(Client&, size_t)>>();
    *next = [this, shared, next](Client& c, size_t i) {
      if (i >= shared->size()) return;
      (*shared)[i](c, [this, shared, next, i](const OperationResult& r) {
        results.push_back(r);
        world->kernel().after(kMillisecond, [this, next, i] {
          world->with_role(kClientNode, kPortClient, [&](Role& role) { (*next)(static_cast<Client&>(role), i + 1); });
        });
      });
    };
    at(t, [next](Client& c) { (*next)(c, 0); });
  }
  TestCatalog& catalog(NodeId n) { return static_cast<TestCatalog&>(*world->role(n, kPortCatalog)); }
  TestCatalog& primary() { return catalog(catalog(0).primary(kFile)); }
  const CatalogEntry* entry(const RecordId& id) {
    for (const CatalogEntry& e : primary().current(kFile)) {
      if (e.record.record_id == id) return &e;
    }
    return nullptr;
  }
};

auto write_op(uint64_t offset, uint64_t length) {
  return [=](Client& c, OperationCallback done) { c.write(kFile, offset, length, std::move(done)); };
}
auto read_op(uint64_t offset, uint64_t length) {
  return [=](Client& c, OperationCallback done) { c.read(kFile, offset, length, std::move(done)); };
}

Bytes expected_bytes(const std::vector<ReadPiece>& pieces, uint64_t offset, uint64_t length) {
  Bytes out(length, 0);
  for (const ReadPiece& p : pieces) {
    if (p.record != kNoRecord) fill_provenance(p.record, p.offset, std::span<uint8_t>(out).subspan(p.offset - offset, p.length));
  }
  return out;
}

TEST(Client, RealWriteThenReadReturnsTheWrittenBytes) {
  Cluster c(true);
  c.install();
  c.sequence(kMillisecond, {write_op(1000, 30000), read_op(1000, 30000), read_op(5555, 7777), read_op(0, 40000)});
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 4u);
  const OperationResult& w = c.results[0];
  ASSERT_EQ(w.status, StatusCode::kOk);
  EXPECT_EQ(w.sequence, 1u);
  EXPECT_EQ(w.record.client, kClientNode);
  Bytes want(30000);
  fill_provenance(w.record, 1000, want);
  ASSERT_EQ(c.results[1].status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].data, want);
  EXPECT_EQ(c.results[1].pieces, (std::vector<ReadPiece>{{1000, 30000, w.record}}));
  ASSERT_EQ(c.results[2].status, StatusCode::kOk);
  EXPECT_EQ(c.results[2].data, Bytes(want.begin() + 4555, want.begin() + 4555 + 7777));
  // Holes around the record read as zeros and are named as such.
  ASSERT_EQ(c.results[3].status, StatusCode::kOk);
  EXPECT_EQ(c.results[3].pieces, (std::vector<ReadPiece>{{0, 1000, kNoRecord}, {1000, 30000, w.record}, {31000, 9000, kNoRecord}}));
  EXPECT_EQ(c.results[3].data, expected_bytes(c.results[3].pieces, 0, 40000));
  EXPECT_EQ(counter(summary, "datapath.read_mismatch"), 0u);
  EXPECT_EQ(counter(summary, "datapath.read_fallback"), 0u);  // healthy reads fetch windows only
  // Every read released its pin.
  EXPECT_EQ(c.primary().released.size(), 3u);
  // The operations table: a write stores k + m fragments in one round trip, then commits in one more.
  ASSERT_EQ(c.rows.size(), 4u);
  EXPECT_STREQ(c.rows[0].kind, "write");
  EXPECT_EQ(c.rows[0].fragments, 6u);
  EXPECT_EQ(c.rows[0].round_trips, 2u);
  EXPECT_EQ(c.rows[0].messages, 2u * 6 + 2);
  EXPECT_STREQ(c.rows[1].kind, "read");
  EXPECT_EQ(c.rows[1].round_trips, 2u);  // query, then fragment windows
  EXPECT_GT(c.rows[0].bytes_sent, 30000u);
  EXPECT_GT(c.rows[1].bytes_received, 30000u);
}

TEST(Client, SyntheticWriteThenReadNamesTheRightRecord) {
  Cluster c(false);
  c.install();
  c.sequence(kMillisecond, {write_op(0, 1 << 20), read_op(4096, 65536)});
  c.world->run();
  ASSERT_EQ(c.results.size(), 2u);
  ASSERT_EQ(c.results[0].status, StatusCode::kOk);
  ASSERT_EQ(c.results[1].status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].pieces, (std::vector<ReadPiece>{{4096, 65536, c.results[0].record}}));
  EXPECT_TRUE(c.results[1].data.empty());
  // Only the windows holding the needed segments travelled: far less than the 1 MiB record.
  EXPECT_LT(c.rows[1].bytes_received, 2u * 65536 + 8192);
}

TEST(Client, OverlappingOverwritesLaterWinsByteExactly) {
  for (const std::string bug : {"", "stale_read"}) {
    Cluster c(true, [&](DataPathConfig& d) { d.inject_bug = bug; });
    c.install();
    c.sequence(kMillisecond, {write_op(0, 8192), write_op(1000, 2000), write_op(2500, 3500), read_op(0, 8192)});
    const sim::RunSummary summary = c.world->run();
    ASSERT_EQ(c.results.size(), 4u);
    const RecordId a = c.results[0].record, b = c.results[1].record, d = c.results[2].record;
    EXPECT_EQ(c.results[2].sequence, 3u);
    const OperationResult& r = c.results[3];
    ASSERT_EQ(r.status, StatusCode::kOk);
    EXPECT_EQ(r.depth, 3u);
    const std::vector<ReadPiece> right{{0, 1000, a}, {1000, 1500, b}, {2500, 3500, d}, {6000, 2192, a}};
    if (bug.empty()) {
      EXPECT_EQ(r.pieces, right);
      EXPECT_EQ(r.data, expected_bytes(right, 0, 8192));
    } else {
      // The deliberate bug returns the oldest record everywhere: what the read checker must catch.
      EXPECT_EQ(r.pieces, (std::vector<ReadPiece>{{0, 8192, a}}));
      EXPECT_NE(r.data, expected_bytes(right, 0, 8192));
    }
    EXPECT_EQ(counter(summary, "datapath.read_mismatch"), 0u);  // bytes match the records it names
  }
}

TEST(Client, FragmentsAreDurableBeforeTheWriteIsAcknowledged) {
  for (const std::string bug : {"", "skip_fsync"}) {
    Cluster c(true, [&](DataPathConfig& d) { d.inject_bug = bug; });
    c.install();
    uint32_t durable = 0, checked = 0;
    c.at(kMillisecond, [&](Client& client) {
      client.write(kFile, 0, 50000, [&](const OperationResult& r) {
        ASSERT_EQ(r.status, StatusCode::kOk);
        const CatalogEntry* e = c.entry(r.record);
        ASSERT_NE(e, nullptr);
        for (uint32_t i = 0; i < e->record.fragments.size(); ++i) {
          const auto f = durable_fragment(c.world->disk(e->record.fragments[i].node), kFile, r.record, i);
          ++checked;
          if (f && f->location.size == kFragmentHeaderBytes + e->record.layout.fragment_bytes) ++durable;
        }
      });
    });
    c.world->run();
    EXPECT_EQ(checked, 6u);
    if (bug.empty()) EXPECT_EQ(durable, 6u);
    else EXPECT_EQ(durable, 0u) << "skip_fsync must leave the fragments in the write cache";
  }
}

TEST(Client, FragmentsGoToDistinctNodesAndRacks) {
  Cluster c(false);
  c.install();
  c.sequence(kMillisecond, {write_op(0, 4096), write_op(0, 4096), write_op(0, 4096)});
  c.world->run();
  ASSERT_EQ(c.results.size(), 3u);
  for (const OperationResult& r : c.results) {
    const CatalogEntry* e = c.entry(r.record);
    ASSERT_NE(e, nullptr);
    std::set<NodeId> nodes;
    std::map<uint32_t, int> per_rack;
    for (const FragmentEntry& f : e->record.fragments) {
      nodes.insert(f.node);
      ++per_rack[c.world->rack_of(f.node)];
    }
    EXPECT_EQ(nodes.size(), 6u);
    for (const auto& [rack, count] : per_rack) EXPECT_LE(count, 2);  // 6 fragments over 4 racks
  }
}

// Takes away `lost` fragments of a freshly written record (data fragments first, never on the client's
// node or the test catalog's primary), by crashing their nodes or failing their disks, then reads it.
void degraded_read(bool real, uint32_t lost, bool crash, StatusCode expected) {
  Cluster c(real);
  c.install();
  RecordId written;
  std::vector<uint32_t> taken;
  c.at(kMillisecond, [&](Client& client) {
    client.write(kFile, 0, 40000, [&](const OperationResult& r) {
      c.results.push_back(r);
      written = r.record;
      const CatalogEntry* e = c.entry(r.record);
      const NodeId primary = c.catalog(0).primary(kFile);
      for (uint32_t i = 0; i < e->record.fragments.size() && taken.size() < lost; ++i) {
        const NodeId node = e->record.fragments[i].node;
        if (node == kClientNode || node == primary) continue;
        taken.push_back(i);
        if (crash) c.world->kernel().after(kMillisecond, [&c, node] { c.world->crash(node); });
        else c.world->disk(node).fail();
      }
    });
  });
  c.at(100 * kMillisecond, [&](Client& client) { client.read(kFile, 0, 40000, c.keep()); });
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(taken.size(), lost);
  ASSERT_LT(taken.front(), 4u) << "no data fragment was lost: the read would not be degraded";
  ASSERT_EQ(c.results.size(), 2u);
  ASSERT_EQ(c.results[0].status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].status, expected) << lost << " fragments lost";
  if (expected != StatusCode::kOk) return;
  EXPECT_EQ(c.results[1].pieces, (std::vector<ReadPiece>{{0, 40000, written}}));
  if (real) {
    EXPECT_EQ(c.results[1].data, expected_bytes(c.results[1].pieces, 0, 40000));
  }
  EXPECT_GE(counter(summary, "datapath.read_fallback"), 1u);
  EXPECT_GE(counter(summary, "datapath.read_degraded"), 1u);
}

TEST(Client, ADegradedReadSurvivesMLostFragments) {
  degraded_read(true, 2, /*crash=*/true, StatusCode::kOk);    // requests time out
  degraded_read(true, 2, /*crash=*/false, StatusCode::kOk);   // servers answer kIoError at once
  degraded_read(false, 2, /*crash=*/true, StatusCode::kOk);
}

TEST(Client, AReadWithMPlusOneLostFragmentsFailsCleanly) {
  degraded_read(true, 3, /*crash=*/true, StatusCode::kUnavailable);
  degraded_read(false, 3, /*crash=*/false, StatusCode::kUnavailable);
}

// Rots data fragment 0 of a record on its disk, then reads the record. Real payloads: the window read
// fails authentication; synthetic ones: the window arrives with rot flips. Either way whole fragments
// (the suspect first) let the server's CRC name the culprit, which it reports to the catalog primary.
void corrupt_read(bool real) {
  Cluster c(real);
  c.install();
  RecordId written;
  c.at(kMillisecond, [&](Client& client) {
    client.write(kFile, 0, 40000, [&](const OperationResult& r) {
      c.results.push_back(r);
      written = r.record;
    });
  });
  c.world->kernel().at(50 * kMillisecond, [&] {
    const CatalogEntry* e = c.entry(written);
    ASSERT_NE(e, nullptr);
    sim::Disk& disk = c.world->disk(e->record.fragments[0].node);
    const auto stored = durable_fragment(disk, kFile, written, 0);
    ASSERT_TRUE(stored);
    // Disk::rot_bits picks its own targets: rot until a flip lands in this fragment's body (anything
    // else it hits, such as a manifest entry, is checksummed and harmless here).
    const sim::Disk::File* f = stored->log;
    const uint64_t body = stored->location.offset + kFragmentHeaderBytes, end = stored->location.offset + stored->location.size;
    const Bytes before = real ? stored->bytes() : Bytes{};
    auto changed = [&] {
      if (real) return Bytes(before.begin() + kFragmentHeaderBytes, before.end()) != f->data.read(body, end - body);
      return std::any_of(f->rotten_offsets.begin(), f->rotten_offsets.end(), [&](uint64_t o) { return o >= body && o < end; });
    };
    for (int tries = 0; tries < 256 && !changed(); ++tries) disk.rot_bits(1);
    ASSERT_TRUE(changed());
  });
  c.at(100 * kMillisecond, [&](Client& client) { client.read(kFile, 0, 40000, c.keep()); });
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 2u);
  ASSERT_EQ(c.results[1].status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].pieces, (std::vector<ReadPiece>{{0, 40000, written}}));
  if (real) {
    EXPECT_EQ(c.results[1].data, expected_bytes(c.results[1].pieces, 0, 40000));
  }
  EXPECT_EQ(counter(summary, "datapath.read_mismatch"), 0u);
  EXPECT_GE(counter(summary, "datapath.read_direct_corrupt"), 1u);
  ASSERT_EQ(c.primary().corrupt.size(), 1u);
  EXPECT_EQ(c.primary().corrupt[0].record_id, written);
  EXPECT_EQ(c.primary().corrupt[0].index, 0u);
}

TEST(Client, ACorruptFragmentIsDetectedAndTheReadSucceedsFromOthers) {
  corrupt_read(true);
  corrupt_read(false);
}

TEST(Client, LateBindingAsksKPlusExtraAndUsesTheFirstK) {
  // One of the four nearest data fragments sits on a very slow disk: with extra_fragments = 1 the read
  // does not wait for it.
  auto latency = [](uint32_t extra) {
    Cluster c(false, [&](DataPathConfig& d) { d.extra_fragments = extra; });
    c.install();
    RecordId written;
    c.at(kMillisecond, [&](Client& client) {
      client.write(kFile, 0, 1 << 20, [&](const OperationResult& r) {
        c.results.push_back(r);
        written = r.record;
        const CatalogEntry* e = c.entry(r.record);
        c.world->disk(e->record.fragments[0].node).set_slow_factor(2000);
      });
    });
    c.at(200 * kMillisecond, [&](Client& client) { client.read(kFile, 0, 1 << 20, c.keep()); });
    c.world->run();
    EXPECT_EQ(c.results.size(), 2u);
    EXPECT_EQ(c.results[1].status, StatusCode::kOk);
    EXPECT_EQ(c.results[1].pieces, (std::vector<ReadPiece>{{0, 1 << 20, written}}));
    const OperationRow& row = c.rows.at(1);
    if (extra > 0) {
      // query + reply + (k + 1) fetches + k replies used + the pin release.
      EXPECT_EQ(row.messages, 2u + 5 + 4 + 1);
      EXPECT_EQ(row.fragments, 4u);
    }
    return row.end_ns - row.start_ns;
  };
  const TimeNs with_extra = latency(1);
  const TimeNs without = latency(0);
  EXPECT_LT(with_extra * 3, without) << "late binding should not wait for the slow fragment";
}

TEST(Client, CompactionTriggersAtTheDepthAndKeepsTheBytes) {
  Cluster c(true, [](DataPathConfig& d) { d.compaction_depth = 3; });
  c.install();
  c.sequence(kMillisecond, {write_op(0, 16384), write_op(100, 3000), write_op(5000, 2000), write_op(9000, 5000),
                            read_op(0, 16384)});
  c.world->kernel().at(2 * kSecond, [&] {
    c.world->with_role(kClientNode, kPortClient, [&](Role& r) { static_cast<Client&>(r).read(kFile, 0, 16384, c.keep()); });
  });
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 6u);
  const OperationResult& before = c.results[4];
  ASSERT_EQ(before.status, StatusCode::kOk);
  EXPECT_EQ(before.depth, 4u);
  ASSERT_EQ(c.compactions.size(), 1u);
  const OperationResult& compaction = c.compactions[0];
  ASSERT_EQ(compaction.status, StatusCode::kOk);
  EXPECT_TRUE(is_compaction_record(compaction.record));
  EXPECT_EQ(compaction.extent, (Extent{0, 16384}));
  EXPECT_EQ(compaction.sequence, 5u);
  EXPECT_EQ(counter(summary, "datapath.read_unverified"), 1u);  // the second read's piece is a copy
  // Every old record lay inside the compacted range: one record is left.
  ASSERT_EQ(c.primary().current(kFile).size(), 1u);
  const OperationResult& after = c.results[5];
  ASSERT_EQ(after.status, StatusCode::kOk);
  EXPECT_EQ(after.depth, 1u);
  EXPECT_EQ(after.pieces, (std::vector<ReadPiece>{{0, 16384, compaction.record}}));
  EXPECT_EQ(after.data, before.data);
  EXPECT_EQ(counter(summary, "datapath.compaction_started"), 1u);
  std::vector<std::string> kinds;
  for (const OperationRow& r : c.rows) kinds.push_back(r.kind);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "compact"), 1);
}

TEST(Client, CompactionLeavesRecordsThatStickOut) {
  Cluster c(false, [](DataPathConfig& d) { d.compaction_depth = 2; });
  c.install();
  // A base record [0, 64 KiB) and three patches inside [8 KiB, 16 KiB); the read covers the patches only.
  c.sequence(kMillisecond, {write_op(0, 65536), write_op(8192, 1000), write_op(10000, 2000), write_op(12000, 4000),
                            read_op(8192, 8192)});
  c.world->run();
  ASSERT_EQ(c.results.size(), 5u);
  ASSERT_EQ(c.compactions.size(), 1u);
  ASSERT_EQ(c.compactions[0].status, StatusCode::kOk);
  EXPECT_EQ(c.compactions[0].extent, (Extent{8192, 8192}));
  // The base record stays (it sticks out of the compacted range); the three patches are gone.
  const std::vector<CatalogEntry>& left = c.primary().current(kFile);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].record.record_id, c.results[0].record);
  EXPECT_EQ(left[1].record.record_id, c.compactions[0].record);
}

TEST(Client, ACompactionThatLosesItsRaceReportsAConflict) {
  Cluster c(false, [](DataPathConfig& d) { d.compaction_depth = 1; });
  c.install();
  c.world->kernel().at(0, [&] {
    for (NodeId n = 0; n < c.world->node_count(); ++n) c.catalog(n).refuse_conditional = true;
  });
  c.sequence(kMillisecond, {write_op(0, 4096), write_op(1000, 100), read_op(0, 4096)});
  c.sequence(kSecond, {read_op(0, 4096)});
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 4u);
  // Both reads tried to compact (the first conflict did not block the file), both lost, nothing changed.
  ASSERT_EQ(c.compactions.size(), 2u);
  for (const OperationResult& r : c.compactions) EXPECT_EQ(r.status, StatusCode::kConflict);
  EXPECT_EQ(c.primary().current(kFile).size(), 2u);
  EXPECT_EQ(c.results[3].pieces, c.results[2].pieces);
  EXPECT_EQ(counter(summary, "datapath.compaction_started"), 2u);
}

TEST(Client, FollowsLeaderHintsAndRemembersThePrimary) {
  Cluster c(false);
  c.primary_rank = 1;  // the first replica the client tries is not the primary
  c.install();
  c.sequence(kMillisecond, {write_op(0, 4096), write_op(4096, 4096), read_op(0, 8192)});
  c.world->run();
  ASSERT_EQ(c.results.size(), 3u);
  for (const OperationResult& r : c.results) EXPECT_EQ(r.status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].sequence, 2u);
  CatalogDirectory directory(c.config);
  EXPECT_EQ(c.catalog(directory.group_of_file(kFile)[0]).redirects, 1u);  // only the first operation was redirected
  EXPECT_EQ(c.rows[0].round_trips, 3u);  // stores, the redirected commit, the commit at the primary
  EXPECT_EQ(c.rows[1].round_trips, 2u);
}

TEST(Client, AWriteWithAServerDownPlacesTheFragmentElsewhere) {
  Cluster c(true);
  c.install();
  // Node 3 is down but membership has not noticed: the store there times out and moves.
  c.world->kernel().at(0, [&] { c.world->crash(3); });
  std::vector<std::function<void(Client&, OperationCallback)>> steps;
  for (int i = 0; i < 8; ++i) steps.push_back(write_op(9000 * i, 9000));
  steps.push_back(read_op(0, 72000));
  c.sequence(kMillisecond, steps);
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 9u);
  for (const OperationResult& r : c.results) ASSERT_EQ(r.status, StatusCode::kOk);
  for (int i = 0; i < 8; ++i) {
    const CatalogEntry* e = c.entry(c.results[i].record);
    ASSERT_NE(e, nullptr);
    for (const FragmentEntry& f : e->record.fragments) EXPECT_NE(f.node, 3u);
  }
  EXPECT_GE(counter(summary, "datapath.store_replaced"), 1u);
  // After the first timeout the client avoids node 3: later writes place nothing there.
  EXPECT_EQ(counter(summary, "datapath.store_timeout"), 1u);
  EXPECT_EQ(counter(summary, "datapath.node_avoided"), 1u);
  EXPECT_EQ(c.results[8].data, expected_bytes(c.results[8].pieces, 0, 72000));
}

// A data fragment's node goes down unnoticed by membership: the first read waits out a fetch timeout
// and decodes from the others; the next reads ask that node last, so they wait for nothing.
TEST(Client, ReadsAfterAFetchTimeoutAskTheSilentNodeLast) {
  Cluster c(true);
  c.install();
  NodeId lost = kNoNode;
  c.at(kMillisecond, [&](Client& client) {
    client.write(kFile, 0, 40000, [&](const OperationResult& r) {
      c.results.push_back(r);
      // A data fragment's node (every read needs its bytes) that is neither the client's nor the catalog's.
      const WriteRecord& record = c.entry(r.record)->record;
      for (uint32_t i = 0; i < record.layout.k && lost == kNoNode; ++i) {
        const NodeId node = record.fragments[i].node;
        if (node != kClientNode && node != c.catalog(0).primary(kFile)) lost = node;
      }
      if (lost != kNoNode) c.world->kernel().after(kMillisecond, [&c, &lost] { c.world->crash(lost); });
    });
  });
  std::vector<std::function<void(Client&, OperationCallback)>> reads(3, read_op(0, 40000));
  c.sequence(100 * kMillisecond, reads);
  const sim::RunSummary summary = c.world->run();
  ASSERT_NE(lost, kNoNode);
  ASSERT_EQ(c.results.size(), 4u);
  for (const OperationResult& r : c.results) ASSERT_EQ(r.status, StatusCode::kOk);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(c.results[i].data, expected_bytes(c.results[i].pieces, 0, 40000));
  EXPECT_EQ(counter(summary, "datapath.fetch_timeout"), 1u) << "only the first read waited for node " << lost;
}

TEST(Client, RecordIdsStayUniqueAcrossClientRestarts) {
  Cluster c(false);
  c.install();
  c.sequence(kMillisecond, {write_op(0, 100), write_op(0, 100)});
  c.world->kernel().at(kSecond, [&] { c.world->crash(kClientNode); });
  c.world->kernel().at(kSecond + kMillisecond, [&] { c.world->restart(kClientNode); });
  c.sequence(2 * kSecond, {write_op(0, 100)});
  c.world->run();
  ASSERT_EQ(c.results.size(), 3u);
  std::set<RecordId> ids;
  for (const OperationResult& r : c.results) ids.insert(r.record);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(c.results[2].record.sequence >> 40, 1u);  // the second incarnation's epoch
}

TEST(Client, InvalidRequestsFailWithoutReenteringTheCaller) {
  Cluster c(false);
  c.install();
  bool inside = false;
  c.at(kMillisecond, [&](Client& client) {
    inside = true;
    client.write(kFile, 0, 0, [&](const OperationResult& r) {
      EXPECT_FALSE(inside);
      c.results.push_back(r);
    });
    inside = false;
  });
  c.world->run();
  ASSERT_EQ(c.results.size(), 1u);
  EXPECT_EQ(c.results[0].status, StatusCode::kInvalidArgument);
}


// ---- end to end: the replicated Catalog role, fragment servers and the client together ----

struct EndToEnd : Cluster {
  std::vector<CommitRow> commits;
  std::vector<CollectionRow> collections;

  explicit EndToEnd(bool real, std::function<void(DataPathConfig&)> tune = nullptr)
      : Cluster(real, [&](DataPathConfig& d) {
          d.lease_ns = 2 * kSecond;
          d.lease_epsilon_ns = 100 * kMillisecond;
          d.request_timeout_ns = 300 * kMillisecond;
          d.retries_max = 20;
          d.pin_timeout_ns = 2 * kSecond;  // a new primary waits this long before its first collection
          if (tune) tune(d);
        }) {
    real_catalog = true;
    world->observe_table(commit_schema().name, [this](const void* row) { commits.push_back(*static_cast<const CommitRow*>(row)); });
    world->observe_table(collection_schema().name,
                         [this](const void* row) { collections.push_back(*static_cast<const CollectionRow*>(row)); });
  }
  Catalog* catalog_at(NodeId n) { return static_cast<Catalog*>(world->role(n, kPortCatalog)); }
  NodeId serving_primary() {
    const uint64_t shard = shard_of(*config, kFile);
    for (NodeId n = 0; n < world->node_count(); ++n) {
      if (world->node_up(n) && catalog_at(n) != nullptr && catalog_at(n)->serving(shard)) return n;
    }
    return kNoNode;
  }
  // The record's current fragment map, as the serving primary holds it.
  std::vector<NodeId> fragment_nodes(const RecordId& id) {
    std::vector<NodeId> nodes;
    const NodeId p = serving_primary();
    if (p == kNoNode) return nodes;
    const RecordStore& store = catalog_at(p)->store();
    const RecordStore::Slot slot = store.find(id);
    if (slot == RecordStore::kNoSlot) return nodes;
    for (uint32_t i = 0; i < store.fragment_count(slot); ++i) nodes.push_back(store.fragment_node(slot, i));
    return nodes;
  }
  void tell_membership(const std::vector<bool>& alive) {
    for (NodeId n = 0; n < world->node_count(); ++n) {
      world->with_role(n, kPortCatalog, [&](Role& r) { static_cast<Catalog&>(r).on_membership(alive); });
      world->with_role(n, kPortClient, [&](Role& r) { static_cast<Client&>(r).set_alive(alive); });
    }
  }
};

TEST(EndToEnd, WritesReadsCompactionAndGarbageCollection) {
  EndToEnd c(true, [](DataPathConfig& d) { d.compaction_depth = 3; });
  c.install();
  // The first operations start while the catalog groups still elect their primaries: the client
  // follows redirects and backs off until one serves.
  c.sequence(10 * kMillisecond, {write_op(0, 16384), write_op(100, 3000), write_op(5000, 2000), write_op(9000, 5000),
                                 read_op(0, 16384)});
  c.sequence(5 * kSecond, {read_op(0, 16384)});
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(c.results.size(), 6u);
  for (const OperationResult& r : c.results) ASSERT_EQ(r.status, StatusCode::kOk);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.results[i].sequence, i + 1u);
  const OperationResult& before = c.results[4];
  EXPECT_EQ(before.depth, 4u);
  const std::vector<ReadPiece> want{{0, 100, c.results[0].record},    {100, 3000, c.results[1].record},
                                    {3100, 1900, c.results[0].record}, {5000, 2000, c.results[2].record},
                                    {7000, 2000, c.results[0].record}, {9000, 5000, c.results[3].record},
                                    {14000, 2384, c.results[0].record}};
  EXPECT_EQ(before.pieces, want);
  EXPECT_EQ(before.data, expected_bytes(want, 0, 16384));
  ASSERT_EQ(c.compactions.size(), 1u);
  ASSERT_EQ(c.compactions[0].status, StatusCode::kOk);
  const OperationResult& after = c.results[5];
  EXPECT_EQ(after.pieces, (std::vector<ReadPiece>{{0, 16384, c.compactions[0].record}}));
  EXPECT_EQ(after.data, before.data);
  EXPECT_EQ(counter(summary, "datapath.read_mismatch"), 0u);
  // The catalog recorded the compaction and, once no pin needed them, collected the four old records and
  // had their fragments deleted from every fragment server.
  ASSERT_GE(c.commits.size(), 5u);
  EXPECT_EQ(c.commits.back().kind, 2u);
  EXPECT_EQ(c.commits.back().superseded, 4u);
  EXPECT_EQ(c.collections.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    for (NodeId n = 0; n < c.world->node_count(); ++n) {
      for (uint32_t f = 0; f < 6; ++f) {
        EXPECT_FALSE(static_cast<FragmentServer&>(*c.world->role(n, kPortFragmentServer)).holds(kFile, c.results[i].record, f));
      }
    }
  }
}

TEST(EndToEnd, TheCatalogRepairsALostFragmentAndTheRecordSurvivesMMoreLosses) {
  EndToEnd c(true);
  c.install();
  RecordId written;
  std::vector<NodeId> before;
  c.sequence(10 * kMillisecond, {write_op(0, 30000)});
  // Once the record is committed: one fragment node dies and membership says so.
  NodeId lost = kNoNode;
  c.world->kernel().at(3 * kSecond, [&] {
    ASSERT_EQ(c.results.size(), 1u);
    ASSERT_EQ(c.results[0].status, StatusCode::kOk);
    written = c.results[0].record;
    before = c.fragment_nodes(written);
    ASSERT_EQ(before.size(), 6u);
    const NodeId primary = c.serving_primary();
    for (NodeId n : before) {
      if (n != kClientNode && n != primary) {
        lost = n;
        break;
      }
    }
    c.world->crash(lost);
    std::vector<bool> alive(c.world->node_count(), true);
    alive[lost] = false;
    c.tell_membership(alive);
  });
  // Later, m more fragment nodes die (never the client's or the primary's): only the repair saves it.
  std::vector<NodeId> also_lost;
  c.world->kernel().at(8 * kSecond, [&] {
    const std::vector<NodeId> now = c.fragment_nodes(written);
    ASSERT_EQ(now.size(), 6u);
    EXPECT_EQ(std::count(now.begin(), now.end(), lost), 0) << "the lost fragment was not moved";
    EXPECT_EQ(moved_fragments(before, now), 1u);
    const NodeId primary = c.serving_primary();
    for (NodeId n : now) {
      if (also_lost.size() < 2 && n != kClientNode && n != primary && std::find(before.begin(), before.end(), n) != before.end()) {
        also_lost.push_back(n);
        c.world->crash(n);
      }
    }
  });
  c.sequence(9 * kSecond, {read_op(0, 30000)});
  const sim::RunSummary summary = c.world->run();
  ASSERT_EQ(also_lost.size(), 2u);
  ASSERT_EQ(c.results.size(), 2u);
  ASSERT_EQ(c.results[1].status, StatusCode::kOk);
  EXPECT_EQ(c.results[1].data, expected_bytes(c.results[1].pieces, 0, 30000));
  EXPECT_GE(counter(summary, "datapath.rebuild_done"), 1u);
}

}  // namespace
}  // namespace pbfs::datapath
