// Where fragments and catalog replicas live: weighted rendezvous (highest-random-weight) hashing with
// failure-domain spreading. Each alive node gets a score from hash(key, node) and its weight; the best
// scores win, subject to at most ceil(count / racks) per rack and ceil(count / sites) per site (caps
// relax only when the topology cannot meet them). Rendezvous hashing balances to within a few percent
// and moves only the joining/leaving node's share. Pure and deterministic: the simulator and the real
// mode get the same answer from the same node list.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "coding/ids.h"
#include "coding/status.h"

namespace pbfs {

struct PlacementNode {
  uint32_t id = 0;    // the NodeId
  uint32_t rack = 0;  // unique across the cluster (not per site)
  uint32_t site = 0;
  double weight = 1.0;  // relative share of data, > 0 (e.g. capacity)
  bool alive = true;    // dead nodes are never chosen
  bool operator==(const PlacementNode&) const = default;
};

struct PlacementOptions {
  bool spread_racks = true;  // distinct racks while there are enough, else as even as possible
  bool spread_sites = true;  // likewise for sites
  // Bounded load (consistent hashing with bounded loads): when > 0 and a load tracker is given, a node
  // whose load would exceed load_bound x its weighted share of the mean is skipped. 1.25 is typical.
  double load_bound = 0;
};

class Placement;

// Bytes placed per node, for bounded-load placement and for reporting balance.
class LoadTracker {
 public:
  explicit LoadTracker(const Placement& placement);
  void add(uint32_t node_id, uint64_t bytes);
  void remove(uint32_t node_id, uint64_t bytes);
  uint64_t bytes(uint32_t node_id) const;
  uint64_t total_bytes() const { return total_bytes_; }
  const std::vector<uint64_t>& bytes_by_position() const { return bytes_; }  // same order as nodes()

 private:
  const Placement& placement_;
  std::vector<uint64_t> bytes_;
  uint64_t total_bytes_ = 0;
};

class Placement {
 public:
  // Node ids must be unique and weights positive and finite (kInvalidArgument otherwise).
  static Result<Placement> create(std::vector<PlacementNode> nodes);

  const std::vector<PlacementNode>& nodes() const { return nodes_; }
  uint32_t alive_count() const { return alive_count_; }
  // Position of a node id in nodes(), or -1.
  int32_t position(uint32_t node_id) const;

  // `count` (= k + m) distinct alive nodes for a record, in fragment order. kUnavailable if fewer alive.
  // With options.load_bound > 0 and `load`, each node is charged `fragment_bytes` against its bound.
  Result<std::vector<uint32_t>> place_record(const RecordId& record, uint32_t count, const PlacementOptions& options = {},
                                             const LoadTracker* load = nullptr, uint64_t fragment_bytes = 0) const;
  // The catalog replica group of a file (never load-bounded: readers must find it from the id alone).
  Result<std::vector<uint32_t>> place_catalog(FileId file, uint32_t replicas, const PlacementOptions& options = {}) const;

 private:
  // A node while ranking. `score` is an integer that orders exactly as the rendezvous score does (higher
  // first) and is equal exactly when the scores are. Equal scores go to the lower position, that is the
  // lower index into alive_positions_ (ascending).
  struct Ranked {
    uint64_t score = 0;
    uint32_t alive_index = 0;
    uint32_t domain = 0;  // index into domains_: carried along so selecting reads no per-node array
  };
  // A failure domain: a node's dense rack and site numbers.
  struct Domain {
    uint32_t rack = 0;
    uint32_t site = 0;
    bool operator<(const Domain& o) const { return rack != o.rack ? rack < o.rack : site < o.site; }
  };
  // Buffers reused across calls (one per thread): placement runs once per write over every node.
  struct Scratch {
    std::vector<Ranked> ranked;
    std::vector<uint64_t> scores;  // by alive index (equal weights)
    std::vector<uint32_t> bucket_starts;
    // While selecting: chosen nodes per rack and per site, and whether a position is chosen. All zero
    // between calls (select resets what it set).
    std::vector<uint32_t> per_rack, per_site;
    std::vector<uint8_t> taken;  // by alive index
  };
  Result<std::vector<uint32_t>> place(uint64_t key_hash, uint32_t count, const PlacementOptions& options,
                                      const LoadTracker* load, uint64_t fragment_bytes) const;
  uint64_t weighted_score(uint64_t key_hash, uint64_t node_hash, uint32_t alive_index) const;
  template <bool kUniformWeights>
  std::span<const Ranked> rank_best(uint64_t key_hash, uint32_t keep_count, uint64_t floor, Scratch& scratch) const;
  std::span<const Ranked> rank(uint64_t key_hash, uint32_t keep_count, Scratch& scratch) const;
  bool select(std::span<const Ranked> ranked, uint32_t count, const PlacementOptions& options, const LoadTracker* load,
              uint64_t fragment_bytes, std::vector<uint32_t>& chosen, bool partial, Scratch& scratch) const;
  std::vector<PlacementNode> nodes_;
  std::vector<std::pair<uint32_t, uint32_t>> by_id_;  // (node id, position in nodes_), ascending
  std::vector<uint32_t> alive_positions_;  // positions of the alive nodes, ascending
  std::vector<uint64_t> alive_hash_;       // their node hashes, in the same order (the scoring loop reads both)
  std::vector<uint32_t> alive_domain_;     // their domains (indexes into domains_), in the same order
  std::vector<Domain> domains_;            // the distinct (rack, site) pairs: few, so they stay in cache
  std::vector<uint32_t> rack_index_;  // dense rack / site numbers per node position
  std::vector<uint32_t> site_index_;
  uint32_t rack_numbers_ = 0;  // how many dense rack / site numbers there are
  uint32_t site_numbers_ = 0;
  uint32_t racks_alive_ = 0;
  uint32_t sites_alive_ = 0;
  uint32_t alive_count_ = 0;
  bool uniform_weights_ = true;
  double alive_weight_ = 0;
};

// Balance of a placement: max over mean of bytes per alive node, each node's bytes divided by its
// weight relative to the mean weight (so 1.0 is perfect for weighted nodes too).
struct LoadStats {
  double mean_bytes = 0;
  double max_bytes = 0;
  double max_over_mean = 0;
};
LoadStats load_stats(const Placement& placement, const LoadTracker& load);

// Re-places a record without moving what need not move: nodes in both `current` and `target` keep
// their fragment index, the others take the freed indices. Returns the new index -> node map.
std::vector<uint32_t> stable_reassign(const std::vector<uint32_t>& current, const std::vector<uint32_t>& target);
// Fragments whose node differs between two maps of the same record.
uint32_t moved_fragments(const std::vector<uint32_t>& before, const std::vector<uint32_t>& after);

}  // namespace pbfs
