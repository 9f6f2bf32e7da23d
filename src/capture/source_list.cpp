#include "capture/source_list.hpp"

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/utf.hpp"

namespace wp::capture {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "\"" + std::string(s).
std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

std::string decode(std::string_view bytes, const std::string& filename) {
  if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xFE) {
    bytes.remove_prefix(2);
    if (bytes.size() % 2 != 0)
      fail(Errc::Usage, filename + ": starts with a UTF-16LE byte-order mark but has an odd number of bytes; "
                                   "save the source list as UTF-8");
    return utf16_to_utf8(utf16le_decode(ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  return std::string(bytes);
}

// Reads one path token starting at `pos` (which is not whitespace).
std::string_view next_token(std::string_view line, size_t& pos, const std::string& where) {
  char q = line[pos];
  if (q == '"' || q == '\'') {
    size_t close = line.find(q, pos + 1);
    if (close == std::string_view::npos)
      fail(Errc::Usage, where + ": missing closing quote in " + quoted(line.substr(pos)) +
                            " (quotes cannot be escaped; use the other kind of quote around a path containing one)");
    std::string_view tok = line.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    return tok;
  }
  size_t start = pos;
  while (pos < line.size() && !is_space(line[pos])) pos++;
  return line.substr(start, pos - start);
}

std::string basename_of(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

std::string normalize_target(std::string_view target, const std::string& where) {
  std::string out;
  size_t pos = 0;
  while (pos < target.size()) {
    while (pos < target.size() && (target[pos] == '/' || target[pos] == '\\')) pos++;
    if (pos >= target.size()) break;
    size_t end = target.find_first_of("/\\", pos);
    if (end == std::string_view::npos) end = target.size();
    std::string_view comp = target.substr(pos, end - pos);
    if (comp == "." || comp == "..")
      fail(Errc::Usage, where + ": target " + quoted(target) +
                            " has a \".\" or \"..\" component, which cannot be a name in the image; give an explicit "
                            "target such as " + quoted(std::string(1, '/').append(basename_of(target))) + " after the source");
    out += '/';
    out += comp;
    pos = end;
  }
  return out.empty() ? "/" : out;
}

std::vector<SourceListEntry> parse_source_list(std::string_view bytes, const std::string& filename,
                                               std::vector<std::string>* warnings) {
  std::string text = decode(bytes, filename);
  std::vector<SourceListEntry> out;
  std::string_view rest = text;
  int line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    line_no++;
    std::string where = filename + ":" + std::to_string(line_no);

    size_t pos = 0;
    auto skip_space = [&] {
      while (pos < line.size() && is_space(line[pos])) pos++;
    };
    skip_space();
    if (pos >= line.size() || line[pos] == '#') continue;
    if (line.find('\0') != std::string_view::npos)
      fail(Errc::Usage, where + ": contains a NUL byte; a source list must be a text file, one "
                                "\"SOURCE [TARGET]\" per line");

    SourceListEntry e;
    e.line = line_no;
    e.source = std::string(next_token(line, pos, where));
    if (e.source.empty())
      fail(Errc::Usage, where + ": empty source path; write the path of a file or directory to capture");
    skip_space();
    std::string_view target = e.source;
    if (pos < line.size()) target = next_token(line, pos, where);
    skip_space();
    if (pos < line.size() && warnings)
      warnings->push_back(where + ": ignoring " + quoted(line.substr(pos)) +
                          " after the target path (quote paths that contain spaces)");
    e.target = normalize_target(target, where);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<SourceListEntry> load_source_list(const std::string& path, std::vector<std::string>* warnings) {
  return parse_source_list(read_text_file(path), path, warnings);
}

std::vector<OverlayStep> plan_overlay(const std::vector<SourceListEntry>& entries) {
  std::vector<OverlayStep> plan;
  plan.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    const std::string& t = entries[i].target;
    OverlayStep s;
    s.entry = i;
    s.to_root = t == "/";
    s.rpfix = s.to_root;
    if (!s.to_root) {
      size_t slash = t.rfind('/');
      s.parent = slash == 0 ? "/" : t.substr(0, slash);
      s.name = t.substr(slash + 1);
      for (size_t p = t.find('/', 1); p != std::string::npos; p = t.find('/', p + 1)) s.parents.push_back(t.substr(0, p));
    } else {
      s.parent = "/";
    }
    plan.push_back(std::move(s));
  }
  return plan;
}

}  // namespace wp::capture
