// A growable little-endian byte buffer for encoding on-disk structures, and a
// bounds-checked reader for decoding them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/endian.hpp"
#include "util/error.hpp"

namespace wp {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

class ByteWriter {
public:
  Bytes& bytes() { return buf_; }
  size_t size() const { return buf_.size(); }
  void u8(uint8_t v) { buf_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void raw(ByteSpan s) { buf_.insert(buf_.end(), s.begin(), s.end()); }
  void zeros(size_t n) { buf_.resize(buf_.size() + n, 0); }
  void pad_to(size_t alignment) {
    while (buf_.size() % alignment) buf_.push_back(0);
  }

private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; i++) buf_.push_back(uint8_t(v >> (8 * i)));
  }
  Bytes buf_;
};

// Reads fields at explicit offsets of a span; every access is bounds-checked
// and a violation throws Errc::BadArchive naming `what`.
class ByteReader {
public:
  ByteReader(ByteSpan data, std::string what) : data_(data), what_(std::move(what)) {}
  size_t size() const { return data_.size(); }
  ByteSpan span() const { return data_; }
  void need(uint64_t off, uint64_t len) const {
    if (off > data_.size() || len > data_.size() - off) fail(Errc::BadArchive, what_ + ": truncated or out-of-bounds field");
  }
  uint8_t u8(uint64_t off) const { need(off, 1); return data_[off]; }
  uint16_t u16(uint64_t off) const { need(off, 2); return load_le16(&data_[off]); }
  uint32_t u32(uint64_t off) const { need(off, 4); return load_le32(&data_[off]); }
  uint64_t u64(uint64_t off) const { need(off, 8); return load_le64(&data_[off]); }
  ByteSpan sub(uint64_t off, uint64_t len) const { need(off, len); return data_.subspan(off, len); }

private:
  ByteSpan data_;
  std::string what_;
};

}  // namespace wp
