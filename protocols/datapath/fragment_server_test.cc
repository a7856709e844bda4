// Fragment servers on the simulator: a store is durable before its reply; fetches return whole
// fragments (CRC-checked) or body windows; corruption is refused and reported to the catalog group; a
// restart replays the manifest; the scrub finds rot; a rebuild recreates a fragment byte for byte. With
// real catalog replicas: orphan fragments (a writer that never committed, a lost DeleteFragments) are
// deleted once their record is abandoned, and a committed record's fragments never are.
#include "protocols/datapath/fragment_server.h"
#include "protocols/datapath/fragment_sim_test_util.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "protocols/datapath/catalog.h"
#include "protocols/datapath/catalog_test_util.h"
#include "protocols/datapath/client.h"
#include "protocols/datapath/provenance.h"
#include "sim/disk.h"
#include "sim/network.h"
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
    if (m.type() == types::kCommitReply) commits.push_back(static_cast<const CommitReply&>(m));
    if (on_reply) on_reply(m);
  }
  void send(NodeId to, std::shared_ptr<const Message> m) { runtime_.send(to, kPortFragmentServer, std::move(m)); }
  void send_catalog(NodeId to, std::shared_ptr<const Message> m) { runtime_.send(to, kPortCatalog, std::move(m)); }

  std::vector<StoreFragmentReply> stores;
  std::vector<FetchFragmentReply> fetches;
  std::vector<RebuildFragmentReply> rebuilds;
  std::vector<CommitReply> commits;
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
  // Flips a bit of byte `byte` of `size` bytes at `offset` of `file`, behind the server's back.
  void flip(const std::string& file, uint64_t offset, uint64_t size, uint64_t byte, int bit) {
    file_ = file;
    offset_ = offset;
    byte_ = byte;
    bit_ = bit;
    runtime_.disk_read(file, offset, size, 1);
  }
  // Cuts `file` down to its first `keep` bytes (a disk that lost the file's tail).
  void truncate(const std::string& file, uint64_t keep) {
    file_ = file;
    runtime_.disk_read(file, 0, keep, 4);
  }
  void on_message(const Envelope&, const Message&) override {}
  void on_disk(const DiskCompletion& done) override {
    if (done.tag == 4) {
      runtime_.disk_remove(file_, 5);
      runtime_.disk_write(file_, 0, done.data, 6);
      runtime_.disk_sync(file_, 7);
      return;
    }
    if (done.tag != 1) return;
    Bytes bytes = *done.data.bytes;
    bytes.at(byte_) ^= static_cast<uint8_t>(1u << bit_);
    runtime_.disk_write(file_, offset_, Payload::real(std::move(bytes)), 2);
    runtime_.disk_sync(file_, 3);
  }

 private:
  Runtime& runtime_;
  std::string file_;
  uint64_t offset_ = 0;
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
  // Flips a bit of byte `byte` of fragment `index` of `record` (file 5) where node's server keeps it.
  void vandalize(TimeNs t, NodeId node, const RecordId& record, uint32_t index, uint64_t byte) {
    world->kernel().at(t, [=, this] {
      const FragmentLocation* at = server(node).location(5, record, index);
      ASSERT_NE(at, nullptr);
      const FragmentLocation location = *at;
      world->with_role(node, kPortVandal, [&](Role& r) {
        static_cast<Vandal&>(r).flip(fragment_log_file(location.log), location.offset, location.size, byte, 3);
      });
    });
  }
};

// A real record of file 5: its WriteRecord (fragment i on node i + 1) and its stored fragments.
struct RealRecord {
  WriteRecord record;
  std::vector<Bytes> stored;
};

RealRecord encode_record(const DataPathConfig& config, uint64_t length, uint64_t sequence = 1) {
  RecordCodec codec;
  WriteRequest request;
  request.file_id = 5;
  request.extent = {1000, length};
  request.record_id = {11, sequence};
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

// Deletes fragment `index` of record `r` of file 5.
std::shared_ptr<DeleteFragments> delete_of(const WriteRecord& r, uint32_t index) {
  auto m = std::make_shared<DeleteFragments>();
  m->file_id = 5;
  m->fragments = {{r.record_id, index}};
  return m;
}

// Replies in the order their requests were numbered (they may arrive in any order).
template <typename Reply>
void sort_by_request(std::vector<Reply>& replies) {
  std::sort(replies.begin(), replies.end(), [](const Reply& a, const Reply& b) { return a.request_id < b.request_id; });
}

// Asks node 3 for fragments 0, 1 and 2 of `r` (request ids 10, 11, 12).
void fetch_first_three(Probe& p, const WriteRecord& r) {
  for (uint32_t i = 0; i < 3; ++i) p.send(3, fetch_of(r, i, 10 + i));
}

TEST(FragmentServer, AStoreIsDurableBeforeItsReply) {
  for (const std::string bug : {"", "skip_fsync"}) {
    Fixture f(true, bug);
    const RealRecord r = encode_record(*f.config, 10000);
    bool durable_at_reply = false;
    f.at(kMillisecond, [&](Probe& p) {
      p.on_reply = [&](const Message&) {
        const auto stored = durable_fragment(f.world->disk(1), 5, r.record.record_id, 0);
        durable_at_reply = stored && stored->bytes() == r.stored[0];
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
  sort_by_request(replies);
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

TEST(FragmentServer, RefusesAFragmentOfFourGiBOrMore) {
  // The index keeps a fragment's size in 32 bits: a bigger one is refused, not truncated.
  Fixture f(false);
  auto big = std::make_shared<StoreFragment>();
  big->request_id = 5;
  big->file_id = 3;
  big->record_id = RecordId{7, 1};
  big->data = Payload::synthetic(kFragmentBytesMax + 1);
  auto fits = std::make_shared<StoreFragment>(*big);
  fits->request_id = 6;
  fits->data = Payload::synthetic(kFragmentBytesMax);
  f.at(kMillisecond, [&](Probe& p) {
    p.send(4, big);
    p.send(5, fits);
  });
  f.world->run();
  auto& replies = f.probe().stores;
  ASSERT_EQ(replies.size(), 2u);
  sort_by_request(replies);
  EXPECT_EQ(replies[0].status, StatusCode::kInvalidArgument);
  EXPECT_EQ(f.server(4).fragment_count(), 0u);
  EXPECT_EQ(replies[1].status, StatusCode::kOk);
  ASSERT_NE(f.server(5).location(3, RecordId{7, 1}, 0), nullptr);
  EXPECT_EQ(f.server(5).location(3, RecordId{7, 1}, 0)->size, kFragmentBytesMax);
}

TEST(FragmentServer, ACorruptFragmentIsRefusedAndReportedToTheCatalogGroup) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 10000);
  f.at(kMillisecond, [&](Probe& p) { p.send(1, store_of(r, 0, 1)); });
  f.vandalize(50 * kMillisecond, 1, r.record.record_id, 0, kFragmentHeaderBytes + 77);
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

// Replies to fetch_first_three after fragment 1 was deleted: 0 and 2 come back byte for byte, 1 is gone.
void expect_all_but_the_deleted_one(std::vector<FetchFragmentReply>& replies, const RealRecord& r) {
  ASSERT_EQ(replies.size(), 3u);
  sort_by_request(replies);
  EXPECT_EQ(replies[0].status, StatusCode::kOk);
  EXPECT_EQ(*replies[0].data.bytes, r.stored[0]);
  EXPECT_EQ(replies[1].status, StatusCode::kNotFound);
  EXPECT_EQ(replies[2].status, StatusCode::kOk);
  EXPECT_EQ(*replies[2].data.bytes, r.stored[2]);
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
    p.send(3, delete_of(r.record, 1));
  });
  f.world->kernel().at(80 * kMillisecond, [&] { f.world->crash(3); });
  f.world->kernel().at(90 * kMillisecond, [&] { f.world->restart(3); });
  f.at(100 * kMillisecond, [&](Probe& p) { fetch_first_three(p, r.record); });  // during or after the replay
  f.world->run();
  EXPECT_TRUE(f.server(3).ready());
  EXPECT_EQ(f.server(3).fragment_count(), 2u);
  expect_all_but_the_deleted_one(f.probe().fetches, r);
}

TEST(FragmentServer, AFailedBatchFailsItsStoresButKeepsItsDeletions) {
  // The disk fills up: the batch carrying a deletion fails, and so does a store made meanwhile. Once
  // there is room again the next batch carries the deletion along with a new store, so after a restart
  // the deleted fragment stays deleted and the stored one is there.
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 10000);
  f.at(kMillisecond, [&](Probe& p) {
    p.send(3, store_of(r, 0, 1));
    p.send(3, store_of(r, 1, 2));
  });
  f.at(50 * kMillisecond, [&](Probe& p) {
    f.world->disk(3).set_full(true);
    p.send(3, delete_of(r.record, 1));
  });
  f.at(60 * kMillisecond, [&](Probe& p) { p.send(3, store_of(r, 2, 3)); });
  f.at(70 * kMillisecond, [&](Probe& p) {
    f.world->disk(3).set_full(false);
    p.send(3, store_of(r, 2, 4));
  });
  f.world->kernel().at(100 * kMillisecond, [&] { f.world->crash(3); });
  f.world->kernel().at(110 * kMillisecond, [&] { f.world->restart(3); });
  f.at(120 * kMillisecond, [&](Probe& p) { fetch_first_three(p, r.record); });
  f.world->run();
  auto& stores = f.probe().stores;
  ASSERT_EQ(stores.size(), 4u);
  sort_by_request(stores);
  EXPECT_EQ(stores[0].status, StatusCode::kOk);
  EXPECT_EQ(stores[1].status, StatusCode::kOk);
  EXPECT_EQ(stores[2].status, StatusCode::kNoSpace) << "a store in the failed batch fails";
  EXPECT_EQ(stores[3].status, StatusCode::kOk);
  auto& fetches = f.probe().fetches;
  ASSERT_EQ(fetches.size(), 3u);
  sort_by_request(fetches);
  EXPECT_EQ(fetches[0].status, StatusCode::kOk);
  EXPECT_EQ(fetches[1].status, StatusCode::kNotFound) << "the deletion was lost with the failed batch";
  EXPECT_EQ(fetches[2].status, StatusCode::kOk);
  EXPECT_EQ(*fetches[2].data.bytes, r.stored[2]);
}

// Twelve equal fragments fill three logs of four. Deleting three of the first log and three of the
// second leaves both mostly dead: the cleaner copies their survivors forward and removes them. The
// survivors read back byte for byte, before and after a restart; deleted fragments stay deleted.
// With `rot`, the survivor of the first log is damaged first: the cleaner reports it and drops it
// instead of carrying it forward.
void clean_logs(bool rot) {
  using sim::testing::counter;
  Fixture f(true);
  std::vector<RealRecord> records;
  for (uint64_t seq = 1; seq <= 12; ++seq) records.push_back(encode_record(*f.config, 10000, seq));
  const uint64_t size = records[0].stored[0].size();
  f.config->log_file_bytes = 4 * size;
  f.at(kMillisecond, [&](Probe& p) {
    for (uint64_t i = 0; i < records.size(); ++i) p.send(3, store_of(records[i], 0, i));
  });
  if (rot) f.vandalize(40 * kMillisecond, 3, records[0].record.record_id, 0, kFragmentHeaderBytes + 9);
  f.world->kernel().at(45 * kMillisecond, [&] {
    for (uint64_t i = 0; i < records.size(); ++i) {
      const FragmentLocation* at = f.server(3).location(5, records[i].record.record_id, 0);
      ASSERT_NE(at, nullptr);
      EXPECT_EQ(at->log, i / 4);
      EXPECT_EQ(at->offset, (i % 4) * size);
    }
  });
  const std::vector<size_t> deleted{1, 2, 3, 5, 6, 7}, kept{0, 4, 8, 9, 10, 11};
  f.at(50 * kMillisecond, [&](Probe& p) {
    auto del = std::make_shared<DeleteFragments>();
    del->file_id = 5;
    for (size_t i : deleted) del->fragments.push_back({records[i].record.record_id, 0});
    p.send(3, del);
  });
  auto fetch_all = [&](TimeNs t, uint64_t base) {
    f.at(t, [&, base](Probe& p) {
      for (uint64_t i = 0; i < records.size(); ++i) p.send(3, fetch_of(records[i].record, 0, base + i));
    });
  };
  fetch_all(200 * kMillisecond, 100);
  f.world->kernel().at(300 * kMillisecond, [&] {
    EXPECT_EQ(f.world->disk(3).durable_file(fragment_log_file(0)), nullptr) << "the first log was not removed";
    EXPECT_EQ(f.world->disk(3).durable_file(fragment_log_file(1)), nullptr) << "the second log was not removed";
    EXPECT_NE(f.world->disk(3).durable_file(fragment_log_file(2)), nullptr);
    EXPECT_EQ(f.server(3).logs_removed(), 2u);
    f.world->crash(3);
  });
  f.world->kernel().at(310 * kMillisecond, [&] { f.world->restart(3); });
  fetch_all(400 * kMillisecond, 200);
  const sim::RunSummary summary = f.world->run();
  auto& replies = f.probe().fetches;
  ASSERT_EQ(replies.size(), 2 * records.size());
  sort_by_request(replies);
  for (uint64_t base : {100u, 200u}) {
    for (uint64_t i = 0; i < records.size(); ++i) {
      const FetchFragmentReply& reply = replies[(base == 100 ? 0 : records.size()) + i];
      ASSERT_EQ(reply.request_id, base + i);
      const bool gone = std::count(deleted.begin(), deleted.end(), i) > 0 || (rot && i == 0);
      if (gone) {
        EXPECT_EQ(reply.status, StatusCode::kNotFound) << "fragment " << i << " at " << base;
      } else {
        ASSERT_EQ(reply.status, StatusCode::kOk) << "fragment " << i << " at " << base;
        EXPECT_EQ(*reply.data.bytes, records[i].stored[0]) << "fragment " << i << " at " << base;
      }
    }
  }
  EXPECT_EQ(f.server(3).fragment_count(), kept.size() - (rot ? 1 : 0));
  // Survivors 0 and 4 move to log 3. The restart seals log 3 and opens log 4: with both survivors log 3 is
  // half live and stays; with only fragment 4 (rot) it is mostly dead and fragment 4 moves once more.
  EXPECT_EQ(counter(summary, "datapath.fragment_moved"), 2u);
  EXPECT_EQ(counter(summary, "datapath.clean_corrupt"), rot ? 1u : 0u);
  if (rot) {
    ASSERT_FALSE(f.reports.empty());
    EXPECT_EQ(f.reports[0].record_id, records[0].record.record_id);
  }
}

TEST(FragmentServer, MostlyDeadLogsAreCleanedAndRemoved) { clean_logs(false); }

TEST(FragmentServer, TheCleanerDropsARottenFragmentInsteadOfCopyingIt) { clean_logs(true); }

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

// Rot in the manifest loses nothing while the server runs (the index has it), but a restart would: an add
// whose entry rotted would be forgotten, a delete whose entry rotted would come back. The scrub reads the
// manifest back and appends such entries again, so a restart after it finds what the server held.
TEST(FragmentServer, TheScrubRewritesRottenManifestEntriesSoARestartLosesNothing) {
  for (const bool scrub : {false, true}) {
    Fixture f(true, "", scrub ? kSecond : 0);
    const RealRecord r = encode_record(*f.config, 10000);
    f.at(kMillisecond, [&](Probe& p) {
      for (uint32_t i = 0; i < 3; ++i) p.send(3, store_of(r, i, i + 1));
    });
    f.at(50 * kMillisecond, [&](Probe& p) { p.send(3, delete_of(r.record, 1)); });
    // Entries 0-2 are the three adds, entry 3 the delete: rot one add and the delete.
    for (const uint64_t entry : {0, 3}) {
      f.world->kernel().at((100 + entry * 100) * kMillisecond, [&f, entry] {
        f.world->with_role(3, kPortVandal, [&](Role& v) {
          static_cast<Vandal&>(v).flip(kFragmentManifestFile, entry * kManifestEntryBytes, kManifestEntryBytes, 10, 2);
        });
      });
    }
    f.world->kernel().at(3 * kSecond, [&] { f.world->crash(3); });
    f.world->kernel().at(3 * kSecond + 10 * kMillisecond, [&] { f.world->restart(3); });
    f.at(3 * kSecond + 500 * kMillisecond, [&](Probe& p) { fetch_first_three(p, r.record); });
    const sim::RunSummary summary = f.world->run();
    EXPECT_GE(summary.counters.at("datapath.manifest_entry_corrupt"), 2u);  // the restart saw both
    auto& replies = f.probe().fetches;
    ASSERT_EQ(replies.size(), 3u);
    sort_by_request(replies);
    if (!scrub) {  // what the check prevents: one add forgotten, the deleted fragment back
      EXPECT_EQ(summary.counters.count("datapath.manifest_entry_rewritten"), 0u);
      EXPECT_EQ(std::count_if(replies.begin(), replies.end(), [](const auto& x) { return x.status == StatusCode::kOk; }), 2);
      EXPECT_EQ(replies[1].status, StatusCode::kOk);
      continue;
    }
    EXPECT_EQ(summary.counters.at("datapath.manifest_entry_rewritten"), 2u);  // once: later passes find them right
    EXPECT_EQ(f.server(3).fragment_count(), 2u);
    expect_all_but_the_deleted_one(replies, r);
  }
}

// The manifest loses its tail behind the server's back: the scrub's read of it comes back short, and
// every sound fragment it no longer lists is listed again, so a restart finds them all.
TEST(FragmentServer, TheScrubRelistsFragmentsAManifestCutShortLost) {
  Fixture f(true, "", kSecond);
  const RealRecord r = encode_record(*f.config, 10000);
  f.at(kMillisecond, [&](Probe& p) {
    for (uint32_t i = 0; i < 3; ++i) p.send(3, store_of(r, i, i + 1));
  });
  f.world->kernel().at(100 * kMillisecond, [&] {
    f.world->with_role(3, kPortVandal, [&](Role& v) { static_cast<Vandal&>(v).truncate(kFragmentManifestFile, kManifestEntryBytes); });
  });
  f.world->kernel().at(3 * kSecond, [&] { f.world->crash(3); });
  f.world->kernel().at(3 * kSecond + 10 * kMillisecond, [&] { f.world->restart(3); });
  f.at(3 * kSecond + 500 * kMillisecond, [&](Probe& p) { fetch_first_three(p, r.record); });
  const sim::RunSummary summary = f.world->run();
  EXPECT_EQ(summary.counters.at("datapath.manifest_entry_rewritten"), 2u);
  EXPECT_EQ(f.server(3).fragment_count(), 3u);
  auto& replies = f.probe().fetches;
  ASSERT_EQ(replies.size(), 3u);
  sort_by_request(replies);
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(replies[i].status, StatusCode::kOk) << i;
    EXPECT_EQ(*replies[i].data.bytes, r.stored[i]);
  }
}

TEST(FragmentServer, ARebuildRecreatesTheFragmentByteForByte) {
  Fixture f(true);
  const RealRecord r = encode_record(*f.config, 20000);
  f.at(kMillisecond, [&](Probe& p) {
    for (uint32_t i = 0; i < 6; ++i) p.send(i + 1, store_of(r, i, i));
  });
  // One source is corrupt: the rebuild must notice and use another.
  f.vandalize(50 * kMillisecond, 1, r.record.record_id, 0, kFragmentHeaderBytes + 5);
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
  const auto rebuilt = durable_fragment(f.world->disk(9), 5, r.record.record_id, 2);
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(rebuilt->bytes(), r.stored[2]);
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

// ---- orphan collection, with real catalog replicas ----

// Catalog replicas of the one shard on nodes 0..2 (no fragment servers there), fragment servers on
// nodes 3..11, a probe on node 0 that stores and commits by hand, and a real client on node 11.
constexpr NodeId kClientNode = 11;

struct OrphanCluster {
  std::shared_ptr<DataPathConfig> config = std::make_shared<DataPathConfig>();
  std::unique_ptr<sim::World> world;
  std::vector<uint32_t> boots;
  std::vector<OperationResult> results;
  NodeId probe_node = 0;
  uint64_t next_request = 1;

  explicit OrphanCluster(const std::function<void(DataPathConfig&)>& tune = nullptr) {
    register_datapath_messages();
    Scenario s = sim::testing::small_scenario(1, 4, 3);  // 12 nodes in 4 racks
    s.duration_ns = 600 * kSecond;
    world = std::make_unique<sim::World>(s, nullptr);
    DataPathConfig& c = *config;
    c.coding = CodingParams{4, 2, ErasureBackend::kIsal};
    c.segment_bytes = 4096;
    c.shards = 1;
    c.lease_ns = 2 * kSecond;
    c.lease_epsilon_ns = 100 * kMillisecond;
    c.request_timeout_ns = 200 * kMillisecond;
    c.pin_timeout_ns = 500 * kMillisecond;
    c.orphan_grace_ns = kSecond;
    c.orphan_recheck_ns = 0;
    c.cost_model = shipped_cost_model();
    // Nodes 0..2 hold no fragments: the client places records on 3..11 only.
    for (NodeId n = 0; n < world->node_count(); ++n) c.nodes.push_back({n, world->rack_of(n), world->site_of(n), 1.0, n >= 3});
    c.catalog_groups = {{0, 1, 2}};
    if (tune) tune(c);
    std::shared_ptr<const DataPathConfig> shared = config;
    boots.assign(world->node_count(), 0);
    for (NodeId n = 0; n < world->node_count(); ++n) {
      if (n >= 3) {
        world->add_role(n, kPortFragmentServer, [shared](Runtime& rt) { return std::make_unique<FragmentServer>(rt, shared); });
        continue;
      }
      world->add_role(n, kPortCatalog, [this, shared, n](Runtime& rt) {
        CatalogOptions options;
        options.first_boot = boots[n]++ == 0;
        options.gc_interval_ns = 100 * kMillisecond;
        return std::make_unique<Catalog>(rt, shared, options);
      });
    }
    world->add_role(probe_node, kPortProbe, [](Runtime& rt) { return std::make_unique<Probe>(rt); });
    world->add_role(kClientNode, kPortClient, [shared](Runtime& rt) { return std::make_unique<Client>(rt, shared); });
  }

  Probe& probe() { return static_cast<Probe&>(*world->role(probe_node, kPortProbe)); }
  Catalog* catalog(NodeId n) { return static_cast<Catalog*>(world->role(n, kPortCatalog)); }
  FragmentServer* server(NodeId n) { return static_cast<FragmentServer*>(world->role(n, kPortFragmentServer)); }
  void run_for(TimeNs ns) { world->kernel().run_until(world->now_ns() + ns); }
  bool run_until(const std::function<bool()>& done, TimeNs limit_ns) {
    const TimeNs end = world->now_ns() + limit_ns;
    while (world->now_ns() < end && !done()) run_for(10 * kMillisecond);
    return done();
  }
  NodeId primary() {
    NodeId found = kNoNode;
    EXPECT_TRUE(run_until(
        [&] {
          for (NodeId n = 0; n < 3; ++n) {
            if (world->node_up(n) && catalog(n)->serving(0)) found = n;
          }
          return found != kNoNode;
        },
        20 * kSecond));
    return found;
  }
  void with_probe(const std::function<void(Probe&)>& body) {
    world->with_role(probe_node, kPortProbe, [&](Role& r) { body(static_cast<Probe&>(r)); });
  }
  // Stores every fragment of `r` (synthetic payloads) where its map says, and waits for the replies.
  void store(const WriteRecord& r) {
    const size_t before = probe().stores.size();
    with_probe([&](Probe& p) {
      for (uint32_t i = 0; i < r.fragments.size(); ++i) {
        auto m = std::make_shared<StoreFragment>();
        m->request_id = next_request++;
        m->file_id = r.file_id;
        m->record_id = r.record_id;
        m->index = i;
        m->data = Payload::synthetic(kFragmentHeaderBytes + r.layout.fragment_bytes);
        p.send(r.fragments[i].node, m);
      }
    });
    ASSERT_TRUE(run_until([&] { return probe().stores.size() == before + r.fragments.size(); }, 2 * kSecond));
    for (size_t i = before; i < probe().stores.size(); ++i) ASSERT_EQ(probe().stores[i].status, StatusCode::kOk);
  }
  StatusCode commit(NodeId to, const WriteRecord& r, std::vector<RecordId> supersedes = {}) {
    const size_t before = probe().commits.size();
    with_probe([&](Probe& p) {
      auto m = std::make_shared<CommitRecord>();
      m->request_id = next_request++;
      m->record = r;
      m->supersedes = std::move(supersedes);
      p.send_catalog(to, m);
    });
    if (!run_until([&] { return probe().commits.size() > before; }, 2 * kSecond)) return StatusCode::kUnavailable;
    return probe().commits.back().status;
  }
  // Fragments of `r` still indexed by their servers, and still on their disks.
  // Fragments i of `r` whose node runs a fragment server for which has(server, i).
  template <typename Has>
  uint32_t count_on_servers(const WriteRecord& r, Has&& has) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < r.fragments.size(); ++i) {
      FragmentServer* s = server(r.fragments[i].node);
      n += s != nullptr && has(*s, i) ? 1 : 0;
    }
    return n;
  }
  uint32_t held(const WriteRecord& r) {
    return count_on_servers(r, [&](FragmentServer& s, uint32_t i) { return s.holds(r.file_id, r.record_id, i); });
  }
  // Fragments of `r` whose server holds them confirmed current.
  uint32_t confirmed(const WriteRecord& r) {
    return count_on_servers(r, [&](FragmentServer& s, uint32_t i) { return s.confirmed(r.file_id, r.record_id, i); });
  }
  uint32_t on_disk(const WriteRecord& r) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < r.fragments.size(); ++i) {
      n += durable_fragment(world->disk(r.fragments[i].node), r.file_id, r.record_id, i) ? 1 : 0;
    }
    return n;
  }
  // Every catalog replica has applied the same log (same digest) and holds the record's tombstone.
  void expect_abandoned_everywhere(const RecordId& id) {
    ASSERT_TRUE(run_until(
        [&] {
          const uint64_t index = catalog(0)->applied_index(0);
          return catalog(1)->applied_index(0) == index && catalog(2)->applied_index(0) == index;
        },
        2 * kSecond));
    for (NodeId n = 0; n < 3; ++n) {
      EXPECT_TRUE(catalog(n)->abandoned(0, id)) << "replica " << n;
      EXPECT_EQ(catalog(n)->log_digest(0), catalog(0)->log_digest(0)) << "replica " << n;
    }
  }
};

// Fragments on nodes first_node .. first_node + 5 (all fragment servers when first_node >= 3).
WriteRecord orphan_record(RecordId id, uint32_t first_node, uint64_t offset = 0) {
  return testing::make_record(5, id, offset, 10000, 4, 2, first_node, 12);
}

TEST(OrphanCollection, AWriterThatNeverCommitsLeavesNothingBehindAndItsLateCommitIsRefused) {
  OrphanCluster c;
  const NodeId primary = c.primary();
  ASSERT_NE(primary, kNoNode);
  const WriteRecord r = orphan_record({77, 1}, 3);
  c.store(r);
  const TimeNs stored_at = c.world->now_ns();
  ASSERT_EQ(c.held(r), 6u);
  ASSERT_EQ(c.on_disk(r), 6u);
  // The writer "crashed": nobody commits. Before the grace ends, nothing is touched...
  c.run_for(c.config->orphan_grace_ns * 3 / 4);
  EXPECT_EQ(c.held(r), 6u);
  // ...within the grace plus one pass period (plus a round trip), every fragment is gone from disk.
  ASSERT_TRUE(c.run_until([&] { return c.on_disk(r) == 0; }, 2 * kSecond)) << c.on_disk(r) << " left";
  EXPECT_LE(c.world->now_ns() - stored_at, c.config->orphan_grace_ns * 2 + 300 * kMillisecond);
  EXPECT_EQ(c.held(r), 0u);
  c.expect_abandoned_everywhere(r.record_id);
  // The writer comes back and commits: refused, so no reader will ever look for those fragments.
  EXPECT_EQ(c.commit(primary, r), StatusCode::kConflict);
  for (NodeId n = 0; n < 3; ++n) EXPECT_EQ(c.catalog(n)->store().find(r.record_id), RecordStore::kNoSlot);
  // A restarted fragment server does not bring them back (the manifest recorded the deletes).
  const NodeId holder = r.fragments[0].node;
  c.world->crash(holder);
  c.world->restart(holder);
  ASSERT_TRUE(c.run_until([&] { return c.server(holder)->ready(); }, kSecond));
  EXPECT_FALSE(c.server(holder)->holds(5, r.record_id, 0));
}

TEST(OrphanCollection, AClientWhoseCommitArrivesAfterTheAbandonReportsAFailedWrite) {
  OrphanCluster c([](DataPathConfig& config) { config.retries_max = 30; });
  ASSERT_NE(c.primary(), kNoNode);
  // The client's messages to the catalog replicas are lost for a while; its stores go through.
  sim::PartitionRule cut;
  cut.one_way = true;
  cut.group.assign(c.world->node_count(), -1);
  cut.group[kClientNode] = 0;
  for (NodeId n = 0; n < 3; ++n) cut.group[n] = 1;
  const uint64_t rule = c.world->network().add_partition(cut);
  c.world->with_role(kClientNode, kPortClient, [&](Role& role) {
    static_cast<Client&>(role).write(5, 0, 8192, [&](const OperationResult& r) { c.results.push_back(r); });
  });
  // Once the servers have asked about the record (it is abandoned), the path to the catalog heals.
  ASSERT_TRUE(c.run_until(
      [&] {
        for (NodeId n = 0; n < 3; ++n) {
          if (c.catalog(n)->abandoned_records(0) > 0) return true;
        }
        return false;
      },
      5 * kSecond));
  EXPECT_TRUE(c.results.empty()) << "the write finished before its commit could arrive";
  c.world->network().remove_rule(rule);
  ASSERT_TRUE(c.run_until([&] { return !c.results.empty(); }, 10 * kSecond));
  const OperationResult& result = c.results[0];
  EXPECT_EQ(result.status, StatusCode::kConflict);
  EXPECT_EQ(result.sequence, 0u);
  c.expect_abandoned_everywhere(result.record);
  for (NodeId n = 0; n < 3; ++n) EXPECT_EQ(c.catalog(n)->store().records(), 0u);
  // Its fragments (wherever the client placed them) are gone too.
  ASSERT_TRUE(c.run_until(
      [&] {
        for (NodeId n = 3; n < c.world->node_count(); ++n) {
          if (c.server(n)->fragment_count() > 0) return false;
        }
        return true;
      },
      3 * kSecond));
}

TEST(OrphanCollection, ACommittedRecordIsConfirmedAndNeverDeletedByThePass) {
  OrphanCluster c([](DataPathConfig& config) { config.orphan_recheck_ns = 2 * kSecond; });
  const NodeId primary = c.primary();
  const WriteRecord r = orphan_record({78, 1}, 4);
  c.store(r);
  ASSERT_EQ(c.commit(primary, r), StatusCode::kOk);
  // Several grace periods and rechecks later, every fragment is still there, confirmed current.
  c.run_for(5 * c.config->orphan_grace_ns);
  EXPECT_EQ(c.held(r), 6u);
  EXPECT_EQ(c.on_disk(r), 6u);
  EXPECT_EQ(c.confirmed(r), 6u);
  EXPECT_GT(c.server(r.fragments[0].node)->orphan_passes(), 4u);
  for (NodeId n = 0; n < 3; ++n) EXPECT_EQ(c.catalog(n)->abandoned_records(0), 0u);
  // A confirmation is kept in memory only: after a restart the server asks again, once the grace is
  // over, and keeps the fragment.
  const NodeId holder = r.fragments[2].node;
  c.world->crash(holder);
  c.world->restart(holder);
  ASSERT_TRUE(c.run_until([&] { return c.server(holder)->ready(); }, kSecond));
  EXPECT_FALSE(c.server(holder)->confirmed(5, r.record_id, 2));
  ASSERT_TRUE(c.run_until([&] { return c.server(holder)->confirmed(5, r.record_id, 2); }, 2 * c.config->orphan_grace_ns));
  c.run_for(3 * c.config->orphan_grace_ns);
  EXPECT_EQ(c.on_disk(r), 6u);
}

TEST(OrphanCollection, AConfirmedFragmentIsAskedAboutAgainOnlyAfterTheRecheckPeriod) {
  // Recheck after 8 s, passes every 1 s: once every fragment is confirmed, nothing is asked for the next
  // 6 s (the confirmations lie within about a pass of each other), and within a few scans after the 8 s
  // the confirmed fragments are asked about again (the record is still current, so they stay).
  OrphanCluster c([](DataPathConfig& config) { config.orphan_recheck_ns = 8 * kSecond; });
  const NodeId primary = c.primary();
  const WriteRecord r = orphan_record({82, 1}, 4);
  c.store(r);
  ASSERT_EQ(c.commit(primary, r), StatusCode::kOk);
  ASSERT_TRUE(c.run_until([&] { return c.confirmed(r) == 6; }, 3 * kSecond));
  const uint64_t asked = c.world->counter("catalog.record_status_asked");
  c.run_for(6 * kSecond);
  EXPECT_EQ(c.world->counter("catalog.record_status_asked"), asked) << "asked again before the recheck period";
  c.run_for(12 * kSecond);
  EXPECT_GT(c.world->counter("catalog.record_status_asked"), asked) << "never asked again";
  EXPECT_EQ(c.confirmed(r), 6u);
  EXPECT_EQ(c.on_disk(r), 6u);
}

TEST(OrphanCollection, AQuestionGivenUpIsAskedAgainAfterAnotherGrace) {
  OrphanCluster c;
  const NodeId primary = c.primary();
  const WriteRecord r = orphan_record({80, 1}, 4);
  c.store(r);
  ASSERT_EQ(c.commit(primary, r), StatusCode::kOk);
  // The holder of fragment 0 cannot reach the catalog replicas while its first question is due, so it
  // gives the question up.
  const NodeId holder = r.fragments[0].node;
  sim::PartitionRule cut;
  cut.group.assign(c.world->node_count(), -1);
  cut.group[holder] = 0;
  for (NodeId n = 0; n < 3; ++n) cut.group[n] = 1;
  const uint64_t rule = c.world->network().add_partition(cut);
  ASSERT_TRUE(c.run_until([&] { return c.world->counter("datapath.orphan_query_gave_up") > 0; },
                          4 * c.config->orphan_grace_ns));
  EXPECT_FALSE(c.server(holder)->confirmed(5, r.record_id, 0));
  c.world->network().remove_rule(rule);
  // Healed, it asks again and the record is confirmed current; nothing was deleted.
  ASSERT_TRUE(c.run_until([&] { return c.server(holder)->confirmed(5, r.record_id, 0); }, 3 * c.config->orphan_grace_ns));
  EXPECT_EQ(c.on_disk(r), 6u);
}

TEST(OrphanCollection, FragmentsLeftByALostDeleteFragmentsAreRemovedLater) {
  OrphanCluster c;
  const NodeId primary = c.primary();
  const WriteRecord old_record = orphan_record({79, 1}, 3);     // nodes 3..8
  const WriteRecord compaction = orphan_record({79, 2}, 9, 0);  // nodes 9..11, 0..2 (not stored: not needed)
  c.store(old_record);
  ASSERT_EQ(c.commit(primary, old_record), StatusCode::kOk);
  // The old record's servers are cut off while the compaction supersedes it and GC collects it: the
  // catalog's DeleteFragments to them is lost.
  for (uint32_t i = 0; i < 6; ++i) c.world->network().set_node_isolated(old_record.fragments[i].node, true);
  ASSERT_EQ(c.commit(primary, compaction, {old_record.record_id}), StatusCode::kOk);
  ASSERT_TRUE(c.run_until([&] { return c.catalog(primary)->store().find(old_record.record_id) == RecordStore::kNoSlot; },
                          5 * kSecond));
  c.run_for(100 * kMillisecond);
  for (uint32_t i = 0; i < 6; ++i) c.world->network().set_node_isolated(old_record.fragments[i].node, false);
  EXPECT_EQ(c.held(old_record), 6u) << "the delete should have been lost";
  // The pass asks about it: not live any more, so it is abandoned (harmless) and its fragments go.
  ASSERT_TRUE(c.run_until([&] { return c.on_disk(old_record) == 0; }, 4 * c.config->orphan_grace_ns));
  EXPECT_EQ(c.held(old_record), 0u);
  c.expect_abandoned_everywhere(old_record.record_id);
  EXPECT_NE(c.catalog(primary)->store().find(compaction.record_id), RecordStore::kNoSlot);
}

}  // namespace
}  // namespace pbfs::datapath
