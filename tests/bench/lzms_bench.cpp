// LZMS decode speed: wimpack's decoder against libwim's wimlib_decompress on
// the same chunks, single-threaded. The chunks are made by wimlib_compress
// from a real file, once with 64 MiB (solid) and once with 128 KiB
// (non-solid) chunks.
//
//   lzms_bench FILE [LEVEL=50] [REPEATS=5] [MAX_MIB=256] [CHUNK_KIB,...=65536,128]
//
// LZMS_BENCH_CACHE=DIR keeps wimlib's compressed chunks between runs.
#include <wimlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

#include "compress/codec.hpp"

namespace {

using Buf = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

struct Chunk {
  size_t offset, usize;  // position in the original data
  Buf comp;              // empty: wimlib left it raw
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Decode timings use this thread's CPU time: on a shared machine wall time
// mostly measures the other processes.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// With LZMS_BENCH_CACHE=DIR, wimlib's chunks are kept in DIR between runs
// (keyed by a hash of the data, the chunk size and the level).
std::string cache_path(const Buf& data, uint32_t chunk_size, unsigned level) {
  const char* dir = std::getenv("LZMS_BENCH_CACHE");
  if (dir == nullptr) return {};
  const size_t key = std::hash<std::string_view>{}({reinterpret_cast<const char*>(data.data()), data.size()});
  return std::string(dir) + "/lzms-" + std::to_string(key) + "-" + std::to_string(chunk_size) + "-" +
         std::to_string(level) + ".bin";
}

std::vector<Chunk> compress_all(const Buf& data, uint32_t chunk_size, unsigned level, double& secs) {
  const std::string cache = cache_path(data, chunk_size, level);
  if (!cache.empty()) {
    std::ifstream in(cache, std::ios::binary);
    std::vector<Chunk> chunks;
    for (size_t off = 0; in && off < data.size(); off += chunk_size) {
      uint64_t n = 0;
      in.read(reinterpret_cast<char*>(&n), sizeof n);
      Chunk c{off, std::min<size_t>(chunk_size, data.size() - off), Buf(n)};
      in.read(reinterpret_cast<char*>(c.comp.data()), std::streamsize(n));
      chunks.push_back(std::move(c));
    }
    if (in && chunks.size() == (data.size() + chunk_size - 1) / chunk_size) {
      secs = 0;
      return chunks;
    }
  }

  wimlib_compressor* c = nullptr;
  if (wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZMS, chunk_size, level, &c) != 0) {
    std::fprintf(stderr, "wimlib_create_compressor failed\n");
    std::exit(1);
  }
  std::vector<Chunk> chunks;
  Buf out(chunk_size);
  auto t = Clock::now();
  for (size_t off = 0; off < data.size(); off += chunk_size) {
    size_t n = std::min<size_t>(chunk_size, data.size() - off);
    size_t csize = wimlib_compress(data.data() + off, n, out.data(), n - 1, c);
    chunks.push_back({off, n, Buf(out.begin(), out.begin() + long(csize))});
  }
  secs = seconds_since(t);
  wimlib_free_compressor(c);
  if (!cache.empty()) {
    std::ofstream o(cache, std::ios::binary);
    for (const Chunk& ch : chunks) {
      const uint64_t n = ch.comp.size();
      o.write(reinterpret_cast<const char*>(&n), sizeof n);
      o.write(reinterpret_cast<const char*>(ch.comp.data()), std::streamsize(n));
    }
  }
  return chunks;
}

// Best time of `repeats` passes over all compressed chunks.
template <class Fn>
double best_time(int repeats, Fn&& pass) {
  double best = 1e30;
  for (int r = 0; r < repeats; r++) {
    const double t = thread_cpu_seconds();
    pass();
    best = std::min(best, thread_cpu_seconds() - t);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [LEVEL=50] [REPEATS=5] [MAX_MIB=256] [CHUNK_KIB,...=65536,128]\n", argv[0]);
    return 2;
  }
  const unsigned level = argc > 2 ? unsigned(std::atoi(argv[2])) : 50;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  const size_t max_bytes = (argc > 4 ? size_t(std::atoll(argv[4])) : 256) << 20;
  std::ifstream f(argv[1], std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  Buf data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.size() > max_bytes) data.resize(max_bytes);
  if (data.empty()) return 1;
  std::printf("%s: %.2f MiB, LZMS level %u, best of %d, single thread, thread CPU time\n", argv[1], data.size() / 1048576.0, level,
              repeats);
  std::printf("%-10s %8s %7s | %12s %12s %7s\n", "chunk", "chunks", "ratio", "wimpack MB/s", "wimlib MB/s",
              "speedup");

  int status = 0;
  std::vector<uint32_t> chunk_sizes;
  for (const char* p = argc > 5 ? argv[5] : "65536,128"; *p != '\0';) {
    char* end = nullptr;
    chunk_sizes.push_back(uint32_t(std::strtoul(p, &end, 10)) << 10);
    p = *end == ',' ? end + 1 : end;
    if (chunk_sizes.back() == 0 || (*end != ',' && *end != '\0')) {
      std::fprintf(stderr, "bad chunk size list\n");
      return 2;
    }
  }
  for (uint32_t chunk_size : chunk_sizes) {
    double comp_secs = 0;
    auto chunks = compress_all(data, chunk_size, level, comp_secs);
    size_t compressed_bytes = 0, compressed_usize = 0, total_csize = 0;
    for (auto& c : chunks) {
      total_csize += c.comp.empty() ? c.usize : c.comp.size();
      if (!c.comp.empty()) {
        compressed_bytes += c.comp.size();
        compressed_usize += c.usize;
      }
    }
    if (compressed_usize == 0) {
      std::printf("%u KiB: nothing compressible\n", chunk_size >> 10);
      continue;
    }

    Buf out(chunk_size);
    auto ours = wp::make_decompressor(wp::Codec::Lzms, chunk_size);
    // Correctness first.
    for (auto& c : chunks) {
      if (c.comp.empty()) continue;
      if (!ours->decompress(c.comp, std::span<uint8_t>(out.data(), c.usize)) ||
          std::memcmp(out.data(), data.data() + c.offset, c.usize) != 0) {
        std::fprintf(stderr, "MISMATCH: chunk at %zu (%zu -> %zu bytes)\n", c.offset, c.comp.size(), c.usize);
        status = 1;
      }
    }
    const double t_ours = best_time(repeats, [&] {
      for (auto& c : chunks)
        if (!c.comp.empty()) ours->decompress(c.comp, std::span<uint8_t>(out.data(), c.usize));
    });

    wimlib_decompressor* d = nullptr;
    if (wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZMS, chunk_size, &d) != 0) return 1;
    const double t_wimlib = best_time(repeats, [&] {
      for (auto& c : chunks)
        if (!c.comp.empty()) wimlib_decompress(c.comp.data(), c.comp.size(), out.data(), c.usize, d);
    });
    wimlib_free_decompressor(d);

    const double mb = compressed_usize / 1e6;
    char label[32];
    std::snprintf(label, sizeof label, "%u KiB", chunk_size >> 10);
    std::printf("%-10s %8zu %6.2f%% | %12.1f %12.1f %6.2fx   (compress %.1fs)\n", label, chunks.size(),
                100.0 * double(total_csize) / double(data.size()), mb / t_ours, mb / t_wimlib, t_wimlib / t_ours,
                comp_secs);
  }
  return status;
}
