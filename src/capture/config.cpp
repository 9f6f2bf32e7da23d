#include "capture/config.hpp"

#include <algorithm>

#include "util/env.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/utf.hpp"

namespace wp::capture {

namespace {

// wimlib's built-in list, used when no --config is given (config.hpp).
constexpr std::string_view kDefaultConfig =
    "[ExclusionList]\n"
    "\\$ntfs.log\n"
    "\\hiberfil.sys\n"
    "\\pagefile.sys\n"
    "\\swapfile.sys\n"
    "\\System Volume Information\n"
    "\\RECYCLER\n"
    "\\$RECYCLE.BIN\n"
    "\\$Recycle.Bin\n"
    "\\Windows\\CSC\n";

bool is_slash(char c) { return c == '/' || c == '\\'; }

// C-locale isspace: what wimlib trims, so "\r" of a CRLF line goes too.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

// '*' = any run of bytes, '?' = one byte. Greedy with a single backtrack
// point, which is enough for globs without classes: O(len(pat) * len(name)).
bool glob_match(std::string_view pat, std::string_view name) {
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == name[n])) {
      p++;
      n++;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') p++;
  return p == pat.size();
}

PathGlob::Component compile_component(std::string_view glob) {
  using K = PathGlob::Kind;
  if (!has_wildcard(glob)) return {std::string(glob), K::Literal};
  if (glob.find_first_not_of('*') == std::string_view::npos) return {"", K::Star};
  size_t first = glob.find_first_of("*?"), last = glob.find_last_not_of('*');
  // "lit*", "lit**": the only wildcards are trailing stars.
  if (glob[first] == '*' && first == last + 1) return {std::string(glob.substr(0, first)), K::Prefix};
  // "*lit", "**lit": leading stars, then no wildcard.
  size_t lead = glob.find_first_not_of('*');
  if (lead > 0 && !has_wildcard(glob.substr(lead))) return {std::string(glob.substr(lead)), K::Suffix};
  return {std::string(glob), K::General};
}

// Walks the components of an in-image path ("/a/b", "a/b/", "/" ...)
// without allocating.
class PathCursor {
public:
  explicit PathCursor(std::string_view s) : s_(s) {}
  bool next(std::string_view& comp) {
    while (pos_ < s_.size() && s_[pos_] == '/') pos_++;
    if (pos_ >= s_.size()) return false;
    size_t end = s_.find('/', pos_);
    if (end == std::string_view::npos) end = s_.size();
    comp = s_.substr(pos_, end - pos_);
    pos_ = end;
    return true;
  }

private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string_view last_component(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

enum class AbsMatch {
  None,
  Covers,    // the glob names `path` or one of its ancestors
  Ancestor,  // `path` is a proper ancestor of what the glob can name
};

AbsMatch match_absolute(const PathGlob& g, std::string_view path) {
  PathCursor cur(path);
  std::string_view comp;
  for (const auto& c : g.components) {
    if (!cur.next(comp)) return AbsMatch::Ancestor;
    if (!match_component(c, comp)) return AbsMatch::None;
  }
  return AbsMatch::Covers;
}

// Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "\"" + std::string(s).
std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

enum class Section { None, Exclusion, Exception, Prepopulate, CompressionExclusion, Unknown };

}  // namespace

bool match_component(const PathGlob::Component& c, std::string_view name) {
  switch (c.kind) {
    case PathGlob::Kind::Literal: return name == c.text;
    case PathGlob::Kind::Star: return true;
    case PathGlob::Kind::Prefix: return name.starts_with(c.text);
    case PathGlob::Kind::Suffix: return name.ends_with(c.text);
    case PathGlob::Kind::General: return glob_match(c.text, name);
  }
  return false;
}

PathGlob PathGlob::compile(std::string canonical, int line) {
  PathGlob g;
  g.absolute = canonical.starts_with('/');
  g.line = line;
  PathCursor cur(canonical);
  std::string_view comp;
  while (cur.next(comp)) g.components.push_back(compile_component(comp));
  g.text = std::move(canonical);
  return g;
}

std::string canonicalize_glob(std::string_view pattern, const std::string& where, std::string* warning) {
  std::string p(pattern);
  // Optional quotes: only a matching pair around the whole pattern counts.
  if (p.size() >= 2 && (p.front() == '"' || p.front() == '\'') && p.back() == p.front()) p = p.substr(1, p.size() - 2);
  // wimlib keeps patterns as C strings: nothing after a NUL takes part.
  if (size_t z = p.find('\0'); z != std::string::npos) p.resize(z);

  // A drive letter is any one non-slash character followed by ':'. wimlib
  // drops it from an absolute pattern and refuses it on a relative one.
  if (p.size() >= 2 && p[1] == ':' && !is_slash(p[0])) {
    if (p.size() == 2 || !is_slash(p[2])) {
      std::string rest = p.substr(2);
      fail(Errc::Usage, where + ": invalid pattern " + quoted(p) +
                            ": a pattern with a drive letter must be absolute (drive letters are ignored); write " +
                            quoted(p.substr(0, 2) + "/" + rest) + ", or simply " + quoted("/" + rest));
    }
    if (warning) *warning = where + ": pattern " + quoted(p) + " starts with a drive letter, which is ignored";
    p.erase(0, 2);
  }

  std::string out;
  out.reserve(p.size());
  for (char ch : p) {
    if (is_slash(ch)) {
      if (!out.empty() && out.back() == '/') continue;  // collapse "//"
      out.push_back('/');
    } else {
      out.push_back(ch);
    }
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) out.push_back('/');  // "", "/", "C:\": the capture root

  if (out.front() != '/' && out.find('/') != std::string::npos)
    fail(Errc::Usage, where + ": invalid pattern " + quoted(out) +
                          ": a relative pattern (one not starting with '/' or '\\') matches a file name in any "
                          "directory, so it can only have one path component; to match a path from the capture "
                          "root, write " + quoted("/" + out));
  return out;
}

std::string decode_config_text(std::string_view bytes, const std::string& filename) {
  auto b = [&](size_t i) { return uint8_t(bytes[i]); };
  std::string_view utf16;
  bool is_utf16 = false;
  if (bytes.size() >= 2 && b(0) == 0xFF && b(1) == 0xFE) {
    utf16 = bytes.substr(2);
    is_utf16 = true;
  } else if (bytes.size() >= 2 && b(0) != 0 && b(0) < 0x80 && b(1) == 0) {
    utf16 = bytes;  // ASCII first character in UTF-16LE, no BOM: wimlib's guess too
    is_utf16 = true;
  }
  if (!is_utf16) {
    if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
    return std::string(bytes);
  }
  if (utf16.size() % 2 != 0)
    fail(Errc::Usage, filename + ": looks like UTF-16LE (" +
                          (utf16.size() == bytes.size() ? std::string("second byte is zero") : std::string("FF FE byte-order mark")) +
                          ") but has an odd number of bytes; save it as UTF-8 or UTF-16LE");
  auto units = utf16le_decode(ByteSpan(reinterpret_cast<const uint8_t*>(utf16.data()), utf16.size()));
  return utf16_to_utf8(units);
}

CaptureConfig CaptureConfig::parse(std::string_view bytes, const std::string& filename) {
  CaptureConfig cfg;
  cfg.ignore_case_ = ignore_case_from_env();
  std::string text = decode_config_text(bytes, filename);
  std::string_view rest = text;
  Section section = Section::None;
  int line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view raw = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    line_no++;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    std::string where = filename + ":" + std::to_string(line_no);

    if (line.size() >= 2 && line.front() == '[' && line.back() == ']') {
      std::string_view name = line.substr(1, line.size() - 2);
      if (name == "ExclusionList") section = Section::Exclusion;
      else if (name == "ExclusionException") section = Section::Exception;
      else if (name == "PrepopulateList") section = Section::Prepopulate;
      else if (name == "CompressionExclusionList") section = Section::CompressionExclusion;
      else {
        section = Section::Unknown;
        cfg.warnings_.push_back(where + ": unrecognized section " + quoted(line) +
                                "; its lines are ignored (known: [ExclusionList], [ExclusionException], "
                                "[PrepopulateList], [CompressionExclusionList]; names are case-sensitive)");
      }
      continue;
    }
    if (section == Section::None) {
      cfg.warnings_.push_back(where + ": " + quoted(line) +
                              " is not in a bracketed section and is ignored; put it under [ExclusionList]");
      continue;
    }
    if (section == Section::Unknown) continue;

    std::string warning;
    std::string canonical = canonicalize_glob(line, where, &warning);
    if (!warning.empty()) cfg.warnings_.push_back(std::move(warning));
    switch (section) {
      case Section::Exclusion: cfg.add_exclusion(PathGlob::compile(std::move(canonical), line_no)); break;
      case Section::Exception: cfg.add_exception(PathGlob::compile(std::move(canonical), line_no)); break;
      case Section::Prepopulate: cfg.prepopulate_.push_back(std::move(canonical)); break;
      default: break;  // CompressionExclusionList: checked, not used
    }
  }
  return cfg;
}

CaptureConfig CaptureConfig::load(const std::string& path) { return parse(read_text_file(path), path); }

CaptureConfig CaptureConfig::defaults() { return parse(kDefaultConfig, "(built-in default configuration)"); }

namespace {

// WIMLIB_IMAGEX_IGNORE_CASE in configuration patterns folds ASCII letters
// only, as wimlib-imagex on Linux (verified: "/OTHER/ünÏ.TXT" does not
// exclude "/other/Ünï.txt", while "*.TMP" excludes "B.Tmp").
void fold_ascii(std::string_view s, std::string& out) {
  out.assign(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = char(c - 0x20);
}

}  // namespace

// The hot-path copy of a glob: folded when matching ignores case.
PathGlob CaptureConfig::hot(const PathGlob& g) const {
  if (!ignore_case_) return g;
  PathGlob f = g;
  std::string buf;
  for (auto& c : f.components) {
    fold_ascii(c.text, buf);
    c.text = buf;
  }
  return f;
}

void CaptureConfig::add_exclusion(PathGlob g) {
  PathGlob h = hot(g);
  if (h.absolute) excl_abs_.push_back(h);
  else excl_rel_.push_back(h.components.front());
  exclusions_.push_back(std::move(g));
}

void CaptureConfig::add_exception(PathGlob g) {
  PathGlob h = hot(g);
  if (h.absolute) exc_abs_.push_back(h);
  else exc_rel_.push_back(h.components.front());
  exceptions_.push_back(std::move(g));
}

void CaptureConfig::set_ignore_case(bool ignore_case) {
  ignore_case_ = ignore_case;
  auto excl = std::move(exclusions_);
  auto exc = std::move(exceptions_);
  exclusions_.clear(), exceptions_.clear();
  excl_rel_.clear(), exc_rel_.clear(), excl_abs_.clear(), exc_abs_.clear();
  for (auto& g : excl) add_exclusion(std::move(g));
  for (auto& g : exc) add_exception(std::move(g));
}

bool CaptureConfig::excluded(std::string_view path) const {
  if (excludes_nothing()) return false;
  if (ignore_case_) {
    // Matched folded against folded globs (hot()); costs one copy per path.
    thread_local std::string folded;
    fold_ascii(path, folded);
    path = folded;
  }
  std::string_view name = last_component(path);  // empty for the root
  bool hit = false;
  if (!name.empty())
    hit = std::any_of(excl_rel_.begin(), excl_rel_.end(), [&](const auto& c) { return match_component(c, name); });
  if (!hit)
    hit = std::any_of(excl_abs_.begin(), excl_abs_.end(),
                      [&](const auto& g) { return match_absolute(g, path) == AbsMatch::Covers; });
  if (!hit) return false;
  // An exception keeps the path if it names it (or, absolute, an ancestor),
  // or if the path is on the way to something an absolute exception names.
  if (!name.empty() &&
      std::any_of(exc_rel_.begin(), exc_rel_.end(), [&](const auto& c) { return match_component(c, name); }))
    return false;
  return std::none_of(exc_abs_.begin(), exc_abs_.end(),
                      [&](const auto& g) { return match_absolute(g, path) != AbsMatch::None; });
}

bool CaptureConfig::excluded_or_below_excluded(std::string_view path) const {
  if (excludes_nothing()) return false;
  if (excluded(std::string_view())) return true;  // the root
  size_t pos = 0;
  while (true) {
    while (pos < path.size() && path[pos] == '/') pos++;
    if (pos >= path.size()) return false;
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    if (excluded(path.substr(0, end))) return true;
    pos = end;
  }
}

}  // namespace wp::capture
