// The fragments a fragment server holds, with a value each: one open-addressing hash table (linear
// probing, power-of-two capacity, at most 3/4 full, deletion by shifting the following entries back so
// no tombstones build up). A server holds thousands of fragments and is one of a thousand in a large
// run, so its table is cold in the cache whenever it is touched. Beside the slots lies one tag byte per
// slot (0: empty, else seven bits of the key's hash), so a probe walks the tags, 64 to a cache line,
// and reads a slot only where the tag matches: an insertion costs one miss on the tags and one on the
// slot it fills, a lookup about the same, however long the probe run (a slot is one 64-byte line, and
// at 3/4 full a probe run spans several).
// Pointers returned stay valid until the next insertion or erasure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "coding/ids.h"

namespace pbfs::datapath {

// A fragment on a server: fragment `index` of record `record` of file `file`.
struct FragmentKey {
  FileId file = 0;
  RecordId record;
  uint32_t index = 0;
  bool operator==(const FragmentKey&) const = default;
  auto operator<=>(const FragmentKey&) const = default;
};

// The table's hash of a key (also the hash of benchmarks' reference maps).
struct FragmentKeyHash {
  static uint64_t mix(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
  }
  uint64_t operator()(const FragmentKey& key) const {
    return mix(key.file * 0x9e3779b97f4a7c15ull ^ mix(key.record.client + 0x632be59bd9b4e019ull) ^
               (key.record.sequence << 8 | key.index) * 0xbf58476d1ce4e5b9ull);
  }
};

template <typename Value>
class FragmentTable {
 public:
  Value* find(const FragmentKey& key) {
    if (size_ == 0) return nullptr;
    const Place place = locate(key);
    return place.found ? &slot(place.at).value : nullptr;
  }
  const Value* find(const FragmentKey& key) const { return const_cast<FragmentTable*>(this)->find(key); }
  bool contains(const FragmentKey& key) const { return find(key) != nullptr; }

  // The entry for `key`, added (value-initialized) if absent; true if it was added.
  std::pair<Value*, bool> try_emplace(const FragmentKey& key) {
    if ((size_ + 1) * 4 > tags_.size() * 3) grow();
    const Place place = locate(key);
    if (place.found) return {&slot(place.at).value, false};
    tags_[place.at] = place.tag;
    cells_[place.at].slot = Slot{key, Value{}};  // begins the slot's lifetime (a trivial assignment)
    ++size_;
    return {&slot(place.at).value, true};
  }

  // Removes the entry for `key`; returns its value (nullopt if there was none).
  std::optional<Value> erase(const FragmentKey& key) {
    if (size_ == 0) return std::nullopt;
    const Place place = locate(key);
    if (!place.found) return std::nullopt;
    std::optional<Value> value = slot(place.at).value;
    // Backward shift: each later entry of the probe run that may live in the hole moves into it.
    for (size_t hole = place.at, probe = next(place.at);; probe = next(probe)) {
      if (tags_[probe] == 0) {
        tags_[hole] = 0;
        break;
      }
      const size_t want = hash(slot(probe).key) & mask();
      // The entry may fill the hole if its home is not cyclically within (hole, probe].
      if (((probe - want) & mask()) >= ((probe - hole) & mask())) {
        tags_[hole] = tags_[probe];
        cells_[hole].slot = slot(probe);
        hole = probe;
      }
    }
    --size_;
    return value;
  }

  size_t size() const { return size_; }
  // Makes room for `n` entries in all, so inserting up to that many never grows the table.
  void reserve(size_t n) {
    size_t capacity = tags_.size();
    while (n * 4 > capacity * 3) capacity = capacity == 0 ? 16 : capacity * 2;  // as grow() would, once
    if (capacity > tags_.size()) rehash(capacity);
  }
  void clear() {
    tags_.clear();
    cells_.reset();
    size_ = 0;
  }

  // f(const FragmentKey&, Value&) for every entry, in table order; f must not insert or erase.
  template <typename F>
  void for_each(F&& f) {
    for (size_t at = 0; at < tags_.size(); ++at) {
      if (tags_[at] != 0) f(std::as_const(slot(at).key), slot(at).value);
    }
  }

 private:
  struct Slot {
    FragmentKey key;
    Value value{};
  };
  static_assert(std::is_trivially_copyable_v<Slot> && std::is_trivially_destructible_v<Slot>,
                "slots are copied bytewise and never destroyed");
  // A slot's storage, left uninitialized: a slot is written when an entry lands in it, so growing the
  // table does not first write every byte of the new array (half of which stays empty).
  union Cell {
    Cell() {}
    Slot slot;
  };
  Slot& slot(size_t at) { return cells_[at].slot; }
  // Where `key` lies (found), or else the empty slot that ends its probe run, with its tag. The table
  // must have slots.
  struct Place {
    size_t at;
    uint8_t tag;
    bool found;
  };
  Place locate(const FragmentKey& key) {
    const uint64_t h = hash(key);
    const uint8_t tag = tag_of(h);
    size_t at = h & mask();
    for (uint8_t t; (t = tags_[at]) != 0; at = next(at)) {
      if (t == tag && slot(at).key == key) return {at, tag, true};
    }
    return {at, tag, false};
  }

  static uint64_t hash(const FragmentKey& key) { return FragmentKeyHash{}(key); }
  // The hash's top seven bits, never 0; the slot index comes from its low bits.
  static uint8_t tag_of(uint64_t h) { return static_cast<uint8_t>(0x80 | h >> 57); }
  size_t mask() const { return tags_.size() - 1; }
  size_t next(size_t at) const { return (at + 1) & mask(); }

  void grow() { rehash(tags_.empty() ? 16 : tags_.size() * 2); }
  // Moves every entry into a table of `capacity` (a power of two) slots.
  void rehash(size_t capacity) {
    std::vector<uint8_t> old_tags = std::move(tags_);
    std::unique_ptr<Cell[]> old_cells = std::move(cells_);
    tags_.assign(capacity, 0);
    cells_.reset(new Cell[capacity]);
    for (size_t from = 0; from < old_tags.size(); ++from) {
      if (old_tags[from] == 0) continue;
      const Slot& moving = old_cells[from].slot;
      size_t at = hash(moving.key) & mask();
      while (tags_[at] != 0) at = next(at);
      tags_[at] = old_tags[from];
      cells_[at].slot = moving;
    }
  }

  std::vector<uint8_t> tags_;  // one per slot: 0 if the slot is empty, else its key's tag_of(hash)
  std::unique_ptr<Cell[]> cells_;  // as many as tags; a slot is alive where its tag is not 0
  size_t size_ = 0;
};

}  // namespace pbfs::datapath
