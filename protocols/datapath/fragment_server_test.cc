// Fragment servers on the simulator: a store is durable before its reply; fetches return whole
// fragments (CRC-checked) or body windows; corruption is refused and reported to the catalog group; a
// restart replays the manifest; the scrub finds rot; a rebuild recreates a fragment byte for byte.
#include "protocols/datapath/fragment_server.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "protocols/datapath/provenance.h"
#include "sim/disk.h"
#include "sim/test_util.h"
#include "sim/world.h"

namespace pbfs::datapath {
namespace {

constexpr PortId kPortProbe = 99;
constexpr PortId kPortVandal = 98;

std::shared_ptr<const CostModel> shipped_cost_model() {
  std::ifstream in(std::string(PBFS_SCENARIOS_DIR) + "/cost-model.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Result<CostModel> model = CostModel::parse(text, "cost-model.yaml");
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  return std::make_shared<const CostModel>(std::move(model).value());
}

// Sends what the test asks and keeps every reply, with the time it arrived.
class Probe final : public Role {
 public:
  explicit Probe(Runtime& runtime) : runtime_(runtime) {}
  void on_message(const Envelope& from, const Message& m) override {
    if (m.type() == types::kStoreFragmentReply) stores.push_back(static_cast<const StoreFragmentReply&>(m));
    if (m.type() == types::kFetchFragmentReply) fetches.push_back(static_cast<const FetchFragmentReply&>(m));
    if (m.type() == types::kRebuildFragmentReply) rebuilds.push_back(static_cast<const RebuildFragmentReply&>(m));
    if (on_reply) on_reply(m);
  }
  void send(NodeId to, std::shared_ptr<const Message> m) { runtime_.send(to, kPortFragmentServer, std::move(m)); }

  std::vector<StoreFragmentReply> stores;
  std::vector<FetchFragmentReply> fetches;
  std::vector<RebuildFragmentReply> rebuilds;
  std::function<void(const Message&)> on_reply;

 private:
  Runtime& runtime_;
};

// Stands in for the catalog: keeps the corruption reports it receives.
class ReportSink final : public Role {
 public:
  explicit ReportSink(std::vector<FragmentCorrupt>* reports) : reports_(reports) {}
  void on_message(const Envelope&, const Message& m) override {
    if (m.type() == types::kFragmentCorrupt) reports_->push_back(static_cast<const FragmentCorrupt&>(m));
  }

 private:
  std::vector<FragmentCorrupt>* reports_;
};

// Damages a file on its node's disk the way a bad sector would: read, flip one bit, write, sync.
class Vandal final : public Role {
 public:
  explicit Vandal(Runtime& runtime) : runtime_(runtime) {}
  void flip(const std::string& file, uint64_t size, uint64_t byte, int bit) {
    file_ = file;
    byte_ = byte;
    bit_ = bit;
    runtime_.disk_read(file, 0, size, 1);
  }
  void on_message(const Envelope&, const Message&) override {}
  void on_disk(const DiskCompletion& done) override {
    if (done.tag != 1) return;
    Bytes bytes = *done.data.bytes;
    bytes.at(byte_) ^= static_cast<uint8_t>(1u << bit_);
    runtime_.disk_write(file_, 0, Payload::real(std::move(bytes)), 2);
    runtime_.disk_sync(file_, 3);
  }

 private:
  Runtime& runtime_;
  std::string file_;
  uint64_t byte_ = 0;
  int bit_ = 0;
};

struct Fixture {
  std::shared_ptr<DataPathConfig> config = std::make_shared<DataPathConfig>();
  std::unique_ptr<sim::World> world;
  std::vector<FragmentCorrupt> reports;
  NodeId probe_node = 11;

  explicit Fixture(bool real, const std::string& bug = "", TimeNs scrub_ns = 0) {
    Scenario s = sim::testing::small_scenario(1, 4, 3);
    s.duration_ns = 20 * kSecond;
    world = std::make_unique<sim::World>(s, nullptr);
    config->coding = CodingParams{4, 2, ErasureBackend::kIsal};
    config->segment_bytes = 4096;
    config->real_payload = real;
    config->shards = 8;
    config->request_timeout_ns = 100 * kMillisecond;
    config->scrub_interval_ns = scrub_ns;
    config->inject_bug = bug;
    config->cost_model = shipped_cost_model();
    for (NodeId n = 0; n < world->node_count(); ++n) config->nodes.push_back({n, world->rack_of(n), world->site_of(n), 1.0, true});
    std::shared_ptr<const DataPathConfig> shared = config;
    for (NodeId n = 0; n < world->node_count(); ++n) {
      world->add_role(n, kPortFragmentServer, [shared](Runtime& rt) { return std::make_unique<FragmentServer>(rt, shared); });
      world->add_role(n, kPortCatalog, [this](Runtime&) { return std::make_unique<ReportSink>(&reports); });
      world->add_role(n, kPortVandal, [](Runtime& rt) { return std::make_unique<Vandal>(rt); });
    }
    world->add_role(probe_node, kPortProbe, [](Runtime& rt) { return std::make_unique<Probe>(rt); });
  }
  Probe& probe() { return static_cast<Probe&>(*world->role(probe_node, kPortProbe)); }
  FragmentServer& server(NodeId n) { return static_cast<FragmentServer&>(*world->role(n, kPortFragmentServer)); }
  // Runs `body` as the probe's own handler at time t.
  void at(TimeNs t, std::function<void(Probe&)> body) {
    world->kernel().at(t, [this, body] { world->with_role(probe_node, kPortProbe, [&](Role& r) { body(static_cast<Probe&>(r)); }); });
  }
  void vandalize(TimeNs t, NodeId node, const std::string& file, uint64_t size, uint64_t byte) {
    world->kernel().at(t, [=, this] {
      world->with_role(node, kPortVandal, [&](Role& r) { static_cast<Vandal&>(r).flip(file, size, byte, 3); });
    });
  }
};

// A real record of file 5: its WriteRecord (fragment i on node i + 1) and its stored fragments.
struct RealRecord {
  WriteRecord record;
  std::vector<Bytes> stored;
};

RealRecord encode_record(const DataPathConfig& config, uint64_t length) {
  RecordCodec codec;
  WriteRequest request;
  request.file_id = 5;
  request.extent = {1000, length};
  request.record_id = {11, 1};
  request.crypto.segment_bytes = config.segment_bytes;
  request.crypto.key_salt[0] = 7;
  request.coding = config.coding;
  Bytes plaintext(length);
  fill_provenance(request.record_id, request.extent.offset, plaintext);
  EncodedWrite out;
  EXPECT_TRUE(codec.encode_write(derive_file_key(config.master_key, 5), request, plaintext, out).is_ok());
  RealRecord r{out.record, {}};
  for (uint32_t i = 0; i < r.record.layout.fragment_count(); ++i) {
    r.record.fragments[i].node = i + 1;
    r.stored.push_back(encode_fragment(make_fragment_header(r.record, i), out.stripe.fragment(i)));
  }
  return r;
}

std::shared_ptr<StoreFragment> store_of(const RealRecord& r, uint32_t index, uint64_t request_id) {
  auto m = std::make_shared<StoreFragment>();
  m->request_id = request_id;
  m->file_id = r.record.file_id;
  m->record_id = r.record.record_id;
  m->index = index;
  m->data = Payload::real(r.stored[index]);
  return m;
}

std::shared_ptr<FetchFragment> fetch_of(const WriteRecord& r, uint32_t index, uint64_t request_id, uint64_t offset = 0,
                                        uint64_t length = 0) {
  auto m = std::make_shared<FetchFragment>();
  m->request_id = request_id;
  m->file_id = r.file_id;
  m->record_id = r.record_id;
  m->index = index;
  m->offset = offset;
  m->length = length;
  return m;
}

TEST(FragmentServer, AStoreIsDurableBeforeItsReply) {
  for (const std::string bug : {"", "skip_fsync"}) {
    Fixture f(true, bug);
    const RealRecord r = encode_record(*f.config, 10000);
    const std::string file = fragment_file(5, r.record.record_id, 0);
    bool durable_at_reply = false;
    f.at(kMillisecond, [&](Probe& p) {
      p.on_reply = [&](const Message&) {
        const sim::Disk::File* stored = f.world->disk(1).durable_file(file);
        durable_at_reply = stored != nullptr && stored->data == r.stored[0];
      };
      p.send(1, store_of(r, 0, 42));
    });
    f.world->run();
    ASSERT_EQ(f.probe().stores.size(), 1u) << bug;
    EXPECT_EQ(f.probe().stores[0].request_id, 42u);
    EXPECT_EQ(f.probe().stores[0].status, StatusCode::kOk);
    if (bug.empty()) {
      EXPECT_TRUE(durable_at_reply) << "acknowledged before the fragment was synced";
      EXPECT_NE(f.world->disk(1).durable_file(kFragmentManifestFile), nullptr);
      EXPECT_TRUE(f.server(1).holds(5, r.record.record_id, 0));
    } else {
      EXPECT_FALSE(durable_at_reply) << "skip_fsync should acknowledge unsynced data";
    }
  }
}

TEST(FragmentServer, FetchesWholeFragmentsAndBodyWindows) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 10000);
  f.at(kMillisecond, [&](Probe& p) { p.send(2, store_of(r, 1, 1)); });
  f.at(50 * kMillisecond, [&](Probe& p) {
    p.send(2, fetch_of(r.record, 1, 2));
    p.send(2, fetch_of(r.record, 1, 3, 10, 100));
    p.send(2, fetch_of(r.record, 3, 4));                        // not stored here
    p.send(2, fetch_of(r.record, 1, 5, 0, r.stored[1].size()));  // beyond the body
  });
  f.world->run();
  auto& replies = f.probe().fetches;
  ASSERT_EQ(replies.size(), 4u);
  std::sort(replies.begin(), replies.end(), [](const auto& a, const auto& b) { return a.request_id < b.request_id; });
  EXPECT_EQ(replies[0].status, StatusCode::kOk);
  EXPECT_EQ(*replies[0].data.bytes, r.stored[1]);
  EXPECT_EQ(replies[1].status, StatusCode::kOk);
  EXPECT_EQ(replies[1].offset, 10u);
  EXPECT_EQ(*replies[1].data.bytes,
            Bytes(r.stored[1].begin() + kFragmentHeaderBytes + 10, r.stored[1].begin() + kFragmentHeaderBytes + 110));
  EXPECT_EQ(replies[2].status, StatusCode::kNotFound);
  EXPECT_EQ(replies[3].status, StatusCode::kInvalidArgument);
}

TEST(FragmentServer, RefusesAFragmentFiledUnderTheWrongIndex) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 3000);
  auto wrong = store_of(r, 2, 9);
  wrong->index = 3;  // the header inside says 2
  f.at(kMillisecond, [&](Probe& p) { p.send(4, wrong); });
  f.world->run();
  ASSERT_EQ(f.probe().stores.size(), 1u);
  EXPECT_EQ(f.probe().stores[0].status, StatusCode::kInvalidArgument);
  EXPECT_EQ(f.server(4).fragment_count(), 0u);
}

TEST(FragmentServer, ACorruptFragmentIsRefusedAndReportedToTheCatalogGroup) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 10000);
  const std::string file = fragment_file(5, r.record.record_id, 0);
  f.at(kMillisecond, [&](Probe& p) { p.send(1, store_of(r, 0, 1)); });
  f.vandalize(50 * kMillisecond, 1, file, r.stored[0].size(), kFragmentHeaderBytes + 77);
  f.at(100 * kMillisecond, [&](Probe& p) { p.send(1, fetch_of(r.record, 0, 2)); });
  const sim::RunSummary summary = f.world->run();
  ASSERT_EQ(f.probe().fetches.size(), 1u);
  EXPECT_EQ(f.probe().fetches[0].status, StatusCode::kCorrupt);
  EXPECT_EQ(f.probe().fetches[0].data.size, 0u);
  EXPECT_EQ(summary.counters.at("datapath.fetch_corrupt"), 1u);
  CatalogDirectory directory(f.config);
  ASSERT_EQ(f.reports.size(), directory.group_of_file(5).size());  // one per replica
  for (const FragmentCorrupt& c : f.reports) {
    EXPECT_EQ(c.file_id, 5u);
    EXPECT_EQ(c.record_id, r.record.record_id);
    EXPECT_EQ(c.index, 0u);
  }
}

TEST(FragmentServer, ARestartReplaysTheManifest) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 10000);
  f.at(kMillisecond, [&](Probe& p) {
    p.send(3, store_of(r, 0, 1));
    p.send(3, store_of(r, 1, 2));
    p.send(3, store_of(r, 2, 3));
  });
  f.at(50 * kMillisecond, [&](Probe& p) {
    auto del = std::make_shared<DeleteFragments>();
    del->file_id = 5;
    del->fragments = {{r.record.record_id, 1}};
    p.send(3, del);
  });
  f.world->kernel().at(80 * kMillisecond, [&] { f.world->crash(3); });
  f.world->kernel().at(90 * kMillisecond, [&] { f.world->restart(3); });
  f.at(100 * kMillisecond, [&](Probe& p) {
    p.send(3, fetch_of(r.record, 0, 10));  // arrives while (or after) the manifest is replayed
    p.send(3, fetch_of(r.record, 1, 11));
    p.send(3, fetch_of(r.record, 2, 12));
  });
  f.world->run();
  EXPECT_TRUE(f.server(3).ready());
  EXPECT_EQ(f.server(3).fragment_count(), 2u);
  auto& replies = f.probe().fetches;
  ASSERT_EQ(replies.size(), 3u);
  std::sort(replies.begin(), replies.end(), [](const auto& a, const auto& b) { return a.request_id < b.request_id; });
  EXPECT_EQ(replies[0].status, StatusCode::kOk);
  EXPECT_EQ(*replies[0].data.bytes, r.stored[0]);
  EXPECT_EQ(replies[1].status, StatusCode::kNotFound);
  EXPECT_EQ(replies[2].status, StatusCode::kOk);
  EXPECT_EQ(*replies[2].data.bytes, r.stored[2]);
}

TEST(FragmentServer, TheScrubFindsRotAndReportsIt) {
  for (const bool rot : {false, true}) {
    Fixture f(false, "", kSecond);
    auto store = std::make_shared<StoreFragment>();
    store->file_id = 5;
    store->record_id = {11, 1};
    store->index = 4;
    store->data = Payload::synthetic(kFragmentHeaderBytes + (1 << 20));
    f.at(kMillisecond, [&](Probe& p) { p.send(6, store); });
    if (rot) f.world->kernel().at(500 * kMillisecond, [&] { f.world->disk(6).rot_bits(3); });
    const sim::RunSummary summary = f.world->run();
    EXPECT_GE(f.server(6).scrub_passes(), 10u);
    if (!rot) {
      EXPECT_TRUE(f.reports.empty());
      EXPECT_EQ(summary.counters.count("datapath.scrub_corrupt"), 0u);
      continue;
    }
    ASSERT_FALSE(f.reports.empty());
    EXPECT_EQ(f.reports[0].record_id, (RecordId{11, 1}));
    EXPECT_EQ(f.reports[0].index, 4u);
    EXPECT_GE(summary.counters.at("datapath.scrub_corrupt"), 1u);
  }
}

TEST(FragmentServer, ARebuildRecreatesTheFragmentByteForByte) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 20000);
  f.at(kMillisecond, [&](Probe& p) {
    for (uint32_t i = 0; i < 6; ++i) p.send(i + 1, store_of(r, i, i));
  });
  // One source is corrupt: the rebuild must notice and use another.
  f.vandalize(50 * kMillisecond, 1, fragment_file(5, r.record.record_id, 0), r.stored[0].size(), kFragmentHeaderBytes + 5);
  f.at(100 * kMillisecond, [&](Probe& p) {
    auto rebuild = std::make_shared<RebuildFragment>();
    rebuild->request_id = 77;
    rebuild->record = r.record;
    rebuild->index = 2;
    p.send(9, rebuild);
  });
  const sim::RunSummary summary = f.world->run();
  ASSERT_EQ(f.probe().rebuilds.size(), 1u);
  EXPECT_EQ(f.probe().rebuilds[0].request_id, 77u);
  EXPECT_EQ(f.probe().rebuilds[0].status, StatusCode::kOk);
  EXPECT_EQ(f.probe().rebuilds[0].index, 2u);
  const sim::Disk::File* rebuilt = f.world->disk(9).durable_file(fragment_file(5, r.record.record_id, 2));
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(rebuilt->data, r.stored[2]);
  EXPECT_TRUE(f.server(9).holds(5, r.record.record_id, 2));
  EXPECT_EQ(summary.counters.at("datapath.fetch_corrupt"), 1u);
}

TEST(FragmentServer, ARebuildWithoutKSourcesFailsCleanly) {
  Fixture f(false);
  WriteRecord record;
  record.file_id = 5;
  record.extent = {0, 8000};
  record.record_id = {11, 2};
  Result<ErasureCoder> coder = ErasureCoder::create(f.config->coding);
  record.layout = *coder->layout(aead_sealed_bytes(8000, f.config->segment_bytes));
  record.crypto.segment_bytes = f.config->segment_bytes;
  record.fragments.assign(6, FragmentEntry{});
  for (uint32_t i = 0; i < 6; ++i) record.fragments[i].node = i + 1;
  f.at(kMillisecond, [&](Probe& p) {
    for (uint32_t i = 0; i < 6; ++i) {
      auto m = std::make_shared<StoreFragment>();
      m->file_id = 5;
      m->record_id = record.record_id;
      m->index = i;
      m->data = Payload::synthetic(kFragmentHeaderBytes + record.layout.fragment_bytes);
      p.send(i + 1, m);
    }
  });
  for (NodeId n : {1u, 3u, 4u}) f.world->kernel().at(50 * kMillisecond, [&f, n] { f.world->crash(n); });
  f.at(100 * kMillisecond, [&](Probe& p) {
    auto rebuild = std::make_shared<RebuildFragment>();
    rebuild->record = record;
    rebuild->index = 5;
    p.send(9, rebuild);
  });
  const sim::RunSummary summary = f.world->run();
  ASSERT_EQ(f.probe().rebuilds.size(), 1u);
  EXPECT_EQ(f.probe().rebuilds[0].status, StatusCode::kUnavailable);
  EXPECT_FALSE(f.server(9).holds(5, record.record_id, 5));
  EXPECT_EQ(summary.counters.at("datapath.rebuild_unavailable"), 1u);
}

}  // namespace
}  // namespace pbfs::datapath
