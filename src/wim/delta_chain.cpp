#include "wim/delta_chain.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "util/error.hpp"
#include "util/printable.hpp"
#include "wim/header.hpp"

namespace wp::wim {
namespace {

namespace fs = std::filesystem;
using Guid = std::array<uint8_t, 16>;

std::string hex(const Guid& g) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : g) s += d[x >> 4], s += d[x & 15];
  return s;
}

bool is_zero(const Guid& g) {
  return std::all_of(g.begin(), g.end(), [](uint8_t x) { return x == 0; });
}

fs::path absolute_path(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  fs::path c = fs::weakly_canonical(a, ec);
  return ec ? a.lexically_normal() : c;
}

// The recorded path as a file name: against the naming delta's directory.
std::string expected_path(const DeltaBase& b, const fs::path& dir) {
  fs::path p(b.path);
  return p.is_absolute() ? p.string() : (dir / p).lexically_normal().string();
}

// The GUID of a WIM file that is not a later part of a split set; nullopt
// for anything else.
std::optional<Guid> wim_guid(const std::string& path) {
  try {
    InputFile f(path);
    if (f.size() < kHeaderSize) return std::nullopt;
    std::vector<std::string> warnings;
    Header h = decode_header(f.read_bytes(0, kHeaderSize, "header"), f.size(), path, &warnings);
    if (h.part_number != 1) return std::nullopt;
    return h.guid;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct Located {
  std::string path;  // the base; or the first candidate that is something else; "" if nothing
  bool match = false;
  std::optional<Guid> guid;  // what `path` holds (nullopt: not a WIM)
};

// The recorded path, the old form's path (relative to where capture ran), a
// file of the same name in `dir`, then any *.wim in `dir` with the GUID.
Located locate(const DeltaBase& b, const fs::path& dir, const std::string& expected) {
  std::vector<std::string> candidates{expected};
  fs::path p(b.path);
  if (!b.relative_to_archive && p.is_relative()) candidates.push_back(p.string());
  if (p.has_filename()) candidates.push_back((dir / p.filename()).string());
  Located wrong;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto check = [&](const std::string& c, bool note_wrong) {
    struct stat st{};
    if (::stat(c.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !seen.insert({st.st_dev, st.st_ino}).second) return false;
    std::optional<Guid> g = wim_guid(c);
    if (g && (*g == b.guid || is_zero(b.guid))) return true;
    if (note_wrong && wrong.path.empty()) wrong = {c, false, g};
    return false;
  };
  for (const auto& c : candidates)
    if (check(c, true)) return {c, true, b.guid};
  if (!is_zero(b.guid)) {
    std::vector<std::string> wims;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string ext = it->path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (ext == ".wim") wims.push_back(it->path().string());
    }
    std::sort(wims.begin(), wims.end());
    for (const auto& w : wims)
      if (check(w, false)) return {w, true, b.guid};
  }
  return wrong;
}

std::string describe_base(const DeltaLink& l) {
  std::string s = "'" + printable(l.expected) + "' (GUID " + hex(l.base.guid);
  if (l.base.image)
    s += ", image " + std::to_string(l.base.image) +
         (l.base.image_name.empty() ? "" : " \"" + printable(l.base.image_name) + "\"");
  return s + ")";
}

[[noreturn]] void fail_link(const DeltaLink& l, const std::string& top) {
  std::string who = "'" + printable(l.named_by) + "'" + (l.named_by == top ? "" : " (a base of '" + printable(top) + "')");
  std::string name = fs::path(l.base.path).filename().string();
  if (l.status == DeltaLink::Status::WrongGuid) {
    fail(Errc::NotFound,
         who + " is a delta of " + describe_base(l) + ", but '" + printable(l.found) + "' " +
             (is_zero(l.found_guid) ? std::string("is not a WIM archive (or not the first part of a split one)")
                                    : "has GUID " + hex(l.found_guid) + ": it is another archive, not the base the delta was made from") +
             "; pass the right base with --ref=PATH/TO/" + printable(name));
  }
  fail(Errc::NotFound, who + " is a delta of " + describe_base(l) +
                           ", which was not found (nor a file of that name or a *.wim with that GUID in '" +
                           printable(fs::path(l.expected).parent_path().string()) + "'); pass it with --ref=PATH/TO/" +
                           printable(name));
}

using Keep = std::function<const Archive*(std::unique_ptr<Archive>)>;

// Breadth first from `top` (depth 0) and its --ref archives (depth 1): each
// named base that no archive at hand has the GUID of is located, opened and
// handed to `keep`, and its own bases followed. `strict`: throw for the
// first base that cannot be used.
std::vector<DeltaLink> walk(const Archive& top, const Keep& keep, bool strict) {
  std::map<Guid, std::string> have;
  std::function<void(const Archive&)> note = [&](const Archive& a) {
    have.emplace(a.header().guid, a.path());
    for (const auto& r : a.refs()) note(*r);
  };
  note(top);
  struct Item {
    const Archive* a;
    unsigned depth;
  };
  std::vector<Item> todo{{&top, 0}};
  for (const auto& r : top.refs()) todo.push_back({r.get(), 1});
  std::vector<DeltaLink> links;
  for (size_t t = 0; t < todo.size(); t++) {
    const Archive& a = *todo[t].a;
    const unsigned depth = todo[t].depth + 1;
    const fs::path dir = absolute_path(a.path()).parent_path();
    for (size_t i = 1; i <= a.xml().image_count(); i++)
      for (const DeltaBase& b : a.xml().delta_bases(i)) {
        DeltaLink l;
        l.named_by = a.path();
        l.image = i;
        l.depth = depth;
        l.base = b;
        l.expected = expected_path(b, dir);
        if (auto it = have.find(b.guid); it != have.end() && !is_zero(b.guid)) {
          l.status = DeltaLink::Status::Found;
          l.found = it->second;
          l.found_guid = b.guid;
          links.push_back(std::move(l));
          continue;
        }
        if (depth > kMaxDeltaDepth) {
          if (strict)
            fail(Errc::BadArchive, "the delta chain of '" + printable(top.path()) + "' is deeper than " +
                                       std::to_string(kMaxDeltaDepth) + " archives (at '" + printable(a.path()) + "')");
          links.push_back(std::move(l));
          continue;
        }
        Located f = locate(b, dir, l.expected);
        l.found = f.path;
        l.found_guid = f.guid.value_or(Guid{});
        if (!f.match) {
          l.status = f.path.empty() ? DeltaLink::Status::Missing : DeltaLink::Status::WrongGuid;
          if (strict) fail_link(l, top.path());
          links.push_back(std::move(l));
          continue;
        }
        std::unique_ptr<Archive> base;
        try {
          base = Archive::open(f.path);
        } catch (const Error&) {
          if (strict) throw;
          l.status = DeltaLink::Status::Missing;
          links.push_back(std::move(l));
          continue;
        }
        l.status = DeltaLink::Status::Found;
        note(*base);
        todo.push_back({keep(std::move(base)), depth});
        links.push_back(std::move(l));
      }
  }
  return links;
}

}  // namespace

DeltaBase make_delta_base(const Archive& base, const std::string& delta_path, uint32_t image) {
  DeltaBase d;
  d.guid = base.header().guid;
  d.image = image;
  if (image) d.image_name = base.xml().get(image, "NAME");
  fs::path b = absolute_path(base.path());
  d.path = b.string();
  if (delta_path != "-") {
    fs::path rel = b.lexically_relative(absolute_path(delta_path).parent_path());
    if (!rel.empty()) {
      d.path = rel.string();
      d.relative_to_archive = true;
    }
  }
  return d;
}

void resolve_delta_bases(Archive& archive, const std::vector<std::string>& explicit_refs) {
  for (const auto& p : explicit_refs) archive.add_ref(Archive::open(p, false));
  walk(
      archive,
      [&](std::unique_ptr<Archive> a) {
        const Archive* p = a.get();
        archive.add_ref(std::move(a));
        return p;
      },
      true);
}

std::vector<DeltaLink> describe_delta_chain(const Archive& archive) {
  std::vector<std::unique_ptr<Archive>> owned;
  return walk(
      archive,
      [&](std::unique_ptr<Archive> a) {
        owned.push_back(std::move(a));
        return owned.back().get();
      },
      false);
}

const char* delta_status_name(DeltaLink::Status s) {
  switch (s) {
    case DeltaLink::Status::Found: return "found";
    case DeltaLink::Status::Missing: return "missing";
    case DeltaLink::Status::WrongGuid: return "wrong-guid";
  }
  return "?";
}

}  // namespace wp::wim
