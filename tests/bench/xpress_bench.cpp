// XPRESS codec benchmark: our single-thread encoder and decoder against
// libwim's on the same chunks of a real file.
//
//   xpress_bench FILE [CHUNK_SIZE [LEVEL...]]      (defaults: 32768, 20 50 80)
//
// For each level: total compressed size (raw chunks count at full size) and
// encode MB/s for both encoders; then decode MB/s of both decoders on
// wimlib's chunks and on ours. MB/s are of uncompressed data, best of
// several runs. Every decoded chunk is checked against the input.
#include <wimlib.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "compress/codec.hpp"

using namespace wp;

namespace {

struct Chunk {
  size_t off, n;
};

struct Encoded {
  std::vector<std::vector<uint8_t>> data;  // empty = stored raw
  size_t total = 0;
};

// This thread's CPU time: steadier than wall time on a shared machine.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Times a and b alternately, each at least 5 times and ~0.5 s in total;
// returns the best single run of each, in seconds.
template <class A, class B>
std::pair<double, double> best_times(A&& a, B&& b) {
  double best_a = 1e30, best_b = 1e30, spent = 0;
  for (int i = 0; i < 5 || spent < 0.5; i++) {
    double t0 = cpu_seconds();
    a();
    double t1 = cpu_seconds();
    b();
    double t2 = cpu_seconds();
    best_a = std::min(best_a, t1 - t0);
    best_b = std::min(best_b, t2 - t1);
    spent += t2 - t0;
  }
  return {best_a, best_b};
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "xpress_bench: %s\n", what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: xpress_bench FILE [CHUNK_SIZE [LEVEL...]]");
  std::ifstream f(argv[1], std::ios::binary);
  if (!f) die("cannot open the input file");
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  uint32_t chunk = argc > 2 ? uint32_t(std::atoi(argv[2])) : 32768;
  std::vector<int> levels;
  for (int i = 3; i < argc; i++) levels.push_back(std::atoi(argv[i]));
  if (levels.empty()) levels = {20, 50, 80};
  if (file.empty()) die("empty input");

  std::vector<Chunk> chunks;
  for (size_t off = 0; off < file.size(); off += chunk) chunks.push_back({off, std::min<size_t>(chunk, file.size() - off)});
  const double mb = double(file.size()) / 1e6;
  std::printf("%s: %zu bytes, %zu chunks of %u\n", argv[1], file.size(), chunks.size(), chunk);
  std::printf("%-6s %12s %12s %7s %10s %10s %7s | %10s %10s %7s | %10s %10s %7s\n", "level", "wimlib B", "ours B",
              "size", "wl enc", "our enc", "speed", "dec wl:wl", "dec wl:us", "speed", "dec us:wl", "dec us:us",
              "speed");

  std::vector<uint8_t> scratch(chunk);
  for (int level : levels) {
    wimlib_compressor* wc = nullptr;
    wimlib_decompressor* wd = nullptr;
    if (wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, unsigned(level), &wc) ||
        wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, &wd))
      die("libwim refused the chunk size or level");
    auto comp = make_compressor(Codec::Xpress, level, chunk);
    auto decomp = make_decompressor(Codec::Xpress, chunk);

    Encoded theirs, ours;
    theirs.data.resize(chunks.size());
    ours.data.resize(chunks.size());
    auto [t_wl_enc, t_our_enc] = best_times([&] {
      theirs.total = 0;
      for (size_t i = 0; i < chunks.size(); i++) {
        auto& c = chunks[i];
        size_t n = wimlib_compress(file.data() + c.off, c.n, scratch.data(), c.n - 1, wc);
        theirs.data[i].assign(scratch.begin(), scratch.begin() + ptrdiff_t(n));
        theirs.total += n ? n : c.n;
      }
    }, [&] {
      ours.total = 0;
      for (size_t i = 0; i < chunks.size(); i++) {
        auto& c = chunks[i];
        size_t n = comp->compress({file.data() + c.off, c.n}, {scratch.data(), c.n});
        ours.data[i].assign(scratch.begin(), scratch.begin() + ptrdiff_t(n));
        ours.total += n ? n : c.n;
      }
    });

    // Decoding: only compressed chunks are timed (raw chunks are a memcpy).
    auto decode_all = [&](const Encoded& e, bool wimlib_decoder) {
      return [&e, wimlib_decoder, &chunks, &scratch, &file, wd, &decomp] {
        for (size_t i = 0; i < chunks.size(); i++) {
          auto& c = chunks[i];
          auto& d = e.data[i];
          if (d.empty()) continue;
          bool ok = wimlib_decoder ? wimlib_decompress(d.data(), d.size(), scratch.data(), c.n, wd) == 0
                                   : decomp->decompress(d, {scratch.data(), c.n});
          if (!ok || std::memcmp(scratch.data(), file.data() + c.off, c.n) != 0) die("decoded data differs");
        }
      };
    };
    auto [t_wl_wl, t_wl_us] = best_times(decode_all(theirs, true), decode_all(theirs, false));
    auto [t_us_wl, t_us_us] = best_times(decode_all(ours, true), decode_all(ours, false));
    std::printf("%-6d %12zu %12zu %6.3fx %10.1f %10.1f %6.2fx | %10.1f %10.1f %6.2fx | %10.1f %10.1f %6.2fx\n", level,
                theirs.total, ours.total, double(ours.total) / double(theirs.total), mb / t_wl_enc, mb / t_our_enc,
                t_wl_enc / t_our_enc, mb / t_wl_wl, mb / t_wl_us, t_wl_wl / t_wl_us, mb / t_us_wl, mb / t_us_us,
                t_us_wl / t_us_us);
    std::fflush(stdout);
    wimlib_free_compressor(wc);
    wimlib_free_decompressor(wd);
  }
  std::printf("size = ours/wimlib (lower is better); speed = ours vs wimlib (higher is better).\n"
              "dec X:Y = chunks encoded by X, decoded by Y; MB/s of uncompressed data.\n");
  return 0;
}
