// The writing half of the C API (include/wimpack/wimpack.h): an image built
// in memory as an image::Image -- the same tree `wimpack capture` builds from
// a scan -- whose stream data is compressed while it is written and staged
// (api/staging.hpp), then written by the same ArchiveUpdate / ArchiveWriter
// path capture and append use (add_image, commit or roll back), which copies
// the staged chunks as they are. Nothing here encodes WIM structures.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tbb/task_arena.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "api/handles.hpp"
#include "api/staging.hpp"
#include "compress/codec.hpp"
#include "image/ops.hpp"
#include "util/env.hpp"
#include "util/cpu.hpp"
#include "util/endian.hpp"
#include "util/file.hpp"
#include "util/filetime.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/archive_update.hpp"
#include "wim/reparse.hpp"
#include "wimpack/wimpack.h"

struct wimpack_write_options {
  std::string compress;       // "" = default
  uint32_t chunk_size = 0;    // 0 = default
  bool solid = false;
  std::string solid_compress;  // "" = lzma
  unsigned threads = 0;
  bool integrity = false;
};

namespace wp::api {
namespace {

// ------------------------------------------------------------------ state

struct ImageState;

struct StreamState {
  std::weak_ptr<ImageState> image;
  image::Inode* inode = nullptr;
  std::u16string name;  // empty = unnamed data stream
  std::string shown;    // "path" or "path:name", for messages
  uint64_t declared = 0, written = 0;
  Bytes buf;  // the chunk being filled
  std::unique_ptr<Sha1Hasher> hasher;
  std::shared_ptr<StagedStream> staged;
  bool closed = false;
};

struct ImageState {
  std::mutex mu;
  std::string path, name;
  wimpack_write_options opts;
  std::unique_ptr<wim::ArchiveUpdate> update;
  image::Image img;
  std::vector<std::unique_ptr<wim::BlobSource>> sources;
  StagingFormat staging;
  std::shared_ptr<Spool> spool;
  std::unique_ptr<StreamCompressor> compressor;  // started by the first chunk to compress
  std::vector<uint64_t> stream_ids;
  size_t open_streams = 0;
  bool finished = false;  // committed, or a commit failed
  wimpack_progress_fn progress = nullptr;
  void* progress_ctx = nullptr;
  // Children by name, per directory, built on first use: the tree keeps
  // children in a vector, and a program adding 100,000 files to one
  // directory must not pay a linear scan per name.
  std::unordered_map<const image::Dentry*, std::unordered_map<std::string, image::Dentry*>> index;

  std::unordered_map<std::string, image::Dentry*>& children_of(const image::Dentry* dir) {
    auto [it, fresh] = index.try_emplace(dir);
    if (fresh)
      for (const auto& c : dir->children) it->second.emplace(c->name, c.get());
    return it->second;
  }
  image::Dentry* child(const image::Dentry* dir, const std::string& name) {
    auto& m = children_of(dir);
    auto it = m.find(name);
    return it == m.end() ? nullptr : it->second;
  }
  image::Dentry* lookup(const std::vector<std::string>& parts, size_t n) {
    image::Dentry* d = img.root();
    for (size_t i = 0; i < n && d; i++) {
      if (!d->is_directory()) return nullptr;
      d = child(d, parts[i]);
    }
    return d;
  }
  void check_open() const {
    if (finished) fail(Errc::Usage, "the image was already committed (or its commit failed); it can only be closed");
  }
};

Registry<ImageState, Kind::Image>& images() {
  static Registry<ImageState, Kind::Image> r;
  return r;
}
Registry<StreamState, Kind::Stream>& streams() {
  static Registry<StreamState, Kind::Stream> r;
  return r;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// The parent directory of a new entry at `path`, and its name; the entry
// must not exist yet.
std::pair<image::Dentry*, std::string> new_entry_place(ImageState& st, const char* path) {
  auto parts = image::split_image_path(path);
  std::string shown = image::join_image_path(parts);
  if (parts.empty()) fail(Errc::Failure, "the root directory already exists");
  for (const auto& p : parts) {
    if (p == "." || p == "..") fail(Errc::Usage, "invalid path " + quoted(path) + ": '.' and '..' are not names");
    if (!utf8_to_utf16(p)) fail(Errc::Usage, "invalid path " + quoted(path) + ": names must be UTF-8");
  }
  image::Dentry* parent = st.lookup(parts, parts.size() - 1);
  if (!parent) fail(Errc::NotFound, "cannot add " + quoted(shown) + ": its parent directory does not exist");
  if (!parent->is_directory())
    fail(Errc::Failure, "cannot add " + quoted(shown) + ": " + quoted(parent->path()) + " is not a directory");
  if (st.child(parent, parts.back()))
    fail(Errc::Failure, "cannot add " + quoted(shown) + ": an entry of that name already exists");
  return {parent, parts.back()};
}

image::Dentry* attach(ImageState& st, image::Dentry* parent, std::string name, image::Inode* inode) {
  auto d = std::make_unique<image::Dentry>();
  d->name = name;
  d->inode = inode;
  d->parent = parent;
  inode->nlink++;
  image::Dentry* raw = d.get();
  parent->children.push_back(std::move(d));
  st.children_of(parent).emplace(std::move(name), raw);
  return raw;
}

// wim-format.md §9.1: the tag (and the buffer's reserved field) in the
// dentry, the rest of the reparse buffer as the reparse stream.
void make_reparse_point(ImageState& st, image::Inode& ino, uint32_t tag, uint16_t reserved, Bytes data,
                        const std::string& shown) {
  ino.attributes = (ino.attributes & ~uint32_t(image::kAttrNormal)) | image::kAttrReparsePoint;
  ino.reparse_tag = tag;
  ino.rp_reserved = reserved;
  // Links are marked NOT_FIXED: apply stores their targets as given.
  const bool link = tag == image::kReparseTagSymlink || tag == image::kReparseTagMountPoint;
  ino.rp_flags = link ? wim::symlink_rp_flags(false) : 0;
  image::Stream s;
  s.type = image::StreamType::Reparse;
  s.size = data.size();
  s.hash = sha1_of(data);
  s.source = uint32_t(st.sources.size());
  st.sources.push_back(std::make_unique<wim::MemoryBlobSource>(std::move(data), st.path + ":" + shown));
  ino.streams.push_back(std::move(s));
}

void set_metadata(ImageState& st, image::Inode& ino, const wimpack_file_metadata& md, const std::string& shown) {
  const bool dir = md.attributes & WIMPACK_ATTR_DIRECTORY;
  const bool link = md.symlink_target != nullptr;
  uint32_t fmt = md.mode & S_IFMT;
  const bool special = md.has_unix_data && (S_ISFIFO(md.mode) || S_ISSOCK(md.mode) || S_ISCHR(md.mode) || S_ISBLK(md.mode));
  if ((dir || link || special) && md.file_size)
    fail(Errc::Usage, quoted(shown) + ": file_size must be 0 for a directory, symbolic link or special file");
  if (md.attributes & WIMPACK_ATTR_REPARSE_POINT && !link)
    fail(Errc::Usage, quoted(shown) + ": a reparse point other than a symbolic link (symlink_target) is made with "
                                      "wimpack_set_reparse_point after wimpack_create_file, without the REPARSE_POINT attribute");
  if (md.has_unix_data && fmt) {
    bool ok = link ? S_ISLNK(md.mode) : dir ? S_ISDIR(md.mode) : !S_ISDIR(md.mode) && !S_ISLNK(md.mode);
    if (!ok) fail(Errc::Usage, quoted(shown) + ": the file type in mode does not match the attributes/symlink_target");
  }
  uint64_t now = filetime_now_or_epoch();
  ino.creation_time = md.creation_time ? md.creation_time : now;
  ino.last_write_time = md.last_write_time ? md.last_write_time : now;
  ino.last_access_time = md.last_access_time ? md.last_access_time : now;
  if (link) {
    std::string_view target(md.symlink_target);
    if (target.empty()) fail(Errc::Usage, quoted(shown) + ": symlink_target is empty");
    Bytes data;
    try {
      data = wim::make_symlink_reparse_data(target, false);
    } catch (const Error& e) {
      throw Error(e.code(), "cannot add symbolic link " + quoted(shown) + ": " + e.what());
    }
    ino.attributes = md.attributes;
    make_reparse_point(st, ino, image::kReparseTagSymlink, 0, std::move(data), shown);
  } else if (dir) {
    ino.attributes = md.attributes;
  } else if (special) {
    ino.attributes = md.attributes & ~uint32_t(image::kAttrNormal);  // wim-format.md §10.2: as capture stores them
  } else {
    ino.attributes = md.attributes ? md.attributes : uint32_t(image::kAttrNormal);
  }
  if (md.has_unix_data) {
    image::UnixData u{md.uid, md.gid, md.mode, md.rdev};
    if (!fmt) u.mode |= link ? S_IFLNK : dir ? S_IFDIR : S_IFREG;
    ino.set_unix_data(u);
  }
}

wimpack_stream* new_stream(const std::shared_ptr<ImageState>& st, image::Inode* inode, std::u16string name,
                           std::string shown, uint64_t size) {
  auto s = std::make_shared<StreamState>();
  s->image = st;
  s->inode = inode;
  s->name = std::move(name);
  s->shown = std::move(shown);
  s->declared = size;
  if (size) {
    s->hasher = std::make_unique<Sha1Hasher>();
    s->staged = std::make_shared<StagedStream>();
  }
  auto* h = streams().add<wimpack_stream>(s);
  st->stream_ids.push_back(Registry<StreamState, Kind::Stream>::id_of(h));
  st->open_streams++;
  return h;
}

// The chunk `s` filled (full, or the last one) goes to the spool: through
// the compressor, or as it is when the image stages raw chunks.
void stage_chunk(ImageState& st, StreamState& s) {
  if (s.buf.empty()) return;
  if (!st.spool) st.spool = std::make_shared<Spool>(st.path);
  s.hasher->update(s.buf);
  if (st.staging.codec == Codec::None) {
    uint64_t at = st.spool->append(s.buf);
    s.staged->chunks.push_back({at, uint32_t(s.buf.size()), false});
    s.buf.clear();
    return;
  }
  if (!st.compressor) {
    unsigned threads = st.opts.threads ? st.opts.threads : unsigned(available_cpus());
    st.compressor = std::make_unique<StreamCompressor>(st.spool, st.staging, std::max(1u, threads));
  }
  st.compressor->submit(s.staged, std::move(s.buf));
  s.buf = Bytes();
}

uint32_t staging_chunk(const ImageState& st) {
  return st.staging.codec == Codec::None ? StagingFormat::kRawChunk : st.staging.chunk_size;
}

// A stream handle with its image, locked and still building.
struct LockedStream {
  std::shared_ptr<StreamState> s;
  std::shared_ptr<ImageState> st;
  std::unique_lock<std::mutex> lk;
};
LockedStream lock_stream(wimpack_stream* h) {
  LockedStream r;
  r.s = streams().get(h, "the stream");
  r.st = r.s->image.lock();
  if (!r.st) fail(Errc::Usage, "the stream's image was closed");
  r.lk = std::unique_lock(r.st->mu);
  if (r.s->closed) fail(Errc::Usage, "the stream " + quoted(r.s->shown) + " is already closed");
  return r;
}

std::shared_ptr<ImageState> get_image(wimpack_image* h) { return images().get(h, "the image"); }

wim::WriterOptions writer_options(const wimpack_write_options& o, const wim::Archive* existing) {
  wim::WriterOptions wo;
  const wim::Header* h = existing ? &existing->header() : nullptr;
  wo.compression = !o.compress.empty() ? parse_compression(o.compress)
                   : h              ? CompressionSpec{h->codec(), 0}
                                    : CompressionSpec{Codec::Lzx, 0};
  if (o.chunk_size) {
    if (wo.compression.codec == Codec::None || !valid_chunk_size(wo.compression.codec, o.chunk_size))
      fail(Errc::Usage, "chunk size " + std::to_string(o.chunk_size) + " is not valid for " +
                            codec_name(wo.compression.codec));
    wo.chunk_size = o.chunk_size;
  }
  if (h) {
    if (wo.compression.codec != h->codec() || (o.chunk_size && o.chunk_size != h->chunk_size))
      fail(Errc::Usage, "'" + existing->path() + "' uses " + codec_name(h->codec()) + " with " +
                            std::to_string(h->chunk_size) + "-byte chunks; new data must use the same");
    wo.chunk_size = h->chunk_size;
    if (h->flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + existing->path() + "' is marked read-only");
  }
  wo.pipable = h && h->pipable;
  wo.solid = o.solid;
  wo.source_date_epoch = source_date_epoch();
  if (wo.solid) {
    wo.solid_compression = o.solid_compress.empty() ? CompressionSpec{Codec::Lzma, 0} : parse_compression(o.solid_compress);
    if (wo.solid_compression.codec == Codec::None) fail(Errc::Usage, "solid resources are always compressed");
    if (h && !is_standard(wo.solid_compression.codec) && h->codec() != wo.solid_compression.codec)
      fail(Errc::Usage, std::string("cannot add solid ") + codec_name(wo.solid_compression.codec) +
                            " data to an archive whose header codec is " + codec_name(h->codec()));
    if (wo.pipable) fail(Errc::Usage, "solid compression is not supported in pipable WIMs");
  }
  wo.integrity = o.integrity || (existing && existing->has_integrity());
  // As capture: a new archive says its symlinks may be fixed (each of ours
  // is marked NOT_FIXED, so none is changed on apply); an append keeps it.
  if (!h || (h->flags & wim::kHdrRpFix)) wo.extra_header_flags |= wim::kHdrRpFix;
  if (wo.compression.codec != Codec::None) make_compressor(wo.compression.codec, wo.compression.level, 32768);
  if (wo.solid) make_compressor(wo.solid_compression.codec, wo.solid_compression.level, 32768);
  return wo;
}

void remove_from_index(ImageState& st, image::Dentry* d) {
  std::vector<image::Dentry*> stack{d};
  while (!stack.empty()) {
    image::Dentry* x = stack.back();
    stack.pop_back();
    st.index.erase(x);
    for (auto& c : x->children) stack.push_back(c.get());
  }
  if (d->parent) {
    auto it = st.index.find(d->parent);
    if (it != st.index.end()) it->second.erase(d->name);
  }
}

}  // namespace
}  // namespace wp::api

using namespace wp;
using namespace wp::api;

extern "C" {

wimpack_write_options* wimpack_write_options_new(void) {
  try {
    return new wimpack_write_options();
  } catch (...) {
    record_error(Errc::Failure, "out of memory");
    return nullptr;
  }
}

void wimpack_write_options_free(wimpack_write_options* o) { delete o; }

int wimpack_write_options_set_compression(wimpack_write_options* o, const char* codec) {
  return guarded([&] {
    require(o && codec, "wimpack_write_options_set_compression: NULL argument");
    try {
      parse_compression(codec);
    } catch (const Error& e) {
      throw Error(Errc::Usage, e.what());
    }
    o->compress = codec;
  });
}

int wimpack_write_options_set_chunk_size(wimpack_write_options* o, uint32_t chunk_size) {
  return guarded([&] {
    require(o, "wimpack_write_options_set_chunk_size: NULL options");
    o->chunk_size = chunk_size;
  });
}

int wimpack_write_options_set_solid(wimpack_write_options* o, int solid, const char* codec) {
  return guarded([&] {
    require(o, "wimpack_write_options_set_solid: NULL options");
    if (codec) {
      try {
        parse_compression(codec);
      } catch (const Error& e) {
        throw Error(Errc::Usage, e.what());
      }
    }
    o->solid = solid != 0;
    o->solid_compress = codec ? codec : "";
  });
}

int wimpack_write_options_set_threads(wimpack_write_options* o, unsigned threads) {
  return guarded([&] {
    require(o, "wimpack_write_options_set_threads: NULL options");
    o->threads = threads;
  });
}

int wimpack_write_options_set_integrity(wimpack_write_options* o, int integrity) {
  return guarded([&] {
    require(o, "wimpack_write_options_set_integrity: NULL options");
    o->integrity = integrity != 0;
  });
}

int wimpack_create_image(const char* wim_path, const char* base_image, const char* image_name,
                         const wimpack_write_options* options, wimpack_image** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(out, "wimpack_create_image: out is NULL");
    require(wim_path && *wim_path, "wimpack_create_image: wim_path is NULL or empty");
    auto st = std::make_shared<ImageState>();
    st->path = wim_path;
    st->name = image_name ? image_name : "";
    for (unsigned char c : st->name)
      if (c < 0x20 && c != '\t' && c != '\n')
        fail(Errc::Usage, "the image name must not contain control characters (WIM readers refuse them)");
    if (options) st->opts = *options;
    struct stat sb;
    bool exists = ::stat(wim_path, &sb) == 0;
    st->update = exists ? wim::ArchiveUpdate::open(wim_path) : wim::ArchiveUpdate::create(wim_path);
    wim::Archive* existing = st->update->existing();
    if (existing && !st->name.empty() && existing->xml().find_by_name(st->name))
      fail(Errc::Usage, "'" + st->path + "' already has an image named \"" + st->name + "\"");
    if (base_image) {
      if (!existing) fail(Errc::NotFound, "base image '" + std::string(base_image) + "': '" + st->path + "' does not exist");
      st->img = existing->load_image(existing->resolve_image(base_image));
    } else {
      uint64_t now = filetime_now_or_epoch();
      image::Inode* r = st->img.root()->inode;
      r->attributes = image::kAttrDirectory;
      r->creation_time = r->last_write_time = r->last_access_time = now;
    }
    // Check the options now rather than after all the work; non-solid
    // archives take their chunks compressed as they are written.
    wim::WriterOptions wo = writer_options(st->opts, existing);
    if (!wo.solid && !wo.pipable && wo.compression.codec != Codec::None)
      st->staging = {wo.compression.codec, wo.compression.level,
                     wo.chunk_size ? wo.chunk_size : default_chunk_size(wo.compression.codec, false)};
    *out = images().add<wimpack_image>(st);
  });
}

int wimpack_create_file(wimpack_image* image, const char* path, const wimpack_file_metadata* md,
                        wimpack_stream** stream) {
  if (stream) *stream = nullptr;
  return guarded([&] {
    auto st = get_image(image);
    require(path && md, "wimpack_create_file: NULL path or metadata");
    std::lock_guard lk(st->mu);
    st->check_open();
    std::string shown = image::join_image_path(image::split_image_path(path));
    if (!stream && md->file_size)
      fail(Errc::Usage, quoted(shown) + ": file_size is " + std::to_string(md->file_size) + " but no stream was asked for");
    if (image::split_image_path(path).empty()) {
      if (!(md->attributes & WIMPACK_ATTR_DIRECTORY) || md->symlink_target)
        fail(Errc::Usage, "the root must be a directory (attributes must include WIMPACK_ATTR_DIRECTORY)");
      if (stream) fail(Errc::Usage, "a directory has no data stream (pass stream = NULL)");
      image::Inode& r = *st->img.root()->inode;
      r.tagged_items.erase(std::remove_if(r.tagged_items.begin(), r.tagged_items.end(),
                                          [](const image::TaggedItem& t) { return t.tag == image::kTagUnixData; }),
                           r.tagged_items.end());
      set_metadata(*st, r, *md, shown);
      return;
    }
    auto [parent, name] = new_entry_place(*st, path);
    if (stream && (md->attributes & WIMPACK_ATTR_DIRECTORY || md->symlink_target))
      fail(Errc::Usage, quoted(shown) + ": a directory or symbolic link has no data stream (pass stream = NULL)");
    image::Inode* ino = st->img.new_inode();
    set_metadata(*st, *ino, *md, shown);
    attach(*st, parent, name, ino);
    if (stream) {
      if (md->file_size) {
        image::Stream s;
        s.type = image::StreamType::Data;
        s.size = md->file_size;
        ino->streams.push_back(std::move(s));
      }
      *stream = new_stream(st, ino, {}, shown, md->file_size);
    }
  });
}

int wimpack_create_alternate_stream(wimpack_image* image, const char* spec, uint64_t size, wimpack_stream** stream) {
  if (stream) *stream = nullptr;
  return guarded([&] {
    auto st = get_image(image);
    require(spec && stream, "wimpack_create_alternate_stream: NULL argument");
    std::lock_guard lk(st->mu);
    st->check_open();
    std::string_view sv(spec);
    size_t slash = sv.find_last_of("/\\");
    size_t colon = sv.find(':', slash == std::string_view::npos ? 0 : slash + 1);
    if (colon == std::string_view::npos || colon + 1 == sv.size())
      fail(Errc::Usage, quoted(spec) + " does not name a stream (expected \"PATH:NAME\")");
    std::string path(sv.substr(0, colon)), sname(sv.substr(colon + 1));
    if (sname.find(':') != std::string::npos) fail(Errc::Usage, quoted(spec) + ": a stream name cannot contain ':'");
    auto parts = image::split_image_path(path);
    std::string shown = image::join_image_path(parts);
    image::Dentry* d = st->lookup(parts, parts.size());
    if (!d) fail(Errc::NotFound, "cannot add stream " + quoted(sname) + ": " + quoted(shown) + " does not exist");
    if (d->inode->is_reparse_point())
      fail(Errc::Unsupported, "named streams on symbolic links are not supported yet (" + quoted(shown) + ")");
    auto u16 = utf8_to_utf16(sname);
    if (!u16) fail(Errc::Usage, quoted(spec) + ": the stream name is not valid UTF-8");
    if (d->inode->find_stream(image::StreamType::Data, *u16))
      fail(Errc::Failure, quoted(shown) + " already has a stream named " + quoted(sname));
    image::Stream s;
    s.type = image::StreamType::Data;
    s.name = *u16;
    s.size = size;
    d->inode->streams.push_back(std::move(s));
    *stream = new_stream(st, d->inode, *u16, shown + ":" + sname, size);
  });
}

int wimpack_write_stream(wimpack_stream* stream, const void* data, size_t size) {
  return guarded([&] {
    auto l = lock_stream(stream);
    StreamState& s = *l.s;
    if (size && !data) fail(Errc::Usage, "wimpack_write_stream: data is NULL");
    if (size > s.declared - s.written)
      fail(Errc::Usage, "stream " + quoted(s.shown) + ": writing " + std::to_string(size) + " bytes would exceed its declared size of " +
                            std::to_string(s.declared) + " (" + std::to_string(s.written) + " written)");
    const uint8_t* p = static_cast<const uint8_t*>(data);
    const size_t C = staging_chunk(*l.st);
    size_t left = size;
    while (left) {
      // A buffer the size of what the stream still needs, at most a chunk.
      if (s.buf.capacity() == 0) s.buf.reserve(size_t(std::min<uint64_t>(C, s.declared - s.written - (size - left))));
      size_t k = std::min(left, C - s.buf.size());
      s.buf.insert(s.buf.end(), p, p + k);
      p += k;
      left -= k;
      if (s.buf.size() == C) stage_chunk(*l.st, s);
    }
    s.written += size;
  });
}

int wimpack_close_stream(wimpack_stream* stream) {
  return guarded([&] {
    auto l = lock_stream(stream);
    StreamState& s = *l.s;
    ImageState& st = *l.st;
    if (s.written != s.declared)
      fail(Errc::Usage, "stream " + quoted(s.shown) + ": only " + std::to_string(s.written) + " of its " +
                            std::to_string(s.declared) + " declared bytes were written (the stream stays open)");
    if (s.declared) {
      stage_chunk(st, s);
      image::Stream* is = s.inode->find_stream(image::StreamType::Data, s.name);
      if (!is) fail(Errc::Failure, "internal error: stream " + quoted(s.shown) + " vanished");
      is->hash = s.hasher->final();  // known: the writer need not hash it again, and finds duplicates by it
      is->source = uint32_t(st.sources.size());
      st.sources.push_back(std::make_unique<StagedBlobSource>(st.spool, s.staged, st.staging, s.declared,
                                                              st.path + ":" + s.shown));
    }
    s.hasher.reset();
    s.staged.reset();
    s.buf.clear();
    s.buf.shrink_to_fit();
    s.closed = true;
    st.open_streams--;
  });
}

int wimpack_create_hard_link(wimpack_image* image, const char* path, const char* existing_path) {
  return guarded([&] {
    auto st = get_image(image);
    require(path && existing_path, "wimpack_create_hard_link: NULL path");
    std::lock_guard lk(st->mu);
    st->check_open();
    auto parts = image::split_image_path(existing_path);
    std::string shown = image::join_image_path(parts);
    image::Dentry* target = st->lookup(parts, parts.size());
    if (!target) fail(Errc::NotFound, "cannot link to " + quoted(shown) + ": it does not exist");
    if (target->is_directory()) fail(Errc::Failure, "cannot hard-link directory " + quoted(shown));
    if (target->inode->is_reparse_point())
      fail(Errc::Unsupported, "hard links to symbolic links are not supported yet (" + quoted(shown) + ")");
    auto [parent, name] = new_entry_place(*st, path);
    attach(*st, parent, name, target->inode);
  });
}

int wimpack_set_reparse_point(wimpack_image* image, const char* path, const void* reparse_data, size_t size) {
  return guarded([&] {
    auto st = get_image(image);
    require(path && reparse_data, "wimpack_set_reparse_point: NULL path or reparse_data");
    std::lock_guard lk(st->mu);
    st->check_open();
    auto parts = image::split_image_path(path);
    std::string shown = image::join_image_path(parts);
    if (parts.empty()) fail(Errc::Usage, "the root directory cannot be a reparse point");
    image::Dentry* d = st->lookup(parts, parts.size());
    if (!d) fail(Errc::NotFound, "cannot make " + quoted(shown) + " a reparse point: it does not exist");
    image::Inode& ino = *d->inode;
    if (ino.is_reparse_point()) fail(Errc::Failure, quoted(shown) + " is already a reparse point");
    if (ino.nlink > 1) fail(Errc::Unsupported, "hard-linked reparse points are not supported yet (" + quoted(shown) + ")");
    // REPARSE_DATA_BUFFER: u32 tag, u16 data length, u16 reserved, then the
    // data, after a 16-byte GUID for a tag without the Microsoft bit (§9.1).
    const auto* p = static_cast<const uint8_t*>(reparse_data);
    if (size < 8) fail(Errc::Usage, quoted(shown) + ": a reparse buffer has an 8-byte header; " + std::to_string(size) + " bytes given");
    uint32_t tag = load_le32(p);
    uint16_t length = load_le16(p + 4), reserved = load_le16(p + 6);
    size_t head = tag & 0x80000000u ? 8 : 24;
    if (size != head + length)
      fail(Errc::Usage, quoted(shown) + ": the reparse buffer is " + std::to_string(size) + " bytes but its header says " +
                            std::to_string(head) + " + " + std::to_string(length));
    if (size - 8 > wim::kMaxReparseDataSize)
      fail(Errc::Usage, quoted(shown) + ": reparse data over 16384 bytes (Windows' limit)");
    make_reparse_point(*st, ino, tag, reserved, Bytes(p + 8, p + size), shown);
  });
}

int wimpack_delete_path(wimpack_image* image, const char* path) {
  return guarded([&] {
    auto st = get_image(image);
    require(path, "wimpack_delete_path: NULL path");
    std::lock_guard lk(st->mu);
    st->check_open();
    auto parts = image::split_image_path(path);
    std::string shown = image::join_image_path(parts);
    if (parts.empty()) fail(Errc::Usage, "the root directory cannot be deleted");
    image::Dentry* d = st->lookup(parts, parts.size());
    if (!d) fail(Errc::NotFound, "cannot delete " + quoted(shown) + ": it does not exist");
    remove_from_index(*st, d);
    st->img.remove(d);
  });
}

int wimpack_set_commit_progress(wimpack_image* image, wimpack_progress_fn progress, void* context) {
  return guarded([&] {
    auto st = get_image(image);
    std::lock_guard lk(st->mu);
    st->progress = progress;
    st->progress_ctx = context;
  });
}

int wimpack_commit_image(wimpack_image* image) {
  return guarded([&] {
    auto st = get_image(image);
    std::lock_guard lk(st->mu);
    st->check_open();
    if (st->open_streams)
      fail(Errc::Usage, std::to_string(st->open_streams) + " stream(s) of the image are still open; close them before committing");
    st->finished = true;
    if (st->compressor) {
      st->compressor->finish();  // every chunk written is in the spool now
      st->compressor.reset();
    }
    wim::ArchiveUpdate& update = *st->update;
    wim::Archive* existing = update.existing();
    wim::WriterOptions wo = writer_options(st->opts, existing);
    int threads = st->opts.threads ? int(st->opts.threads) : available_cpus();
    tbb::task_arena arena(std::max(1, threads));
    arena.execute([&] {
      try {
        wim::ArchiveWriter& writer = update.begin(wo, existing != nullptr);
        if (existing && !update.in_place()) writer.import_archive(*existing, false);
        if (st->progress) writer.set_progress([&](uint64_t d, uint64_t t, uint64_t) { st->progress(d, t, st->progress_ctx); });
        writer.add_image(st->img, st->sources, st->name);
        update.commit();
      } catch (...) {
        update.rollback_and_rethrow();
      }
    });
    st->update.reset();  // releases the lock
    st->sources.clear();
    st->spool.reset();
  });
}

void wimpack_close_image(wimpack_image* image) {
  auto st = images().take(image);
  if (!st) return;
  std::vector<uint64_t> ids;
  {
    std::lock_guard lk(st->mu);
    ids.swap(st->stream_ids);
  }
  for (uint64_t id : ids) streams().take_id(id);
  std::lock_guard lk(st->mu);
  st->finished = true;
  st->compressor.reset();  // drops the chunks still queued
  st->update.reset();      // not committed: the archive is left as it was
}

}  // extern "C"
