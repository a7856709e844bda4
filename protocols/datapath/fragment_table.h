// The fragments a fragment server holds, with a value each, grouped by file: a hash table of files, each
// a vector of entries sorted by (record, index). A server holds thousands of fragments of hundreds of
// files; a lookup touches the file's slot and one short contiguous vector instead of walking a chain of
// separately allocated nodes, and an entry costs its own size plus a share of its file's vector.
// Pointers returned stay valid until the next insertion into or erasure from the same file.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <tuple>
#include <unordered_map>
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
    auto file = files_.find(key.file);
    if (file == files_.end()) return nullptr;
    auto at = position(file->second, key);
    return at != file->second.end() && at->record == key.record && at->index == key.index ? &at->value : nullptr;
  }
  const Value* find(const FragmentKey& key) const { return const_cast<FragmentTable*>(this)->find(key); }
  bool contains(const FragmentKey& key) const { return find(key) != nullptr; }

  // The entry for `key`, added (value-initialized) if absent; true if it was added.
  std::pair<Value*, bool> try_emplace(const FragmentKey& key) {
    std::vector<Entry>& entries = files_[key.file];
    auto at = position(entries, key);
    if (at != entries.end() && at->record == key.record && at->index == key.index) return {&at->value, false};
    at = entries.insert(at, Entry{key.record, key.index, Value{}});
    ++size_;
    return {&at->value, true};
  }

  // Removes the entry for `key`; returns its value (nullopt if there was none).
  std::optional<Value> erase(const FragmentKey& key) {
    auto file = files_.find(key.file);
    if (file == files_.end()) return std::nullopt;
    auto at = position(file->second, key);
    if (at == file->second.end() || at->record != key.record || at->index != key.index) return std::nullopt;
    std::optional<Value> value = std::move(at->value);
    file->second.erase(at);
    if (file->second.empty()) files_.erase(file);
    --size_;
    return value;
  }

  size_t size() const { return size_; }
  void clear() {
    files_.clear();
    size_ = 0;
  }

  // f(const FragmentKey&, Value&) for every entry; f must not insert or erase.
  template <typename F>
  void for_each(F&& f) {
    for (auto& [file, entries] : files_) {
      for (Entry& e : entries) f(FragmentKey{file, e.record, e.index}, e.value);
    }
  }

 private:
  struct Entry {
    RecordId record;
    uint32_t index = 0;
    Value value;
  };
  static typename std::vector<Entry>::iterator position(std::vector<Entry>& entries, const FragmentKey& key) {
    return std::lower_bound(entries.begin(), entries.end(), key, [](const Entry& e, const FragmentKey& k) {
      return std::tie(e.record, e.index) < std::tie(k.record, k.index);
    });
  }

  std::unordered_map<FileId, std::vector<Entry>> files_;
  size_t size_ = 0;
};

}  // namespace pbfs::datapath
