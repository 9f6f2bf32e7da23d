#include "wim/verify.hpp"

#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "util/printable.hpp"
#include "wim/integrity.hpp"
#include "wim/pipe_reader.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {
namespace {

constexpr size_t kMaxPerKind = 20;  // problems reported per kind, at most

struct Want {
  uint64_t offset, size;
  Sha1 hash;
};

std::string hex_u64(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

class Reporter {
public:
  explicit Reporter(VerifyReport& r) : r_(r) {}
  void add(VerifyProblem p) {
    std::lock_guard lk(m_);
    if (counts_[p.kind]++ < kMaxPerKind) r_.problems.push_back(std::move(p));
  }

private:
  VerifyReport& r_;
  std::mutex m_;
  std::map<std::string, size_t> counts_;
};

// Decompresses and hashes the blobs `by_res` of archive `a`, resource by
// resource in file order. A resource that cannot be decoded is reported
// (naming its first blob) and the pass goes on with the next one.
void hash_blobs(const Archive& a, std::map<uint32_t, std::vector<Want>>& by_res, VerifyReport& report, Reporter& rep,
                uint64_t& done, uint64_t total, const VerifyOptions& opts) {
  std::vector<uint32_t> order;
  for (auto& [ri, list] : by_res) {
    order.push_back(ri);
    std::sort(list.begin(), list.end(), [](const Want& x, const Want& y) { return x.offset < y.offset; });
  }
  std::sort(order.begin(), order.end(),
            [&](uint32_t x, uint32_t y) { return a.resources()[x].offset < a.resources()[y].offset; });
  std::vector<Resource> resources;
  for (uint32_t ri : order) resources.push_back(a.resources()[ri]);
  const size_t n = resources.size();

  // Per-resource results, so a resource re-read after a failure is not
  // counted twice.
  std::vector<uint64_t> res_blobs(n, 0), res_bytes(n, 0);
  std::vector<std::pair<size_t, VerifyProblem>> corrupt;  // (position, problem), sorted at the end
  std::mutex corrupt_m;
  auto bad_hash = [&](size_t pos, const Sha1& h) {
    VerifyProblem p;
    p.kind = "corrupt-blob";
    p.archive = a.path();
    p.hash = h.hex();
    p.message = "'" + a.path() + "': blob " + h.hex() + " is corrupt: its data does not match its SHA-1";
    std::lock_guard lk(corrupt_m);
    corrupt.emplace_back(pos, std::move(p));
  };

  size_t cur_res = SIZE_MAX, cur_blob = 0;
  bool in_blob = false;
  uint64_t blob_done = 0;
  Sha1Hasher hasher;
  tbb::task_group tasks;
  std::atomic<int> inflight{0};
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> res_task_blobs;
  for (size_t i = 0; i < n; i++) res_task_blobs.push_back(std::make_unique<std::atomic<uint64_t>>(0));
  auto reset = [&](size_t i) {
    cur_res = i;
    cur_blob = 0;
    in_blob = false;
    blob_done = 0;
    hasher.final();
    done -= std::min(done, res_bytes[i]);
    res_blobs[i] = 0;
    res_bytes[i] = 0;
    *res_task_blobs[i] = 0;
  };
  size_t base = 0;  // resources[base + i] is the sink's resource i
  auto sink = [&](size_t local, uint64_t uoff, ByteSpan data) {
    size_t i = base + local;
    const std::vector<Want>& list = by_res[order[i]];
    if (i != cur_res) reset(i);
    uint64_t end = uoff + data.size();
    while (cur_blob < list.size()) {
      const Want& w = list[cur_blob];
      uint64_t b_begin = w.offset + blob_done, b_end = w.offset + w.size;
      if (b_begin >= end) break;
      if (b_begin < uoff) fail(Errc::BadArchive, "'" + a.path() + "': overlapping blobs in a resource");
      const size_t pos = i * (1ull << 32) + cur_blob;
      if (!in_blob && b_end <= end) {
        // Whole in this piece: hash it on a worker.
        auto copy = std::make_shared<Bytes>(data.begin() + std::ptrdiff_t(b_begin - uoff),
                                            data.begin() + std::ptrdiff_t(b_end - uoff));
        Sha1 hash = w.hash;
        if (inflight.fetch_add(1) > 256) {
          tasks.wait();
          inflight = 0;
        }
        std::atomic<uint64_t>* counter = res_task_blobs[i].get();
        tasks.run([copy, hash, pos, counter, &bad_hash, &inflight] {
          if (sha1_of(*copy) != hash) bad_hash(pos, hash);
          (*counter)++;
          inflight--;
        });
        done += w.size;
        res_bytes[i] += w.size;
        cur_blob++;
        continue;
      }
      in_blob = true;
      uint64_t take_end = std::min(end, b_end);
      hasher.update(data.subspan(b_begin - uoff, take_end - b_begin));
      blob_done += take_end - b_begin;
      done += take_end - b_begin;
      res_bytes[i] += take_end - b_begin;
      if (blob_done == w.size) {
        if (hasher.final() != w.hash) bad_hash(pos, w.hash);
        res_blobs[i]++;
        in_blob = false;
        blob_done = 0;
        cur_blob++;
      } else {
        break;
      }
    }
    if (opts.progress) opts.progress(done, total);
  };
  auto unreadable = [&](size_t i, const std::exception& e) {
    const std::vector<Want>& list = by_res[order[i]];
    const Resource& r = resources[i];
    VerifyProblem p;
    p.kind = "unreadable-resource";
    p.archive = a.path();
    p.hash = list.empty() ? "" : list[0].hash.hex();
    p.message = "'" + a.path() + "': the resource at offset " + hex_u64(r.offset) + " holding blob " + p.hash +
                (list.size() > 1 ? " (and " + std::to_string(list.size() - 1) + " more)" : "") +
                " cannot be read: " + e.what();
    rep.add(std::move(p));
  };
  // Runs fn, then waits for the hashing tasks whatever happens.
  auto run_and_wait = [&](auto&& fn) {
    std::exception_ptr err;
    try {
      fn();
    } catch (...) {
      err = std::current_exception();
    }
    tasks.wait();
    inflight = 0;
    if (err) std::rethrow_exception(err);
  };

  size_t start = 0;
  while (start < n) {
    try {
      base = start;
      cur_res = SIZE_MAX;
      run_and_wait([&] { stream_resources(a.file(), std::span(resources).subspan(start), sink); });
      break;
    } catch (const Error&) {
      // Which resource failed? The one in progress or a later one: read them
      // one at a time until one fails alone, then resume after it.
      size_t k = cur_res == SIZE_MAX ? start : cur_res;
      for (; k < n; k++) {
        try {
          base = k;
          reset(k);
          run_and_wait([&] { stream_resources(a.file(), std::span(resources).subspan(k, 1), sink); });
        } catch (const Error& e2) {
          unreadable(k, e2);
          reset(k);
          break;
        }
      }
      start = k + 1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    report.blobs += res_blobs[i] + *res_task_blobs[i];
    report.bytes += res_bytes[i];
  }
  std::sort(corrupt.begin(), corrupt.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& c : corrupt) rep.add(std::move(c.second));
}

}  // namespace

VerifyReport verify_archive(const Archive& archive, const VerifyOptions& opts) {
  VerifyReport report;
  Reporter rep(report);
  auto phase = [&](const std::string& s) {
    if (opts.phase) opts.phase(s);
  };

  // 1. The integrity table.
  if (!archive.has_integrity()) {
    report.integrity = VerifyReport::Integrity::Absent;
  } else if (!opts.check_integrity) {
    report.integrity = VerifyReport::Integrity::Skipped;
  } else {
    phase("Verifying the integrity table of '" + archive.path() + "'");
    try {
      check_integrity(archive.file().fd(), archive.path(), archive.file().size(), archive.header());
      report.integrity = VerifyReport::Integrity::Ok;
    } catch (const Error& e) {
      report.integrity = VerifyReport::Integrity::Bad;
      rep.add({Errc::BadArchive, "integrity", archive.path(), 0, "", e.what()});
    }
  }

  // 2. Every image's metadata, and the blobs it references.
  std::unordered_set<Sha1, Sha1Hash> referenced;
  report.images = archive.image_count();
  std::string delta_bases;
  for (size_t i = 1; i <= archive.image_count(); i++) {
    phase("Verifying metadata for image " + std::to_string(i) + " of " + std::to_string(archive.image_count()));
    for (auto b : archive.xml().image(i).children("WIMPACK_DELTA_BASE"))
      if (delta_bases.empty()) delta_bases = printable(b.child("PATH").text().as_string());
    try {
      image::Image img = archive.load_image(i);
      report.images_ok++;
      std::unordered_set<Sha1, Sha1Hash> reported;
      img.for_each_dentry([&](const image::Dentry& d) {
        for (const auto& st : d.inode->streams) {
          if (st.hash.is_zero()) continue;
          referenced.insert(st.hash);
          if (archive.find_blob(st.hash) || !reported.insert(st.hash).second) continue;
          VerifyProblem p;
          p.code = delta_bases.empty() ? Errc::BadArchive : Errc::NotFound;
          p.kind = "missing-blob";
          p.archive = archive.path();
          p.image = i;
          p.hash = st.hash.hex();
          p.message = "image " + std::to_string(i) + " of '" + archive.path() + "': blob " + p.hash + " (needed by '" +
                      printable(d.path()) + "') is in neither the archive nor its --ref archives" +
                      (delta_bases.empty() ? "" : "; this is a delta of " + delta_bases + ": pass it with --ref");
          rep.add(std::move(p));
        }
      });
    } catch (const Error& e) {
      rep.add({Errc::BadArchive, "metadata", archive.path(), i, archive.metadata(i).hash.hex(),
               "image " + std::to_string(i) + " of '" + archive.path() + "': its metadata resource (" +
                   archive.metadata(i).hash.hex() + ") is damaged: " + e.what()});
    }
  }
  report.referenced = referenced.size();

  // 3. Every blob's data: all of this archive's, the referenced ones of the
  // --ref archives, and all of the other parts of a split set.
  std::map<const Archive*, std::map<uint32_t, std::vector<Want>>> plan;
  std::vector<const Archive*> plan_order;  // this archive first, then the refs as found
  uint64_t total = 0;
  auto add = [&](const Archive* a, const BlobLocation& loc, const Sha1& h) {
    if (!plan.count(a)) plan_order.push_back(a);
    plan[a][loc.resource].push_back({loc.offset, loc.size, h});
    total += loc.size;
  };
  for (const auto& [h, loc] : archive.blobs()) add(&archive, loc, h);
  std::vector<const Archive*> stack;
  for (const auto& r : archive.refs()) stack.push_back(r.get());
  std::unordered_set<const Archive*> seen{&archive};
  while (!stack.empty()) {
    const Archive* r = stack.back();
    stack.pop_back();
    if (!seen.insert(r).second) continue;
    const bool same_set = r->header().guid == archive.header().guid;
    for (const auto& [h, loc] : r->blobs()) {
      if (!same_set && !referenced.count(h)) continue;
      // The location find_blob resolves to is the one that is read.
      const BlobLocation* used = archive.find_blob(h);
      if (used && used->archive == r) add(r, loc, h);
    }
    for (const auto& rr : r->refs()) stack.push_back(rr.get());
  }
  phase("Verifying file data");
  uint64_t done = 0;
  for (const Archive* a : plan_order) hash_blobs(*a, plan[a], report, rep, done, total, opts);

  // The most important problem first: the exit code follows the first.
  std::stable_sort(report.problems.begin(), report.problems.end(), [](const VerifyProblem& x, const VerifyProblem& y) {
    auto rank = [](const VerifyProblem& p) {
      return p.kind == "integrity" ? 0 : p.kind == "metadata" ? 1 : p.kind == "missing-blob" ? 3 : 2;
    };
    return rank(x) < rank(y);
  });
  return report;
}

namespace {

int problem_rank(const VerifyProblem& p) {
  return p.kind == "integrity" ? 0 : p.kind == "metadata" ? 1 : p.kind == "missing-blob" ? 3 : 2;
}

}  // namespace

VerifyReport verify_pipe(PipeReader& pipe, const VerifyOptions& opts) {
  VerifyReport report;
  Reporter rep(report);
  auto phase = [&](const std::string& s) {
    if (opts.phase) opts.phase(s);
  };
  const std::string& name = pipe.name();
  report.integrity = VerifyReport::Integrity::Skipped;
  report.images = pipe.image_count();

  // Every referenced blob, with the first image and path that uses it.
  std::unordered_map<Sha1, std::pair<size_t, std::string>, Sha1Hash> referenced;
  std::unordered_set<Sha1, Sha1Hash> arrived;
  std::mutex m;
  try {
    phase("Verifying metadata for " + std::to_string(pipe.image_count()) + " image" +
          (pipe.image_count() == 1 ? "" : "s"));
    std::vector<std::string> bad;
    auto imgs = pipe.read_images(std::vector<bool>(pipe.image_count(), true), &bad);
    for (size_t i = 1; i <= imgs.size(); i++) {
      if (!imgs[i - 1]) {
        rep.add({Errc::BadArchive, "metadata", name, i, "",
                 "image " + std::to_string(i) + " of " + name + ": its metadata resource is damaged: " + bad[i - 1]});
        continue;
      }
      report.images_ok++;
      imgs[i - 1]->for_each_dentry([&](const image::Dentry& d) {
        for (const auto& st : d.inode->streams)
          if (!st.hash.is_zero()) referenced.try_emplace(st.hash, i, d.path());
      });
    }
    imgs.clear();

    phase("Verifying file data");
    std::unordered_set<Sha1, Sha1Hash> damaged;
    auto corrupt = [&](const Sha1& h) {
      VerifyProblem p;
      p.kind = "corrupt-blob";
      p.archive = name;
      p.hash = h.hex();
      p.message = name + ": blob " + h.hex() + " is corrupt: its data does not match its SHA-1";
      rep.add(std::move(p));
    };
    auto on_corrupt = [&](const Sha1& h, uint64_t, const std::string& msg) {
      std::lock_guard lk(m);
      if (!damaged.insert(h).second) return;
      VerifyProblem p;
      p.kind = "unreadable-resource";
      p.archive = name;
      p.hash = h.hex();
      p.message = msg;
      rep.add(std::move(p));
    };
    // Whole small blobs are hashed on worker tasks; big ones as they stream.
    tbb::task_group tasks;
    std::atomic<int> inflight{0};
    Sha1Hasher hasher;
    uint64_t done = 0;
    auto sink = [&](const Sha1& hash, uint64_t size, uint64_t offset, ByteSpan data) {
      done += data.size();
      report.bytes += data.size();
      if (opts.progress) opts.progress(done, 0);
      const bool last = offset + data.size() >= size;
      if (offset == 0 && last) {
        report.blobs++;
        {
          std::lock_guard lk(m);
          arrived.insert(hash);
        }
        auto copy = std::make_shared<Bytes>(data.begin(), data.end());
        if (inflight.fetch_add(1) > 256) {
          tasks.wait();
          inflight = 0;
        }
        tasks.run([copy, hash, &corrupt, &damaged, &m, &inflight] {
          if (sha1_of(*copy) != hash) {
            bool known;
            {
              std::lock_guard lk(m);
              known = damaged.count(hash);
            }
            if (!known) corrupt(hash);
          }
          inflight--;
        });
        return;
      }
      if (offset == 0) hasher.final();
      hasher.update(data);
      if (!last) return;
      report.blobs++;
      const bool bad = hasher.final() != hash;
      bool known;
      {
        std::lock_guard lk(m);
        arrived.insert(hash);
        known = damaged.count(hash);
      }
      if (bad && !known) corrupt(hash);
    };
    std::exception_ptr err;
    try {
      pipe.read_all_blobs(sink, on_corrupt);
    } catch (...) {
      err = std::current_exception();
    }
    tasks.wait();
    if (err) std::rethrow_exception(err);
  } catch (const Error& e) {
    // A cut or garbled stream: what did not come is explained by it.
    rep.add({Errc::BadArchive, "unreadable-resource", name, 0, "", e.what()});
    report.referenced = referenced.size();
    return report;
  }

  report.referenced = referenced.size();
  std::vector<std::pair<size_t, VerifyProblem>> missing;
  for (const auto& [h, use] : referenced) {
    if (arrived.count(h)) continue;
    VerifyProblem p;
    p.kind = "missing-blob";
    p.archive = name;
    p.image = use.first;
    p.hash = h.hex();
    p.message = "image " + std::to_string(use.first) + " of " + name + ": blob " + p.hash + " (needed by '" +
                printable(use.second) + "') never came in the stream";
    missing.emplace_back(use.first, std::move(p));
  }
  std::sort(missing.begin(), missing.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first : x.second.hash < y.second.hash;
  });
  for (auto& p : missing) rep.add(std::move(p.second));
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const VerifyProblem& x, const VerifyProblem& y) { return problem_rank(x) < problem_rank(y); });
  return report;
}

}  // namespace wp::wim
