// The catalog's replicated log on disk and on the wire. One encoding of a log entry serves Replicate,
// SyncReply and the log file; the file is a sequence of checksummed frames appended in order, where an
// entry whose index is not above the previous one rewinds the log (a backup dropping a suffix that a
// new primary did not keep). LogOffsets remembers, with one word per 64 entries plus one pair per
// rewind, where to start reading the file to get a range of entries back (catch-up of lagging replicas
// after the in-memory tail has been trimmed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "coding/status.h"
#include "coding/wire.h"
#include "protocols/datapath/messages.h"

namespace pbfs::datapath {

// One log entry's encoding (defined in catalog_messages.cc, next to the messages that embed it).
size_t log_entry_encoded_bytes(const CatalogLogEntry& entry);
void encode_log_entry(const CatalogLogEntry& entry, WireWriter& out);
// Bounds-checked; kMalformed when the operation and its content disagree.
Result<CatalogLogEntry> decode_log_entry(WireReader& in);

// A disk frame: u32 body bytes, u32 CRC32C of (previous frame's CRC, commit hint, body), u32 previous
// frame's CRC (0 for the first frame of the file), u32 zero, u64 commit hint, body (the entry). The
// commit hint is the writer's commit index when it wrote the frame: entries up to it are known
// committed after a restart, so recovery applies them without asking anyone. The chain of CRCs makes a
// stale frame left behind a shorter rewrite (after a torn or rotten frame ended the log) unreadable
// instead of a plausible continuation.
constexpr size_t kLogFrameHeaderBytes = 24;
constexpr uint32_t kLogFrameBodyBytesMax = 1u << 24;
size_t log_frame_bytes(const CatalogLogEntry& entry);
struct LogFrame {
  Bytes bytes;
  uint32_t crc = 0;  // the next frame's "previous CRC"
};
LogFrame encode_log_frame(const CatalogLogEntry& entry, uint64_t commit_hint, uint32_t previous_crc);

// Decodes frames from consecutive chunks of a log file. A torn or rotten frame, or one that does not
// chain to the frame before it, ends the log there.
class LogFrameReader {
 public:
  // Reading from the start of the file: the first frame must chain to 0. Reading from the middle
  // (a catch-up read from a known frame offset): the first frame is trusted to start the chain.
  static LogFrameReader from_start() { return LogFrameReader(0, true, 0); }
  static LogFrameReader from_offset(uint64_t offset) { return LogFrameReader(offset, false, 0); }
  // Adds the next chunk of the file (chunks must be contiguous).
  void feed(ByteSpan bytes);
  enum class Next : uint8_t { kEntry, kNeedMore, kBad };
  // The next whole frame: its entry, commit hint and file offset.
  Next next(CatalogLogEntry& entry, uint64_t& commit_hint, uint64_t& frame_offset);
  // File offset just past the last frame returned, and that frame's CRC.
  uint64_t consumed_offset() const { return base_offset_ + position_; }
  uint32_t last_crc() const { return last_crc_; }

 private:
  LogFrameReader(uint64_t offset, bool anchored, uint32_t crc) : base_offset_(offset), anchored_(anchored), last_crc_(crc) {}
  Bytes buffer_;
  size_t position_ = 0;
  uint64_t base_offset_ = 0;  // file offset of buffer_[0]
  bool anchored_ = true;      // the next frame must chain to last_crc_
  uint32_t last_crc_ = 0;
};

// Where entries sit in the log file.
class LogOffsets {
 public:
  static constexpr uint64_t kStride = 64;  // one checkpoint per this many indexes
  // Records that the frame of entry `index` was written at `offset` (appends are in file order). An
  // index not above the last one is a rewind: later entries of the old suffix are gone.
  void appended(uint64_t index, uint64_t offset, uint64_t frame_bytes);
  // Where to start reading to get entries first..last back, and the last index that read can serve
  // without crossing a later rewind (the caller asks again for the rest).
  struct ReadPlan {
    uint64_t offset = 0;
    uint64_t last = 0;
  };
  ReadPlan plan(uint64_t first, uint64_t last) const;
  uint64_t last_index() const { return last_index_; }
  uint64_t end_offset() const { return end_offset_; }
  size_t rewinds() const { return rewinds_.size(); }
  size_t memory_bytes() const { return checkpoints_.capacity() * 8 + rewinds_.capacity() * 16; }

 private:
  std::vector<uint64_t> checkpoints_;  // [j]: offset of the frame of index j * kStride + 1
  std::vector<std::pair<uint64_t, uint64_t>> rewinds_;  // (frame offset, index), in file order
  uint64_t last_index_ = 0;
  uint64_t end_offset_ = 0;
};

}  // namespace pbfs::datapath
