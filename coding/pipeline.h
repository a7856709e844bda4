// The write and read pipelines of a record, as the data-path client runs them. Write: seal the
// plaintext straight into the stripe's data region, compute parity in place, checksum every fragment
// (no copies). Read: verify the CRC of each whole fragment before using it, rebuild only the windows of
// lost data fragments that the requested range needs, then verify and decrypt just the segments that
// cover the range, gathering ciphertext directly from the fragment pieces.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "coding/aead.h"
#include "coding/erasure.h"
#include "coding/record.h"

namespace pbfs {

struct WriteRequest {
  FileId file_id = 0;
  Extent extent;  // extent.length == the plaintext size
  RecordId record_id;
  CryptoParams crypto;  // crypto.key_salt must be fresh for every record (from the writer's Runtime::random())
  CodingParams coding;
};

struct EncodedWrite {
  WriteRecord record;  // fragment checksums filled in; nodes kUnplacedNode until placement fills them
  Stripe stripe;       // fragment i is stripe.fragment(i); its header is make_fragment_header(record, i)
};

// A window of a fragment body a reader holds: bytes [offset, offset + bytes.size()) of fragment `index`.
// A whole fragment (offset 0, fragment_bytes long) is CRC-checked before use; a partial window cannot be,
// and is covered by the AEAD tags instead.
struct FragmentPiece {
  uint32_t index = 0;
  uint64_t offset = 0;
  ByteSpan bytes;
};

struct FragmentWindow {
  uint32_t index = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const FragmentWindow&) const = default;
};

// The windows of data fragments holding the segments (ciphertext and tags) that cover plaintext
// [offset, offset + length) of the record: what to fetch when those fragments are healthy.
std::vector<FragmentWindow> plan_read(const WriteRecord& record, uint64_t offset, uint64_t length);
// The window (same for every fragment) to fetch from any k other fragments to rebuild `lost`.
FragmentWindow rebuild_window(const WriteRecord& record, const FragmentWindow& lost);

struct ReadReport {
  std::vector<uint32_t> corrupt_fragments;  // whole fragments whose CRC did not match (repair them)
  uint32_t rebuilt_windows = 0;             // data fragment windows that had to be decoded
};

// Per-thread state of both pipelines: one ErasureCoder per coding shape seen (each caches its decoding
// matrices) and scratch buffers reused across calls, so the steady state allocates almost nothing.
class RecordCodec {
 public:
  // seal -> encode -> checksum. `out` may be reused from an earlier write: its stripe keeps its memory.
  Status encode_write(const FileKey& file_key, const WriteRequest& request, ByteSpan plaintext, EncodedWrite& out);

  // verify -> decode -> decrypt of plaintext [offset, offset + out.size()) of the record. kUnavailable if
  // fewer than k healthy fragments cover a needed window; kCorrupt if authentication fails (with partial
  // pieces, fetch whole fragments and retry: their CRCs then single out the bad ones).
  Status decode_read(const FileKey& file_key, const WriteRecord& record, uint64_t offset, std::span<uint8_t> out,
                     std::span<const FragmentPiece> pieces, ReadReport* report = nullptr);
  Result<Bytes> read_record(const FileKey& file_key, const WriteRecord& record, std::span<const FragmentPiece> pieces,
                            ReadReport* report = nullptr);

  // The coder for a shape, created on first use.
  Result<ErasureCoder*> coder(const CodingParams& params);

 private:
  struct Piece;
  const FragmentPiece* usable_piece(const WriteRecord& record, uint32_t index, uint64_t begin, uint64_t end,
                                    std::vector<Piece>& pieces, ReadReport* report);
  std::map<uint64_t, std::unique_ptr<ErasureCoder>> coders_;  // key: backend, k, m, packet_bytes_max
  std::vector<AlignedBuffer> scratch_;
};

}  // namespace pbfs
