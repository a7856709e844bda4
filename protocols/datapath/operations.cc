// Trace schemas of the client's tables, the visible-pieces rule and the shared node lookups.
#include "protocols/datapath/operations.h"

#include <algorithm>
#include <numeric>

namespace pbfs::datapath {

const TableSchema& operations_schema() {
  static const TableSchema schema{
      "operations",
      "one row per finished data-path client operation (write, read, compact)",
      sizeof(OperationRow),
      {PBFS_FIELD(OperationRow, client, "node of the client"),
       PBFS_FIELD(OperationRow, kind, "write, read or compact"),
       PBFS_FIELD(OperationRow, file, "file id"),
       PBFS_FIELD(OperationRow, offset, "first byte of the extent"),
       PBFS_FIELD(OperationRow, length, "bytes of the extent"),
       PBFS_FIELD(OperationRow, start_ns, "trace-clock time the operation was issued"),
       PBFS_FIELD(OperationRow, end_ns, "trace-clock time it completed"),
       PBFS_FIELD(OperationRow, status, "StatusCode (0 ok)"),
       PBFS_FIELD(OperationRow, bytes_sent, "framed bytes of the messages it sent"),
       PBFS_FIELD(OperationRow, bytes_received, "framed bytes of the replies it received"),
       PBFS_FIELD(OperationRow, records, "records written (plus superseded) or read"),
       PBFS_FIELD(OperationRow, fragments, "fragments stored or fragment windows fetched"),
       PBFS_FIELD(OperationRow, messages, "messages sent plus replies received"),
       PBFS_FIELD(OperationRow, round_trips, "longest request/reply chain it waited for")}};
  return schema;
}

const TableSchema& read_pieces_schema() {
  static const TableSchema schema{
      "read_pieces",
      "one row per visible piece of a successful read; record ~0/0 marks a hole (zeros)",
      sizeof(ReadPieceRow),
      {PBFS_FIELD(ReadPieceRow, read_id, "the client's operation id"),
       PBFS_FIELD(ReadPieceRow, client, "node of the client"),
       PBFS_FIELD(ReadPieceRow, file, "file id"),
       PBFS_FIELD(ReadPieceRow, offset, "first byte of the piece"),
       PBFS_FIELD(ReadPieceRow, length, "bytes of the piece"),
       PBFS_FIELD(ReadPieceRow, record_client, "record that supplied it: writing client"),
       PBFS_FIELD(ReadPieceRow, record_seq, "record that supplied it: that client's counter"),
       PBFS_FIELD(ReadPieceRow, start_ns, "trace-clock start of the read"),
       PBFS_FIELD(ReadPieceRow, end_ns, "trace-clock end of the read")}};
  return schema;
}

const TableSchema& compaction_sources_schema() {
  static const TableSchema schema{
      "compaction_sources",
      "what each byte range of an acknowledged compaction record was copied from",
      sizeof(CompactionSourceRow),
      {PBFS_FIELD(CompactionSourceRow, file, "file id"),
       PBFS_FIELD(CompactionSourceRow, record_client, "compaction record: writing client"),
       PBFS_FIELD(CompactionSourceRow, record_seq, "compaction record: that client's counter"),
       PBFS_FIELD(CompactionSourceRow, offset, "first byte of the range"),
       PBFS_FIELD(CompactionSourceRow, length, "bytes of the range"),
       PBFS_FIELD(CompactionSourceRow, source_client, "record the bytes came from (~0: zeros)"),
       PBFS_FIELD(CompactionSourceRow, source_seq, "that record's counter"),
       PBFS_FIELD(CompactionSourceRow, time_ns, "trace-clock time the catalog acknowledged it")}};
  return schema;
}

void visible_pieces(std::span<const CatalogEntry> entries, Extent range, bool lower_wins, std::vector<VisiblePiece>& out) {
  out.clear();
  if (range.length == 0) return;
  std::vector<int32_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return lower_wins ? entries[a].sequence < entries[b].sequence : entries[a].sequence > entries[b].sequence;
  });
  // Walk from the winning entry down, handing each the parts of the range nobody above it took.
  std::vector<Extent> uncovered{range}, rest;
  for (int32_t e : order) {
    if (uncovered.empty()) break;
    const Extent& x = entries[e].record.extent;
    rest.clear();
    for (const Extent& u : uncovered) {
      const uint64_t lo = std::max(u.offset, x.offset), hi = std::min(u.end(), x.end());
      if (lo >= hi) {
        rest.push_back(u);
        continue;
      }
      out.push_back({lo, hi - lo, e});
      if (u.offset < lo) rest.push_back({u.offset, lo - u.offset});
      if (hi < u.end()) rest.push_back({hi, u.end() - hi});
    }
    uncovered.swap(rest);
  }
  for (const Extent& u : uncovered) out.push_back({u.offset, u.length, -1});
  std::sort(out.begin(), out.end(), [](const VisiblePiece& a, const VisiblePiece& b) { return a.offset < b.offset; });
}

CatalogDirectory::CatalogDirectory(std::shared_ptr<const DataPathConfig> config) : config_(std::move(config)) {
  groups_.resize(config_->shards);
  known_.assign(config_->shards, false);
  versions_.assign(config_->shards, 1);
}

void CatalogDirectory::learn(uint64_t shard, uint64_t version, std::vector<NodeId> members) {
  if (shard >= groups_.size() || members.empty() || version <= versions_[shard]) return;
  groups_[shard] = std::move(members);
  known_[shard] = true;
  versions_[shard] = version;
}

const std::vector<NodeId>& CatalogDirectory::group(uint64_t shard) {
  static_assert(sizeof(NodeId) == sizeof(uint32_t));
  if (shard >= groups_.size()) {  // a shard number from outside the config: never a programmer error to ask
    static const std::vector<NodeId> kNone;
    return kNone;
  }
  if (known_[shard]) return groups_[shard];
  if (config_->catalog_groups.size() == groups_.size()) return config_->catalog_groups[shard];
  if (!all_nodes_) all_nodes_ = placement_over(*config_, nullptr);
  if (all_nodes_) {
    Result<std::vector<uint32_t>> group = all_nodes_->place_catalog(shard, config_->catalog_replicas);
    if (group.is_ok()) groups_[shard] = std::move(group).value();
  }
  known_[shard] = true;
  return groups_[shard];
}

uint32_t node_distance(const std::vector<PlacementNode>& nodes, NodeId a, NodeId b) {
  if (a == b) return 0;
  auto find = [&](NodeId id) -> const PlacementNode* {
    if (id < nodes.size() && nodes[id].id == id) return &nodes[id];
    for (const PlacementNode& n : nodes) {
      if (n.id == id) return &n;
    }
    return nullptr;
  };
  const PlacementNode* x = find(a);
  const PlacementNode* y = find(b);
  if (x == nullptr || y == nullptr || x->site != y->site) return 3;
  return x->rack == y->rack ? 1 : 2;
}

}  // namespace pbfs::datapath
