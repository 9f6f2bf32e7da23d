#include "apply/extract_pipe.hpp"

#include <tbb/task_group.h>

#include <atomic>
#include <exception>
#include <memory>

#include "apply/task_join.hpp"
#include "util/error.hpp"

namespace wp::apply {

ExtractResult extract_image_from_pipe(wim::PipeReader& pipe, size_t index, const std::string& target,
                                      const ApplyOptions& opts, const ProgressFn& progress) {
  ExtractResult result;
  image::Image img = pipe.read_image(index);
  TreeWriter tw(img, target, opts);
  auto needed = tw.prepare();  // sizes are 0 here: they come with each blob
  std::vector<Sha1> hashes;
  hashes.reserve(needed.size());
  for (const auto& [hash, size] : needed) hashes.push_back(hash);

  auto corrupt = [name = pipe.name()](const Sha1& h) {
    fail(Errc::BadArchive, name + ": blob " + h.hex() + " is corrupt (its SHA-1 does not match; the archive is damaged)");
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
    if (progress) progress(done, 0);
  };
  stream_then_wait(tasks, [&] { pipe.read_blobs(hashes, sink); });
  result.bytes = done;
  tw.finish();
  result.warnings = tw.warnings();
  return result;
}

}  // namespace wp::apply
