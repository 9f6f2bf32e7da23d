// wimpack capture SOURCE WIMFILE [IMAGE_NAME [IMAGE_DESC]]
#include <chrono>
#include <cstdio>

#include "capture/scan.hpp"
#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"
#include "util/size.hpp"
#include "wim/archive_writer.hpp"

namespace wp::cmd {
namespace {

struct CaptureArgs {
  CommonOptions common;
  std::string source, wimfile, name, description;
  std::string compress, chunk_size, solid_compress, solid_chunk_size, flags;
  std::vector<std::string> properties;
  bool solid = false, unix_data = false, check = false, boot = false, norpfix = false, rpfix = false;
};

std::string default_image_name(const std::string& source) {
  std::string s = source;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  size_t slash = s.rfind('/');
  std::string base = slash == std::string::npos ? s : s.substr(slash + 1);
  return base == "/" ? std::string() : base;
}

void check_xml_text(const std::string& what, const std::string& value) {
  for (unsigned char c : value)
    if (c < 0x20 && c != '\t' && c != '\n')
      fail(Errc::Usage, what + " must not contain control characters (WIM readers refuse them)");
}

// --image-property NAME=VALUE; NAME may be a path such as WINDOWS/VERSION/MAJOR.
void set_property(pugi::xml_node img, const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(Errc::Usage, "--image-property expects NAME=VALUE, got '" + spec + "'");
  std::string path = spec.substr(0, eq), value = spec.substr(eq + 1);
  check_xml_text("--image-property " + path, value);
  pugi::xml_node node = img;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string el = path.substr(i, j - i);
    if (el.empty() || el.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
      fail(Errc::Usage, "invalid --image-property name '" + path + "'");
    pugi::xml_node child = node.child(el.c_str());
    if (!child) child = node.append_child(el.c_str());
    node = child;
    i = j + 1;
  }
  node.text().set(value.c_str());
}

void run_capture(CaptureArgs& a) {
  apply_thread_count(a.common.threads);
  wim::WriterOptions wo;
  // Until LZX encoding lands, capture's default is zstd (issue 2).
  wo.compression = a.compress.empty() ? CompressionSpec{Codec::Zstd, 0} : parse_compression(a.compress);
  if (!a.chunk_size.empty()) wo.chunk_size = parse_chunk_size(a.chunk_size, wo.compression.codec, "--chunk-size");
  wo.solid = a.solid || !a.solid_compress.empty() || !a.solid_chunk_size.empty();
  if (wo.solid) {
    if (!a.solid_compress.empty()) {
      wo.solid_compression = parse_compression(a.solid_compress);
      if (wo.solid_compression.codec == Codec::None) fail(Errc::Usage, "--solid-compress=none is not allowed (solid resources are always compressed)");
    } else {
      wo.solid_compression = {Codec::Lzma, 0};
      info(a.common.quiet, "Solid resources use LZMA (LZMS encoding is not supported yet; use --solid-compress to choose)");
    }
    if (!a.solid_chunk_size.empty())
      wo.solid_chunk_size = parse_chunk_size(a.solid_chunk_size, wo.solid_compression.codec, "--solid-chunk-size");
  }
  wo.integrity = a.check;
  bool rpfix = !a.norpfix;
  if (rpfix) wo.extra_header_flags |= wim::kHdrRpFix;
  check_xml_text("the image name", a.name);
  check_xml_text("the image description", a.description);
  check_xml_text("--flags", a.flags);

  // Probe codecs early, so "not supported yet" comes before any work.
  if (wo.compression.codec != Codec::None) make_compressor(wo.compression.codec, wo.compression.level, 32768);
  if (wo.solid) make_compressor(wo.solid_compression.codec, wo.solid_compression.level, 32768);

  auto t0 = std::chrono::steady_clock::now();
  capture::ScanOptions so;
  so.unix_data = a.unix_data;
  so.rpfix = rpfix;
  capture::ScanResult scan = capture::scan_tree(a.source, so);
  print_warnings(scan.warnings);

  TempFile tmp(a.wimfile);
  OutputFile out(tmp.fd(), tmp.temp_path(), 0);
  wim::ArchiveWriter writer(out, wo);
  Progress progress("Archiving file data", !a.common.quiet);
  writer.set_progress([&](uint64_t d, uint64_t t) { progress.update(d, t); });
  std::string name = a.name;
  wim::WriteStats ws;
  size_t index = writer.add_image(scan.image, scan.sources, name, &ws);
  progress.finish();
  if (!a.description.empty()) writer.xml().set(index, "DESCRIPTION", a.description);
  if (!a.flags.empty()) writer.xml().set(index, "FLAGS", a.flags);
  for (const auto& p : a.properties) set_property(writer.xml().image(index), p);
  if (a.boot) writer.header().boot_index = uint32_t(index);
  writer.finish();
  tmp.commit();

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto st = scan.image.stats();
  if (!a.common.quiet)
    std::printf("Captured \"%s\" to %s: %llu directories, %llu files, %s of data stored in %s (%.2f s)\n", name.c_str(),
                a.wimfile.c_str(), (unsigned long long)st.dir_count, (unsigned long long)st.file_count,
                format_size(st.total_bytes).c_str(), format_size(out.offset()).c_str(), secs);
}

void add_capture_options(CLI::App* c, CaptureArgs& a) {
  c->add_option("SOURCE", a.source, "Directory to capture")->required();
  c->add_option("WIMFILE", a.wimfile, "Archive to write")->required();
  c->add_option("IMAGE_NAME", a.name, "Image name (default: the base name of SOURCE)");
  c->add_option("IMAGE_DESC", a.description, "Image description");
  c->add_option("--compress", a.compress,
                "Compression: zstd[:LEVEL] (default, fast; private to wimpack), lzma[:LEVEL] (smaller; private), "
                "none, or the standard XPRESS, LZX, LZMS (aliases fast, maximum, recovery)");
  c->add_option("--chunk-size", a.chunk_size, "Chunk size for non-solid resources, e.g. 32K, 128K, 1M");
  c->add_flag("--solid", a.solid, "Pack all file data into solid resources (better ratio, slower random access)");
  c->add_option("--solid-compress", a.solid_compress, "Compression for solid resources (default lzma)");
  c->add_option("--solid-chunk-size", a.solid_chunk_size, "Chunk size for solid resources (default 64M)");
  c->add_flag("--unix-data", a.unix_data, "Store UNIX owners, modes, special files and extended attributes");
  c->add_flag("--check", a.check, "Write an integrity table");
  c->add_flag("--boot", a.boot, "Mark the new image as bootable");
  c->add_option("--image-property", a.properties, "Set an image property NAME=VALUE (repeatable)");
  c->add_option("--flags", a.flags, "Set the image's FLAGS element (edition)");
  c->add_flag("--norpfix", a.norpfix, "Do not fix up absolute symbolic links that point inside SOURCE");
  c->add_flag("--rpfix", a.rpfix, "Fix up absolute symbolic links that point inside SOURCE (default)");
  add_common_options(c, a.common);
}

}  // namespace

void register_capture(CLI::App& app) {
  static CaptureArgs a;
  CLI::App* c = app.add_subcommand("capture", "Capture a directory tree into a new WIM archive");
  add_capture_options(c, a);
  c->callback([] {
    if (a.name.empty() && a.description.empty()) a.name = default_image_name(a.source);
    run_capture(a);
  });
}

}  // namespace wp::cmd
