#include "apply/extract_image.hpp"

#include <algorithm>
#include <tbb/task_group.h>

#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <cerrno>
#include <unistd.h>

#include "apply/task_join.hpp"
#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"
#include "util/timer.hpp"
#include "util/printable.hpp"
#include "wim/resource_reader.hpp"

namespace wp::apply {

namespace {

struct Wanted {
  uint64_t offset, size;
  Sha1 hash;
};

// Throws the error for blobs that neither the archive nor its --ref
// archives hold: NotFound for a wimpack delta (naming its base), BadArchive
// otherwise.
[[noreturn]] void missing_blobs(const wim::Archive& archive, size_t index, size_t count, const Sha1& first,
                                const std::string& user) {
  // A delta made by wimpack names its bases in the XML; only then can a
  // blob legitimately live elsewhere (split WIMs are refused at open).
  std::string bases;
  for (const auto& b : archive.xml().delta_bases(index))
    bases += std::string(bases.empty() ? "" : ", ") + printable(b.path);
  std::string what = "cannot apply image " + std::to_string(index) + " of '" + archive.path() + "': " +
                     std::to_string(count) + " blob" + (count == 1 ? " is" : "s are") + " missing (first: " + first.hex();
  if (bases.empty()) {
    // Not a delta: the image references data the archive does not hold.
    fail(Errc::BadArchive, what + (user.empty() ? "" : ", needed by '" + printable(user) + "'") +
                               "): the archive is corrupt: its blob table lacks data its image uses (unless it is a delta made by "
                               "another tool: then pass its base with --ref=BASE.wim)");
  }
  fail(Errc::NotFound, what + "); this is a delta of " + bases + ": pass it with --ref=" + bases.substr(0, bases.find(',')));
}

// stream_resources(f, resources, sink), and with `recover` (--recover-data)
// a resource that fails is read again chunk by chunk from where the stream
// stopped: a chunk that cannot be read or decompressed is given to the sink
// zero-filled and reported through on_bad(i, message), once per resource;
// `ends[i]` is how far resource i is needed (for one whose chunk table is
// unreadable). Then the stream goes on with the next resource.
// `in_parallel` is passed on without `recover` only.
void stream_recovering(const InputFile& f, std::span<const wim::Resource> resources,
                       const std::vector<uint64_t>& ends, const wim::ResourceSink& sink, bool recover,
                       const std::function<void(size_t, const std::string&)>& on_bad,
                       const wim::ResourceSink* in_parallel) {
  if (!recover) return wim::stream_resources(f, resources, sink, in_parallel);
  size_t start = 0;
  while (start < resources.size()) {
    size_t cur = SIZE_MAX;
    uint64_t next_uoff = 0;
    auto tracking = [&](size_t i, uint64_t uoff, ByteSpan data) {
      cur = start + i;
      next_uoff = uoff + data.size();
      sink(start + i, uoff, data);
    };
    try {
      wim::stream_resources(f, resources.subspan(start), tracking);
      return;
    } catch (const Error& e) {
      size_t k = cur;
      uint64_t from = next_uoff;
      if (k == SIZE_MAX) {
        k = start, from = 0;
      } else if (from >= ends[k]) {
        k++, from = 0;  // the failure is in a later resource; assume the next
      }
      if (k >= resources.size()) throw;
      const wim::Resource& r = resources[k];
      on_bad(k, e.what());
      DecompressContext ctx;
      wim::ChunkBuffer out;
      std::vector<wim::ChunkRef> layout;
      try {
        layout = wim::chunk_layout(f, r);
      } catch (const Error&) {
        layout.clear();
      }
      for (const auto& ch : layout) {
        if (ch.uoffset + ch.usize <= from) continue;
        if (ch.uoffset >= ends[k]) break;
        ByteSpan data;
        Bytes stored;
        try {
          stored = f.read_bytes(ch.file_offset, ch.csize, "compressed data");
          data = wim::decode_chunk(f, r, ch, stored, out, ctx);
        } catch (const Error&) {
          auto o = out.get(ch.usize);
          std::fill(o.begin(), o.end(), uint8_t(0));
          data = o;
        }
        uint64_t skip = from > ch.uoffset ? from - ch.uoffset : 0;
        sink(k, ch.uoffset + skip, data.subspan(skip));
        from = ch.uoffset + ch.usize;
      }
      // What the layout does not cover (an unreadable chunk table): zeros.
      Bytes zeros;
      while (from < ends[k]) {
        size_t n = size_t(std::min<uint64_t>(1 << 20, ends[k] - from));
        zeros.assign(n, 0);
        sink(k, from, zeros);
        from += n;
      }
      start = k + 1;
    }
  }
}

}  // namespace

std::string recovered_blob_warning(const image::Image& img, const Sha1& hash, const std::string& why) {
  std::vector<std::string> paths;
  size_t count = 0;
  img.for_each_dentry([&](const image::Dentry& d) {
    for (const auto& st : d.inode->streams)
      if (st.hash == hash) {
        if (count++ < 3) paths.push_back("'" + printable(d.path()) + "'");
        break;
      }
  });
  std::string names;
  for (const auto& p : paths) names += (names.empty() ? "" : ", ") + p;
  if (count > paths.size()) names += " and " + std::to_string(count - paths.size()) + " more";
  if (names.empty()) names = "(no file)";
  return "corruption in " + names + " (blob " + hash.hex() + ": " + why +
         "); extracted anyway since data recovery mode (--recover-data) is enabled";
}

ExtractResult extract_image(const wim::Archive& archive, size_t index, const std::string& target,
                            const ApplyOptions& opts, const ProgressFn& progress) {
  PhaseTimer load_timer("apply/load-metadata");
  image::Image img = archive.load_image(index);
  load_timer.stop();
  return extract_tree(archive, index, img, target, opts, progress);
}

ExtractResult extract_tree(const wim::Archive& archive, size_t index, const image::Image& img,
                           const std::string& target, const ApplyOptions& opts, const ProgressFn& progress) {
  ExtractResult result;
  TreeWriter tw(img, target, opts);
  PhaseTimer create_timer("apply/create");
  auto needed = tw.prepare();
  create_timer.stop();
  PhaseTimer write_timer("apply/write");

  // Locate every blob; group by archive (--ref) and resource.
  std::map<const wim::Archive*, std::map<uint32_t, std::vector<Wanted>>> plan;
  std::vector<Sha1> missing;
  uint64_t total = 0;
  for (const auto& [hash, size] : needed) {
    const wim::BlobLocation* loc = archive.find_blob(hash);
    if (!loc) {
      missing.push_back(hash);
      continue;
    }
    if (loc->size != size)
      fail(Errc::BadArchive, "'" + archive.path() + "': blob " + hash.hex() + " has inconsistent sizes");
    plan[loc->archive][loc->resource].push_back({loc->offset, loc->size, hash});
    total += loc->size;
  }
  if (!missing.empty()) {
    std::string user;
    img.for_each_dentry([&](const image::Dentry& d) {
      if (!user.empty()) return;
      for (const auto& st : d.inode->streams)
        if (st.hash == missing[0]) user = d.path();
    });
    missing_blobs(archive, index, missing.size(), missing[0], user);
  }

  // A blob whose SHA-1 does not match: an error, or with --recover-data a
  // warning naming its files (its data is written as read).
  std::mutex warn_m;
  std::vector<std::string> recovered;
  std::map<Sha1, std::string> damaged;  // blobs in resources that did not decode
  auto corrupt = [&](const std::string& path, const Sha1& hash) {
    if (!opts.recover_data)
      fail(Errc::BadArchive, "'" + path + "': blob " + hash.hex() +
                                 " is corrupt (its SHA-1 does not match; the archive is damaged)");
    std::lock_guard lk(warn_m);
    auto it = damaged.find(hash);
    recovered.push_back(recovered_blob_warning(
        img, hash, it != damaged.end() ? it->second + "; unreadable parts zero-filled" : "its data does not match its SHA-1"));
  };

  uint64_t done = 0;
  tbb::task_group tasks;
  std::atomic<int> inflight{0};
  auto data_begin = [](ByteSpan d, uint64_t off) { return d.begin() + std::ptrdiff_t(off); };
  for (auto& entry : plan) {
    const wim::Archive* a = entry.first;  // (not a structured binding: lambdas capture it)
    auto& by_res = entry.second;
    // Resources in file order, so the archive is read front to back once.
    std::vector<uint32_t> order;
    for (auto& [ri, list] : by_res) {
      order.push_back(ri);
      std::sort(list.begin(), list.end(), [](const Wanted& x, const Wanted& y) { return x.offset < y.offset; });
    }
    std::sort(order.begin(), order.end(),
              [&](uint32_t x, uint32_t y) { return a->resources()[x].offset < a->resources()[y].offset; });
    std::vector<wim::Resource> resources;
    for (uint32_t ri : order) resources.push_back(a->resources()[ri]);

    // A resource that holds one wanted blob at its start (most files of a
    // non-solid archive): when its first chunk holds the whole blob, the
    // thread that decompressed it hashes it and writes its files, with no
    // copy and no task; the serial sink then skips that resource.
    std::vector<const Wanted*> alone(order.size(), nullptr);
    for (size_t i = 0; i < order.size(); i++)
      if (const auto& list = by_res[order[i]]; list.size() == 1 && list[0].offset == 0) alone[i] = &list[0];
    std::vector<uint8_t> taken(order.size(), 0);
    const wim::ResourceSink direct = [&](size_t i, uint64_t uoff, ByteSpan data) {
      const Wanted* w = alone[i];
      if (!w || uoff != 0 || data.size() < w->size || !tw.can_write_whole(w->hash)) return;
      ByteSpan blob = data.first(size_t(w->size));
      if (sha1_of(blob) != w->hash) corrupt(a->path(), w->hash);
      tw.write_whole(w->hash, blob);
      taken[i] = 1;
    };

    // Sink state: which blob of the current resource is being streamed.
    size_t cur_res = SIZE_MAX, cur_blob = 0;
    bool in_blob = false;
    uint64_t blob_done = 0;
    Sha1Hasher hasher;
    auto sink = [&](size_t i, uint64_t uoff, ByteSpan data) {
      const std::vector<Wanted>& list = by_res[order[i]];
      if (i != cur_res) {
        cur_res = i;
        cur_blob = 0;
        in_blob = false;
        if (taken[i]) {  // written by `direct`
          cur_blob = list.size();
          done += list[0].size;
          result.blobs++;
        }
      }
      uint64_t end = uoff + data.size();
      while (cur_blob < list.size()) {
        const Wanted& w = list[cur_blob];
        uint64_t b_begin = w.offset + blob_done, b_end = w.offset + w.size;
        if (b_begin >= end) break;
        if (b_begin < uoff) {
          // Overlapping blobs in a solid resource were refused when the blob
          // table was read; this only happens with duplicate locations.
          fail(Errc::BadArchive, "'" + a->path() + "': overlapping blobs in a resource");
        }
        // Not with --recover-data: a failed stream cancels the TBB context
        // the tasks would run in, and the stream is resumed after a failure.
        if (!in_blob && b_end <= end && !opts.recover_data && tw.can_write_whole(w.hash)) {
          // A small blob that is complete in this piece: hash it and write
          // its files on a worker thread, so that many small files do not
          // serialize on syscalls (issue 3).
          auto copy = std::make_shared<Bytes>(data_begin(data, b_begin - uoff), data_begin(data, b_end - uoff));
          Sha1 hash = w.hash;
          const std::string path = a->path();
          if (inflight.fetch_add(1) > 256) {
            tasks.wait();
            inflight = 0;
          }
          tasks.run([&tw, copy, hash, path, &inflight, &corrupt] {
            if (sha1_of(*copy) != hash) corrupt(path, hash);
            tw.write_whole(hash, *copy);
            inflight--;
          });
          done += w.size;
          result.blobs++;
          cur_blob++;
          continue;
        }
        if (!in_blob) {
          tw.begin_blob(w.hash);
          in_blob = true;
        }
        uint64_t take_end = std::min(end, b_end);
        ByteSpan piece = data.subspan(b_begin - uoff, take_end - b_begin);
        hasher.update(piece);
        tw.blob_data(piece);
        blob_done += piece.size();
        done += piece.size();
        if (blob_done == w.size) {
          if (hasher.final() != w.hash) corrupt(a->path(), w.hash);
          tw.end_blob();
          result.blobs++;
          in_blob = false;
          blob_done = 0;
          cur_blob++;
        } else {
          break;
        }
      }
      if (progress) progress(done, total, tw.files_done());
    };
    std::vector<uint64_t> ends;
    for (uint32_t ri : order) {
      uint64_t e = 0;
      for (const Wanted& w : by_res[ri]) e = std::max(e, w.offset + w.size);
      ends.push_back(e);
    }
    auto on_bad = [&](size_t i, const std::string& msg) {
      std::lock_guard lk(warn_m);
      for (const Wanted& w : by_res[order[i]]) damaged.emplace(w.hash, msg);
    };
    stream_then_wait(tasks, [&] {
      // Not with --recover-data (see the task path above).
      stream_recovering(a->file(), resources, ends, sink, opts.recover_data, on_bad, opts.recover_data ? nullptr : &direct);
    });
  }
  result.bytes = done;
  write_timer.stop();
  PhaseTimer metadata_timer("apply/metadata");
  tw.finish();
  metadata_timer.stop();
  result.warnings = std::move(recovered);
  for (auto& w : tw.warnings()) result.warnings.push_back(std::move(w));
  return result;
}

}  // namespace wp::apply

namespace wp::apply {

void write_file_data(const wim::Archive& archive, size_t index, const image::Inode& inode, const std::string& path,
                     int fd) {
  const image::Stream* s = inode.unnamed_data();
  if (!s || s->hash.is_zero()) return;
  const wim::BlobLocation* loc = archive.find_blob(s->hash);
  if (!loc) missing_blobs(archive, index, 1, s->hash, path);
  const wim::Archive* a = loc->archive;
  wim::Resource res = a->resources()[loc->resource];
  const uint64_t begin = loc->offset, end = loc->offset + loc->size;
  Sha1Hasher hasher;
  uint64_t got = 0;
  auto sink = [&](size_t, uint64_t uoff, ByteSpan data) {
    uint64_t dend = uoff + data.size();
    if (dend <= begin || uoff >= end) return;
    uint64_t from = std::max(uoff, begin), to = std::min(dend, end);
    ByteSpan piece = data.subspan(from - uoff, to - from);
    hasher.update(piece);
    got += piece.size();
    // The last piece is written only once the hash is known to be good: a
    // corrupt blob never reaches the output whole.
    const uint8_t* p = piece.data();
    size_t n = piece.size();
    if (got == loc->size && hasher.final() != s->hash)
      fail(Errc::BadArchive, "'" + a->path() + "': blob " + s->hash.hex() + " of '" + printable(path) +
                                 "' is corrupt (its SHA-1 does not match; the archive is damaged)");
    while (n) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot write", "standard output", errno);
      }
      p += w, n -= size_t(w);
    }
  };
  wim::stream_resources(a->file(), std::span(&res, 1), sink);
  if (got != loc->size) fail(Errc::BadArchive, "'" + a->path() + "': blob " + s->hash.hex() + " is truncated");
}

}  // namespace wp::apply
