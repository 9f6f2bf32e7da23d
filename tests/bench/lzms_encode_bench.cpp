// LZMS encode ratio and speed: wimpack's encoder against libwim's
// wimlib_compress on the same chunks of a real file, single-threaded, at one
// level; every chunk of ours is checked with wimlib_decompress.
//
//   lzms_encode_bench FILE [LEVEL=50] [CHUNK_KIB=128,1024,8192] [MAX_MIB=64]
#include <wimlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include "compress/codec.hpp"

namespace {

using Buf = std::vector<uint8_t>;

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [LEVEL=50] [CHUNK_KIB=128,1024,8192] [MAX_MIB=64]\n", argv[0]);
    return 2;
  }
  const unsigned level = argc > 2 ? unsigned(std::atoi(argv[2])) : 50;
  std::vector<uint32_t> chunk_sizes;
  {
    std::stringstream ss(argc > 3 ? argv[3] : "128,1024,8192");
    for (std::string s; std::getline(ss, s, ',');) chunk_sizes.push_back(uint32_t(std::atoi(s.c_str())) << 10);
  }
  const size_t max_bytes = size_t(argc > 4 ? std::atoi(argv[4]) : 64) << 20;
  std::ifstream f(argv[1], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  Buf data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.size() > max_bytes) data.resize(max_bytes);
  std::printf("%s: %.2f MiB, LZMS level %u, single thread, thread CPU time\n", argv[1], data.size() / 1048576.0, level);
  std::printf("%-9s %12s %12s %8s | %9s %9s\n", "chunk", "wimpack", "wimlib", "ours/wl", "wp MB/s", "wl MB/s");
  int rc = 0;
  for (uint32_t cs : chunk_sizes) {
    wimlib_compressor* wc = nullptr;
    wimlib_decompressor* wd = nullptr;
    if (wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZMS, cs, level, &wc) ||
        wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZMS, cs, &wd)) {
      std::fprintf(stderr, "libwim: cannot create an LZMS codec for %u-byte chunks\n", cs);
      return 1;
    }
    auto ours = wp::make_compressor(wp::Codec::Lzms, int(level), cs);
    Buf out(cs), back(cs);
    size_t total_ours = 0, total_wl = 0;
    double t_ours = 0, t_wl = 0;
    for (size_t off = 0; off < data.size(); off += cs) {
      const size_t n = std::min<size_t>(cs, data.size() - off);
      const uint8_t* in = data.data() + off;
      double t = thread_cpu_seconds();
      size_t c = ours->compress(std::span<const uint8_t>(in, n), std::span<uint8_t>(out.data(), n - 1));
      t_ours += thread_cpu_seconds() - t;
      if (c) {
        if (wimlib_decompress(out.data(), c, back.data(), n, wd) != 0 || std::memcmp(back.data(), in, n) != 0) {
          std::fprintf(stderr, "MISMATCH: wimlib cannot decode our chunk at %zu\n", off);
          rc = 1;
        }
      }
      total_ours += c ? c : n;
      t = thread_cpu_seconds();
      size_t w = wimlib_compress(in, n, out.data(), n - 1, wc);
      t_wl += thread_cpu_seconds() - t;
      total_wl += w ? w : n;
    }
    const double mb = double(data.size()) / 1e6;
    std::printf("%6u KiB %12zu %12zu %7.4fx | %9.2f %9.2f\n", cs >> 10, total_ours, total_wl,
                double(total_ours) / double(total_wl), mb / t_ours, mb / t_wl);
    wimlib_free_compressor(wc);
    wimlib_free_decompressor(wd);
  }
  return rc;
}
