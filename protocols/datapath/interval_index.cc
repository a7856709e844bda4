// The treap forest behind the catalog's overlap queries (interval_index.h). Insertion descends to a
// leaf and rotates the new node up while its priority beats its parent's; erasure rotates the node down
// below its higher-priority child until it is a leaf. Both keep the root-to-node path in a scratch
// vector and repair subtree maxima along it.
#include "protocols/datapath/interval_index.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::datapath {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs interval index: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

uint64_t IntervalForest::priority(Id id) {
  uint64_t x = id + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);  // a bijection of the id: priorities never tie
}

IntervalForest::Node& IntervalForest::make(Id id) {
  require(id != kNone, "a real id");
  blocks_.ensure(id);
  return node(id);
}

bool IntervalForest::before(Id a, uint64_t a_start, Id b) const {
  const uint64_t b_start = node(b).start;
  return a_start != b_start ? a_start < b_start : a < b;
}

void IntervalForest::refresh(Id id) {
  Node& n = node(id);
  uint64_t m = n.end;
  if (n.left != kNone) m = std::max(m, node(n.left).max_end);
  if (n.right != kNone) m = std::max(m, node(n.right).max_end);
  n.max_end = m;
}

IntervalForest::Id IntervalForest::rotate_up(Id parent, Id child) {
  Node& p = node(parent);
  Node& c = node(child);
  if (p.left == child) {
    p.left = c.right;
    c.right = parent;
  } else {
    require(p.right == child, "rotating a child of its parent");
    p.right = c.left;
    c.left = parent;
  }
  refresh(parent);
  refresh(child);
  return child;
}

IntervalForest::Id* IntervalForest::link_of(Id& root, size_t depth) {
  if (depth == 0) return &root;
  Node& parent = node(path_[depth - 1]);
  return parent.left == path_[depth] ? &parent.left : &parent.right;
}

void IntervalForest::insert(Id& root, Id id, uint64_t start, uint64_t end) {
  require(start <= end, "interval start after its end");
  Node& fresh = make(id);
  path_.clear();
  Id* link = &root;
  while (*link != kNone) {
    const Id at = *link;
    require(at != id, "id inserted twice");
    path_.push_back(at);
    Node& n = node(at);
    n.max_end = std::max(n.max_end, end);
    link = before(id, start, at) ? &n.left : &n.right;
  }
  fresh = Node{start, end, end, kNone, kNone};
  *link = id;
  // Rotate up while the heap order is violated; each rotation replaces the parent in its own link.
  const uint64_t mine = priority(id);
  while (!path_.empty() && priority(path_.back()) < mine) {
    const size_t depth = path_.size() - 1;
    Id* parent_link = link_of(root, depth);
    *parent_link = rotate_up(path_.back(), id);
    path_.pop_back();
  }
}

void IntervalForest::erase(Id& root, Id id) {
  const uint64_t start = node(id).start;
  path_.clear();
  Id at = root;
  while (at != id) {
    require(at != kNone, "erasing an id that is not in the tree");
    path_.push_back(at);
    at = before(id, start, at) ? node(at).left : node(at).right;
  }
  path_.push_back(id);
  // Rotate the node down until it has at most one child, then splice it out.
  for (;;) {
    Node& n = node(id);
    if (n.left == kNone || n.right == kNone) break;
    const Id up = priority(n.left) > priority(n.right) ? n.left : n.right;
    const size_t depth = path_.size() - 1;
    *link_of(root, depth) = rotate_up(id, up);
    path_.back() = up;
    path_.push_back(id);
  }
  const Node& n = node(id);
  const Id child = n.left != kNone ? n.left : n.right;
  *link_of(root, path_.size() - 1) = child;
  path_.pop_back();
  for (size_t i = path_.size(); i-- > 0;) refresh(path_[i]);
  Node& gone = node(id);
  gone.left = gone.right = kNone;
  gone.max_end = gone.end;
}

void IntervalForest::push(Id& head, Id id, uint64_t start, uint64_t end) {
  require(start <= end, "interval start after its end");
  make(id) = Node{start, end, end, kNone, head};
  if (head != kNone) node(head).left = id;
  head = id;
}

void IntervalForest::unlink(Id& head, Id id) {
  Node& n = node(id);
  if (n.left != kNone) node(n.left).right = n.right;
  else head = n.right;
  if (n.right != kNone) node(n.right).left = n.left;
  n.left = n.right = kNone;
}

void IntervalForest::build(Id& head) {
  Id root = kNone;
  for (Id id = head; id != kNone;) {
    const Id next = node(id).right;
    insert(root, id, node(id).start, node(id).end);
    id = next;
  }
  head = root;
}

bool IntervalForest::check(Id root, size_t* count) const {
  // Post-order over an explicit stack: children are checked before their parent.
  struct Frame {
    Id id;
    bool expanded;
  };
  size_t seen = 0;
  std::vector<Frame> stack;
  if (root != kNone) stack.push_back({root, false});
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    const Node& n = node(f.id);
    if (!f.expanded) {
      stack.push_back({f.id, true});
      if (n.left != kNone) stack.push_back({n.left, false});
      if (n.right != kNone) stack.push_back({n.right, false});
      continue;
    }
    ++seen;
    uint64_t m = n.end;
    for (Id child : {n.left, n.right}) {
      if (child == kNone) continue;
      if (priority(child) > priority(f.id)) return false;
      m = std::max(m, node(child).max_end);
    }
    if (n.left != kNone && !before(n.left, node(n.left).start, f.id)) return false;
    if (n.right != kNone && before(n.right, node(n.right).start, f.id)) return false;
    if (m != n.max_end) return false;
  }
  // The in-order walk must be strictly increasing (the local checks above only cover parent/child).
  bool ordered = true;
  Id previous = kNone;
  for_each(root, [&](Id id) {
    if (previous != kNone && !before(previous, node(previous).start, id)) ordered = false;
    previous = id;
  });
  if (count != nullptr) *count = seen;
  return ordered;
}

}  // namespace pbfs::datapath
