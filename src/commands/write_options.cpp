#include "commands/write_options.hpp"

#include <array>
#include <string>
#include <string_view>

#include "commands/common.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/memory.hpp"
#include "util/size.hpp"
#include "wim/integrity.hpp"

namespace wp::cmd {

void add_write_options(CLI::App* c, WriteArgs& a, const std::string& compress_help, bool with_nocheck) {
  c->add_option("--compress", a.compress,
                compress_help.empty()
                    ? "Compression: LZX[:LEVEL] (32K chunks, read by every WIM tool), XPRESS, LZMS (aliases fast, "
                      "maximum, recovery), none, or wimpack's private zstd[:LEVEL] and lzma[:LEVEL]"
                    : compress_help);
  c->add_option("--chunk-size", a.chunk_size, "Chunk size for non-solid resources, e.g. 32K, 128K, 1M");
  c->add_flag("--solid", a.solid,
              "Pack file data into solid resources, LZMS with 64 MiB chunks by default as wimlib-imagex (an \"ESD\" "
              "file: better ratio, slower random access)");
  c->add_option("--solid-compress", a.solid_compress,
                "Compression for solid resources (default LZMS; wimpack's private lzma and zstd are also accepted); "
                "only with --solid");
  c->add_option("--solid-chunk-size", a.solid_chunk_size, "Chunk size for solid resources (default 64M); only with --solid");
  c->add_flag("--check", a.check, "Write an integrity table (and verify the existing ones first)");
  c->add_flag("--include-integrity", a.include_integrity,
              "Write an integrity table, without verifying the existing one first");
  if (with_nocheck) c->add_flag("--nocheck", a.nocheck, "Do not write an integrity table even if the archive had one");
}

void add_wimboot_option(CLI::App* c, WriteArgs& a) {
  c->add_flag("--wimboot", a.wimboot,
              "Mark the image WIMBoot-compatible; a new archive then defaults to XPRESS with 4K chunks");
}

void add_guid_option(CLI::App* c, WriteArgs& a) {
  c->add_option("--image-guid", a.image_guid,
                "GUID of the new archive: 32 hex digits as 'info' prints them (0x prefix, dashes and braces "
                "allowed); default random, or derived from the content with SOURCE_DATE_EPOCH");
}

namespace {
// "0x0011...ff", "{00112233-4455-...}" or plain hex: 16 bytes in the order
// `info` prints them. Throws Errc::Usage otherwise.
std::array<uint8_t, 16> parse_guid(const std::string& text) {
  std::string hex;
  std::string_view v = text;
  if (v.size() >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) v.remove_prefix(2);
  for (char ch : v)
    if (ch != '-' && ch != '{' && ch != '}') hex += ch;
  std::array<uint8_t, 16> g{};
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  bool ok = hex.size() == 32;
  for (size_t i = 0; ok && i < 16; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    g[i] = uint8_t(hi << 4 | lo);
  }
  if (!ok) fail(Errc::Usage, "--image-guid: '" + text + "' is not a GUID (32 hexadecimal digits, as 'wimpack info' prints it)");
  return g;
}
}  // namespace

void add_pipable_options(CLI::App* c, WriteArgs& a, bool with_not) {
  c->add_flag("--pipable", a.pipable,
              "Write a pipable WIM (wimlib's extension, not readable by Microsoft's tools) that can be written to "
              "and applied from a pipe");
  if (with_not) c->add_flag("--not-pipable", a.not_pipable, "Rewrite a pipable WIM as a normal one");
}

namespace {

// The codec and chunk size of the first solid resource, if any.
const wim::Resource* first_solid(const wim::Archive& a) {
  for (const auto& r : a.resources())
    if (r.solid) return &r;
  return nullptr;
}

}  // namespace

wim::WriterOptions make_writer_options(const WriteArgs& a, const WriteTarget& t) {
  if ((a.check || a.include_integrity) && a.nocheck)
    fail(Errc::Usage, std::string(a.check ? "--check" : "--include-integrity") + " and --nocheck are mutually exclusive");
  if (a.pipable && a.not_pipable) fail(Errc::Usage, "--pipable and --not-pipable are mutually exclusive");
  if (t.to_stdout && a.not_pipable) fail(Errc::Usage, "a WIM written to standard output ('-') is always pipable");
  wim::WriterOptions wo;
  wo.source_date_epoch = source_date_epoch();  // an invalid value: Errc::Usage, before any work
  if (!a.image_guid.empty()) {
    wo.guid = parse_guid(a.image_guid);
    // As wimlib-imagex, an archive that is changed keeps its GUID: delta
    // archives and split parts name their base by it.
    if (t.existing)
      fail(Errc::Usage, "--image-guid sets the GUID of a new archive; '" + t.existing->path() +
                            "' exists and keeps its GUID");
  }
  const wim::Archive* dest = t.existing;
  const bool keep = dest && t.keep_encoding;
  const wim::Header* like = keep ? &dest->header() : t.like ? &t.like->header() : nullptr;

  // Non-solid codec and chunk size (the header's): given, else inherited,
  // else LZX. As wimlib-imagex: a new archive made with --solid and no
  // --compress (capture, export to a new file) gets LZMS in the header, so
  // its metadata is LZMS with 128 KiB chunks like the solid data ("ESD");
  // an archive that is changed or rebuilt (append, optimize) keeps its codec.
  const bool solid_lzms_header = a.solid && a.compress.empty() && !dest;
  // --wimboot (wimcapture(1), wimexport(1)): a new archive defaults to what
  // WIMBoot wants, XPRESS with 4 KiB chunks.
  const bool wimboot_default = a.wimboot && !keep && !solid_lzms_header;
  wo.compression = !a.compress.empty() ? parse_compression(a.compress)
                   : solid_lzms_header ? CompressionSpec{Codec::Lzms, 0}
                   : wimboot_default   ? CompressionSpec{Codec::Xpress, 0}
                   : like              ? CompressionSpec{like->codec(), 0}
                                       : CompressionSpec{Codec::Lzx, 0};
  if (!a.chunk_size.empty())
    wo.chunk_size = parse_chunk_size(a.chunk_size, wo.compression.codec, "--chunk-size");
  else if (wimboot_default && wo.compression.codec == Codec::Xpress)
    wo.chunk_size = 4096;
  else if (like && wo.compression.codec == like->codec())
    wo.chunk_size = like->chunk_size;
  if (keep) {
    const wim::Header& h = dest->header();
    if (wo.compression.codec != h.codec() || (!a.chunk_size.empty() && wo.chunk_size != h.chunk_size))
      fail(Errc::Usage, "'" + dest->path() + "' uses " + codec_name(h.codec()) + " with " + std::to_string(h.chunk_size) +
                            "-byte chunks; new data must use the same (convert with 'wimpack optimize --compress=...')");
    wo.chunk_size = h.chunk_size;
  }

  // Solid resources.
  // A pipable archive: asked for, on standard output, or one that is
  // rewritten and stays pipable unless --not-pipable (as wimlib).
  wo.pipable = a.pipable || t.to_stdout || (dest && dest->header().pipable && !a.not_pipable);
  const wim::Resource* like_solid =
      (!keep && !wo.pipable && t.like && t.inherit_solid && a.compress.empty()) ? first_solid(*t.like) : nullptr;
  // As wimlib-imagex: --solid-compress and --solid-chunk-size only matter
  // when the output is solid (--solid, or an export of a solid archive).
  wo.solid = a.solid || like_solid;
  if (!wo.solid && (!a.solid_compress.empty() || !a.solid_chunk_size.empty()))
    warn(std::string(!a.solid_compress.empty() ? "--solid-compress" : "--solid-chunk-size") +
         " has no effect without --solid");
  if (wo.solid) {
    if (!a.solid_compress.empty()) {
      wo.solid_compression = parse_compression(a.solid_compress);
      if (wo.solid_compression.codec == Codec::None)
        fail(Errc::Usage, "--solid-compress=none is not allowed (solid resources are always compressed)");
    } else if (like_solid) {
      wo.solid_compression = {like_solid->codec, 0};
      if (a.solid_chunk_size.empty()) wo.solid_chunk_size = like_solid->chunk_size;
    } else {
      wo.solid_compression = {Codec::Lzms, 0};  // wimlib-imagex's default: solid LZMS, read by every WIM tool
    }
    if (!a.solid_chunk_size.empty())
      wo.solid_chunk_size = parse_chunk_size(a.solid_chunk_size, wo.solid_compression.codec, "--solid-chunk-size");
    // §2.2: an extension codec in a solid resource must also be the header's.
    if (keep && !is_standard(wo.solid_compression.codec) && dest->header().codec() != wo.solid_compression.codec)
      fail(Errc::Usage, std::string("cannot add solid ") + codec_name(wo.solid_compression.codec) +
                            " data to an archive whose header codec is " + codec_name(dest->header().codec()) +
                            " (use --solid-compress=" + codec_name(dest->header().codec()) + " or a standard codec)");
  }

  if (wo.pipable && wo.solid) fail(Errc::Usage, "solid compression is not supported in pipable WIMs");
  wo.integrity = a.check || a.include_integrity || (dest && dest->has_integrity() && !a.nocheck);
  if (t.to_stdout) {
    if (a.check || a.include_integrity) warn("no integrity table is written to standard output (it would have to be read back)");
    wo.integrity = false;
  }
  fit_to_memory(wo, !a.solid_chunk_size.empty());
  return wo;
}

void fit_to_memory(wim::WriterOptions& wo, bool solid_chunk_given) {
  const Codec codec = wo.solid ? wo.solid_compression.codec : wo.compression.codec;
  uint64_t chunk = wo.solid ? (wo.solid_chunk_size ? wo.solid_chunk_size : default_chunk_size(codec, true))
                   : codec == Codec::None ? (1u << 20)  // the writer's read size for stored data
                   : wo.chunk_size        ? wo.chunk_size
                                          : default_chunk_size(codec, false);
  // Under SOURCE_DATE_EPOCH the solid chunk size stays (it shapes the
  // output; an archive must not depend on the machine's memory): only
  // threads and chunks in flight shrink.
  const uint64_t min_chunk =
      wo.solid && !solid_chunk_given && !wo.source_date_epoch ? std::min<uint64_t>(chunk, std::max<uint64_t>(min_chunk_size(codec), 1u << 20)) : chunk;
  auto state = [&](uint64_t c) { return compressor_memory(codec, c); };
  const int threads = requested_threads();
  const uint64_t budget = memory_budget();
  auto plan = plan_memory(budget, unsigned(threads), chunk, min_chunk, state);
  if (!plan) {
    uint64_t need = kMemoryBaseline + state(min_chunk) + 2 * 2 * min_chunk;
    fail(Errc::Usage, "the memory budget, " + memory_budget_origin() + ", is too small to compress " +
                          format_size(min_chunk) + " " + codec_name(codec) + " chunks: at least " + format_size(need) +
                          " is needed" + (min_chunk < chunk ? "" : " (a smaller --chunk-size or --solid-chunk-size needs less)"));
  }
  std::string reduced;
  if (plan->threads < unsigned(threads)) {
    limit_thread_count(int(plan->threads));
    reduced = "using " + std::to_string(plan->threads) + (plan->threads == 1 ? " thread" : " threads") + " instead of " +
              std::to_string(threads);
  }
  if (plan->chunk < chunk) {
    wo.solid_chunk_size = uint32_t(plan->chunk);
    reduced += std::string(reduced.empty() ? "" : ", ") + "solid chunks of " + format_size(plan->chunk) + " instead of " +
               format_size(chunk);
  }
  if (!reduced.empty()) warn(memory_budget_origin() + ": " + reduced);
  // What is left for chunk buffers once the threads' codec state is paid
  // for; chunk_tokens() sizes every pipeline (reads included) from it.
  uint64_t room = budget - kMemoryBaseline - uint64_t(plan->threads) * state(plan->chunk);
  set_chunk_buffer_limit(std::max(std::min<uint64_t>(room, 256ull << 20), plan->tokens * 2 * plan->chunk));
}

void probe_codecs(const wim::WriterOptions& wo) {
  if (wo.compression.codec != Codec::None) make_compressor(wo.compression.codec, wo.compression.level, 32768);
  if (wo.solid) make_compressor(wo.solid_compression.codec, wo.solid_compression.level, 32768);
}

void check_changeable(const wim::Archive& a) {
  if (a.header().flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + a.path() + "' is marked read-only");
}

void verify_integrity_if_present(const wim::Archive& a) {
  if (a.has_integrity()) wim::check_integrity(a.file().fd(), a.path(), a.file().size(), a.header());
}

}  // namespace wp::cmd
