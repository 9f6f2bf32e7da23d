#include "apply/extract_pipe.hpp"

#include <tbb/task_group.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <mutex>

#include "apply/task_join.hpp"
#include "util/error.hpp"
#include "util/timer.hpp"
#include "util/printable.hpp"

namespace wp::apply {

ExtractResult extract_image_from_pipe(wim::PipeReader& pipe, size_t index, const std::string& target,
                                      const ApplyOptions& opts, const ProgressFn& progress) {
  image::Image img = pipe.read_image(index);
  return extract_tree_from_pipe(pipe, img, img, target, opts, progress);
}

ExtractResult extract_tree_from_pipe(wim::PipeReader& pipe, const image::Image& img, const image::Image& tree,
                                     const std::string& target, const ApplyOptions& opts, const ProgressFn& progress) {
  ExtractResult result;
  TreeWriter tw(tree, target, opts);
  PhaseTimer create_timer("apply/create");
  auto needed = tw.prepare();  // sizes are 0 here: they come with each blob
  create_timer.stop();
  PhaseTimer write_timer("apply/write");
  std::vector<Sha1> hashes;
  hashes.reserve(needed.size());
  for (const auto& [hash, size] : needed) hashes.push_back(hash);

  // A corrupt blob fails, or with --recover-data is written anyway and
  // reported (once, naming its files).
  std::mutex warn_m;
  std::vector<std::string> recovered;
  std::map<Sha1, std::string> damaged;  // chunks that did not decompress, by blob
  auto corrupt = [&, name = pipe.name()](const Sha1& h) {
    if (!opts.recover_data)
      fail(Errc::BadArchive, name + ": blob " + h.hex() + " is corrupt (its SHA-1 does not match; the archive is damaged)");
    std::lock_guard lk(warn_m);
    auto it = damaged.find(h);
    recovered.push_back(recovered_blob_warning(
        img, h, it != damaged.end() ? it->second + " (zero-filled)" : "its data does not match its SHA-1"));
  };
  wim::PipeReader::CorruptFn on_corrupt;
  if (opts.recover_data)
    on_corrupt = [&](const Sha1& h, uint64_t, const std::string& msg) {
      std::lock_guard lk(warn_m);
      damaged.emplace(h, msg);
    };
  // As extract_image: a small blob that fits in memory is written to its
  // files on a worker thread, so that many small files do not serialize on
  // syscalls; larger ones stream through begin/data/end.
  tbb::task_group tasks;
  std::atomic<int> inflight{0};
  bool whole = false;
  std::shared_ptr<Bytes> buf;
  Sha1Hasher hasher;
  uint64_t done = 0;
  auto sink = [&](const Sha1& hash, uint64_t size, uint64_t offset, ByteSpan data) {
    if (offset == 0) {
      tw.set_blob_size(hash, size);
      whole = tw.can_write_whole(hash);
      if (whole) {
        buf = std::make_shared<Bytes>();
        buf->reserve(size);
      } else {
        tw.begin_blob(hash);
      }
    }
    if (whole) {
      buf->insert(buf->end(), data.begin(), data.end());
    } else {
      hasher.update(data);
      tw.blob_data(data);
    }
    done += data.size();
    if (offset + data.size() < size) return;
    result.blobs++;
    if (!whole) {
      if (hasher.final() != hash) corrupt(hash);
      tw.end_blob();
    } else {
      if (inflight.fetch_add(1) > 256) {
        tasks.wait();
        inflight = 0;
      }
      tasks.run([&tw, &inflight, &corrupt, copy = std::move(buf), hash] {
        if (sha1_of(*copy) != hash) corrupt(hash);
        tw.write_whole(hash, *copy);
        inflight--;
      });
    }
    if (progress) progress(done, 0, tw.files_done());
  };
  if (opts.recover_data)
    stream_then_wait(tasks, [&] { pipe.read_blobs(hashes, sink, on_corrupt); });
  else
    stream_then_wait(tasks, [&] { pipe.read_blobs(hashes, sink); });
  result.bytes = done;
  write_timer.stop();
  PhaseTimer metadata_timer("apply/metadata");
  tw.finish();
  metadata_timer.stop();
  result.warnings = std::move(recovered);
  for (auto& w : tw.warnings()) result.warnings.push_back(std::move(w));
  return result;
}

namespace {

void write_all(int fd, const uint8_t* p, size_t n, const char* what) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", what, errno);
    }
    p += w, n -= size_t(w);
  }
}

}  // namespace

void write_files_from_pipe(wim::PipeReader& pipe, const std::vector<std::pair<const image::Inode*, std::string>>& files,
                           int fd) {
  auto hash_of = [&](size_t i) {
    const image::Stream* s = files[i].first->unnamed_data();
    return s ? s->hash : Sha1{};
  };
  std::vector<Sha1> needed;
  std::map<Sha1, size_t> uses;  // files from `next` on that still need the blob
  for (size_t i = 0; i < files.size(); i++)
    if (Sha1 h = hash_of(i); !h.is_zero()) {
      needed.push_back(h);
      uses[h]++;
    }
  if (needed.empty()) return;

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> tmp(nullptr, std::fclose);
  uint64_t tmp_end = 0;
  std::map<Sha1, std::pair<uint64_t, uint64_t>> stored;  // hash -> (offset, size) in tmp
  size_t next = 0;

  auto copy_stored = [&](const std::pair<uint64_t, uint64_t>& at) {
    Bytes b(std::min<uint64_t>(at.second, 1 << 20));
    for (uint64_t off = 0; off < at.second;) {
      size_t k = size_t(std::min<uint64_t>(b.size(), at.second - off));
      ssize_t r = ::pread(fileno(tmp.get()), b.data(), k, off_t(at.first + off));
      if (r <= 0) fail_errno("cannot read back", "a temporary file", r < 0 ? errno : EIO);
      write_all(fd, b.data(), size_t(r), "standard output");
      off += uint64_t(r);
    }
  };
  auto flush = [&] {
    while (next < files.size()) {
      Sha1 h = hash_of(next);
      if (!h.is_zero()) {
        auto it = stored.find(h);
        if (it == stored.end()) break;
        copy_stored(it->second);
        uses[h]--;
      }
      next++;
    }
  };
  flush();  // leading empty files

  bool direct = false;
  uint64_t at = 0;
  Sha1Hasher hasher;
  Bytes held;  // direct mode: the last piece, written once the SHA-1 is known good
  auto sink = [&](const Sha1& hash, uint64_t size, uint64_t offset, ByteSpan data) {
    if (offset == 0) {
      direct = next < files.size() && hash_of(next) == hash && uses[hash] == 1;
      if (!direct) {
        if (!tmp) {
          tmp.reset(std::tmpfile());
          if (!tmp) fail_errno("cannot create", "a temporary file", errno);
        }
        at = tmp_end;
      }
      held.clear();
    }
    hasher.update(data);
    if (direct) {
      if (!held.empty()) write_all(fd, held.data(), held.size(), "standard output");
      held.assign(data.begin(), data.end());
    } else {
      pwrite_all(fileno(tmp.get()), tmp_end, data, "cannot write", "a temporary file");
      tmp_end += data.size();
    }
    if (offset + data.size() < size) return;
    if (hasher.final() != hash) {
      std::string path;
      for (const auto& [ino, p] : files)
        if (const image::Stream* s = ino->unnamed_data(); s && s->hash == hash) path = p;
      fail(Errc::BadArchive, pipe.name() + ": blob " + hash.hex() + " of '" + printable(path) +
                                 "' is corrupt (its SHA-1 does not match; the archive is damaged)");
    }
    if (direct) {
      write_all(fd, held.data(), held.size(), "standard output");
      uses[hash]--;
      next++;
    } else {
      stored[hash] = {at, size};
    }
    flush();
  };
  pipe.read_blobs(needed, sink);
  flush();
  if (next != files.size())
    fail(Errc::BadArchive, pipe.name() + ": the data of '" + printable(files[next].second) + "' never arrived");
}

}  // namespace wp::apply
