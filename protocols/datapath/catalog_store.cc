// Compact record storage for catalog replicas (catalog_store.h).
#include "protocols/datapath/catalog_store.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace pbfs::datapath {
namespace {

constexpr uint32_t kNarrowUnplaced = 0xffffu;

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs catalog store: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

RecordStore::RecordStore() : free_words_(2 * kFragmentsMax + 1) {}

uint64_t RecordStore::hash(const RecordId& id) {
  uint64_t x = id.client * 0x9e3779b97f4a7c15ull ^ (id.sequence + 0x632be59bd9b4e019ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint32_t RecordStore::words_for(uint32_t fragments, bool wide) {
  return fragments + (wide ? fragments : (fragments + 1) / 2);
}

uint32_t RecordStore::allocate_words(uint32_t count) {
  require(count > 0 && count < free_words_.size(), "arena run size");
  std::vector<uint32_t>& free = free_words_[count];
  if (!free.empty()) {
    const uint32_t handle = free.back();
    free.pop_back();
    return handle;
  }
  // Runs never straddle blocks: skip the rest of a block that cannot hold this run.
  while (arena_used_ + count > ArenaBlocks::block_end(arena_used_)) arena_used_ = ArenaBlocks::block_end(arena_used_);
  require(arena_used_ + count <= 0xffffffffull, "arena handle space");
  arena_.ensure(arena_used_ + count - 1);
  const uint32_t handle = static_cast<uint32_t>(arena_used_);
  arena_used_ += count;
  return handle;
}

void RecordStore::free_words(uint32_t handle, uint32_t count) { free_words_[count].push_back(handle); }

RecordStore::Slot RecordStore::allocate_slot() {
  if (free_head_ != kNoSlot) {
    const Slot slot = free_head_;
    free_head_ = static_cast<Slot>(record_at(slot).file);
    return slot;
  }
  require(next_fresh_ != kNoSlot, "slot space");
  blocks_.ensure(next_fresh_);
  return next_fresh_++;
}

RecordStore::Slot RecordStore::add(const WriteRecord& w, uint64_t sequence) {
  require(validate_write_record(w).is_ok(), "adding a valid record");
  require(find(w.record_id) == kNoSlot, "record ids are unique");
  const uint32_t fragments = w.layout.fragment_count();
  bool wide = false;
  for (const FragmentEntry& f : w.fragments) wide = wide || (f.node >= kNarrowUnplaced && f.node != kUnplacedNode);
  const Slot slot = allocate_slot();
  Record& r = record_at(slot);
  r.file = w.file_id;
  r.client = w.record_id.client;
  r.record_seq = w.record_id.sequence;
  r.sequence = sequence;
  r.salt = w.crypto.key_salt;
  r.segment_bytes = w.crypto.segment_bytes;
  r.fragment_bytes = static_cast<uint32_t>(w.layout.fragment_bytes);
  r.packet_bytes = w.layout.packet_bytes;
  r.algorithm = static_cast<uint8_t>(w.crypto.algorithm);
  r.backend = static_cast<uint8_t>(w.layout.backend);
  r.k = static_cast<uint8_t>(w.layout.k);
  r.m = static_cast<uint8_t>(w.layout.m);
  r.flags = kLive | kCurrent | (wide ? kWideNodes : 0);
  r.words = allocate_words(words_for(fragments, wide));
  uint32_t* crcs = words(r.words);
  for (uint32_t i = 0; i < fragments; ++i) {
    crcs[i] = w.fragments[i].crc32c;
    set_node(r, i, w.fragments[i].node);
  }
  FileState& file = files_[w.file_id];
  file.last_sequence = std::max(file.last_sequence, sequence);
  if (file.indexed) forest_.insert(file.root, slot, w.extent.offset, w.extent.end());
  else forest_.push(file.root, slot, w.extent.offset, w.extent.end());
  table_insert(slot);
  ++live_;
  ++current_;
  return slot;
}

void RecordStore::set_node(Record& r, uint32_t index, uint32_t node) {
  const uint32_t fragments = r.k + r.m;
  uint32_t* base = words(r.words) + fragments;
  if (r.flags & kWideNodes) {
    base[index] = node;
    return;
  }
  const uint32_t narrow = node == kUnplacedNode ? kNarrowUnplaced : node;
  require(narrow <= kNarrowUnplaced, "narrow node id");
  uint32_t& word = base[index / 2];
  const uint32_t shift = (index & 1) * 16;
  word = (word & ~(0xffffu << shift)) | (narrow << shift);
}

void RecordStore::widen(Record& r) {
  const uint32_t fragments = r.k + r.m;
  std::vector<uint32_t> nodes(fragments);
  std::vector<uint32_t> crcs(words(r.words), words(r.words) + fragments);
  const uint32_t* base = words(r.words) + fragments;
  for (uint32_t i = 0; i < fragments; ++i) {
    const uint32_t narrow = (base[i / 2] >> ((i & 1) * 16)) & 0xffffu;
    nodes[i] = narrow == kNarrowUnplaced ? kUnplacedNode : narrow;
  }
  free_words(r.words, words_for(fragments, false));
  r.words = allocate_words(words_for(fragments, true));
  r.flags |= kWideNodes;
  std::copy(crcs.begin(), crcs.end(), words(r.words));
  for (uint32_t i = 0; i < fragments; ++i) set_node(r, i, nodes[i]);
}

RecordStore::Slot RecordStore::find(const RecordId& id) const {
  if (table_.empty()) return kNoSlot;
  const size_t mask = table_.size() - 1;
  const uint64_t h = hash(id);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const TableEntry e = table_[i];
    if (e.slot == kNoSlot) return kNoSlot;
    if (e.hash != static_cast<uint32_t>(h)) continue;
    const Record& r = record_at(e.slot);
    if (r.client == id.client && r.record_seq == id.sequence) return e.slot;
  }
}

void RecordStore::table_insert(Slot slot) {
  if ((live_ + 1) * 4 > table_.size() * 3) table_grow();
  const size_t mask = table_.size() - 1;
  const uint64_t h = hash(record_id(slot));
  size_t i = h & mask;
  while (table_[i].slot != kNoSlot) i = (i + 1) & mask;
  table_[i] = TableEntry{slot, static_cast<uint32_t>(h)};
}

void RecordStore::table_grow() {
  std::vector<TableEntry> old = std::move(table_);
  table_.assign(old.empty() ? 1024 : old.size() * 2, TableEntry{});
  require(table_.size() <= (uint64_t{1} << 32), "the record table outgrew its 32-bit hashes");
  const size_t mask = table_.size() - 1;
  for (const TableEntry& e : old) {
    if (e.slot == kNoSlot) continue;
    size_t i = e.hash & mask;
    while (table_[i].slot != kNoSlot) i = (i + 1) & mask;
    table_[i] = e;
  }
}

void RecordStore::table_erase(Slot slot) {
  const size_t mask = table_.size() - 1;
  size_t i = hash(record_id(slot)) & mask;
  while (table_[i].slot != slot) {
    require(table_[i].slot != kNoSlot, "erasing a slot the table holds");
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move later members of the probe run into the hole when their home
  // position allows it, so no tombstones are needed.
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (table_[j].slot == kNoSlot) break;
    const size_t home = table_[j].hash & mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    table_[i] = table_[j];
    i = j;
  }
  table_[i] = TableEntry{};
}

bool RecordStore::current(Slot slot) const { return (record_at(slot).flags & kCurrent) != 0; }

void RecordStore::supersede(Slot slot) {
  Record& r = record_at(slot);
  require((r.flags & kLive) && (r.flags & kCurrent), "superseding a current record");
  FileState& file = files_.at(r.file);
  if (file.indexed) forest_.erase(file.root, slot);
  else forest_.unlink(file.root, slot);
  r.flags &= static_cast<uint8_t>(~kCurrent);
  --current_;
}

void RecordStore::erase(Slot slot) {
  Record& r = record_at(slot);
  require(r.flags & kLive, "erasing a live record");
  if (r.flags & kCurrent) supersede(slot);
  table_erase(slot);
  free_words(r.words, words_for(r.k + r.m, (r.flags & kWideNodes) != 0));
  r.flags = 0;
  r.file = free_head_;
  free_head_ = slot;
  --live_;
}

void RecordStore::set_fragment(Slot slot, uint32_t index, uint32_t node, uint32_t crc32c) {
  Record& r = record_at(slot);
  require(index < static_cast<uint32_t>(r.k + r.m), "fragment index below k + m");
  if (!(r.flags & kWideNodes) && node >= kNarrowUnplaced && node != kUnplacedNode) widen(r);
  words(r.words)[index] = crc32c;
  set_node(r, index, node);
}

Extent RecordStore::extent(Slot slot) const {
  const uint64_t start = forest_.start(slot);
  return Extent{start, forest_.end(slot) - start};
}

uint32_t RecordStore::fragment_node(Slot slot, uint32_t index) const {
  const Record& r = record_at(slot);
  const uint32_t* base = words(r.words) + (r.k + r.m);
  if (r.flags & kWideNodes) return base[index];
  const uint32_t narrow = (base[index / 2] >> ((index & 1) * 16)) & 0xffffu;
  return narrow == kNarrowUnplaced ? kUnplacedNode : narrow;
}

uint32_t RecordStore::fragment_crc(Slot slot, uint32_t index) const { return words(record_at(slot).words)[index]; }

WriteRecord RecordStore::write_record(Slot slot) const {
  const Record& r = record_at(slot);
  WriteRecord w;
  w.file_id = r.file;
  w.extent = extent(slot);
  w.record_id = record_id(slot);
  w.crypto.algorithm = static_cast<AeadAlgorithm>(r.algorithm);
  w.crypto.segment_bytes = r.segment_bytes;
  w.crypto.key_salt = r.salt;
  w.layout.backend = static_cast<ErasureBackend>(r.backend);
  w.layout.k = r.k;
  w.layout.m = r.m;
  w.layout.payload_bytes = aead_sealed_bytes(w.extent.length, r.segment_bytes);
  w.layout.fragment_bytes = r.fragment_bytes;
  w.layout.packet_bytes = r.packet_bytes;
  const uint32_t fragments = r.k + r.m;
  w.fragments.resize(fragments);
  for (uint32_t i = 0; i < fragments; ++i) w.fragments[i] = FragmentEntry{fragment_node(slot, i), fragment_crc(slot, i)};
  return w;
}

RecordStore::FileState* RecordStore::indexed_file(FileId file) {
  auto it = files_.find(file);
  if (it == files_.end()) return nullptr;
  FileState& state = it->second;
  if (!state.indexed) {
    forest_.build(state.root);
    state.indexed = true;
  }
  return &state;
}

void RecordStore::query(FileId file, const Extent& extent, std::vector<Slot>& out) {
  out.clear();
  const FileState* state = indexed_file(file);
  if (state == nullptr) return;
  forest_.query(state->root, extent.offset, extent.end(), [&](IntervalForest::Id id) { out.push_back(id); });
  std::sort(out.begin(), out.end(), [&](Slot a, Slot b) { return sequence(a) < sequence(b); });
}

void RecordStore::current_records(FileId file, std::vector<Slot>& out) {
  out.clear();
  const FileState* state = indexed_file(file);
  if (state == nullptr) return;
  forest_.for_each(state->root, [&](IntervalForest::Id id) { out.push_back(id); });
}

uint64_t RecordStore::last_sequence(FileId file) const {
  auto it = files_.find(file);
  return it == files_.end() ? 0 : it->second.last_sequence;
}

size_t RecordStore::memory_bytes() const {
  size_t bytes = blocks_.memory_bytes() + arena_.memory_bytes();
  for (const auto& free : free_words_) bytes += free.capacity() * sizeof(uint32_t);
  bytes += table_.capacity() * sizeof(TableEntry);
  bytes += forest_.memory_bytes();
  // An unordered_map node: next pointer, key, value, rounded up by the allocator; one bucket pointer each.
  bytes += files_.size() * (sizeof(void*) + sizeof(FileId) + sizeof(FileState) + 16) + files_.bucket_count() * sizeof(void*);
  return bytes;
}

}  // namespace pbfs::datapath
