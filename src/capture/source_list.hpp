// Source lists (`capture/append --source-list`): SOURCE names a text file
// (or "-" for stdin) listing what to put in the image and where. Parsing
// copies wimlib-imagex 1.13.5 on Linux, checked by running it:
//
//   - One entry per '\n'-terminated line: a source path (absolute or relative
//     to the current directory) and optionally a target path in the image,
//     separated by whitespace (C-locale isspace, so CRLF files work).
//   - A path may be quoted with "..." or '...' (no escapes); a quote only
//     counts at the start of a path, and the closing quote ends the path even
//     without whitespace after it ("a"/x is "a" then "/x"). A quote inside a
//     path (/a"b) is an ordinary character. A missing closing quote is an
//     error.
//   - Blank lines and lines whose first non-blank character is '#' are
//     skipped. Text after the second path is ignored, as wimlib does, but we
//     warn: it usually means an unquoted path with spaces.
//   - The target defaults to the source string itself ("dir" -> "/dir",
//     "/srv/x" -> "/srv/x"). '\' in a target is a separator; leading,
//     trailing and repeated separators are dropped; a target of only
//     separators, or "", is the image root "/".
//
// Deliberate differences from wimlib (each turns a wimlib failure or a
// silently empty image into something sensible):
//   - A UTF-8 BOM is dropped and a UTF-16LE file with a BOM is decoded
//     (wimlib takes the BOM as part of the first source name and fails).
//   - A target with a "." or ".." component (e.g. the default target of
//     "./dir") is refused with a suggested fix; wimlib warns 'Ignoring file
//     named "."' and leaves the entry out of the image.
//   - A NUL byte or an empty source ("") is refused at parse time.
//
// Overlay semantics, for the scanner that applies the list (what wimlib does;
// plan_overlay() below gives the per-entry facts):
//   - Entries are applied in file order, each source scanned on its own. The
//     capture config (--config or the default list) is matched against paths
//     relative to *each source's* root, not to its target: "/dir" in the
//     config excludes SOURCE/dir wherever SOURCE lands, and a relative
//     pattern never matches the source root itself.
//   - Target "/": the source must be a directory ('"F" is not a directory!'
//     otherwise) and its contents are merged into the root.
//   - Missing intermediate directories of a target are created as plain
//     directories: attributes FILE_ATTRIBUTE_DIRECTORY only, all three times
//     = the capture time, no security descriptor. The root is such a
//     directory until a "/" entry supplies a real one.
//   - Directory onto existing directory: merged recursively (an overlay).
//   - Nondirectory onto existing nondirectory (at the target, or anywhere
//     inside a merge): the later one replaces the earlier ("last wins").
//   - Nondirectory onto existing directory: error ('"/d" is a directory!
//     Specify the path at which to place the file inside this directory.').
//     Directory onto existing nondirectory: error ('Can't place directory at
//     "/d" because a nondirectory file already exists there!'). A target
//     whose parent exists as a nondirectory: error ('"/p" in the WIM image is
//     not a directory!').
//   - A source that does not exist fails the capture when it is scanned.
//   - No entries at all: an image holding just an empty root directory.
//   - Reparse-point fixups (rpfix) apply only to entries targeted at "/"
//     unless --norpfix; wimlib disables them for other targets.
//   - Listing the same directory twice at "/" makes wimlib warn "Not honoring
//     directory hard link"; the result is the same tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wp::capture {

struct SourceListEntry {
  std::string source;  // as written (a path on disk)
  std::string target;  // normalised: "/" or "/a/b"
  int line = 0;        // 1-based, for messages
};

// Parses a source list's bytes; `filename` only labels messages. Throws
// Errc::Usage "FILE:LINE: ..." on a bad line. Notes wimlib would not print
// (ignored trailing text) are appended to `warnings` if given.
std::vector<SourceListEntry> parse_source_list(std::string_view bytes, const std::string& filename,
                                               std::vector<std::string>* warnings = nullptr);

// parse_source_list(read_text_file(path), path); "-" reads stdin.
std::vector<SourceListEntry> load_source_list(const std::string& path, std::vector<std::string>* warnings = nullptr);

// "\a\\b/" -> "/a/b"; "" or "///" -> "/". Throws Errc::Usage (message
// prefixed with `where`) on a "." or ".." component.
std::string normalize_target(std::string_view target, const std::string& where);

// One step of applying a source list, in list order.
struct OverlayStep {
  size_t entry = 0;                  // index into the list
  bool to_root = false;              // target "/": source must be a directory, merged into the root
  bool rpfix = false;                // reparse-point fixups allowed (only at "/")
  std::vector<std::string> parents;  // "/a", "/a/b" for target "/a/b/c": ensure each is a directory
                                     // (create if missing, error if a nondirectory), outermost first
  std::string parent;                // "/a/b": where the entry's top item is placed ("/" for "/x")
  std::string name;                  // "c": its name there (empty when to_root)
};

// A pure function of the list (no file system access): what the scanner
// does for each entry, in order. See the overlay rules above for what
// happens on conflicts, which depends on what is on disk.
std::vector<OverlayStep> plan_overlay(const std::vector<SourceListEntry>& entries);

}  // namespace wp::capture
