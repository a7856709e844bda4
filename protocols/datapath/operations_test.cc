// The visible-pieces rule (higher sequence wins, holes stay holes), the provenance pattern, the trace
// schemas, the shared node lookups and the placements roles share.
#include "protocols/datapath/operations.h"

#include <gtest/gtest.h>

#include <set>

#include "protocols/datapath/provenance.h"

namespace pbfs::datapath {
namespace {

CatalogEntry entry(uint64_t sequence, uint64_t offset, uint64_t length) {
  CatalogEntry e;
  e.sequence = sequence;
  e.record.extent = {offset, length};
  e.record.record_id = {1, sequence};
  return e;
}

TEST(VisiblePieces, HigherSequenceWinsWhereRecordsOverlap) {
  // A [0, 100) seq 1; B [20, 40) seq 2; C [30, 70) seq 3.
  const std::vector<CatalogEntry> entries{entry(1, 0, 100), entry(2, 20, 20), entry(3, 30, 40)};
  std::vector<VisiblePiece> out;
  visible_pieces(entries, {0, 100}, false, out);
  const std::vector<VisiblePiece> expected{{0, 20, 0}, {20, 10, 1}, {30, 40, 2}, {70, 30, 0}};
  EXPECT_EQ(out, expected);
  // Entries arrive in any order: the sequence decides, not the position.
  const std::vector<CatalogEntry> shuffled{entries[2], entries[0], entries[1]};
  visible_pieces(shuffled, {0, 100}, false, out);
  const std::vector<VisiblePiece> expected_shuffled{{0, 20, 1}, {20, 10, 2}, {30, 40, 0}, {70, 30, 1}};
  EXPECT_EQ(out, expected_shuffled);
}

TEST(VisiblePieces, HolesAndClippingToTheRange) {
  const std::vector<CatalogEntry> entries{entry(5, 10, 10), entry(6, 40, 20)};
  std::vector<VisiblePiece> out;
  visible_pieces(entries, {15, 40}, false, out);  // [15, 55)
  const std::vector<VisiblePiece> expected{{15, 5, 0}, {20, 20, -1}, {40, 15, 1}};
  EXPECT_EQ(out, expected);
  visible_pieces({}, {7, 3}, false, out);
  EXPECT_EQ(out, (std::vector<VisiblePiece>{{7, 3, -1}}));
  visible_pieces(entries, {0, 0}, false, out);
  EXPECT_TRUE(out.empty());
}

TEST(VisiblePieces, StaleReadBugLetsTheLowerSequenceWin) {
  const std::vector<CatalogEntry> entries{entry(1, 0, 100), entry(2, 20, 20)};
  std::vector<VisiblePiece> out;
  visible_pieces(entries, {0, 100}, true, out);
  EXPECT_EQ(out, (std::vector<VisiblePiece>{{0, 100, 0}}));
}

TEST(Provenance, DependsOnRecordAndOffset) {
  const RecordId a{1, 1}, b{1, 2}, c{2, 1};
  Bytes x(4096), y(4096), z(4096);
  fill_provenance(a, 1000, x);
  fill_provenance(b, 1000, y);
  fill_provenance(c, 1000, z);
  EXPECT_EQ(provenance_mismatches(a, 1000, x), 0u);
  EXPECT_GT(provenance_mismatches(b, 1000, x), 4000u);  // unrelated records agree on ~1/256 of bytes
  EXPECT_GT(provenance_mismatches(c, 1000, x), 4000u);
  EXPECT_GT(provenance_mismatches(a, 1001, x), 4000u);  // shifted offsets do not line up either
  EXPECT_EQ(provenance_byte(a, 1234), x[234]);
  std::set<uint8_t> values(x.begin(), x.end());
  EXPECT_GT(values.size(), 250u);
  EXPECT_TRUE(is_compaction_record({1, kCompactionSequenceBit | 5}));
  EXPECT_FALSE(is_compaction_record(a));
}

TEST(TraceSchemas, DescribeEveryField) {
  EXPECT_EQ(operations_schema().fields.size(), 14u);
  EXPECT_EQ(operations_schema().row_size, sizeof(OperationRow));
  EXPECT_STREQ(operations_schema().name, "operations");
  EXPECT_EQ(read_pieces_schema().fields.size(), 9u);
  EXPECT_STREQ(read_pieces_schema().name, "read_pieces");
  EXPECT_EQ(compaction_sources_schema().fields.size(), 8u);
  for (const TableSchema* s : {&operations_schema(), &read_pieces_schema(), &compaction_sources_schema()}) {
    for (const FieldDesc& f : s->fields) EXPECT_LE(f.offset + f.size, s->row_size) << s->name << "." << f.name;
  }
}

std::shared_ptr<DataPathConfig> config_of(uint32_t nodes, uint32_t racks) {
  auto c = std::make_shared<DataPathConfig>();
  for (uint32_t i = 0; i < nodes; ++i) c->nodes.push_back(PlacementNode{i, i % racks, i < nodes / 2 ? 0u : 1u, 1.0, i % 3 != 0});
  c->shards = 16;
  c->catalog_replicas = 3;
  return c;
}

TEST(CatalogDirectory, FixedGroupsOfDistinctNodesWhateverIsAlive) {
  auto config = config_of(12, 4);
  CatalogDirectory directory(config);
  std::set<std::vector<NodeId>> distinct_groups;
  for (uint64_t shard = 0; shard < config->shards; ++shard) {
    const std::vector<NodeId> group = directory.group(shard);
    ASSERT_EQ(group.size(), 3u);
    EXPECT_EQ(std::set<NodeId>(group.begin(), group.end()).size(), 3u);
    EXPECT_EQ(directory.group(shard), group);  // cached, stable
    distinct_groups.insert(group);
    // Dead nodes (every third one in this config) still belong to groups: groups never move.
    Result<Placement> all = Placement::create([&] {
      std::vector<PlacementNode> n = config->nodes;
      for (auto& x : n) x.alive = true;
      return n;
    }());
    EXPECT_EQ(*all->place_catalog(shard, 3), group);
  }
  EXPECT_GT(distinct_groups.size(), 4u);
  EXPECT_TRUE(directory.group(config->shards).empty());
  EXPECT_EQ(directory.group_of_file(77), directory.group(shard_of(*config, 77)));
}

TEST(PlacementOver, RolesThatSeeTheSameNodesShareOnePlacement) {
  DataPathConfig config;
  for (uint32_t id = 0; id < 12; ++id) config.nodes.push_back(PlacementNode{id, id / 3, id / 6, 1.0, true});
  const auto all = [](NodeId) { return true; };
  const auto without_5 = [](NodeId n) { return n != 5; };
  std::shared_ptr<const Placement> a = placement_over(config, all);
  std::shared_ptr<const Placement> b = placement_over(config, nullptr);  // empty: all alive
  std::shared_ptr<const Placement> c = placement_over(config, without_5);
  ASSERT_TRUE(a && c);
  EXPECT_EQ(a.get(), b.get()) << "the same view: one placement";
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(a->alive_count(), 12u);
  EXPECT_EQ(c->alive_count(), 11u);
  // The shared placement answers as one of its own would.
  Result<Placement> own = Placement::create(config.nodes);
  ASSERT_TRUE(own.is_ok());
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    EXPECT_EQ(a->place_record(RecordId{7, seq}, 6).value(), own->place_record(RecordId{7, seq}, 6).value());
  }
  EXPECT_EQ(config.placements->views(), 2u);
  // Once no role holds a view, it is forgotten (and built again when asked for).
  c.reset();
  std::shared_ptr<const Placement> again = placement_over(config, all);
  EXPECT_EQ(again.get(), a.get());
  EXPECT_EQ(config.placements->views(), 1u);
  // Invalid nodes give no placement, as Placement::create gives none.
  config.nodes[3].weight = -1;
  EXPECT_EQ(placement_over(config, all), nullptr);
}

TEST(NodeDistance, SameNodeRackSiteOrFarther) {
  auto config = config_of(12, 4);  // rack = id % 4; site 0 for ids < 6
  EXPECT_EQ(node_distance(config->nodes, 1, 1), 0u);
  EXPECT_EQ(node_distance(config->nodes, 1, 5), 1u);
  EXPECT_EQ(node_distance(config->nodes, 1, 2), 2u);
  EXPECT_EQ(node_distance(config->nodes, 1, 9), 3u);
  EXPECT_EQ(node_distance(config->nodes, 1, 99), 3u);
}

}  // namespace
}  // namespace pbfs::datapath
