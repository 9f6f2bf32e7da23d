#include "apply/select.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "util/casefold.hpp"
#include "util/error.hpp"
#include "util/printable.hpp"
#include "util/utf.hpp"
#include "wim/metadata.hpp"

namespace wp::apply {

using image::Dentry;

std::vector<std::string> split_image_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find_first_of("/\\", i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool has_wildcards(std::string_view pattern) { return pattern.find_first_of("*?") != std::string_view::npos; }

namespace {

using wp::fold_case;
constexpr auto fold = fold_case;

std::u16string to16(std::string_view s) {
  if (auto u = utf8_to_utf16(s)) return *u;
  std::u16string out;  // not WTF-8: compare byte by byte
  for (unsigned char c : s) out += char16_t(c);
  return out;
}

// Glob match of UTF-16 code unit strings: '*' and '?' (when wild).
bool glob16(std::u16string_view n, std::u16string_view p, bool wild, bool ic) {
  auto eq = [&](char16_t a, char16_t b) { return ic ? fold(a) == fold(b) : a == b; };
  if (!wild) {
    if (n.size() != p.size()) return false;
    for (size_t i = 0; i < n.size(); i++)
      if (!eq(n[i], p[i])) return false;
    return true;
  }
  size_t ni = 0, pi = 0, star = std::u16string_view::npos, mark = 0;
  while (ni < n.size()) {
    if (pi < p.size() && p[pi] == u'*') {
      star = pi++;
      mark = ni;
    } else if (pi < p.size() && (p[pi] == u'?' || eq(p[pi], n[ni]))) {
      // '?' takes a whole surrogate pair, as one character.
      if (p[pi] == u'?' && n[ni] >= 0xD800 && n[ni] < 0xDC00 && ni + 1 < n.size() && n[ni + 1] >= 0xDC00 &&
          n[ni + 1] < 0xE000)
        ni++;
      ni++;
      pi++;
    } else if (star != std::u16string_view::npos) {
      pi = star + 1;
      ni = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == u'*') pi++;
  return pi == p.size();
}

}  // namespace

bool match_component(std::string_view name, std::string_view pattern, const SelectOptions& opts) {
  if (!opts.wildcards && !opts.ignore_case) return name == pattern;
  return glob16(to16(name), to16(pattern), opts.wildcards, opts.ignore_case);
}

std::vector<const Dentry*> sorted_children(const Dentry& d) {
  std::vector<std::pair<std::u16string, const Dentry*>> v;
  v.reserve(d.children.size());
  for (const auto& c : d.children) v.emplace_back(to16(c->name), c.get());
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return wim::collate_names(x.first, y.first) < 0; });
  std::vector<const Dentry*> out;
  out.reserve(v.size());
  for (auto& [n, c] : v) out.push_back(c);
  return out;
}

std::vector<const Dentry*> select_paths(const image::Image& img, std::string_view pattern, const SelectOptions& opts) {
  std::vector<std::string> comps = split_image_path(pattern);
  std::vector<const Dentry*> cur{img.root()};
  for (const std::string& comp : comps) {
    std::vector<const Dentry*> next;
    const bool wild = opts.wildcards && has_wildcards(comp);
    for (const Dentry* d : cur) {
      if (!d->is_directory()) continue;
      if (!wild && !opts.ignore_case) {
        if (const Dentry* c = d->child(comp)) next.push_back(c);
        continue;
      }
      for (const Dentry* c : sorted_children(*d))
        if (match_component(c->name, comp, opts)) next.push_back(c);
    }
    cur = std::move(next);
    if (cur.empty()) break;
  }
  return cur;
}

image::Image build_extract_tree(const image::Image& src, const std::vector<ExtractItem>& items) {
  image::Image out;
  std::unordered_map<const Dentry*, Dentry*> copy_of{{src.root(), out.root()}};
  std::unordered_map<std::string, const Dentry*> at_root;  // basename placements: name -> source

  auto make = [&](const Dentry* s, Dentry* parent) {
    auto d = std::make_unique<Dentry>();
    d->name = s->name;
    d->short_name = s->short_name;
    d->inode = s->inode;
    d->parent = parent;
    Dentry* raw = d.get();
    parent->children.push_back(std::move(d));
    copy_of[s] = raw;
    return raw;
  };
  // Copies what is missing of s's subtree below its copy `d`.
  auto copy_subtree = [&](const Dentry* s, Dentry* d) {
    std::vector<std::pair<const Dentry*, Dentry*>> stack{{s, d}};
    while (!stack.empty()) {
      auto [sd, dd] = stack.back();
      stack.pop_back();
      for (const auto& c : sd->children) {
        auto it = copy_of.find(c.get());
        Dentry* nd = it != copy_of.end() ? it->second : make(c.get(), dd);
        if (!c->children.empty()) stack.push_back({c.get(), nd});
      }
    }
  };
  auto name_clash = [&](const std::string& name) {
    fail(Errc::Failure, "two of the selected paths would both be extracted as '" + printable(name) +
                            "' in the destination; extract them separately or with --preserve-dir-structure");
  };

  for (const ExtractItem& item : items) {
    const Dentry* s = item.dentry;
    Dentry* d = nullptr;
    if (auto it = copy_of.find(s); it != copy_of.end()) {
      d = it->second;
    } else if (item.preserve_dirs) {
      // The chain of parents, outermost first, made where missing.
      std::vector<const Dentry*> chain;
      for (const Dentry* p = s; p && !copy_of.count(p); p = p->parent) chain.push_back(p);
      Dentry* parent = copy_of.at(chain.back()->parent);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        if (parent == out.root()) {
          auto [pos, fresh] = at_root.try_emplace((*it)->name, *it);
          if (!fresh && pos->second != *it) name_clash((*it)->name);
        }
        parent = make(*it, parent);
      }
      d = parent;
    } else {
      auto [pos, fresh] = at_root.try_emplace(s->name, s);
      if (!fresh && pos->second != s) name_clash(s->name);
      d = make(s, out.root());
    }
    copy_subtree(s, d);
  }
  return out;
}

}  // namespace wp::apply
