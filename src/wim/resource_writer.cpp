#include "wim/resource_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/endian.hpp"
#include "util/error.hpp"
#include "wim/blob_table.hpp"
#include "wim/pipable.hpp"

namespace wp::wim {

namespace {
constexpr uint64_t kBufferLimit = 8u << 20;
}

// What every begin* starts from: the resource begins at the current offset.
void ResourceWriter::reset(bool solid, bool pipable, Codec codec, uint64_t usize, uint64_t chunk_size) {
  solid_ = solid;
  pipable_ = pipable;
  codec_ = codec;
  usize_ = usize;
  chunk_ = chunk_size;
  start_ = out_.offset();
  csizes_.clear();
  data_bytes_ = fed_ = 0;
  all_raw_ = true;
  buffered_ = false;
  cbuf_.clear();
  rbuf_.clear();
  rbuf_complete_ = true;
}

void ResourceWriter::begin_pipable(uint64_t usize, Codec codec, uint64_t chunk_size, const Sha1& hash,
                                   uint32_t extra_flags) {
  if (codec != Codec::None && usize != 0 && chunk_size == 0)
    fail(Errc::Failure, "internal error: a compressed resource without a chunk size");
  const bool compressed = codec != Codec::None && usize != 0;
  // §12.2: magic, uncompressed size, SHA-1, flags.
  ByteWriter h;
  h.u64(kPipableBlobMagic);
  h.u64(usize);
  h.raw(hash.bytes);
  h.u32(extra_flags | (compressed ? kResCompressed : 0));
  out_.write(h.bytes());
  reset(false, true, compressed ? codec : Codec::None, usize, chunk_size);
  nchunks_ = compressed ? ceil_div(usize, chunk_size) : 1;
  table_ = compressed ? (nchunks_ - 1) * chunk_entry_size(usize) : 0;
}

void ResourceWriter::begin(uint64_t usize, Codec codec, uint64_t chunk_size) {
  reset(false, false, codec, usize, chunk_size);
  if (codec == Codec::None || usize == 0) {
    // Raw: the data and nothing else (§4.1).
    codec_ = Codec::None;
    nchunks_ = 1;
    table_ = 0;
    buffered_ = false;
    return;
  }
  if (chunk_size == 0) fail(Errc::Failure, "internal error: a compressed resource without a chunk size");
  nchunks_ = ceil_div(usize, chunk_size);
  table_ = (nchunks_ - 1) * chunk_entry_size(usize);
  buffered_ = usize <= kBufferLimit;
  if (!buffered_) {
    // Room for the table, filled in by end() (§4.2).
    Bytes zeros(table_, 0);
    out_.write(zeros);
  }
}

void ResourceWriter::begin_solid(uint64_t usize, Codec codec, uint64_t chunk_size) {
  reset(true, false, codec, usize, chunk_size);
  if (chunk_size == 0) fail(Errc::Failure, "internal error: a solid resource without a chunk size");
  nchunks_ = ceil_div(usize, chunk_size);
  // §4.3: 16-byte header and 4 bytes per chunk, filled in by end().
  table_ = 16 + 4 * nchunks_;
  Bytes head(table_, 0);
  out_.write(head);
}

void ResourceWriter::add_chunk(ByteSpan uncompressed, ByteSpan compressed) {
  if (buffered_) rbuf_.insert(rbuf_.end(), uncompressed.begin(), uncompressed.end());
  store(compressed.empty() ? uncompressed : compressed, uncompressed.size(), !compressed.empty());
}

void ResourceWriter::add_encoded_chunk(uint64_t usize, ByteSpan stored, bool compressed) {
  if (!compressed) {
    if (stored.size() != usize) fail(Errc::Failure, "internal error: a raw chunk whose size is not its uncompressed size");
    add_chunk(stored, {});
    return;
  }
  if (codec_ == Codec::None) fail(Errc::Failure, "internal error: a compressed chunk in an uncompressed resource");
  rbuf_complete_ = false;
  store(stored, usize, true);
}

void ResourceWriter::store(ByteSpan data, uint64_t usize, bool compressed) {
  if (compressed) all_raw_ = false;
  csizes_.push_back(data.size());
  data_bytes_ += data.size();
  fed_ += usize;
  if (pipable_ && codec_ != Codec::None) {
    // §12.3: each chunk after its compressed size.
    uint8_t sz[4];
    store_le32(sz, uint32_t(data.size()));
    out_.write({sz, 4});
    out_.write(data);
  } else if (buffered_) {
    cbuf_.insert(cbuf_.end(), data.begin(), data.end());
  } else {
    out_.write(data);
  }
}

ByteWriter ResourceWriter::chunk_table() const {
  // §4.2: entry k is the start of chunk k+1, relative to the end of the table.
  ByteWriter t;
  const bool wide = chunk_entry_size(usize_) == 8;
  uint64_t off = 0;
  for (uint64_t i = 0; i + 1 < nchunks_; i++) {
    off += csizes_[i];
    wide ? t.u64(off) : t.u32(uint32_t(off));
  }
  return t;
}

ResHdr ResourceWriter::end(const Reproduce& reproduce) {
  if (fed_ != usize_ || (codec_ != Codec::None && csizes_.size() != nchunks_))
    fail(Errc::Failure, "internal error: resource ended after " + std::to_string(fed_) + " of " +
                            std::to_string(usize_) + " bytes");
  ResHdr r;
  r.offset = start_;
  if (solid_) {
    // §4.3: the header, then the compressed size of every chunk.
    ByteWriter h;
    h.u64(usize_);
    h.u32(uint32_t(chunk_));
    h.u32(solid_format_for(codec_));
    for (uint64_t c : csizes_) h.u32(uint32_t(c));
    out_.pwrite_at(start_, h.bytes());
    r.size_in_wim = table_ + data_bytes_;
    r.flags = kResSolid;
    r.usize = kSolidResourceMagic;
    return r;
  }
  r.usize = usize_;
  if (pipable_) {
    // §12.3: the table at the end, offsets without the chunk headers.
    if (codec_ != Codec::None) out_.write(chunk_table().bytes());
    r.size_in_wim = codec_ != Codec::None ? 4 * nchunks_ + data_bytes_ + table_ : usize_;
    r.flags = codec_ != Codec::None ? kResCompressed : 0;
    return r;
  }
  // §3.1: a resource is COMPRESSED only when that makes it strictly smaller.
  const bool compressed = codec_ != Codec::None && table_ + data_bytes_ < usize_;
  if (buffered_) {
    if (compressed) {
      out_.write(chunk_table().bytes());
      out_.write(cbuf_);
    } else {
      if (!rbuf_complete_) {
        if (!reproduce) fail(Errc::Failure, "internal error: a resource to store raw cannot be reproduced");
        rbuf_.clear();
        reproduce([&](ByteSpan piece) { rbuf_.insert(rbuf_.end(), piece.begin(), piece.end()); });
        if (rbuf_.size() != usize_) fail(Errc::Failure, "internal error: reproduced resource of the wrong size");
      }
      out_.write(rbuf_);
    }
  } else if (compressed) {
    out_.pwrite_at(start_, chunk_table().bytes());
  } else if (codec_ != Codec::None) {
    // Written as table + chunks, but raw is no larger: rewrite it raw.
    if (all_raw_) {
      // The chunks on disk are the raw bytes, just shifted by the table.
      out_.flush();
      Bytes buf(1 << 20);
      for (uint64_t off = 0; off < usize_; off += buf.size()) {
        size_t k = size_t(std::min<uint64_t>(buf.size(), usize_ - off));
        ssize_t got = ::pread(out_.fd(), buf.data(), k, off_t(start_ + table_ + off));
        if (got != ssize_t(k)) fail_errno("cannot re-read", out_.path(), errno);
        out_.pwrite_at(start_ + off, {buf.data(), k});
      }
    } else {
      if (!reproduce) fail(Errc::Failure, "internal error: a resource to store raw cannot be reproduced");
      uint64_t off = 0;
      reproduce([&](ByteSpan piece) {
        if (piece.size() > usize_ - off) fail(Errc::Failure, "internal error: reproduced resource too large");
        out_.pwrite_at(start_ + off, piece);
        off += piece.size();
      });
      if (off != usize_) fail(Errc::Failure, "internal error: reproduced resource too small");
    }
    out_.truncate(start_ + usize_);
  }
  r.size_in_wim = compressed ? table_ + data_bytes_ : usize_;
  r.flags = compressed ? kResCompressed : 0;
  return r;
}

}  // namespace wp::wim
