// Weighted rendezvous hashing with failure-domain caps. The hash (MurmurHash3's 64-bit finalizer over
// key and node hashes) is part of the placement contract: changing it moves every fragment, so it is
// versioned with the record format (docs/record-format.md).
#include "coding/placement.h"

#include <algorithm>
#include <bit>
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
constexpr uint64_t kScoreRange = uint64_t{1} << 53;         // scores with equal weights: the hash's top 53 bits

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
  // (id, position) sorted: position() searches it, and equal neighbours are repeated ids. Built without
  // a node per id: every membership change on every node builds a placement (a thousand at start-up).
  p.by_id_.resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) p.by_id_[i] = {nodes[i].id, static_cast<uint32_t>(i)};
  std::sort(p.by_id_.begin(), p.by_id_.end());
  size_t first_repeat = nodes.size();  // the earliest position whose id came before
  for (size_t k = 1; k < p.by_id_.size(); ++k) {
    if (p.by_id_[k].first == p.by_id_[k - 1].first) first_repeat = std::min<size_t>(first_repeat, p.by_id_[k].second);
  }
  std::vector<uint32_t> racks, sites;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const PlacementNode& n = nodes[i];
    if (i == first_repeat) return Status(StatusCode::kInvalidArgument, "duplicate node id " + std::to_string(n.id));
    if (!(n.weight > 0) || !std::isfinite(n.weight)) {
      return Status(StatusCode::kInvalidArgument, "node " + std::to_string(n.id) + " has a weight that is not positive");
    }
    racks.push_back(n.rack);
    sites.push_back(n.site);
  }
  p.nodes_ = std::move(nodes);
  p.rack_index_ = densify(racks);
  p.site_index_ = densify(sites);
  for (uint32_t r : p.rack_index_) p.rack_numbers_ = std::max(p.rack_numbers_, r + 1);
  for (uint32_t x : p.site_index_) p.site_numbers_ = std::max(p.site_numbers_, x + 1);
  std::vector<uint8_t> alive_racks(p.rack_numbers_, 0), alive_sites(p.site_numbers_, 0);
  std::map<Domain, uint32_t> domain_numbers;
  for (size_t i = 0; i < p.nodes_.size(); ++i) {
    const PlacementNode& n = p.nodes_[i];
    if (n.weight != p.nodes_.front().weight) p.uniform_weights_ = false;
    if (!n.alive) continue;
    ++p.alive_count_;
    p.alive_positions_.push_back(static_cast<uint32_t>(i));
    p.alive_hash_.push_back(mix64(n.id ^ kNodeDomain));
    const Domain domain{p.rack_index_[i], p.site_index_[i]};
    const auto [at, added] = domain_numbers.emplace(domain, static_cast<uint32_t>(p.domains_.size()));
    if (added) p.domains_.push_back(domain);
    p.alive_domain_.push_back(at->second);
    p.alive_weight_ += n.weight;
    alive_racks[p.rack_index_[i]] = 1;
    alive_sites[p.site_index_[i]] = 1;
  }
  p.racks_alive_ = static_cast<uint32_t>(std::count(alive_racks.begin(), alive_racks.end(), 1));
  p.sites_alive_ = static_cast<uint32_t>(std::count(alive_sites.begin(), alive_sites.end(), 1));
  return p;
}

int32_t Placement::position(uint32_t node_id) const {
  auto found = std::lower_bound(by_id_.begin(), by_id_.end(), std::pair<uint32_t, uint32_t>{node_id, 0});
  return found == by_id_.end() || found->first != node_id ? -1 : static_cast<int32_t>(found->second);
}

Result<std::vector<uint32_t>> Placement::place_record(const RecordId& record, uint32_t count, const PlacementOptions& options,
                                                      const LoadTracker* load, uint64_t fragment_bytes) const {
  return place(record_key_hash(record), count, options, load, fragment_bytes);
}

Result<std::vector<uint32_t>> Placement::place_catalog(FileId file, uint32_t replicas, const PlacementOptions& options) const {
  return place(catalog_key_hash(file), replicas, options, nullptr, 0);
}

namespace {

// Higher score first, then lower position. A function object (not a function pointer) so the
// nth_element and sort calls inline it.
struct Better {
  template <typename Ranked>
  bool operator()(const Ranked& a, const Ranked& b) const {
    return a.score > b.score || (a.score == b.score && a.alive_index < b.alive_index);
  }
};
constexpr Better better;

// An unsigned integer in the same order as a score, equal exactly when the scores compare equal, so
// ranking compares integers whatever the weights. Scores are never NaN; -0.0 (a tiny log divided by a
// huge weight) becomes +0.0 first, because the two compare equal as doubles.
uint64_t ordered_bits(double score) {
  const uint64_t bits = std::bit_cast<uint64_t>(score + 0.0);
  return bits >> 63 ? ~bits : bits | (uint64_t{1} << 63);
}

// Sorts equal-weight candidates best first into `out`. Their scores are uniform below 2^53, so a
// counting sort on the distance from the top, with about one bucket per candidate, leaves them nearly
// in order and insertion sort finishes (settling ties too). Linear, with few mispredicted branches,
// where std::sort over ~50 random scores spends most of its time in them; any scores come out sorted.
template <typename Ranked>
void sort_uniform(std::span<const Ranked> kept, std::span<Ranked> out, std::vector<uint32_t>& bucket_starts) {
  PBFS_CODING_CHECK(kept.size() == out.size());
  if (kept.empty()) return;
  uint64_t lowest = kScoreRange;
  for (const Ranked& r : kept) lowest = std::min(lowest, r.score);
  const uint64_t width = kScoreRange - lowest;  // > 0: scores are below 2^53
  const int shift = std::bit_width(width / kept.size());
  const size_t buckets = ((width - 1) >> shift) + 1;  // <= kept.size()
  auto bucket = [&](const Ranked& r) { return (kScoreRange - 1 - r.score) >> shift; };
  bucket_starts.assign(buckets + 1, 0);
  for (const Ranked& r : kept) ++bucket_starts[bucket(r) + 1];
  for (size_t b = 1; b <= buckets; ++b) bucket_starts[b] += bucket_starts[b - 1];
  for (const Ranked& r : kept) out[bucket_starts[bucket(r)]++] = r;
  for (size_t i = 1; i < out.size(); ++i) {
    const Ranked next = out[i];
    size_t j = i;
    for (; j > 0 && better(next, out[j - 1]); --j) out[j] = out[j - 1];
    out[j] = next;
  }
}

}  // namespace

namespace {

// The 53-bit rendezvous hash of (key, node). With equal weights it is the score itself: it ranks the same
// as u (below), an increasing function of it, so the common case needs no floating-point work at all.
inline uint64_t hash_bits(uint64_t key_hash, uint64_t node_hash) { return mix64(key_hash ^ node_hash) >> 11; }

}  // namespace

uint64_t Placement::weighted_score(uint64_t key_hash, uint64_t node_hash, uint32_t alive_index) const {
  // u in (0, 1) from the hash; weighted rendezvous ranks by ln(u) / weight.
  const double u = (double(hash_bits(key_hash, node_hash)) + 0.5) * 0x1.0p-53;
  return ordered_bits(std::log(u) / nodes_[alive_positions_[alive_index]].weight);
}

namespace {

// Equal weights: every alive node's score for one key, in a loop of its own so that it vectorises. It
// is most of a placement's work (a thousand hashes per write), so on x86-64 it is also built for
// AVX-512, which multiplies 64-bit lanes in one instruction (the machine picks the version it can run;
// without AVX-512 a vector 64-bit multiply costs more than scalar ones, so the default stays scalar).
// Blocks of eight with a fixed inner count vectorise at -O2 without a remainder loop of their own.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
[[gnu::target_clones("arch=x86-64-v4", "default")]]
#endif
void uniform_scores(uint64_t key_hash, const uint64_t* __restrict node_hash, uint64_t* __restrict out, uint32_t n) {
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const uint64_t* const in = node_hash + j;
    uint64_t* const to = out + j;
    for (size_t k = 0; k < 8; ++k) to[k] = hash_bits(key_hash, in[k]);
  }
  for (; j < n; ++j) out[j] = hash_bits(key_hash, node_hash[j]);
}

}  // namespace

// A prefix of the ranking of all alive nodes, best first: the nodes scoring at least `floor`, or when
// there are more than 2 x keep_count of those, the best keep_count to 2 x keep_count of them. Each node
// is appended and kept only if its score reaches the threshold (a store and an add, no branch the hash
// decides); when the buffer fills, nth_element cuts it back to keep_count and the threshold rises to the
// worst survivor. So every node left out ranks below every node kept.
template <bool kUniformWeights>
std::span<const Placement::Ranked> Placement::rank_best(uint64_t key_hash, uint32_t keep_count, uint64_t floor,
                                                        Scratch& scratch) const {
  PBFS_CODING_CHECK(keep_count > 0 && keep_count <= alive_count_);
  const size_t capacity = std::min(size_t{4} * keep_count, size_t{alive_count_} + 1);  // all kept: never full
  if (scratch.ranked.size() < 2 * capacity) scratch.ranked.resize(2 * capacity);  // kept, then sorted
  Ranked* const kept = scratch.ranked.data();
  const uint64_t* const node_hash = alive_hash_.data();  // locals: the stores below could alias members
  const uint32_t* const node_domain = alive_domain_.data();
  const uint32_t alive_count = alive_count_;
  size_t kept_count = 0;
  uint64_t threshold = floor;
  const uint64_t* scores = nullptr;
  if constexpr (kUniformWeights) {
    if (scratch.scores.size() < alive_count) scratch.scores.resize(alive_count);
    uniform_scores(key_hash, node_hash, scratch.scores.data(), alive_count);
    scores = scratch.scores.data();
  }
  for (uint32_t j = 0; j < alive_count; ++j) {
    const uint64_t score = kUniformWeights ? scores[j] : weighted_score(key_hash, node_hash[j], j);
    kept[kept_count] = {score, j, node_domain[j]};
    kept_count += score >= threshold ? 1 : 0;
    if (kept_count == capacity) {
      std::nth_element(kept, kept + keep_count - 1, kept + capacity, better);
      threshold = kept[keep_count - 1].score;
      kept_count = keep_count;
    }
  }
  if (kept_count > 2 * size_t{keep_count}) {
    std::nth_element(kept, kept + keep_count - 1, kept + kept_count, better);
    kept_count = keep_count;
  }
  if constexpr (kUniformWeights) {
    const std::span<Ranked> sorted(kept + capacity, kept_count);
    sort_uniform<Ranked>({kept, kept_count}, sorted, scratch.bucket_starts);
    return sorted;
  }
  std::sort(kept, kept + kept_count, better);
  return {kept, kept_count};
}

// About the best `keep_count` alive nodes, best first: a prefix of the ranking of all of them. With equal
// weights the scores are uniform over [0, 2^53), so a floor that about 1.5 x keep_count nodes reach is
// known before scanning: the threshold then rarely has to rise, and the few nodes above it need only a
// sort. (Fewer than keep_count above it, several standard deviations off, costs nothing but a shorter
// prefix.) All alive nodes when keep_count is alive_count_.
std::span<const Placement::Ranked> Placement::rank(uint64_t key_hash, uint32_t keep_count, Scratch& scratch) const {
  if (!uniform_weights_) return rank_best<false>(key_hash, keep_count, 0, scratch);
  const uint64_t expected_kept = uint64_t{keep_count} + keep_count / 2;
  const bool keep_all = keep_count == alive_count_ || expected_kept >= alive_count_;
  const uint64_t floor = keep_all ? 0 : kScoreRange - expected_kept * (kScoreRange / alive_count_);
  return rank_best<true>(key_hash, keep_count, floor, scratch);
}

Result<std::vector<uint32_t>> Placement::place(uint64_t key_hash, uint32_t count, const PlacementOptions& options,
                                               const LoadTracker* load, uint64_t fragment_bytes) const {
  if (count > alive_count_) {
    return Status(StatusCode::kUnavailable, "need " + std::to_string(count) + " alive nodes, have " + std::to_string(alive_count_));
  }
  if (count == 0) return std::vector<uint32_t>{};
  // Usually the winners are among the best few: rank only those, and rank everything only if they
  // were not enough. Placement runs once per write over every node, so the candidates live in a
  // buffer reused across calls; one per thread, because one const Placement serves many threads.
  thread_local Scratch scratch;
  const uint32_t prefix = static_cast<uint32_t>(std::min<uint64_t>(alive_count_, uint64_t{2} * count + 8));
  const auto best = rank(key_hash, prefix, scratch);
  std::vector<uint32_t> chosen;
  chosen.reserve(count);
  if (!select(best, count, options, load, fragment_bytes, chosen, best.size() < alive_count_, scratch)) {
    const auto all = rank(key_hash, alive_count_, scratch);
    PBFS_CODING_CHECK(all.size() == alive_count_);
    PBFS_CODING_CHECK(select(all, count, options, load, fragment_bytes, chosen, false, scratch));
  }
  return chosen;
}

// Greedy over the ranked nodes. Pass 0 honours the domain caps and the load bound; each later pass
// relaxes the caps by one and drops the bound, so a lopsided topology still gets `count` distinct nodes.
// False if pass 0 fell short and `partial` says more candidates exist (the caller then ranks them all).
// The chosen nodes are counted per rack and per site as they are taken, and each candidate carries its
// domain, so a candidate costs lookups in small arrays only (a client's placement is cold in the cache
// at every write). `chosen` holds alive indexes while selecting and node ids once it returns true.
bool Placement::select(std::span<const Ranked> ranked, uint32_t count, const PlacementOptions& options,
                       const LoadTracker* load, uint64_t fragment_bytes, std::vector<uint32_t>& chosen,
                       bool partial, Scratch& scratch) const {
  const bool bounded = options.load_bound > 0 && load != nullptr;
  const double mean_per_weight =
      bounded ? double(load->total_bytes() + uint64_t{count} * fragment_bytes) / alive_weight_ : 0;
  const uint32_t rack_cap = options.spread_racks ? (count + racks_alive_ - 1) / racks_alive_ : count;
  const uint32_t site_cap = options.spread_sites ? (count + sites_alive_ - 1) / sites_alive_ : count;
  if (scratch.per_rack.size() < rack_numbers_) scratch.per_rack.resize(rack_numbers_, 0);
  if (scratch.per_site.size() < site_numbers_) scratch.per_site.resize(site_numbers_, 0);
  if (scratch.taken.size() < alive_count_) scratch.taken.resize(alive_count_, 0);
  uint32_t* const per_rack = scratch.per_rack.data();
  uint32_t* const per_site = scratch.per_site.data();
  uint8_t* const taken = scratch.taken.data();
  chosen.clear();  // alive indexes until the end
  bool complete = true;
  for (uint32_t pass = 0; chosen.size() < count; ++pass) {
    PBFS_CODING_CHECK(pass <= count);
    for (size_t r = 0; r < ranked.size() && chosen.size() < count; ++r) {
      const uint32_t a = ranked[r].alive_index;
      const Domain d = domains_[ranked[r].domain];
      if (taken[a] || per_rack[d.rack] >= rack_cap + pass || per_site[d.site] >= site_cap + pass) continue;
      if (bounded && pass == 0) {
        const uint32_t i = alive_positions_[a];
        const double bound = mean_per_weight * nodes_[i].weight * options.load_bound;
        if (double(load->bytes_by_position()[i] + fragment_bytes) > bound) continue;
      }
      chosen.push_back(a);
      taken[a] = 1;
      ++per_rack[d.rack];
      ++per_site[d.site];
    }
    if (pass == 0 && chosen.size() < count && partial) {
      complete = false;
      break;
    }
  }
  for (uint32_t a : chosen) {
    const uint32_t i = alive_positions_[a];
    taken[a] = 0;
    per_rack[rack_index_[i]] = 0;
    per_site[site_index_[i]] = 0;
  }
  if (!complete) return false;
  for (uint32_t& node : chosen) node = nodes_[alive_positions_[node]].id;
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
