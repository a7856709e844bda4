// Weighted rendezvous hashing with failure-domain caps. The hash (MurmurHash3's 64-bit finalizer over
// key and node hashes) is part of the placement contract: changing it moves every fragment, so it is
// versioned with the record format (docs/record-format.md).
#include "coding/placement.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_set>

#include "coding/check.h"

namespace pbfs {
namespace {

constexpr uint64_t kRecordDomain = 0x7265636f72642d31ull;   // "record-1"
constexpr uint64_t kCatalogDomain = 0x636174616c6f672dull;  // "catalog-"
constexpr uint64_t kNodeDomain = 0x6e6f64652d696431ull;     // "node-id1"

uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

uint64_t record_key_hash(const RecordId& id) { return mix64(mix64(id.client ^ kRecordDomain) + id.sequence); }
uint64_t catalog_key_hash(FileId file) { return mix64(mix64(file) ^ kCatalogDomain); }

// Assigns dense numbers 0..n-1 to the distinct values in `values`.
std::vector<uint32_t> densify(const std::vector<uint32_t>& values) {
  std::map<uint32_t, uint32_t> dense;
  std::vector<uint32_t> out;
  out.reserve(values.size());
  for (uint32_t v : values) out.push_back(dense.emplace(v, static_cast<uint32_t>(dense.size())).first->second);
  return out;
}

}  // namespace

LoadTracker::LoadTracker(const Placement& placement) : placement_(placement), bytes_(placement.nodes().size(), 0) {}

void LoadTracker::add(uint32_t node_id, uint64_t bytes) {
  const int32_t at = placement_.position(node_id);
  PBFS_CODING_CHECK(at >= 0);
  bytes_[at] += bytes;
  total_bytes_ += bytes;
}

void LoadTracker::remove(uint32_t node_id, uint64_t bytes) {
  const int32_t at = placement_.position(node_id);
  PBFS_CODING_CHECK(at >= 0 && bytes_[at] >= bytes);
  bytes_[at] -= bytes;
  total_bytes_ -= bytes;
}

uint64_t LoadTracker::bytes(uint32_t node_id) const {
  const int32_t at = placement_.position(node_id);
  return at < 0 ? 0 : bytes_[at];
}

Result<Placement> Placement::create(std::vector<PlacementNode> nodes) {
  Placement p;
  std::unordered_set<uint32_t> ids;
  std::vector<uint32_t> racks, sites;
  for (const PlacementNode& n : nodes) {
    if (!ids.insert(n.id).second) return Status(StatusCode::kInvalidArgument, "duplicate node id " + std::to_string(n.id));
    if (!(n.weight > 0) || !std::isfinite(n.weight)) {
      return Status(StatusCode::kInvalidArgument, "node " + std::to_string(n.id) + " has a weight that is not positive");
    }
    racks.push_back(n.rack);
    sites.push_back(n.site);
  }
  p.nodes_ = std::move(nodes);
  p.rack_index_ = densify(racks);
  p.site_index_ = densify(sites);
  std::unordered_set<uint32_t> alive_racks, alive_sites;
  for (size_t i = 0; i < p.nodes_.size(); ++i) {
    const PlacementNode& n = p.nodes_[i];
    p.node_hash_.push_back(mix64(n.id ^ kNodeDomain));
    p.position_.emplace(n.id, static_cast<uint32_t>(i));
    if (n.weight != p.nodes_.front().weight) p.uniform_weights_ = false;
    if (!n.alive) continue;
    ++p.alive_count_;
    p.alive_positions_.push_back(static_cast<uint32_t>(i));
    p.alive_weight_ += n.weight;
    alive_racks.insert(p.rack_index_[i]);
    alive_sites.insert(p.site_index_[i]);
  }
  p.racks_alive_ = static_cast<uint32_t>(alive_racks.size());
  p.sites_alive_ = static_cast<uint32_t>(alive_sites.size());
  return p;
}

int32_t Placement::position(uint32_t node_id) const {
  auto found = position_.find(node_id);
  return found == position_.end() ? -1 : static_cast<int32_t>(found->second);
}

Result<std::vector<uint32_t>> Placement::place_record(const RecordId& record, uint32_t count, const PlacementOptions& options,
                                                      const LoadTracker* load, uint64_t fragment_bytes) const {
  return place(record_key_hash(record), count, options, load, fragment_bytes);
}

Result<std::vector<uint32_t>> Placement::place_catalog(FileId file, uint32_t replicas, const PlacementOptions& options) const {
  return place(catalog_key_hash(file), replicas, options, nullptr, 0);
}

namespace {

using Ranked = std::pair<double, uint32_t>;  // (score, node position): higher score first, then lower position

// A function object (not a function pointer) so the heap and sort calls inline it.
struct Better {
  bool operator()(const Ranked& a, const Ranked& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
};
constexpr Better better;

}  // namespace

double Placement::score(uint64_t key_hash, uint32_t position) const {
  // u in (0, 1) from the hash; weighted rendezvous ranks by ln(u) / weight. With equal weights the
  // 53-bit hash itself ranks the same as u (u is an increasing function of it, exactly representable),
  // so the common case needs no floating-point work beyond the conversion.
  const uint64_t bits = mix64(key_hash ^ node_hash_[position]) >> 11;
  if (uniform_weights_) return double(bits);
  const double u = (double(bits) + 0.5) * 0x1.0p-53;
  return std::log(u) / nodes_[position].weight;
}

Result<std::vector<uint32_t>> Placement::place(uint64_t key_hash, uint32_t count, const PlacementOptions& options,
                                               const LoadTracker* load, uint64_t fragment_bytes) const {
  if (count > alive_count_) {
    return Status(StatusCode::kUnavailable, "need " + std::to_string(count) + " alive nodes, have " + std::to_string(alive_count_));
  }
  if (count == 0) return std::vector<uint32_t>{};
  // Usually the winners are among the best few: keep only those while scoring (a heap whose top is the
  // worst kept), and rank everything only if they were not enough. Placement runs once per write over
  // every node, so it must not allocate or sort per node.
  const size_t prefix = std::min<size_t>(alive_count_, size_t{2} * count + 8);
  std::vector<Ranked> ranked;
  ranked.reserve(prefix);
  for (uint32_t i : alive_positions_) {
    const Ranked candidate{score(key_hash, i), i};
    if (ranked.size() < prefix) {
      ranked.push_back(candidate);
      std::push_heap(ranked.begin(), ranked.end(), better);
    } else if (better(candidate, ranked.front())) {
      std::pop_heap(ranked.begin(), ranked.end(), better);
      ranked.back() = candidate;
      std::push_heap(ranked.begin(), ranked.end(), better);
    }
  }
  std::sort_heap(ranked.begin(), ranked.end(), better);
  std::vector<uint32_t> chosen;
  if (!select(ranked, count, options, load, fragment_bytes, chosen, prefix < alive_count_)) {
    ranked.clear();
    for (uint32_t i : alive_positions_) ranked.push_back({score(key_hash, i), i});
    std::sort(ranked.begin(), ranked.end(), better);
    PBFS_CODING_CHECK(select(ranked, count, options, load, fragment_bytes, chosen, false));
  }
  return chosen;
}

// Greedy over the ranked nodes. Pass 0 honours the domain caps and the load bound; each later pass
// relaxes the caps by one and drops the bound, so a lopsided topology still gets `count` distinct nodes.
// False if pass 0 fell short and `partial` says more candidates exist (the caller then ranks them all).
// Domain counts are kept over the chosen nodes only (count is small), not over every node.
bool Placement::select(const std::vector<std::pair<double, uint32_t>>& ranked, uint32_t count,
                       const PlacementOptions& options, const LoadTracker* load, uint64_t fragment_bytes,
                       std::vector<uint32_t>& chosen, bool partial) const {
  const bool bounded = options.load_bound > 0 && load != nullptr;
  const double mean_per_weight =
      bounded ? double(load->total_bytes() + uint64_t{count} * fragment_bytes) / alive_weight_ : 0;
  const uint32_t rack_cap = options.spread_racks ? (count + racks_alive_ - 1) / racks_alive_ : count;
  const uint32_t site_cap = options.spread_sites ? (count + sites_alive_ - 1) / sites_alive_ : count;
  std::vector<uint32_t> positions;  // of the chosen nodes
  positions.reserve(count);
  auto taken = [&](uint32_t i, uint32_t& same_rack, uint32_t& same_site) {
    same_rack = same_site = 0;
    for (uint32_t p : positions) {
      if (p == i) return true;
      same_rack += rack_index_[p] == rack_index_[i] ? 1 : 0;
      same_site += site_index_[p] == site_index_[i] ? 1 : 0;
    }
    return false;
  };
  chosen.clear();
  for (uint32_t pass = 0; chosen.size() < count; ++pass) {
    PBFS_CODING_CHECK(pass <= count);
    for (size_t r = 0; r < ranked.size() && chosen.size() < count; ++r) {
      const uint32_t i = ranked[r].second;
      uint32_t same_rack = 0, same_site = 0;
      if (taken(i, same_rack, same_site) || same_rack >= rack_cap + pass || same_site >= site_cap + pass) continue;
      if (bounded && pass == 0) {
        const double bound = mean_per_weight * nodes_[i].weight * options.load_bound;
        if (double(load->bytes_by_position()[i] + fragment_bytes) > bound) continue;
      }
      positions.push_back(i);
      chosen.push_back(nodes_[i].id);
    }
    if (pass == 0 && chosen.size() < count && partial) return false;
  }
  return true;
}

LoadStats load_stats(const Placement& placement, const LoadTracker& load) {
  LoadStats stats;
  double weight_sum = 0, bytes_sum = 0;
  uint32_t alive = 0;
  for (size_t i = 0; i < placement.nodes().size(); ++i) {
    if (!placement.nodes()[i].alive) continue;
    weight_sum += placement.nodes()[i].weight;
    bytes_sum += double(load.bytes_by_position()[i]);
    ++alive;
  }
  if (alive == 0 || bytes_sum == 0) return stats;
  const double mean_weight = weight_sum / alive;
  stats.mean_bytes = bytes_sum / alive;
  for (size_t i = 0; i < placement.nodes().size(); ++i) {
    if (!placement.nodes()[i].alive) continue;
    const double normalised = double(load.bytes_by_position()[i]) * mean_weight / placement.nodes()[i].weight;
    stats.max_bytes = std::max(stats.max_bytes, normalised);
  }
  stats.max_over_mean = stats.max_bytes / stats.mean_bytes;
  return stats;
}

std::vector<uint32_t> stable_reassign(const std::vector<uint32_t>& current, const std::vector<uint32_t>& target) {
  PBFS_CODING_CHECK(current.size() == target.size());
  std::vector<uint32_t> out(current.size());
  std::vector<bool> slot_kept(current.size(), false);
  std::unordered_set<uint32_t> in_target(target.begin(), target.end()), placed;
  for (size_t i = 0; i < current.size(); ++i) {
    if (in_target.count(current[i]) && placed.insert(current[i]).second) {
      out[i] = current[i];
      slot_kept[i] = true;
    }
  }
  size_t slot = 0;
  for (uint32_t node : target) {
    if (placed.count(node)) continue;
    while (slot_kept[slot]) ++slot;
    out[slot] = node;
    slot_kept[slot] = true;
    placed.insert(node);
  }
  return out;
}

uint32_t moved_fragments(const std::vector<uint32_t>& before, const std::vector<uint32_t>& after) {
  PBFS_CODING_CHECK(before.size() == after.size());
  uint32_t moved = 0;
  for (size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
  return moved;
}

}  // namespace pbfs
