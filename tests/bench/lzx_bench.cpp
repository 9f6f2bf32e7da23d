// LZX codec benchmark: our single-thread encoder and decoder against libwim's
// wimlib_compress/wimlib_decompress on the same chunks of a real file.
//
//   lzx_bench FILE [chunk_size=32768] [level=50] [decode_reps=3]
//
// Prints sizes (chunks that do not shrink count as stored raw, as in a WIM)
// and MB/s of uncompressed data per second of thread CPU time. Decoding is timed on wimlib's compressed
// chunks for both decoders, so both do the same work; every chunk decoded by
// either side is checked against the original.
#include <wimlib.h>

#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "compress/codec.hpp"

namespace {

// Thread CPU time, so that other processes on a busy machine do not skew the
// comparison (both codecs run on this thread).
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
  }
};

double seconds_since(double t0) { return Clock::now() - t0; }

struct Chunk {
  size_t off, len;
  std::vector<uint8_t> ours, theirs;  // empty: stored raw
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [chunk_size=32768] [level=50] [decode_reps=3]\n", argv[0]);
    return 2;
  }
  const uint32_t chunk_size = argc > 2 ? uint32_t(std::strtoul(argv[2], nullptr, 10)) : 32768;
  const int level = argc > 3 ? std::atoi(argv[3]) : 50;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  std::ifstream f(argv[1], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.empty()) return 1;

  std::vector<Chunk> chunks;
  for (size_t off = 0; off < data.size(); off += chunk_size)
    chunks.push_back({off, std::min<size_t>(chunk_size, data.size() - off), {}, {}});

  wimlib_global_init(0);
  struct wimlib_compressor* wc = nullptr;
  struct wimlib_decompressor* wd = nullptr;
  if (wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZX, chunk_size, unsigned(level), &wc) ||
      wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZX, chunk_size, &wd)) {
    std::fprintf(stderr, "libwim refused LZX with chunk size %u\n", chunk_size);
    return 1;
  }
  auto comp = wp::make_compressor(wp::Codec::Lzx, level, chunk_size);
  auto decomp = wp::make_decompressor(wp::Codec::Lzx, chunk_size);
  std::vector<uint8_t> tmp(chunk_size), back(chunk_size);

  // Encode.
  size_t ours_total = 0, theirs_total = 0;
  auto t0 = Clock::now();
  for (Chunk& c : chunks) {
    size_t n = comp->compress({data.data() + c.off, c.len}, tmp);
    c.ours.assign(tmp.begin(), tmp.begin() + long(n));
  }
  const double ours_enc = seconds_since(t0);
  t0 = Clock::now();
  for (Chunk& c : chunks) {
    size_t n = wimlib_compress(data.data() + c.off, c.len, tmp.data(), c.len - 1, wc);
    c.theirs.assign(tmp.begin(), tmp.begin() + long(n));
  }
  const double theirs_enc = seconds_since(t0);
  for (const Chunk& c : chunks) {
    ours_total += c.ours.empty() ? c.len : c.ours.size();
    theirs_total += c.theirs.empty() ? c.len : c.theirs.size();
  }

  // Cross-check: each decoder on the other's output.
  size_t bad = 0;
  for (const Chunk& c : chunks) {
    const uint8_t* orig = data.data() + c.off;
    if (!c.theirs.empty() &&
        (!decomp->decompress(c.theirs, {back.data(), c.len}) || std::memcmp(back.data(), orig, c.len) != 0))
      bad++;
    if (!c.ours.empty() && (wimlib_decompress(c.ours.data(), c.ours.size(), back.data(), c.len, wd) != 0 ||
                            std::memcmp(back.data(), orig, c.len) != 0))
      bad++;
  }

  // Decode wimlib's chunks with both decoders.
  size_t compressed_bytes = 0;
  for (const Chunk& c : chunks)
    if (!c.theirs.empty()) compressed_bytes += c.len;
  double ours_dec = 1e30, theirs_dec = 1e30;
  for (int r = 0; r < reps; r++) {
    t0 = Clock::now();
    for (const Chunk& c : chunks)
      if (!c.theirs.empty()) (void)decomp->decompress(c.theirs, {back.data(), c.len});
    ours_dec = std::min(ours_dec, seconds_since(t0));
    t0 = Clock::now();
    for (const Chunk& c : chunks)
      if (!c.theirs.empty()) (void)wimlib_decompress(c.theirs.data(), c.theirs.size(), back.data(), c.len, wd);
    theirs_dec = std::min(theirs_dec, seconds_since(t0));
  }

  const double mb = double(data.size()) / 1e6, cmb = double(compressed_bytes) / 1e6;
  std::printf("file %s: %zu bytes, %zu chunks of %u, level %d\n", argv[1], data.size(), chunks.size(), chunk_size,
              level);
  std::printf("size    wimpack %zu (%.2f%%)  wimlib %zu (%.2f%%)  ratio %.4f\n", ours_total,
              100.0 * double(ours_total) / double(data.size()), theirs_total,
              100.0 * double(theirs_total) / double(data.size()), double(ours_total) / double(theirs_total));
  std::printf("encode  wimpack %.2f MB/s  wimlib %.2f MB/s  speed ratio %.3f\n", mb / ours_enc, mb / theirs_enc,
              theirs_enc / ours_enc);
  std::printf("decode  wimpack %.2f MB/s  wimlib %.2f MB/s  speed ratio %.3f (on wimlib's chunks)\n",
              cmb / ours_dec, cmb / theirs_dec, theirs_dec / ours_dec);
  std::printf("cross-check failures: %zu\n", bad);
  wimlib_free_compressor(wc);
  wimlib_free_decompressor(wd);
  wimlib_global_cleanup();
  return bad ? 1 : 0;
}
