// What the data-path client records and computes per operation: the trace rows of the "operations",
// "read_pieces" and "compaction_sources" tables, the visible-pieces rule of a read (higher sequence
// wins where records overlap), and the lookups every data-path role shares (which nodes form a shard's
// catalog group, how far apart two nodes are).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "coding/ids.h"
#include "coding/placement.h"
#include "protocols/datapath/config.h"
#include "protocols/datapath/messages.h"
#include "protocols/runtime/trace_schema.h"

namespace pbfs::datapath {

// ---- trace rows ----

// One row per finished client operation (write, read or compaction), written by the client.
struct OperationRow {
  uint32_t client = 0;     // node of the client
  char kind[8] = {};       // "write", "read", "compact"
  uint64_t file = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  int64_t start_ns = 0;    // trace clock
  int64_t end_ns = 0;
  uint8_t status = 0;      // StatusCode
  uint64_t bytes_sent = 0;      // framed bytes of every message the operation sent
  uint64_t bytes_received = 0;  // framed bytes of every reply it received
  uint32_t records = 0;    // records touched: written (plus those superseded), or read
  uint32_t fragments = 0;  // fragments stored, or fragment windows fetched
  uint32_t messages = 0;   // messages sent plus replies received
  uint32_t round_trips = 0;  // longest chain of request -> reply (or timeout) the operation waited for
};
const TableSchema& operations_schema();

// The record ids of read pieces that no record covers (never written: the reader returns zeros).
constexpr RecordId kNoRecord{~uint64_t{0}, 0};

// One row per visible piece of a read that completed ok (holes included, as kNoRecord).
struct ReadPieceRow {
  uint64_t read_id = 0;  // the client's operation id (unique per client)
  uint32_t client = 0;
  uint64_t file = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t record_client = 0;
  uint64_t record_seq = 0;
  int64_t start_ns = 0;  // trace clock: the read's start and end
  int64_t end_ns = 0;
};
const TableSchema& read_pieces_schema();

// A compaction record's content, written by the compacting client when the catalog acknowledged it:
// bytes [offset, offset + length) of compaction record (record_client, record_seq) are copies of what
// source record (source_client, source_seq) held there (kNoRecord: zeros).
struct CompactionSourceRow {
  uint64_t file = 0;
  uint64_t record_client = 0;
  uint64_t record_seq = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t source_client = 0;
  uint64_t source_seq = 0;
  int64_t time_ns = 0;  // trace clock of the acknowledgement
};
const TableSchema& compaction_sources_schema();

// ---- reads ----

// A byte range of a read result and the record that supplied it (kNoRecord: a hole, zeros).
struct ReadPiece {
  uint64_t offset = 0;  // file offset
  uint64_t length = 0;
  RecordId record = kNoRecord;
  bool operator==(const ReadPiece&) const = default;
};

// A visible piece with the index of the catalog entry that supplies it (-1 for a hole).
struct VisiblePiece {
  uint64_t offset = 0;
  uint64_t length = 0;
  int32_t entry = -1;
  bool operator==(const VisiblePiece&) const = default;
};

// Which bytes of `range` each entry supplies: where entries overlap, the higher sequence wins
// (`lower_wins` inverts that: the "stale_read" deliberate bug). Pieces come out in offset order, cover
// `range` exactly, and holes appear as entry -1. `out` is overwritten (its capacity is reused).
void visible_pieces(std::span<const CatalogEntry> entries, Extent range, bool lower_wins, std::vector<VisiblePiece>& out);

// ---- shared lookups ----

// The catalog group of every shard: Placement::place_catalog(shard, R) over all nodes of the config,
// every node treated as alive (version 1), computed once per shard on first use, until a newer version
// is learned (learn(): the deployment reads replaced groups from the coordination service).
class CatalogDirectory {
 public:
  explicit CatalogDirectory(std::shared_ptr<const DataPathConfig> config);
  // The shard's R nodes (empty if the config has fewer nodes than R).
  const std::vector<NodeId>& group(uint64_t shard);
  const std::vector<NodeId>& group_of_file(FileId file) { return group(shard_of(*config_, file)); }
  // A group version newer than the one held replaces it; older ones and empty groups are ignored.
  void learn(uint64_t shard, uint64_t version, std::vector<NodeId> members);
  uint64_t version(uint64_t shard) const { return shard < versions_.size() ? versions_[shard] : 0; }

 private:
  std::shared_ptr<const DataPathConfig> config_;
  std::shared_ptr<const Placement> all_nodes_;
  std::vector<std::vector<NodeId>> groups_;  // by shard
  std::vector<bool> known_;
  std::vector<uint64_t> versions_;  // by shard: 1 until learn()
};

// How far node b is from node a: 0 same node, 1 same rack, 2 same site, 3 another site (unknown
// nodes count as another site). `nodes` is indexed by node id when ids are dense.
uint32_t node_distance(const std::vector<PlacementNode>& nodes, NodeId a, NodeId b);

}  // namespace pbfs::datapath
