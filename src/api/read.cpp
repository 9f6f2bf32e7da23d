// The reading half of the C API (include/wimpack/wimpack.h): an open
// wim::Archive with its --ref archives, images decoded once and kept, entries
// looked up with image/ops, blob data read through ArchiveBlobSource, and
// apply through src/apply (extract_image / extract_tree), as the CLI does.
#include <cstring>
#include <deque>
#include <map>
#include <vector>

#include "api/handles.hpp"
#include "apply/extract_image.hpp"
#include "apply/select.hpp"
#include "image/ops.hpp"
#include "mount/chunk_cache.hpp"
#include "util/endian.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/archive_blob_source.hpp"
#include "wim/reparse.hpp"
#include "wimpack/wimpack.h"

namespace wp::api {
namespace {

struct ArchiveState {
  std::mutex mu;
  std::unique_ptr<wim::Archive> archive;
  std::vector<std::string> ref_paths;
  std::map<size_t, image::Image> images;
  std::deque<std::string> strings;  // handed out as const char*; live until close
  std::vector<uint64_t> reader_ids;
  // Decoded chunks for the readers of this archive (the mount's random
  // access: a read decodes only the chunks it covers); thread-safe itself.
  mount::ChunkCache cache{uint64_t(32) << 20};

  const char* keep(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
  size_t index(int i) const {
    if (i < 1 || size_t(i) > archive->image_count())
      fail(Errc::NotFound, "'" + archive->path() + "' has no image " + std::to_string(i) + " (it has " +
                               std::to_string(archive->image_count()) + ")");
    return size_t(i);
  }
  const image::Image& image(int i) {
    size_t n = index(i);
    auto it = images.find(n);
    if (it == images.end()) it = images.emplace(n, archive->load_image(n)).first;
    return it->second;
  }
  const image::Dentry* lookup(int i, const char* path) {
    if (!path) fail(Errc::Usage, "the path is NULL");
    const image::Image& img = image(i);
    const image::Dentry* d = image::lookup_path(img, path);
    if (!d)
      fail(Errc::NotFound, "'" + image::join_image_path(image::split_image_path(path)) + "' does not exist in image " +
                               std::to_string(i) + " of '" + archive->path() + "'");
    return d;
  }
  Bytes blob(const Sha1& hash, const std::string& what) {
    const wim::BlobLocation* loc = archive->find_blob(hash);
    if (!loc) fail(Errc::NotFound, what + ": its data (blob " + hash.hex() + ") is not in the archive or its refs");
    auto s = wim::ArchiveBlobSource(*loc->archive, *loc, hash).open();
    Bytes out(size_t(loc->size));
    size_t got = 0;
    while (got < out.size()) {
      size_t n = s->read({out.data() + got, out.size() - got});
      if (!n) fail(Errc::BadArchive, what + ": its data ends early");
      got += n;
    }
    return out;
  }
  void fill(const image::Dentry& d, wimpack_file_metadata& md) {
    const image::Inode& ino = *d.inode;
    md = {};
    md.attributes = ino.attributes;
    md.creation_time = ino.creation_time;
    md.last_write_time = ino.last_write_time;
    md.last_access_time = ino.last_access_time;
    if (const image::Stream* s = ino.unnamed_data()) md.file_size = s->size;
    if (ino.is_symlink()) {
      const image::Stream* rs = ino.reparse_stream();
      if (rs && !rs->hash.is_zero()) {
        Bytes data = blob(rs->hash, d.path());
        auto t = wim::reparse_to_unix_target(ino.reparse_tag, ino.rp_flags, data, false, "");
        if (t) md.symlink_target = keep(*t);
      }
    }
    if (auto u = ino.unix_data()) {
      md.has_unix_data = 1;
      md.uid = u->uid;
      md.gid = u->gid;
      md.mode = u->mode;
      md.rdev = u->rdev;
    }
  }
};

// A stream read at any offset through its archive's ChunkCache. Reads that
// continue front to back from offset 0 are also hashed, and checked against
// the blob's SHA-1 when they reach the end.
struct ReaderState {
  std::mutex mu;
  std::weak_ptr<ArchiveState> owner;
  const wim::BlobLocation* loc = nullptr;  // null for an empty stream
  Sha1 hash;
  uint64_t size = 0;
  uint64_t hashed = 0;  // bytes [0, hashed) went through `hasher`, in order
  Sha1Hasher hasher;
};

Registry<ArchiveState, Kind::Archive>& archives() {
  static Registry<ArchiveState, Kind::Archive> r;
  return r;
}
Registry<ReaderState, Kind::Reader>& readers() {
  static Registry<ReaderState, Kind::Reader> r;
  return r;
}

}  // namespace
}  // namespace wp::api

namespace wp::api {

std::unique_ptr<wim::Archive> reopen_archive(wimpack_archive* archive) {
  auto st = archives().get(archive, "the archive");
  std::string path;
  std::vector<std::string> refs;
  {
    std::lock_guard lk(st->mu);
    path = st->archive->path();
    refs = st->ref_paths;
  }
  auto a = wim::Archive::open(path);
  wim::resolve_delta_bases(*a, refs);
  return a;
}

}  // namespace wp::api

using namespace wp;
using namespace wp::api;

extern "C" {

int wimpack_open_archive(const char* wim_path, const char* const* refs, size_t ref_count, wimpack_archive** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(out && wim_path, "wimpack_open_archive: NULL argument");
    require(refs || ref_count == 0, "wimpack_open_archive: refs is NULL but ref_count is not 0");
    auto st = std::make_shared<ArchiveState>();
    st->archive = wim::Archive::open(wim_path);
    std::vector<std::string> ref_paths;
    for (size_t i = 0; i < ref_count; i++) {
      require(refs[i] != nullptr, "wimpack_open_archive: a ref path is NULL");
      ref_paths.push_back(refs[i]);
    }
    wim::resolve_delta_bases(*st->archive, ref_paths);
    st->ref_paths = std::move(ref_paths);
    *out = archives().add<wimpack_archive>(st);
  });
}

void wimpack_close_archive(wimpack_archive* archive) {
  auto st = archives().take(archive);
  if (!st) return;
  std::vector<uint64_t> ids;
  {
    std::lock_guard lk(st->mu);
    ids.swap(st->reader_ids);
  }
  for (uint64_t id : ids) {
    auto r = readers().take_id(id);
    if (r) {
      std::lock_guard lk(r->mu);
      r->loc = nullptr;
    }
  }
}

int wimpack_image_count(wimpack_archive* archive, int* count) {
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(count, "wimpack_image_count: count is NULL");
    *count = int(st->archive->image_count());
  });
}

int wimpack_resolve_image(wimpack_archive* archive, const char* image, int* index) {
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(image && index, "wimpack_resolve_image: NULL argument");
    std::lock_guard lk(st->mu);
    *index = int(st->archive->resolve_image(image));
  });
}

int wimpack_get_image_property(wimpack_archive* archive, int index, const char* property, const char** value) {
  if (value) *value = nullptr;
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(property && value, "wimpack_get_image_property: NULL argument");
    std::lock_guard lk(st->mu);
    size_t i = st->index(index);
    *value = st->keep(st->archive->xml().get_property(i, property));
  });
}

int wimpack_stat(wimpack_archive* archive, int index, const char* path, wimpack_file_metadata* md) {
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(md, "wimpack_stat: metadata is NULL");
    std::lock_guard lk(st->mu);
    st->fill(*st->lookup(index, path), *md);
  });
}

int wimpack_get_reparse_point(wimpack_archive* archive, int index, const char* path, void* buffer, size_t size,
                              size_t* needed) {
  if (needed) *needed = 0;
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(needed && (buffer || size == 0), "wimpack_get_reparse_point: NULL needed, or NULL buffer with a size");
    std::lock_guard lk(st->mu);
    const image::Dentry* d = st->lookup(index, path);
    const image::Inode& ino = *d->inode;
    if (!ino.is_reparse_point()) fail(Errc::NotFound, "'" + d->path() + "' is not a reparse point");
    Bytes data;
    if (const image::Stream* rs = ino.reparse_stream(); rs && !rs->hash.is_zero()) data = st->blob(rs->hash, d->path());
    // wim-format.md §9.1: the 8-byte header rebuilt from the dentry; the
    // length does not count the GUID of a tag without the Microsoft bit.
    const size_t guid = ino.reparse_tag & 0x80000000u ? 0 : 16;
    if (data.size() < guid || data.size() - guid > 0xFFFF)
      fail(Errc::BadArchive, "'" + d->path() + "': its reparse data has an impossible size");
    *needed = 8 + data.size();
    if (size == 0) return;  // a size query
    if (size < *needed)
      fail(Errc::Usage, "wimpack_get_reparse_point: the buffer holds " + std::to_string(size) + " bytes, " +
                            std::to_string(*needed) + " are needed");
    auto* p = static_cast<uint8_t*>(buffer);
    store_le32(p, ino.reparse_tag);
    store_le16(p + 4, uint16_t(data.size() - guid));
    store_le16(p + 6, ino.rp_reserved);
    if (!data.empty()) std::memcpy(p + 8, data.data(), data.size());
  });
}

int wimpack_iterate_dir(wimpack_archive* archive, int index, const char* path, wimpack_dir_fn fn, void* context) {
  int stopped = 0;
  int rc = guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(fn != nullptr, "wimpack_iterate_dir: the callback is NULL");
    std::vector<std::pair<std::string, wimpack_file_metadata>> entries;
    {
      std::lock_guard lk(st->mu);
      const image::Dentry* d = st->lookup(index, path);
      if (!d->is_directory()) fail(Errc::Failure, "'" + d->path() + "' is not a directory");
      for (const image::Dentry* c : apply::sorted_children(*d)) {
        wimpack_file_metadata md;
        st->fill(*c, md);
        entries.emplace_back(c->name, md);
      }
    }
    // The callback runs without the lock: it may call back into the API.
    for (const auto& [name, md] : entries)
      if ((stopped = fn(name.c_str(), &md, context)) != 0) return;
  });
  return rc ? rc : stopped;
}

int wimpack_open_reader(wimpack_archive* archive, int index, const char* path, wimpack_reader** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(path && out, "wimpack_open_reader: NULL argument");
    std::lock_guard lk(st->mu);
    std::string_view sv(path);
    size_t slash = sv.find_last_of("/\\");
    size_t colon = sv.find(':', slash == std::string_view::npos ? 0 : slash + 1);
    std::string file(sv.substr(0, colon));
    std::u16string sname;
    if (colon != std::string_view::npos) {
      auto u = utf8_to_utf16(sv.substr(colon + 1));
      if (!u) fail(Errc::Usage, "'" + std::string(path) + "': the stream name is not valid UTF-8");
      sname = *u;
    }
    const image::Dentry* d = st->lookup(index, file.c_str());
    if (sname.empty() && d->is_directory()) fail(Errc::Failure, "'" + d->path() + "' is a directory");
    const image::Stream* s = d->inode->find_stream(image::StreamType::Data, sname);
    if (!s && !sname.empty()) fail(Errc::NotFound, "'" + d->path() + "' has no stream named '" + utf16_to_utf8(sname) + "'");
    auto r = std::make_shared<ReaderState>();
    r->owner = st;
    if (s && !s->hash.is_zero()) {
      const wim::BlobLocation* loc = st->archive->find_blob(s->hash);
      if (!loc) fail(Errc::NotFound, "'" + std::string(path) + "': its data (blob " + s->hash.hex() + ") is not in the archive or its refs");
      if (loc->size != s->size)
        fail(Errc::BadArchive, "'" + std::string(path) + "': the blob table gives its data " + std::to_string(loc->size) +
                                   " bytes, the entry " + std::to_string(s->size));
      r->loc = loc;
      r->hash = s->hash;
      r->size = loc->size;
    }
    *out = readers().add<wimpack_reader>(r);
    st->reader_ids.push_back(Registry<ReaderState, Kind::Reader>::id_of(*out));
  });
}

int wimpack_reader_size(wimpack_reader* reader, uint64_t* size) {
  return guarded([&] {
    auto r = readers().get(reader, "the reader");
    require(size, "wimpack_reader_size: size is NULL");
    *size = r->size;
  });
}

int wimpack_read(wimpack_reader* reader, uint64_t offset, void* buffer, size_t size, size_t* got) {
  if (got) *got = 0;
  return guarded([&] {
    auto r = readers().get(reader, "the reader");
    require(got && (buffer || !size), "wimpack_read: NULL argument");
    auto owner = r->owner.lock();  // keeps the archive alive during the read
    std::lock_guard lk(r->mu);
    if (!owner || !r->loc || offset >= r->size) return;
    size_t want = size_t(std::min<uint64_t>(size, r->size - offset));
    auto* p = static_cast<uint8_t*>(buffer);
    owner->cache.read(*r->loc, offset, {p, want});
    // The hash check of front-to-back reading: this read continues it if it
    // covers the next unhashed byte.
    if (offset <= r->hashed && offset + want > r->hashed) {
      r->hasher.update({p + (r->hashed - offset), size_t(offset + want - r->hashed)});
      r->hashed = offset + want;
      if (r->hashed == r->size) {
        Sha1 h = r->hasher.final();
        r->hashed = 0;
        if (h != r->hash)
          fail(Errc::BadArchive, "the data read does not match its SHA-1 (" + r->hash.hex() + "): the archive is corrupt");
      }
    }
    *got = want;
  });
}

void wimpack_close_reader(wimpack_reader* reader) { readers().take(reader); }

int wimpack_apply(wimpack_archive* archive, int index, const char* path, const char* target_dir, int flags,
                  wimpack_progress_fn progress, void* context) {
  return guarded([&] {
    auto st = archives().get(archive, "the archive");
    require(target_dir && *target_dir, "wimpack_apply: target_dir is NULL or empty");
    require((flags & ~(WIMPACK_APPLY_UNIX_DATA | WIMPACK_APPLY_RPFIX)) == 0, "wimpack_apply: unknown flags");
    std::lock_guard lk(st->mu);
    apply::ApplyOptions opts;
    opts.unix_data = flags & WIMPACK_APPLY_UNIX_DATA;
    opts.rpfix = flags & WIMPACK_APPLY_RPFIX;
    apply::ProgressFn pf;
    if (progress) pf = [&](uint64_t d, uint64_t t, uint64_t) { progress(d, t, context); };
    size_t i = st->index(index);
    if (!path || image::split_image_path(path).empty()) {
      apply::extract_image(*st->archive, i, target_dir, opts, pf);
      return;
    }
    const image::Dentry* d = st->lookup(index, path);
    opts.root_metadata = false;
    image::Image tree = apply::build_extract_tree(st->image(index), {{d, false}});
    apply::extract_tree(*st->archive, i, tree, target_dir, opts, pf);
  });
}

}  // extern "C"
