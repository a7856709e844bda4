// Bounds-checked little-endian byte encoding shared by every wire and record format. A WireReader never
// reads past its span: each read reports failure instead, and the decoder turns that into kMalformed.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coding/status.h"

namespace pbfs {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

class WireWriter {
 public:
  explicit WireWriter(Bytes& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put_le(v, 2); }
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void i64(int64_t v) { put_le(static_cast<uint64_t>(v), 8); }
  void f64(double v) { uint64_t bits; std::memcpy(&bits, &v, 8); put_le(bits, 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void raw(ByteSpan bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  // Length-prefixed (u32) byte string.
  void blob(ByteSpan bytes) { u32(static_cast<uint32_t>(bytes.size())); raw(bytes); }
  void str(std::string_view s) { blob(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }
  size_t size() const { return out_.size(); }

 private:
  void put_le(uint64_t v, int n) { for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i))); }
  Bytes& out_;
};

class WireReader {
 public:
  explicit WireReader(ByteSpan in) : in_(in) {}
  bool u8(uint8_t& v) { uint64_t x; if (!get_le(x, 1)) return false; v = static_cast<uint8_t>(x); return true; }
  bool u16(uint16_t& v) { uint64_t x; if (!get_le(x, 2)) return false; v = static_cast<uint16_t>(x); return true; }
  bool u32(uint32_t& v) { uint64_t x; if (!get_le(x, 4)) return false; v = static_cast<uint32_t>(x); return true; }
  bool u64(uint64_t& v) { return get_le(v, 8); }
  bool i64(int64_t& v) { uint64_t x; if (!get_le(x, 8)) return false; v = static_cast<int64_t>(x); return true; }
  bool f64(double& v) { uint64_t x; if (!get_le(x, 8)) return false; std::memcpy(&v, &x, 8); return true; }
  bool boolean(bool& v) { uint8_t x; if (!u8(x) || x > 1) return false; v = x == 1; return true; }
  // A span into the input (no copy); fails if the input is shorter than n.
  bool raw(size_t n, ByteSpan& v) { if (remaining() < n) return false; v = in_.subspan(pos_, n); pos_ += n; return true; }
  // Length-prefixed byte string; the length is checked against what remains, never trusted.
  bool blob(ByteSpan& v) { uint32_t n; return u32(n) && raw(n, v); }
  bool blob(Bytes& v) { ByteSpan s; if (!blob(s)) return false; v.assign(s.begin(), s.end()); return true; }
  bool str(std::string& v) { ByteSpan s; if (!blob(s)) return false; v.assign(s.begin(), s.end()); return true; }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  bool get_le(uint64_t& v, int n) {
    if (remaining() < static_cast<size_t>(n)) return false;
    v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += n;
    return true;
  }
  ByteSpan in_;
  size_t pos_ = 0;
};

}  // namespace pbfs
