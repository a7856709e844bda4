// Placements shared through the config.
#include "protocols/datapath/config.h"

#include <algorithm>
#include <bit>

namespace pbfs::datapath {

namespace {

uint64_t hash_nodes(const std::vector<PlacementNode>& nodes) {
  uint64_t h = nodes.size();
  for (const PlacementNode& n : nodes) {
    const uint64_t x = (uint64_t{n.id} << 33 | uint64_t{n.rack} << 1 | (n.alive ? 1 : 0)) ^
                       (uint64_t{n.site} << 48) ^ std::bit_cast<uint64_t>(n.weight);
    h = (h ^ x) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  return h;
}

}  // namespace

std::shared_ptr<const Placement> PlacementCache::get(std::vector<PlacementNode> nodes) {
  std::erase_if(entries_, [](const Entry& e) { return e.placement.expired(); });
  const uint64_t hash = hash_nodes(nodes);
  for (const Entry& e : entries_) {
    if (e.hash != hash || e.nodes != nodes) continue;
    if (std::shared_ptr<const Placement> held = e.placement.lock()) return held;
  }
  Result<Placement> placement = Placement::create(nodes);
  if (!placement.is_ok()) return nullptr;
  auto shared = std::make_shared<const Placement>(std::move(placement).value());
  entries_.push_back(Entry{hash, std::move(nodes), shared});
  return shared;
}

std::shared_ptr<const Placement> placement_over(const DataPathConfig& config, const std::function<bool(NodeId)>& alive) {
  std::vector<PlacementNode> nodes = config.nodes;
  for (PlacementNode& n : nodes) n.alive = !alive || alive(n.id);
  return config.placements->get(std::move(nodes));
}

}  // namespace pbfs::datapath
