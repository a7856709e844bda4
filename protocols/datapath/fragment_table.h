// The fragments a fragment server holds, with a value each, grouped by file: an open-addressing table
// of files (linear probing, at most half full), each holding a vector of its entries sorted by (record,
// index). A server holds thousands of fragments of hundreds of files and is one of many in a large run,
// so its index is cold in the cache whenever it is touched: a lookup costs one miss on the file's slot,
// then a scan of one short vector from its newest end, whose loads do not depend on each other (a
// binary search's do), instead of a chain of hash bucket, node and vector.
// Pointers returned stay valid until the next insertion into or erasure from the same file.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
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
    File* file = find_file(key.file);
    if (file == nullptr) return nullptr;
    const size_t at = position(file->entries, key);
    return at < file->entries.size() && file->entries[at].matches(key) ? &file->entries[at].value : nullptr;
  }
  const Value* find(const FragmentKey& key) const { return const_cast<FragmentTable*>(this)->find(key); }
  bool contains(const FragmentKey& key) const { return find(key) != nullptr; }

  // The entry for `key`, added (value-initialized) if absent; true if it was added.
  std::pair<Value*, bool> try_emplace(const FragmentKey& key) {
    std::vector<Entry>& entries = file_for(key.file).entries;
    const size_t at = position(entries, key);
    if (at < entries.size() && entries[at].matches(key)) return {&entries[at].value, false};
    auto it = entries.insert(entries.begin() + static_cast<std::ptrdiff_t>(at), Entry{key.record, key.index, Value{}});
    ++size_;
    return {&it->value, true};
  }

  // Removes the entry for `key`; returns its value (nullopt if there was none).
  std::optional<Value> erase(const FragmentKey& key) {
    File* file = find_file(key.file);
    if (file == nullptr) return std::nullopt;
    const size_t at = position(file->entries, key);
    if (at == file->entries.size() || !file->entries[at].matches(key)) return std::nullopt;
    std::optional<Value> value = std::move(file->entries[at].value);
    file->entries.erase(file->entries.begin() + static_cast<std::ptrdiff_t>(at));
    --size_;
    if (file->entries.empty()) erase_file(static_cast<size_t>(file - files_.data()));
    return value;
  }

  size_t size() const { return size_; }
  void clear() {
    files_.clear();
    file_count_ = 0;
    size_ = 0;
  }

  // f(const FragmentKey&, Value&) for every entry; f must not insert or erase.
  template <typename F>
  void for_each(F&& f) {
    for (File& file : files_) {
      for (Entry& e : file.entries) f(FragmentKey{file.id, e.record, e.index}, e.value);
    }
  }

 private:
  struct Entry {
    RecordId record;
    uint32_t index = 0;
    Value value;
    bool matches(const FragmentKey& k) const { return record == k.record && index == k.index; }
  };
  // A slot of the file table: free while it holds no entries.
  struct File {
    FileId id = 0;
    std::vector<Entry> entries;
  };

  // Where `key` is or would go in a file's entries (the first entry not below it). Scanned from the end:
  // new records sort last, and the loads are independent, so a short vector costs about one miss.
  static size_t position(const std::vector<Entry>& entries, const FragmentKey& key) {
    size_t at = entries.size();
    while (at > 0 && std::tie(key.record, key.index) <= std::tie(entries[at - 1].record, entries[at - 1].index)) --at;
    return at;
  }

  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }
  size_t home(FileId file) const { return static_cast<size_t>(mix(file)) & (files_.size() - 1); }
  size_t next(size_t at) const { return (at + 1) & (files_.size() - 1); }

  File* find_file(FileId id) {
    if (file_count_ == 0) return nullptr;
    for (size_t at = home(id);; at = next(at)) {
      File& f = files_[at];
      if (f.entries.empty()) return nullptr;
      if (f.id == id) return &f;
    }
  }
  File& file_for(FileId id) {
    if (File* f = find_file(id)) return *f;
    if ((file_count_ + 1) * 2 > files_.size()) grow();
    size_t at = home(id);
    while (!files_[at].entries.empty()) at = next(at);
    files_[at].id = id;
    ++file_count_;  // the caller adds its first entry at once
    return files_[at];
  }
  // Backward shift: later files of the probe run that may live in the hole move into it.
  void erase_file(size_t hole) {
    --file_count_;
    for (size_t probe = next(hole); !files_[probe].entries.empty(); probe = next(probe)) {
      const size_t mask = files_.size() - 1;
      if (((probe - home(files_[probe].id)) & mask) >= ((probe - hole) & mask)) {
        files_[hole] = std::move(files_[probe]);
        files_[probe].entries.clear();
        hole = probe;
      }
    }
  }
  void grow() {
    std::vector<File> old = std::move(files_);
    files_.clear();
    files_.resize(old.empty() ? 16 : old.size() * 2);
    for (File& f : old) {
      if (f.entries.empty()) continue;
      size_t at = home(f.id);
      while (!files_[at].entries.empty()) at = next(at);
      files_[at] = std::move(f);
    }
  }

  std::vector<File> files_;  // power-of-two size
  size_t file_count_ = 0;
  size_t size_ = 0;
};

}  // namespace pbfs::datapath
