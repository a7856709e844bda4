// Write and read pipelines over the stripe layout: the sealed record occupies the data fragments back
// to back (data fragment i holds sealed bytes [i * S, (i + 1) * S)), so mapping a plaintext range to
// fragment windows is arithmetic, and ciphertext is decrypted straight out of the fragment pieces.
#include "coding/pipeline.h"

#include <algorithm>

#include "coding/check.h"
#include "coding/checksum.h"

namespace pbfs {
namespace {

enum class Health : uint8_t { kUnknown, kHealthy, kCorrupt };

Status unavailable(uint32_t index, uint64_t begin, uint64_t end) {
  return {StatusCode::kUnavailable, "cannot rebuild bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                                        ") of fragment " + std::to_string(index) + ": fewer than k healthy fragments"};
}

}  // namespace

struct RecordCodec::Piece {
  const FragmentPiece* piece = nullptr;
  Health health = Health::kUnknown;
};

std::vector<FragmentWindow> plan_read(const WriteRecord& r, uint64_t offset, uint64_t length) {
  std::vector<FragmentWindow> windows;
  if (offset > r.extent.length || length > r.extent.length - offset) return windows;
  const SealedRange range = aead_sealed_range(r.extent.length, r.crypto.segment_bytes, offset, length);
  const uint64_t size = r.layout.fragment_bytes;
  if (range.end <= range.first || size == 0) return windows;
  for (uint64_t i = range.first / size; i < r.layout.k && i * size < range.end; ++i) {
    const uint64_t begin = std::max(range.first, i * size), end = std::min(range.end, (i + 1) * size);
    windows.push_back({static_cast<uint32_t>(i), begin - i * size, end - begin});
  }
  return windows;
}

FragmentWindow rebuild_window(const WriteRecord& r, const FragmentWindow& lost) {
  const uint64_t unit = r.layout.unit_bytes();
  const uint64_t begin = lost.offset / unit * unit;
  const uint64_t end = std::min(r.layout.fragment_bytes, (lost.offset + lost.length + unit - 1) / unit * unit);
  return {lost.index, begin, end - begin};
}

Result<ErasureCoder*> RecordCodec::coder(const CodingParams& p) {
  const uint64_t key = (uint64_t{static_cast<uint8_t>(p.backend)} << 56) | (uint64_t{p.k} << 44) |
                       (uint64_t{p.m} << 32) | p.packet_bytes_max;
  auto found = coders_.find(key);
  if (found != coders_.end()) return found->second.get();
  Result<ErasureCoder> made = ErasureCoder::create(p);
  if (!made.is_ok()) return made.status();
  auto owned = std::make_unique<ErasureCoder>(std::move(made).value());
  ErasureCoder* raw = owned.get();
  coders_.emplace(key, std::move(owned));
  return raw;
}

Status RecordCodec::encode_write(const FileKey& file_key, const WriteRequest& request, ByteSpan plaintext,
                                 EncodedWrite& out) {
  if (plaintext.size() != request.extent.length) return {StatusCode::kInvalidArgument, "plaintext size differs from the extent length"};
  Result<ErasureCoder*> coder = this->coder(request.coding);
  if (!coder.is_ok()) return coder.status();
  const RecordBinding binding{request.file_id, request.extent, request.record_id};
  Result<RecordCipher> cipher = RecordCipher::create(file_key, request.crypto, binding);
  if (!cipher.is_ok()) return cipher.status();
  Status status = (*coder)->prepare(cipher->sealed_bytes(), out.stripe);
  if (!status.is_ok()) return status;
  status = cipher->seal(plaintext, out.stripe.payload());  // straight into the data fragments
  if (!status.is_ok()) return status;
  (*coder)->encode_parity(out.stripe);
  WriteRecord& r = out.record;
  r.file_id = request.file_id;
  r.extent = request.extent;
  r.record_id = request.record_id;
  r.layout = out.stripe.layout();
  r.crypto = request.crypto;
  r.fragments.assign(r.layout.fragment_count(), FragmentEntry{});
  for (uint32_t i = 0; i < r.layout.fragment_count(); ++i) r.fragments[i].crc32c = crc32c(out.stripe.fragment(i));
  PBFS_CODING_CHECK(validate_write_record(r).is_ok());
  return Status::ok();
}

// A piece of fragment `index` covering [begin, end) of it whose CRC (if it is whole) matches the record.
const FragmentPiece* RecordCodec::usable_piece(const WriteRecord& r, uint32_t index, uint64_t begin, uint64_t end,
                                               std::vector<Piece>& pieces, ReadReport* report) {
  for (Piece& p : pieces) {
    const FragmentPiece& f = *p.piece;
    if (f.index != index || f.offset > begin || f.offset + f.bytes.size() < end) continue;
    const bool whole = f.offset == 0 && f.bytes.size() == r.layout.fragment_bytes;
    if (whole && p.health == Health::kUnknown) {
      p.health = crc32c(f.bytes) == r.fragments[index].crc32c ? Health::kHealthy : Health::kCorrupt;
      if (p.health == Health::kCorrupt && report != nullptr) report->corrupt_fragments.push_back(index);
    }
    if (p.health != Health::kCorrupt) return &f;
  }
  return nullptr;
}

Status RecordCodec::decode_read(const FileKey& file_key, const WriteRecord& r, uint64_t offset, std::span<uint8_t> out,
                                std::span<const FragmentPiece> given, ReadReport* report) {
  Status valid = validate_write_record(r);
  if (!valid.is_ok()) return valid;
  if (offset > r.extent.length || out.size() > r.extent.length - offset) return {StatusCode::kInvalidArgument, "range outside the record"};
  std::vector<Piece> pieces;
  pieces.reserve(given.size());
  for (const FragmentPiece& f : given) {
    if (f.index >= r.layout.fragment_count() || f.offset > r.layout.fragment_bytes ||
        f.bytes.size() > r.layout.fragment_bytes - f.offset) {
      return {StatusCode::kInvalidArgument, "fragment piece outside its fragment"};
    }
    pieces.push_back({&f, Health::kUnknown});
  }
  Result<RecordCipher> cipher = RecordCipher::create(file_key, r.crypto, r.binding());
  if (!cipher.is_ok()) return cipher.status();
  const uint64_t size = r.layout.fragment_bytes;
  std::vector<SealedChunk> chunks;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<uint32_t>> lost;  // rebuild window -> data fragments
  for (const FragmentWindow& w : plan_read(r, offset, out.size())) {
    const FragmentPiece* p = usable_piece(r, w.index, w.offset, w.offset + w.length, pieces, report);
    if (p != nullptr) {
      chunks.push_back({w.index * size + w.offset, p->bytes.subspan(w.offset - p->offset, w.length)});
    } else {
      const FragmentWindow window = rebuild_window(r, w);
      lost[{window.offset, window.length}].push_back(w.index);
    }
  }
  size_t scratch_used = 0;
  for (const auto& [window, indices] : lost) {
    const auto [begin, length] = window;
    std::vector<FragmentView> sources;
    for (uint32_t j = 0; j < r.layout.fragment_count() && sources.size() < r.layout.k; ++j) {
      if (std::find(indices.begin(), indices.end(), j) != indices.end()) continue;
      const FragmentPiece* p = usable_piece(r, j, begin, begin + length, pieces, report);
      if (p != nullptr) sources.push_back({j, p->bytes.subspan(begin - p->offset, length)});
    }
    if (sources.size() < r.layout.k) return unavailable(indices.front(), begin, begin + length);
    if (scratch_.size() <= scratch_used) scratch_.emplace_back();
    AlignedBuffer& scratch = scratch_[scratch_used++];
    scratch.resize(indices.size() * length);
    std::vector<FragmentTarget> targets;
    for (size_t t = 0; t < indices.size(); ++t) targets.push_back({indices[t], scratch.span().subspan(t * length, length)});
    Result<ErasureCoder*> coder = this->coder({r.layout.k, r.layout.m, r.layout.backend, CodingParams{}.packet_bytes_max});
    if (!coder.is_ok()) return coder.status();
    Status rebuilt = (*coder)->reconstruct(r.layout, begin, sources, targets);
    if (!rebuilt.is_ok()) return rebuilt;
    for (const FragmentTarget& t : targets) chunks.push_back({t.index * size + begin, t.bytes});
    if (report != nullptr) report->rebuilt_windows += static_cast<uint32_t>(indices.size());
  }
  std::sort(chunks.begin(), chunks.end(), [](const SealedChunk& a, const SealedChunk& b) { return a.offset < b.offset; });
  return cipher->open_range(offset, out, chunks);
}

Result<Bytes> RecordCodec::read_record(const FileKey& file_key, const WriteRecord& record,
                                       std::span<const FragmentPiece> pieces, ReadReport* report) {
  Bytes out(record.extent.length);
  Status status = decode_read(file_key, record, 0, out, pieces, report);
  if (!status.is_ok()) return status;
  return out;
}

}  // namespace pbfs
