// The fragments a fragment server holds, with a value each: one open-addressing hash table (linear
// probing, power-of-two capacity, at most 3/4 full, deletion by shifting the following entries back so
// no tombstones build up). A server holds thousands of fragments and is one of a thousand in a large
// run, so its table is cold in the cache whenever it is touched: a lookup costs one miss on the key's
// home slot (a server's slot is one 64-byte line), the probe continuing into the next lines, instead of
// one on a table of files and another on the file's entries.
// Pointers returned stay valid until the next insertion or erasure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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

template <typename Value>
class FragmentTable {
 public:
  Value* find(const FragmentKey& key) {
    if (size_ == 0) return nullptr;
    for (size_t at = home(key);; at = next(at)) {
      Slot& s = slots_[at];
      if (!s.used) return nullptr;
      if (s.matches(key)) return &s.value;
    }
  }
  const Value* find(const FragmentKey& key) const { return const_cast<FragmentTable*>(this)->find(key); }
  bool contains(const FragmentKey& key) const { return find(key) != nullptr; }

  // The entry for `key`, added (value-initialized) if absent; true if it was added.
  std::pair<Value*, bool> try_emplace(const FragmentKey& key) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    size_t at = home(key);
    for (; slots_[at].used; at = next(at)) {
      if (slots_[at].matches(key)) return {&slots_[at].value, false};
    }
    slots_[at] = Slot{key.file, key.record, key.index, 1, Value{}};
    ++size_;
    return {&slots_[at].value, true};
  }

  // Removes the entry for `key`; returns its value (nullopt if there was none).
  std::optional<Value> erase(const FragmentKey& key) {
    if (size_ == 0) return std::nullopt;
    size_t at = home(key);
    for (; !slots_[at].matches(key); at = next(at)) {
      if (!slots_[at].used) return std::nullopt;
    }
    std::optional<Value> value = std::move(slots_[at].value);
    // Backward shift: each later entry of the probe run that may live in the hole moves into it.
    for (size_t hole = at, probe = next(at);; probe = next(probe)) {
      Slot& s = slots_[probe];
      if (!s.used) {
        slots_[hole] = Slot{};
        break;
      }
      const size_t want = home(s.key());
      // s may fill the hole if its home is not cyclically within (hole, probe].
      if (((probe - want) & mask()) >= ((probe - hole) & mask())) {
        slots_[hole] = std::move(s);
        hole = probe;
      }
    }
    --size_;
    return value;
  }

  size_t size() const { return size_; }
  // Makes room for `n` entries in all, so inserting up to that many never grows the table.
  void reserve(size_t n) {
    size_t capacity = slots_.size();
    while (n * 4 > capacity * 3) capacity = capacity == 0 ? 16 : capacity * 2;  // as grow() would, once
    if (capacity > slots_.size()) rehash(capacity);
  }
  void clear() {
    slots_.clear();
    size_ = 0;
  }

  // f(const FragmentKey&, Value&) for every entry, in table order; f must not insert or erase.
  template <typename F>
  void for_each(F&& f) {
    for (Slot& s : slots_) {
      if (s.used) f(s.key(), s.value);
    }
  }

 private:
  struct Slot {
    FileId file = 0;
    RecordId record;
    uint32_t index = 0;
    uint32_t used = 0;  // in the key's padding
    Value value{};
    FragmentKey key() const { return FragmentKey{file, record, index}; }
    bool matches(const FragmentKey& k) const {
      return used && file == k.file && record.sequence == k.record.sequence && record.client == k.record.client &&
             index == k.index;
    }
  };

  static uint64_t mix(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
  }
  size_t home(const FragmentKey& key) const {
    const uint64_t h = mix(key.file * 0x9e3779b97f4a7c15ull ^ mix(key.record.client + 0x632be59bd9b4e019ull) ^
                           (key.record.sequence << 8 | key.index) * 0xbf58476d1ce4e5b9ull);
    return static_cast<size_t>(h) & mask();
  }
  size_t mask() const { return slots_.size() - 1; }
  size_t next(size_t at) const { return (at + 1) & mask(); }

  void grow() { rehash(slots_.empty() ? 16 : slots_.size() * 2); }
  // Moves every entry into a table of `capacity` (a power of two) slots.
  void rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    for (Slot& s : old) {
      if (!s.used) continue;
      size_t at = home(s.key());
      while (slots_[at].used) at = next(at);
      slots_[at] = std::move(s);
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace pbfs::datapath
