// Log frames and the sparse offset index of the catalog's log file (catalog_log.h).
#include "protocols/datapath/catalog_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "coding/checksum.h"

namespace pbfs::datapath {
namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pbfs catalog log: broken invariant: %s\n", what);
    std::abort();
  }
}

uint32_t frame_crc(uint32_t previous_crc, uint64_t commit_hint, ByteSpan body) {
  uint8_t head[12];
  for (int i = 0; i < 4; ++i) head[i] = static_cast<uint8_t>(previous_crc >> (8 * i));
  for (int i = 0; i < 8; ++i) head[4 + i] = static_cast<uint8_t>(commit_hint >> (8 * i));
  return crc32c_extend(crc32c(ByteSpan(head, 12)), body);
}

}  // namespace

size_t log_frame_bytes(const CatalogLogEntry& entry) { return kLogFrameHeaderBytes + log_entry_encoded_bytes(entry); }

LogFrame encode_log_frame(const CatalogLogEntry& entry, uint64_t commit_hint, uint32_t previous_crc) {
  LogFrame frame;
  Bytes& out = frame.bytes;
  out.reserve(log_frame_bytes(entry));
  WireWriter w(out);
  w.u32(0);
  w.u32(0);
  w.u32(previous_crc);
  w.u32(0);
  w.u64(commit_hint);
  encode_log_entry(entry, w);
  const size_t body = out.size() - kLogFrameHeaderBytes;
  require(body <= kLogFrameBodyBytesMax, "log entry size");
  frame.crc = frame_crc(previous_crc, commit_hint, ByteSpan(out.data() + kLogFrameHeaderBytes, body));
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(body >> (8 * i));
    out[4 + i] = static_cast<uint8_t>(frame.crc >> (8 * i));
  }
  return frame;
}

void LogFrameReader::feed(ByteSpan bytes) {
  // Drop what was consumed before growing the buffer, so it holds at most one chunk plus a partial frame.
  if (position_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(position_));
    base_offset_ += position_;
    position_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

LogFrameReader::Next LogFrameReader::next(CatalogLogEntry& entry, uint64_t& commit_hint, uint64_t& frame_offset) {
  WireReader header(ByteSpan(buffer_.data() + position_, buffer_.size() - position_));
  uint32_t body_bytes = 0, crc = 0, previous_crc = 0, zero = 0;
  if (!header.u32(body_bytes) || !header.u32(crc) || !header.u32(previous_crc) || !header.u32(zero) ||
      !header.u64(commit_hint)) {
    return Next::kNeedMore;
  }
  if (body_bytes > kLogFrameBodyBytesMax || zero != 0) return Next::kBad;
  if (anchored_ && previous_crc != last_crc_) return Next::kBad;
  ByteSpan body;
  if (!header.raw(body_bytes, body)) return Next::kNeedMore;
  if (frame_crc(previous_crc, commit_hint, body) != crc) return Next::kBad;
  WireReader in(body);
  Result<CatalogLogEntry> decoded = decode_log_entry(in);
  if (!decoded.is_ok() || !in.at_end()) return Next::kBad;
  entry = std::move(decoded).value();
  frame_offset = base_offset_ + position_;
  position_ += kLogFrameHeaderBytes + body_bytes;
  anchored_ = true;
  last_crc_ = crc;
  return Next::kEntry;
}

void LogOffsets::appended(uint64_t index, uint64_t offset, uint64_t frame_bytes) {
  require(index >= 1 && index <= last_index_ + 1, "log indexes are gapless");
  require(offset >= end_offset_, "frames are appended in file order");
  if (index <= last_index_) {
    rewinds_.emplace_back(offset, index);
    // Checkpoints of the dropped suffix point at stale frames: keep those of indexes below `index`.
    checkpoints_.resize(std::min<size_t>(checkpoints_.size(), (index - 1 + kStride - 1) / kStride));
  }
  if ((index - 1) % kStride == 0) {
    require(checkpoints_.size() == (index - 1) / kStride, "one checkpoint per stride");
    checkpoints_.push_back(offset);
  }
  last_index_ = index;
  end_offset_ = offset + frame_bytes;
}

LogOffsets::ReadPlan LogOffsets::plan(uint64_t first, uint64_t last) const {
  require(first >= 1 && first <= last && last <= last_index_, "reading entries the log has");
  const size_t j = (first - 1) / kStride;
  require(j < checkpoints_.size(), "a checkpoint at or before every index");
  ReadPlan plan{checkpoints_[j], last};
  // A later rewind to an index at or before `first` holds the current frames from there on.
  for (const auto& [offset, index] : rewinds_) {
    if (offset > plan.offset && index <= first) plan.offset = offset;
  }
  // A rewind further on replaces part of the range: stop before it.
  for (const auto& [offset, index] : rewinds_) {
    if (offset > plan.offset && index > first && index <= plan.last) plan.last = index - 1;
  }
  return plan;
}

}  // namespace pbfs::datapath
