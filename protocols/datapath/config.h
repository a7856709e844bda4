// Parameters and shared helpers of the PBFS data path: coding and crypto choices, catalog layout
// (which shard a file belongs to and which nodes replicate that shard), timeouts, compaction and GC
// settings. One DataPathConfig is built by the deployment from the scenario and shared (read-only, but
// for the placement cache it carries) by every client, fragment server and catalog role of a run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coding/aead.h"
#include "coding/cost_model.h"
#include "coding/erasure.h"
#include "coding/placement.h"
#include "protocols/runtime/types.h"

namespace pbfs::datapath {

// A fragment lies within its log, so offsets in a log fit the manifest's 32 bits.
inline constexpr uint64_t kLogFileBytesMax = uint64_t{4} << 30;

// Placements shared by the roles of one run that see the same nodes alive. Every client and catalog
// rebuilds its placement when membership changes, and nearly all of them see the same nodes: one shared
// placement stays in the processor's cache, where two hundred clients' own copies would each be cold at
// every write (ranking reads a hash and a domain per node). A placement lives as long as a role holds
// it. Not thread-safe: one per run, like the config that carries it.
class PlacementCache {
 public:
  // The placement over `nodes`; null if they are invalid (Placement::create).
  std::shared_ptr<const Placement> get(std::vector<PlacementNode> nodes);
  size_t views() const { return entries_.size(); }  // distinct node lists held (tests)

 private:
  struct Entry {
    uint64_t hash = 0;
    std::vector<PlacementNode> nodes;
    std::weak_ptr<const Placement> placement;
  };
  std::vector<Entry> entries_;
};

struct DataPathConfig {
  CodingParams coding;                           // k + m and backend of new records
  AeadAlgorithm aead = AeadAlgorithm::kAes256Gcm;
  uint32_t segment_bytes = kDefaultSegmentBytes;
  bool real_payload = false;                     // false: synthetic payloads (sizes, provenance, cost model)
  MasterKey master_key{};                        // clients' key (servers never see it)

  uint32_t catalog_replicas = 3;                 // R
  uint32_t shards = 64;                          // files map to shards; one catalog group and lease each
  TimeNs lease_ns = 14 * kSecond;                // catalog primaries hold a Flease lease per shard
  TimeNs lease_epsilon_ns = kSecond;
  // A group member dead (membership) for this long is replaced by the shard's primary with a node
  // chosen by placement over the alive nodes (catalog.h, "Reconfiguration"); 0: never.
  TimeNs catalog_replace_after_ns = 30 * kSecond;
  // A replica whose log write, sync or read failed reads its log back after this long and rejoins if
  // the disk still holds every entry it had persisted (catalog.h, break_shard).
  TimeNs catalog_disk_retry_ns = kSecond;

  TimeNs request_timeout_ns = 2 * kSecond;       // a client retries an unanswered request after this
  uint32_t retries_max = 5;
  uint32_t extra_fragments = 0;                  // late binding: ask k + extra, use the first k
  uint32_t compaction_depth = 0;                 // 0: off; else compact a range covered by more records
  TimeNs pin_timeout_ns = 30 * kSecond;          // a reader's pin on superseded records lapses after this
  TimeNs scrub_interval_ns = 0;                  // 0: no periodic scrub
  // Orphan collection (fragment servers): a fragment whose record the server has not seen confirmed
  // for this long is asked about at the file's catalog primary, which abandons the record if it is not
  // live, and the fragment is deleted. Must stay well above a client's whole write + commit time
  // (retries included), or slow writes get refused. The pass runs every orphan_grace_ns, so a fragment
  // is asked about between one and two graces after it was stored; 0: off.
  TimeNs orphan_grace_ns = 60 * kSecond;
  // A fragment confirmed current is asked about again after this long (its record may have been
  // superseded and collected since, with the DeleteFragments lost); 0: never again.
  TimeNs orphan_recheck_ns = 600 * kSecond;
  // Fragment store (fragment_server.h): fragments are appended to log files of this size; a sealed log
  // whose live bytes fall below log_clean_below of it has its live fragments copied forward and is removed.
  uint64_t log_file_bytes = uint64_t{16} << 20;  // at most kLogFileBytesMax
  double log_clean_below = 0.5;
  TimeNs cpu_per_message_ns = 2 * kMicrosecond;  // modelled handling cost of each message

  // Deliberate bugs that prove the checkers can fail: "stale_read", "gc_current", "skip_fsync",
  // "diverge_replica", "abandon_current" (the catalog abandons current records when a fragment server
  // asks about them); empty in every real run.
  std::string inject_bug;

  std::shared_ptr<const CostModel> cost_model;   // CPU charged for coding work (both fidelities)
  std::vector<PlacementNode> nodes;              // every node of the cluster (alive flags from membership)
  std::shared_ptr<PlacementCache> placements = std::make_shared<PlacementCache>();  // never null; placement_over
  // Each shard's version-1 catalog group, when the deployment computed them once for every role (a
  // cache: the same as Placement::place_catalog over `nodes` all alive; later versions live in the
  // shard's log, catalog.h). Empty: each role computes its own.
  std::vector<std::vector<NodeId>> catalog_groups;
};

// The placement over the cluster's nodes with `alive(id)` telling which are alive (all of them when
// empty), from config.placements; null if the nodes are invalid.
std::shared_ptr<const Placement> placement_over(const DataPathConfig& config, const std::function<bool(NodeId)>& alive);

// Which shard a file's records belong to.
inline uint64_t shard_of(const DataPathConfig& config, FileId file) {
  uint64_t x = file + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return (x ^ (x >> 31)) % config.shards;
}

}  // namespace pbfs::datapath
