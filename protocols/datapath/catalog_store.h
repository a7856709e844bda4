// The catalog's in-memory records, stored compactly because a catalog replica holds every record of its
// shards (the goal is <= 200 bytes per record at a million records). A record lives in one fixed-size
// slot (ids, sequence, crypto salt, coding shape) plus a few words in a shared arena (fragment CRCs and
// fragment nodes, packed as 16-bit ids when the cluster allows); its extent lives in the per-file
// interval index while it is current; an open-addressing table finds a slot from a RecordId. A file's
// interval index is built the first time the file is queried (until then its current records are only
// listed): backups, which never answer queries, never pay for it. Nothing
// here knows about logs or replication: the catalog applies committed log entries to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "coding/record.h"
#include "protocols/datapath/block_array.h"
#include "protocols/datapath/interval_index.h"

namespace pbfs::datapath {

class RecordStore {
 public:
  using Slot = uint32_t;
  static constexpr Slot kNoSlot = 0xffffffffu;

  RecordStore();

  // Adds a committed record as current in its file with the catalog sequence assigned to it. The record
  // must be valid and its id new.
  Slot add(const WriteRecord& record, uint64_t sequence);
  // The slot of a live (current or superseded, not yet collected) record, or kNoSlot.
  Slot find(const RecordId& id) const;
  // Takes a current record out of its file's index: later queries no longer return it.
  void supersede(Slot slot);
  // Forgets a record (current or superseded) and frees its slot.
  void erase(Slot slot);
  // Forgets every record of the files for which in_files(file) holds, and the files themselves (their
  // last sequences too): a replica starting a shard over rebuilds them from its log.
  template <typename Pred>
  void erase_files(Pred&& in_files);
  // Repair: fragment `index` now lives on `node`, with this checksum.
  void set_fragment(Slot slot, uint32_t index, uint32_t node, uint32_t crc32c);

  bool current(Slot slot) const;
  FileId file(Slot slot) const { return record_at(slot).file; }
  RecordId record_id(Slot slot) const { return {record_at(slot).client, record_at(slot).record_seq}; }
  uint64_t sequence(Slot slot) const { return record_at(slot).sequence; }
  Extent extent(Slot slot) const;
  uint32_t fragment_count(Slot slot) const { return record_at(slot).k + record_at(slot).m; }
  uint32_t fragment_node(Slot slot, uint32_t index) const;
  uint32_t fragment_crc(Slot slot, uint32_t index) const;
  // The whole record as it was committed (with repairs applied).
  WriteRecord write_record(Slot slot) const;

  // Current records of `file` overlapping `extent`, in ascending sequence.
  void query(FileId file, const Extent& extent, std::vector<Slot>& out);
  // Every current record of a file, in extent order; every file with at least one record.
  void current_records(FileId file, std::vector<Slot>& out);
  template <typename Visit>
  void for_each_file(Visit&& visit) const {
    for (const auto& [file, state] : files_) visit(file);
  }
  // The highest sequence assigned in a file (0: none yet). Kept after records are collected so that
  // sequences never repeat.
  uint64_t last_sequence(FileId file) const;

  size_t records() const { return live_; }
  size_t current_records_total() const { return current_; }
  // Bytes of memory held (slots, arena, index, hash table, per-file map), for the memory goal.
  size_t memory_bytes() const;

 private:
  // One record's fixed part (72 bytes). The extent is in the interval forest under the same id.
  struct Record {
    FileId file;  // the next free slot while on the free list
    uint64_t client;
    uint64_t record_seq;
    uint64_t sequence;
    KeySalt salt;
    uint32_t segment_bytes;
    uint32_t fragment_bytes;
    uint32_t packet_bytes;
    uint32_t words;  // arena handle: crc32c[k + m], then nodes (16-bit pairs, or 32-bit when wide)
    uint8_t algorithm;
    uint8_t backend;
    uint8_t k;
    uint8_t m;
    uint8_t flags;
  };
  static_assert(sizeof(Record) <= 72);
  enum Flag : uint8_t { kLive = 1, kCurrent = 2, kWideNodes = 4 };
  struct FileState {
    IntervalForest::Id root = IntervalForest::kNone;  // the tree's root, or the list's head
    uint64_t last_sequence = 0;
    bool indexed = false;  // a tree (built by the first query), not a list
  };
  FileState* indexed_file(FileId file);  // nullptr for a file without records
  // Slot blocks grow from 16 to 512 records, arena blocks from 256 to 8192 words (a run is at most
  // 2 * 256 words, so it fits any block from the second on). A 1,000-node run has a store on every node
  // with a few thousand records each, so the last block, mostly empty, must stay small.
  using RecordBlocks = BlockArray<Record, 4, 9>;
  using ArenaBlocks = BlockArray<uint32_t, 8, 13>;

  Record& record_at(Slot slot) { return blocks_[slot]; }
  const Record& record_at(Slot slot) const { return blocks_[slot]; }
  Slot allocate_slot();
  static uint32_t words_for(uint32_t fragments, bool wide);
  uint32_t* words(uint32_t handle) { return &arena_[handle]; }
  const uint32_t* words(uint32_t handle) const { return &arena_[handle]; }
  uint32_t allocate_words(uint32_t count);
  void free_words(uint32_t handle, uint32_t count);
  void set_node(Record& r, uint32_t index, uint32_t node);
  void widen(Record& r);

  // Open addressing with linear probing. Each entry keeps the low 32 bits of its record's hash beside
  // the slot: they give its home position without reading the record (growth, deletion) and filter
  // probes, so a lookup reads only the record it finds (one cache miss, not one per probe).
  struct TableEntry {
    Slot slot = kNoSlot;  // kNoSlot: empty
    uint32_t hash = 0;
  };
  static uint64_t hash(const RecordId& id);
  void table_insert(Slot slot);
  void table_erase(Slot slot);
  void table_grow();

  RecordBlocks blocks_;
  Slot next_fresh_ = 0;
  Slot free_head_ = kNoSlot;
  size_t live_ = 0;
  size_t current_ = 0;
  ArenaBlocks arena_;
  uint64_t arena_used_ = 0;                    // words handed out by the bump allocator
  std::vector<std::vector<uint32_t>> free_words_;  // by size: handles of freed runs
  std::vector<TableEntry> table_;
  IntervalForest forest_;
  std::unordered_map<FileId, FileState> files_;
};

template <typename Pred>
void RecordStore::erase_files(Pred&& in_files) {
  for (Slot slot = 0; slot < next_fresh_; ++slot) {
    const Record& r = record_at(slot);
    if ((r.flags & kLive) && in_files(r.file)) erase(slot);
  }
  std::erase_if(files_, [&](const auto& file) { return in_files(file.first); });
}

}  // namespace pbfs::datapath
