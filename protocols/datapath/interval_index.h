// The catalog's overlap index: which current records of a file touch a byte range. A forest of treaps
// keyed by interval start, each node augmented with the largest end in its subtree, so a query visits
// only subtrees that can overlap. All trees (one per file) share one chunked node pool indexed by ids the
// caller chooses (the catalog's record slots): a node costs 32 bytes and a file with one record costs
// no allocation of its own. Iterative throughout (no recursion), with treap priorities derived from the
// id so nothing random is stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "protocols/datapath/block_array.h"

namespace pbfs::datapath {

class IntervalForest {
 public:
  using Id = uint32_t;
  static constexpr Id kNone = 0xffffffffu;

  // Adds [start, end) under `id` to the tree rooted at `root` (kNone: an empty tree). The id must not be
  // in any tree; its storage is created on first use.
  void insert(Id& root, Id id, uint64_t start, uint64_t end);
  // Removes `id`, which must be in the tree rooted at `root`; its start and end stay readable.
  void erase(Id& root, Id id);

  // An unindexed set: intervals kept in a doubly linked list (through the same nodes) until someone
  // queries them, so a replica that never answers queries never pays for the tree. push and unlink are
  // O(1); build turns the list headed by `head` into a tree (the same tree, whatever the order of
  // insertion: a treap's shape depends only on its keys and priorities) and leaves its root in `head`.
  void push(Id& head, Id id, uint64_t start, uint64_t end);
  void unlink(Id& head, Id id);
  void build(Id& head);
  // Calls visit(id) once for every interval [s, e) in the tree with s < e, s < hi and lo < e (half-open
  // overlap; empty intervals and empty queries match nothing). Order: unspecified.
  template <typename Visit>
  void query(Id root, uint64_t lo, uint64_t hi, Visit&& visit) const;
  // Calls visit(id) for every interval in the tree, in start order.
  template <typename Visit>
  void for_each(Id root, Visit&& visit) const;

  uint64_t start(Id id) const { return node(id).start; }
  uint64_t end(Id id) const { return node(id).end; }
  // Bytes held by the node pool.
  size_t memory_bytes() const { return blocks_.memory_bytes(); }
  // Checks the search order, heap order and subtree maxima of one tree; returns false on a violation
  // and counts its nodes (tests).
  bool check(Id root, size_t* count) const;

 private:
  struct Node {
    uint64_t start;
    uint64_t end;
    uint64_t max_end;  // largest end in this subtree
    Id left;   // in a list: the previous node
    Id right;  // in a list: the next node
  };
  static_assert(sizeof(Node) == 32);
  Node& node(Id id) { return blocks_[id]; }
  const Node& node(Id id) const { return blocks_[id]; }
  Node& make(Id id);
  static uint64_t priority(Id id);
  // Strict order of (start, id): ties on start are broken by id so keys are unique.
  bool before(Id a, uint64_t a_start, Id b) const;
  void refresh(Id id);             // recomputes max_end from the children
  Id rotate_up(Id parent, Id child);  // child takes parent's place; returns child
  Id* link_of(Id& root, size_t depth);  // where path_[depth] hangs (root or a parent's child slot)

  BlockArray<Node, 4, 9> blocks_;  // 16 nodes at first, then doubling up to 512 per block
  std::vector<Id> path_;  // scratch: the root-to-node path of the operation in progress
  mutable std::vector<Id> stack_;  // scratch for queries
};

template <typename Visit>
void IntervalForest::query(Id root, uint64_t lo, uint64_t hi, Visit&& visit) const {
  if (root == kNone || lo >= hi) return;
  stack_.clear();
  stack_.push_back(root);
  while (!stack_.empty()) {
    const Id id = stack_.back();
    stack_.pop_back();
    const Node& n = node(id);
    if (n.max_end <= lo) continue;  // nothing below ends after lo
    if (n.left != kNone) stack_.push_back(n.left);
    if (n.start >= hi) continue;  // this node and its right subtree start too late
    if (n.start < n.end && lo < n.end) visit(id);
    if (n.right != kNone) stack_.push_back(n.right);
  }
}

template <typename Visit>
void IntervalForest::for_each(Id root, Visit&& visit) const {
  // In-order walk with an explicit stack.
  std::vector<Id> stack;
  Id id = root;
  while (id != kNone || !stack.empty()) {
    while (id != kNone) {
      stack.push_back(id);
      id = node(id).left;
    }
    id = stack.back();
    stack.pop_back();
    visit(id);
    id = node(id).right;
  }
}

}  // namespace pbfs::datapath
