#include "wim/pipe_reader.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>

#include <spdlog/spdlog.h>

#include "compress/codec.hpp"
#include "util/error.hpp"
#include "wim/metadata.hpp"
#include "wim/pipable.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {

// Buffered sequential reads from a file descriptor, counting the offset for
// messages. A short read is only possible at the end of the input.
class PipeInput {
public:
  PipeInput(int fd, std::string name) : fd_(fd), name_(std::move(name)), buf_(1 << 20) {}

  uint64_t offset() const { return offset_; }

  // Fills `out` unless the input ends first; returns the bytes read.
  size_t read_full(std::span<uint8_t> out) {
    size_t got = 0;
    if (!back_.empty()) {
      got = std::min(back_.size(), out.size());
      std::memcpy(out.data(), back_.data(), got);
      back_.erase(back_.begin(), back_.begin() + std::ptrdiff_t(got));
      offset_ += got;
    }
    while (got < out.size()) {
      if (pos_ == len_) {
        // Large reads bypass the buffer.
        if (out.size() - got >= buf_.size()) {
          size_t n = raw_read(out.data() + got, out.size() - got);
          if (n == 0) break;
          got += n;
          offset_ += n;
          continue;
        }
        len_ = raw_read(buf_.data(), buf_.size());
        pos_ = 0;
        if (len_ == 0) break;
      }
      size_t n = std::min(len_ - pos_, out.size() - got);
      std::memcpy(out.data() + got, buf_.data() + pos_, n);
      pos_ += n, got += n, offset_ += n;
    }
    return got;
  }

  // Reads exactly out.size() bytes; else "the pipe ended <where>".
  void read_exact(std::span<uint8_t> out, const std::string& where) {
    if (read_full(out) != out.size()) ended(where);
  }

  // Gives back bytes just read: the next read returns them first.
  void unread(ByteSpan b) {
    back_.insert(back_.begin(), b.begin(), b.end());
    offset_ -= b.size();
  }

  void skip(uint64_t n, const std::string& where) {
    while (n && !back_.empty()) {
      size_t k = size_t(std::min<uint64_t>(n, back_.size()));
      back_.erase(back_.begin(), back_.begin() + std::ptrdiff_t(k));
      n -= k, offset_ += k;
    }
    while (n) {
      if (pos_ == len_) {
        len_ = raw_read(buf_.data(), buf_.size());
        pos_ = 0;
        if (len_ == 0) ended(where);
      }
      size_t k = size_t(std::min<uint64_t>(n, len_ - pos_));
      pos_ += k, n -= k, offset_ += k;
    }
  }

  uint32_t read_u32(const std::string& where) {
    uint8_t b[4];
    read_exact(b, where);
    return load_le32(b);
  }

  [[noreturn]] void ended(const std::string& where) const {
    fail(Errc::BadArchive, name_ + ": the pipe ended " + where + " (after " + std::to_string(offset_) +
                               " bytes: truncated input?)");
  }

private:
  size_t raw_read(uint8_t* p, size_t n) {
    for (;;) {
      ssize_t r = ::read(fd_, p, n);
      if (r >= 0) return size_t(r);
      if (errno != EINTR) fail_errno("cannot read", name_, errno);
    }
  }

  int fd_;
  std::string name_;
  Bytes buf_;
  Bytes back_;
  size_t pos_ = 0, len_ = 0;
  uint64_t offset_ = 0;
};

namespace {

constexpr uint64_t kRawPiece = 1 << 20;
constexpr uint64_t kMaxXmlSize = 256ull << 20;

uint64_t chunk_count(uint64_t usize, uint32_t chunk_size) { return ceil_div(usize, chunk_size); }

uint64_t table_size(uint64_t usize, uint32_t chunk_size) {
  uint64_t n = chunk_count(usize, chunk_size);
  return n ? (n - 1) * chunk_entry_size(usize) : 0;
}

uint32_t chunk_usize(uint64_t usize, uint32_t chunk_size, uint64_t i) {
  uint64_t n = chunk_count(usize, chunk_size);
  return uint32_t(i + 1 < n ? chunk_size : usize - (n - 1) * chunk_size);
}

// §12.3: the 4-byte compressed size in front of chunk i, checked.
uint32_t read_chunk_csize(PipeInput& in, uint32_t us, const std::string& what) {
  uint32_t cs = in.read_u32("in the middle of " + what);
  if (cs == 0 || cs > us)
    fail(Errc::BadArchive, what + ": invalid chunk size " + std::to_string(cs) + " at byte " +
                               std::to_string(in.offset() - 4) + " (corrupt pipable WIM)");
  return cs;
}

// The 12-byte integrity table header (§11): size = 12 + 20 * entries.
bool is_integrity_table_start(ByteSpan b) {
  uint32_t size = load_le32(b.data()), entries = load_le32(&b[4]), chunk = load_le32(&b[8]);
  return chunk != 0 && entries != 0 && entries < (1u << 26) && size == 12 + 20ull * entries;
}

}  // namespace

PipeReader::PipeReader(int fd, std::string name) : name_(std::move(name)), in_(std::make_unique<PipeInput>(fd, name_)) {
  // §12.4 step 1: header #1.
  Bytes hb(kHeaderSize);
  size_t got = in_->read_full(hb);
  if (got == 0) fail(Errc::BadArchive, name_ + " is empty: no WIM to read (pipe a pipable WIM into it)");
  if (got >= 8 && !is_pipable_wim_magic(hb)) {
    if (std::memcmp(hb.data(), "MSWIM\0\0\0", 8) == 0)
      fail(Errc::BadArchive, name_ + " holds a WIM that is not pipable: only pipable WIMs (captured with --pipable) "
                                     "can be read from a pipe; give the file's name instead of '-'");
    fail(Errc::BadArchive, name_ + " is not a pipable WIM (bad magic)");
  }
  if (got < kHeaderSize) in_->ended("in the WIM header");
  header_ = decode_header(hb, UINT64_MAX, name_, nullptr);
  if (header_.part_number != 1)
    fail(Errc::BadArchive, name_ + " starts with part " + std::to_string(header_.part_number) +
                               " of a split pipable WIM; part 1 must come first");
  (void)header_.codec();

  // Step 2: the XML copy, uncompressed, behind a METADATA blob header.
  uint8_t bb[kPipableBlobHeaderSize];
  in_->read_exact(bb, "before the XML data");
  auto bh = decode_pipable_blob_header(bb);
  if (!bh || !(bh->flags & kResMetadata) || (bh->flags & kResCompressed) || bh->usize > kMaxXmlSize || bh->usize % 2)
    fail(Errc::BadArchive, name_ + ": invalid XML data header after the WIM header (corrupt pipable WIM)");
  Bytes xml(bh->usize);
  in_->read_exact(xml, "in the XML data");
  if (sha1_of(xml) != bh->hash) fail(Errc::BadArchive, name_ + ": the XML data is corrupt (its SHA-1 does not match)");
  xml_ = XmlInfo::parse(xml, name_);
  if (xml_.image_count() != header_.image_count)
    fail(Errc::BadArchive, name_ + ": the XML data describes " + std::to_string(xml_.image_count()) +
                               " images but the header says " + std::to_string(header_.image_count));
}

PipeReader::~PipeReader() = default;

size_t PipeReader::resolve_image(const std::string& spec) const {
  size_t n = image_count();
  long long v = 0;
  auto [p, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), v);
  if (ec == std::errc() && p == spec.data() + spec.size() && !spec.empty()) {
    if (v < 0) v = (long long)n + 1 + v;
    if (v >= 1 && (size_t)v <= n) return size_t(v);
    fail(Errc::NotFound, "the WIM on " + name_ + " has no image " + spec + " (it has " + std::to_string(n) + " image" +
                             (n == 1 ? "" : "s") + ")");
  }
  if (size_t i = xml_.find_by_name(spec)) return i;
  fail(Errc::NotFound, "the WIM on " + name_ + " has no image named \"" + spec + "\"");
}

image::Image PipeReader::read_image(size_t index) {
  if (index < 1 || index > image_count())
    fail(Errc::NotFound, "the WIM on " + name_ + " has no image " + std::to_string(index));
  std::vector<bool> want(image_count());
  want[index - 1] = true;
  auto imgs = read_images(want);
  return std::move(*imgs[index - 1]);
}

std::vector<std::optional<image::Image>> PipeReader::read_images(const std::vector<bool>& want,
                                                                 std::vector<std::string>* problems) {
  const Codec codec = header_.codec();
  std::unique_ptr<Decompressor> dec;
  std::vector<std::optional<image::Image>> out(image_count());
  if (problems) problems->assign(image_count(), "");
  for (size_t i = 1; i <= image_count(); i++) {
    const std::string what = "the metadata of image " + std::to_string(i);
    uint8_t bb[kPipableBlobHeaderSize];
    size_t got = in_->read_full(bb);
    if (got < sizeof bb) in_->ended("before " + what);
    auto bh = decode_pipable_blob_header(bb);
    if (!bh || !(bh->flags & kResMetadata))
      fail(Errc::BadArchive, name_ + ": expected " + what + " at byte " + std::to_string(in_->offset() - got) +
                                 " (corrupt pipable WIM)");
    const bool compressed = bh->flags & kResCompressed;
    if (compressed && codec == Codec::None)
      fail(Errc::BadArchive, name_ + ": " + what + " is compressed in an uncompressed WIM");
    const std::string where = "in the middle of " + what;
    if (i > want.size() || !want[i - 1]) {  // skipped
      if (!compressed) {
        in_->skip(bh->usize, where);
        continue;
      }
      uint64_t n = chunk_count(bh->usize, header_.chunk_size);
      for (uint64_t c = 0; c < n; c++)
        in_->skip(read_chunk_csize(*in_, chunk_usize(bh->usize, header_.chunk_size, c), name_ + ": " + what), where);
      in_->skip(table_size(bh->usize, header_.chunk_size), where);
      continue;
    }
    // A wanted image: grown as it arrives, so a lying size costs only the
    // bytes really sent. A chunk that does not decompress is noted and the
    // rest consumed, so that the input stays in step.
    std::string damage;
    Bytes data;
    if (!compressed) {
      while (data.size() < bh->usize) {
        size_t k = size_t(std::min<uint64_t>(kRawPiece, bh->usize - data.size()));
        size_t old = data.size();
        data.resize(old + k);
        in_->read_exact({data.data() + old, k}, where);
      }
    } else {
      if (!dec) dec = make_decompressor(codec, header_.chunk_size);
      uint64_t n = chunk_count(bh->usize, header_.chunk_size);
      Bytes cbuf;
      for (uint64_t c = 0; c < n; c++) {
        uint32_t us = chunk_usize(bh->usize, header_.chunk_size, c);
        uint32_t cs = read_chunk_csize(*in_, us, name_ + ": " + what);
        cbuf.resize(cs);
        in_->read_exact(cbuf, where);
        if (!damage.empty()) continue;
        size_t old = data.size();
        data.resize(old + us);
        std::span<uint8_t> dst(data.data() + old, us);
        if (cs == us)
          std::memcpy(dst.data(), cbuf.data(), us);
        else if (!dec->decompress(cbuf, dst))
          damage = name_ + ": corrupt " + std::string(codec_name(codec)) + " data in " + what;
      }
      in_->skip(table_size(bh->usize, header_.chunk_size), where);
    }
    const std::string ctx = name_ + " image " + std::to_string(i);
    try {
      if (!damage.empty()) fail(Errc::BadArchive, damage);
      if (sha1_of(data) != bh->hash) fail(Errc::BadArchive, ctx + ": metadata resource hash mismatch (corrupt archive)");
      std::vector<std::string> warnings;
      out[i - 1] = decode_metadata(data, ctx, &warnings);
      for (const auto& w : warnings) spdlog::warn("{}", w);
    } catch (const Error& e) {
      if (!problems) throw;
      (*problems)[i - 1] = e.what();
    }
  }
  return out;
}

namespace {

struct Token {
  Sha1 hash;
  uint64_t blob_size = 0, uoffset = 0;
  uint32_t usize = 0;
  bool raw = true;
  std::string damage;  // set when the chunk did not decompress (on_corrupt mode)
  Bytes in;
  ChunkBuffer out;
};

}  // namespace

void PipeReader::read_blobs(std::span<const Sha1> needed, const BlobSink& sink) {
  read_blobs_impl(needed, Mode::Needed, sink, {});
}

void PipeReader::read_blobs(std::span<const Sha1> needed, const BlobSink& sink, const CorruptFn& on_corrupt) {
  read_blobs_impl(needed, Mode::Needed, sink, on_corrupt);
}

void PipeReader::read_all_blobs(const BlobSink& sink, const CorruptFn& on_corrupt) {
  read_blobs_impl({}, Mode::All, sink, on_corrupt);
}

void PipeReader::drain_checked() {
  read_blobs_impl({}, Mode::None, [](const Sha1&, uint64_t, uint64_t, ByteSpan) {}, {});
}

void PipeReader::read_blobs_impl(std::span<const Sha1> needed_in, Mode mode, const BlobSink& sink,
                                 const CorruptFn& on_corrupt) {
  // All and None read to the end of the input; None takes no blob.
  const bool all = mode != Mode::Needed;
  std::vector<Sha1> needed(needed_in.begin(), needed_in.end());
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  std::vector<bool> seen(needed.size());
  size_t remaining = needed.size();
  if (remaining == 0 && !all) return;
  const Codec codec = header_.codec();
  const uint32_t C = header_.chunk_size;

  // The blob being read (input stage state).
  struct Current {
    bool active = false, compressed = false, emitted = false;
    Sha1 hash;
    uint64_t usize = 0, next_chunk = 0, uoffset = 0;
  } cur;
  bool after_wim_header = false;  // all: the input may end only right after one
  auto blob_name = [&](const Sha1& h) { return "blob " + h.hex(); };

  auto skip_blob = [&](const PipableBlobHeader& bh) {
    const std::string what = "blob " + bh.hash.hex();
    const std::string where = "in the middle of " + what;
    if (!(bh.flags & kResCompressed)) return in_->skip(bh.usize, where);
    if (codec == Codec::None) fail(Errc::BadArchive, name_ + ": " + what + " is compressed in an uncompressed WIM");
    uint64_t n = chunk_count(bh.usize, C);
    for (uint64_t c = 0; c < n; c++) in_->skip(read_chunk_csize(*in_, chunk_usize(bh.usize, C, c), name_ + ": " + what), where);
    in_->skip(table_size(bh.usize, C), where);
  };

  // Reads headers up to the next needed blob; false when none is left.
  auto next_blob = [&]() -> bool {
    for (;;) {
      if (remaining == 0 && !all) return false;
      uint8_t bb[kPipableBlobHeaderSize];
      size_t got = in_->read_full(bb);
      if (got == 0) {
        if (all) {
          if (after_wim_header) return false;
          in_->ended("before the end of the WIM (no final WIM header)");
        }
        size_t first = 0;
        while (seen[first]) first++;
        fail(Errc::BadArchive, name_ + ": the pipe ended before all the file data of the image arrived: " +
                                   std::to_string(remaining) + " blob(s) missing, first " + needed[first].hex() +
                                   " (truncated input, or a split WIM with parts missing?)");
      }
      if (got < sizeof bb && !(got >= 8 && is_pipable_wim_magic({bb, got}))) in_->ended("in the middle of a blob header");
      if (is_pipable_wim_magic({bb, got})) {
        // §12.4 step 5: the next part of a split pipable WIM (or a final header).
        Bytes hb(kHeaderSize);
        std::memcpy(hb.data(), bb, got);
        in_->read_exact({hb.data() + got, kHeaderSize - got}, "in the middle of a WIM header");
        Header h = decode_header(hb, UINT64_MAX, name_, nullptr);
        if (h.guid != header_.guid)
          fail(Errc::BadArchive, name_ + ": a WIM header at byte " + std::to_string(in_->offset() - kHeaderSize) +
                                     " belongs to another WIM (different GUID); only the parts of one split WIM can be concatenated");
        if (h.codec() != header_.codec() || h.chunk_size != header_.chunk_size)
          fail(Errc::BadArchive, name_ + ": a split WIM part uses another compression type or chunk size than part 1");
        after_wim_header = true;
        continue;
      }
      after_wim_header = false;
      auto bh = decode_pipable_blob_header(bb);
      if (!bh && got == sizeof bb && is_integrity_table_start(bb)) {
        // §12.1: a part written to a file with --check ends with an
        // integrity table, which has no blob header (wimlib stops here).
        uint32_t size = load_le32(bb);
        if (size >= sizeof bb)
          in_->skip(size - sizeof bb, "in the middle of an integrity table");
        else
          in_->unread({bb + size, sizeof bb - size});
        continue;
      }
      if (!bh)
        fail(Errc::BadArchive, name_ + ": expected a blob header at byte " + std::to_string(in_->offset() - got) +
                                   ", found other data (corrupt pipable WIM, or not a WIM)");
      if (!(bh->flags & kResMetadata)) {
        bool take = mode == Mode::All;
        if (!all) {
          auto it = std::lower_bound(needed.begin(), needed.end(), bh->hash);
          size_t b = size_t(it - needed.begin());
          if (it != needed.end() && *it == bh->hash && !seen[b]) {
            seen[b] = true;
            remaining--;
            take = true;
          }
        }
        if (take) {
          if ((bh->flags & kResCompressed) && codec == Codec::None)
            fail(Errc::BadArchive, name_ + ": blob " + bh->hash.hex() + " is compressed in an uncompressed WIM");
          cur = Current{};
          cur.active = true;
          cur.compressed = bh->flags & kResCompressed;
          cur.hash = bh->hash;
          cur.usize = bh->usize;
          return true;
        }
      }
      skip_blob(*bh);
    }
  };

  uint64_t biggest = std::max<uint64_t>(kRawPiece, C);
  int threads = tbb::this_task_arena::max_concurrency();
  size_t tokens = std::max<size_t>(2, std::min<size_t>(size_t(threads) * 4, (256ull << 20) / (2 * biggest)));
  tbb::enumerable_thread_specific<std::unique_ptr<Decompressor>> decomps;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Token>> owned;
  std::vector<Token*> pool;

  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, Token*>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> Token* {
            for (;;) {
              if (cur.active) {
                bool more = cur.compressed ? cur.next_chunk < chunk_count(cur.usize, C)
                                           : cur.uoffset < cur.usize || (cur.usize == 0 && !cur.emitted);
                if (more) break;
                if (cur.compressed) in_->skip(table_size(cur.usize, C), "in the middle of " + blob_name(cur.hash));
                cur.active = false;
              }
              if (!next_blob()) {
                fc.stop();
                return nullptr;
              }
            }
            Token* t;
            {
              std::lock_guard lk(pool_mutex);
              if (pool.empty()) {
                owned.push_back(std::make_unique<Token>());
                pool.push_back(owned.back().get());
              }
              t = pool.back();
              pool.pop_back();
            }
            t->hash = cur.hash;
            t->blob_size = cur.usize;
            t->uoffset = cur.uoffset;
            t->damage.clear();
            const std::string where = "in the middle of " + blob_name(cur.hash);
            if (cur.compressed) {
              t->usize = chunk_usize(cur.usize, C, cur.next_chunk);
              uint32_t cs = read_chunk_csize(*in_, t->usize, name_ + ": " + blob_name(cur.hash));
              t->raw = cs == t->usize;
              cur.next_chunk++;
              t->in.resize(cs);
            } else {
              t->usize = uint32_t(std::min<uint64_t>(kRawPiece, cur.usize - cur.uoffset));
              t->raw = true;
              t->in.resize(t->usize);
            }
            in_->read_exact(t->in, where);
            cur.uoffset += t->usize;
            cur.emitted = true;
            return t;
          }) &
          tbb::make_filter<Token*, Token*>(
              tbb::filter_mode::parallel,
              [&](Token* t) -> Token* {
                if (t->raw) return t;
                auto& d = decomps.local();
                if (!d) d = make_decompressor(codec, C);
                auto dst = t->out.get(t->usize);
                if (!d->decompress(t->in, dst)) {
                  std::string msg = name_ + ": corrupt " + std::string(codec_name(codec)) + " data in blob " +
                                    t->hash.hex() + " at uncompressed offset " + std::to_string(t->uoffset);
                  if (!on_corrupt) fail(Errc::BadArchive, msg);
                  std::memset(dst.data(), 0, dst.size());
                  t->damage = std::move(msg);
                }
                return t;
              }) &
          tbb::make_filter<Token*, void>(tbb::filter_mode::serial_in_order, [&](Token* t) {
            ByteSpan data = t->raw ? ByteSpan(t->in) : ByteSpan(t->out.data(), t->usize);
            if (!t->damage.empty()) on_corrupt(t->hash, t->uoffset, t->damage);
            sink(t->hash, t->blob_size, t->uoffset, data);
            std::lock_guard lk(pool_mutex);
            pool.push_back(t);
          }));
}

void PipeReader::drain() {
  uint8_t buf[65536];
  while (in_->read_full(buf) == sizeof buf) {
  }
}

}  // namespace wp::wim
