// Capture configuration files (`--config=FILE`): which paths a capture leaves
// out. The format and every corner below copy wimlib-imagex 1.13.5 on Linux,
// established by running it (see tests/unit/config_test.cpp, which also
// checks us against it when it is installed).
//
// File format
//   - Encoding: UTF-16LE if the file starts with FF FE (BOM dropped) *or* if
//     its first byte is 01..7F and its second is 00 (UTF-16LE without a BOM);
//     otherwise bytes taken as they are (UTF-8; an EF BB BF BOM is dropped;
//     invalid UTF-8 is not an error, it just matches the same bytes). UTF-16
//     with an odd byte count is refused.
//   - Lines end at '\n'; each line is trimmed of C-locale whitespace (so CRLF
//     works; a lone CR does not end a line). Blank lines are skipped, and so
//     are lines whose first non-blank character is '#' or ';'. There are no
//     trailing comments: "*.tmp # old" is the pattern "*.tmp # old".
//   - "[Name]" (the whole trimmed line) opens a section; names are
//     case-sensitive. ExclusionList, ExclusionException and PrepopulateList
//     are used; CompressionExclusionList is accepted silently and ignored, but
//     its patterns are still validated. Any other section (AlignmentList,
//     "[ Foo ]", ...) gets a warning and its lines are skipped unchecked. A
//     pattern line before any section gets a warning and is skipped.
//   - Patterns: a pattern wrapped in a matching pair of '"' or '\'' loses the
//     pair (spaces inside are kept); quoting is optional. Text after a NUL
//     byte is dropped. '\' is turned into '/'. A leading drive letter ("C:\",
//     in fact any single non-slash character then ':' then a slash) is
//     removed with a warning; "C:dir" or "C:" is refused. Repeated slashes
//     collapse and trailing slashes go, so "\\dir\\" is "/dir". A pattern
//     that is then empty (from "/", "", "C:\") names the capture root.
//   - A pattern without a leading '/' (relative) must be a single component:
//     "names/co*" is refused (Errc::Usage), suggesting "/names/co*". This
//     holds in every used section, including CompressionExclusionList.
//
// Matching (all byte-wise and case-sensitive -- unless
// WIMLIB_IMAGEX_IGNORE_CASE=1 is set when the configuration is parsed: then
// ASCII letters match whatever their case, and only they, as with
// wimlib-imagex on Linux; '*' is any run of bytes and '?' exactly one byte,
// never crossing '/'; no '[...]' classes)
//   - A relative pattern matches the last component (the file name) of a path
//     in any directory. It never matches the capture root.
//   - An absolute pattern with n components matches a path whose first n
//     components it matches, i.e. the named file and everything below it.
//   - A path is *excluded* when it is matched by an [ExclusionList] pattern
//     and neither (a) matched by an [ExclusionException] pattern (relative:
//     the name; absolute: the path or one of its ancestors), nor (b) a proper
//     ancestor of what an absolute exception pattern could name: with
//     "/dir" excluded and "/dir/sub/f" excepted, "/dir" and "/dir/sub" stay
//     (as directories holding only what is excepted), "/dir/other" goes.
//     Only absolute exceptions reach into an excluded directory; a relative
//     exception ("f") cannot, because the scan never enters "/dir".
//   - The scan prunes: an excluded directory's contents are never looked at,
//     so `excluded()` answers for one path given that its parent is kept.
//     Example: with "dir" (relative) excluded and "/dir/sub" excepted, "/dir"
//     stays (rule b) and so does all of "/dir/..." except what is itself
//     matched, e.g. "/dir/x/dir".
//   - If the root itself is excluded (pattern "/"), the image is empty: no
//     root directory at all (wimlib says 'Excluding "SRC" from capture').
//
// Paths are matched relative to the directory being scanned, not to where it
// lands in the image: with `--source-list`, each source is matched against
// its own root ("/dir" in the config excludes SOURCE/dir even when SOURCE is
// grafted at "/foo"), and the source's root itself is never matched by a
// relative pattern.
//
// Which configuration applies (wimlib-imagex capture/append on Linux):
//   - `--config=FILE`: that file only (an empty file means no exclusions).
//   - no `--config`: `defaults()` -- yes, on Linux too, for a plain directory
//     capture and for every source of a `--source-list` (verified: a
//     top-level "pagefile.sys" or "Windows/CSC" is left out, "sub/pagefile.sys"
//     is kept, "PAGEFILE.SYS" is kept).
//   - `--wimboot` without `--config`: SOURCE/Windows/System32/
//     WimBootCompress.ini if it exists, else `defaults()` with the warning
//     '"SRC/Windows/System32/WimBootCompress.ini" does not exist. Using
//     default capture configuration!'. (With `--wimboot --config=FILE`,
//     wimlib also stores FILE in the image as that .ini; not handled here.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wp::capture {

// One path glob, canonicalised and split into components for matching.
struct PathGlob {
  enum class Kind : uint8_t {
    Literal,  // no wildcard: byte equality
    Star,     // "*": anything (a component is never empty)
    Prefix,   // "lit*"
    Suffix,   // "*lit" (the common "*.tmp")
    General,  // anything else: backtracking matcher
  };
  struct Component {
    std::string text;  // the component glob; for Prefix/Suffix, only the literal part
    Kind kind = Kind::General;
  };

  std::string text;  // canonical: "/dir/*.o", "*.tmp", or "/" for the root
  bool absolute = false;
  std::vector<Component> components;  // empty for the root pattern "/"
  int line = 0;                       // 1-based line in the file it came from

  // `canonical` must already be canonical (see canonicalize_glob); a
  // relative glob must be a single component.
  static PathGlob compile(std::string canonical, int line);
};

// Whether one component (a file name) matches one component glob.
bool match_component(const PathGlob::Component& c, std::string_view name);

class CaptureConfig {
public:
  // An empty configuration: nothing is excluded.
  CaptureConfig() = default;

  // `bytes` is the raw file content; `filename` only labels messages.
  // Throws Errc::Usage with "FILE:LINE: ..." on an invalid pattern or an
  // undecodable file; oddities wimlib only warns about land in warnings().
  static CaptureConfig parse(std::string_view bytes, const std::string& filename);
  // parse(read_text_file(path), path); "-" reads stdin.
  static CaptureConfig load(const std::string& path);
  // wimlib's built-in Windows list (see the header comment for when it
  // applies): \$ntfs.log \hiberfil.sys \pagefile.sys \swapfile.sys
  // \System Volume Information \RECYCLER \$RECYCLE.BIN \$Recycle.Bin
  // \Windows\CSC.
  static CaptureConfig defaults();

  // `path` is relative to the scanned directory, '/'-separated, UTF-8:
  // "/a/b/c" ("a/b/c" and a trailing '/' are accepted too; "/" or "" is the
  // root). True means: leave it out, and if it is a directory do not descend.
  // Assumes the parent was not excluded (the scan prunes); see
  // excluded_or_below_excluded() for a standalone question. No allocation.
  bool excluded(std::string_view path) const;

  // True if `path` or any of its ancestors is excluded, i.e. whether a
  // pruning scan would leave `path` out. O(depth x patterns).
  bool excluded_or_below_excluded(std::string_view path) const;

  // Case-insensitive matching (WIMLIB_IMAGEX_IGNORE_CASE, read by parse()
  // and defaults()); settable for tests.
  bool ignore_case() const { return ignore_case_; }
  void set_ignore_case(bool ignore_case);

  // Nothing can be excluded: the scanner may skip the per-file check.
  bool excludes_nothing() const { return excl_rel_.empty() && excl_abs_.empty(); }

  const std::vector<PathGlob>& exclusion_list() const { return exclusions_; }
  const std::vector<PathGlob>& exclusion_exceptions() const { return exceptions_; }
  // [PrepopulateList] globs in canonical form; only --wimboot apply uses them.
  const std::vector<std::string>& prepopulate() const { return prepopulate_; }
  // "FILE:LINE: ..." notes for lines wimlib accepts with a warning (unknown
  // section, pattern outside a section, drive letter removed). The command
  // should print them.
  const std::vector<std::string>& warnings() const { return warnings_; }

private:
  PathGlob hot(const PathGlob& g) const;
  void add_exclusion(PathGlob g);
  void add_exception(PathGlob g);

  std::vector<PathGlob> exclusions_, exceptions_;  // in file order, for reporting
  std::vector<std::string> prepopulate_;
  std::vector<std::string> warnings_;
  // The same globs split by form for the hot path (copies: a few dozen at most).
  std::vector<PathGlob::Component> excl_rel_, exc_rel_;
  std::vector<PathGlob> excl_abs_, exc_abs_;
  bool ignore_case_ = false;
};

// Canonical form of one pattern as written in a file (after trimming), by the
// rules above: quotes, NUL, drive letter, slashes. Appends a warning to
// `warning` when a drive letter was removed. Throws Errc::Usage with
// "where: ..." (where = "FILE:LINE") for "C:dir" and for a relative pattern
// with several components.
std::string canonicalize_glob(std::string_view pattern, const std::string& where, std::string* warning);

// Decodes a configuration file's bytes to UTF-8 text by the rules above
// (exposed for tests). Throws Errc::Usage naming `filename`.
std::string decode_config_text(std::string_view bytes, const std::string& filename);

}  // namespace wp::capture
