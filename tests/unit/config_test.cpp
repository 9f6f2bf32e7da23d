// Capture configuration files and source lists. The expected results were
// taken from wimlib-imagex 1.13.5 (capture + dir on the same tree); the
// "config differential" case reruns that comparison when wimlib-imagex is
// installed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "capture/config.hpp"
#include "capture/source_list.hpp"
#include "util/error.hpp"

using namespace wp;
using namespace wp::capture;

namespace {

// A small tree: directories end in '/'.
const std::vector<std::string> kTree = {
    "/a.tmp", "/ax", "/b.txt", "/bx", "/sp ace.txt", "/dir/", "/dir/a.tmp", "/dir/keep", "/dir/x.o", "/dir/sub/",
    "/dir/sub/y.o", "/names/", "/names/cob", "/names/dog", "/other/", "/other/a.tmp", "/other/dir/",
    "/other/dir/z.o",
};

std::string strip_slash(std::string p) {
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// What a pruning scan keeps: a path is kept if its parent is kept and it is
// not excluded. The root is "/".
std::set<std::string> kept(const CaptureConfig& cfg, const std::vector<std::string>& tree) {
  std::set<std::string> out;
  if (cfg.excluded("/")) return out;
  out.insert("/");
  std::vector<std::string> sorted;
  for (const auto& p : tree) sorted.push_back(strip_slash(p));
  std::sort(sorted.begin(), sorted.end());  // parents before children
  for (const auto& p : sorted) {
    std::string parent = p.substr(0, p.rfind('/'));
    if (parent.empty()) parent.push_back('/');  // not = "/": GCC 12 -Wrestrict false positive
    if (out.count(parent) && !cfg.excluded(p)) out.insert(p);
  }
  return out;
}

// The paths of kTree a config leaves out, sorted and space-separated.
std::string removed(const std::string& config_text, const std::vector<std::string>& tree = kTree) {
  auto cfg = CaptureConfig::parse(config_text, "test.ini");
  auto k = kept(cfg, tree);
  std::string out;
  for (const auto& p : tree) {
    std::string q = strip_slash(p);
    if (!k.count(q)) out += (out.empty() ? "" : " ") + q;
  }
  return out;
}

std::string usage_error(const std::string& config_text) {
  try {
    CaptureConfig::parse(config_text, "test.ini");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Usage);
    return e.what();
  }
  return "(no error)";
}

std::string utf16le_bom(const std::string& ascii) {
  std::string out = "\xFF\xFE";
  for (char c : ascii) {
    out += c;
    out += '\0';
  }
  return out;
}

}  // namespace

TEST_CASE("config: relative name globs match a file name in any directory") {
  CHECK(removed("[ExclusionList]\n*.tmp\n") == "/a.tmp /dir/a.tmp /other/a.tmp");
  CHECK(removed("[ExclusionList]\n?x\n") == "/ax /bx");
  CHECK(removed("[ExclusionList]\ndir\n") == "/dir /dir/a.tmp /dir/keep /dir/x.o /dir/sub /dir/sub/y.o /other/dir "
                                            "/other/dir/z.o");
  CHECK(removed("[ExclusionList]\n*\n") ==
        "/a.tmp /ax /b.txt /bx /sp ace.txt /dir /dir/a.tmp /dir/keep /dir/x.o /dir/sub /dir/sub/y.o /names "
        "/names/cob /names/dog /other /other/a.tmp /other/dir /other/dir/z.o");
  // No character classes: "[ab]x" is literal.
  CHECK(removed("[ExclusionList]\n[ab]x\n") == "");
  // Case-sensitive, as wimlib on Linux.
  CHECK(removed("[ExclusionList]\n*.TMP\n") == "");
}

TEST_CASE("config: absolute globs match from the capture root, a directory with its contents") {
  CHECK(removed("[ExclusionList]\n/dir\n") == "/dir /dir/a.tmp /dir/keep /dir/x.o /dir/sub /dir/sub/y.o");
  CHECK(removed("[ExclusionList]\n/dir/*.o\n") == "/dir/x.o");
  CHECK(removed("[ExclusionList]\n\\dir\\sub\n") == "/dir/sub /dir/sub/y.o");
  CHECK(removed("[ExclusionList]\n/*/*.o\n") == "/dir/x.o");  // '*' does not cross '/'
  CHECK(removed("[ExclusionList]\n/DIR\n") == "");
  // Trailing and repeated slashes do not matter.
  CHECK(removed("[ExclusionList]\n/dir/\n") == removed("[ExclusionList]\n/dir\n"));
  CHECK(removed("[ExclusionList]\n//dir\n") == removed("[ExclusionList]\n/dir\n"));
  CHECK(removed("[ExclusionList]\n/dir//sub\n") == "/dir/sub /dir/sub/y.o");
  CHECK(removed("[ExclusionList]\n\\\\dir\\\\\n") == removed("[ExclusionList]\n/dir\n"));
  // "/*/" leaves the root and nothing else.
  CHECK(kept(CaptureConfig::parse("[ExclusionList]\n/*/\n", "t"), kTree) == std::set<std::string>{"/"});
}

TEST_CASE("config: the root pattern empties the image") {
  for (const char* text : {"[ExclusionList]\n/\n", "[ExclusionList]\n\"\"\n", "[ExclusionList]\n''\n",
                           "[ExclusionList]\nC:\\\n"}) {
    auto cfg = CaptureConfig::parse(text, "t");
    CHECK(cfg.excluded("/"));
    CHECK(cfg.excluded(""));
    CHECK(kept(cfg, kTree).empty());
  }
  // A relative "*" never matches the root.
  CHECK_FALSE(CaptureConfig::parse("[ExclusionList]\n*\n", "t").excluded("/"));
  // But an absolute exception keeps the root as its ancestor.
  CHECK(removed("[ExclusionList]\n/\n[ExclusionException]\n/dir\n") ==
        "/a.tmp /ax /b.txt /bx /sp ace.txt /names /names/cob /names/dog /other /other/a.tmp /other/dir /other/dir/z.o");
}

TEST_CASE("config: exclusion exceptions") {
  // Inside an excluded directory: the directory stays, holding only the exception.
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/keep\n") ==
        "/dir/a.tmp /dir/x.o /dir/sub /dir/sub/y.o");
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/sub/y.o\n") == "/dir/a.tmp /dir/keep /dir/x.o");
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/s*\n") == "/dir/a.tmp /dir/keep /dir/x.o");
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/*/keep\n") ==
        "/dir/a.tmp /dir/x.o /dir/sub /dir/sub/y.o");
  // An excepted directory keeps all its contents.
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/sub\n") == "/dir/a.tmp /dir/keep /dir/x.o");
  CHECK(removed("[ExclusionList]\n*.o\n[ExclusionException]\n/dir/sub\n") == "/dir/x.o /other/dir/z.o");
  CHECK(removed("[ExclusionList]\n*.tmp\n[ExclusionException]\n/dir\n") == "/a.tmp /other/a.tmp");
  CHECK(removed("[ExclusionList]\n/dir/sub\n[ExclusionException]\n/dir\n") == "");
  // The ancestors of an exception that names nothing on disk still stay (empty).
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/nonexist\n") ==
        "/dir/a.tmp /dir/keep /dir/x.o /dir/sub /dir/sub/y.o");
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\n/dir/sub/y.o/deeper\n") ==
        "/dir/a.tmp /dir/keep /dir/x.o");
  // Relative exceptions match a name; they cannot reach into an excluded directory.
  CHECK(removed("[ExclusionList]\n*.o\n[ExclusionException]\nx.o\n") == "/dir/sub/y.o /other/dir/z.o");
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\nkeep\n") ==
        removed("[ExclusionList]\n/dir\n"));
  CHECK(removed("[ExclusionList]\n*.o\n[ExclusionException]\nsub\n") == "/dir/x.o /dir/sub/y.o /other/dir/z.o");
  // ... and a relative exception on an excluded directory keeps only the directory.
  CHECK(removed("[ExclusionList]\n/dir\n[ExclusionException]\ndir\n") ==
        "/dir/a.tmp /dir/keep /dir/x.o /dir/sub /dir/sub/y.o");
  // A relative exclusion of a directory kept as an exception's ancestor
  // prunes nothing below it.
  CHECK(removed("[ExclusionList]\ndir\n[ExclusionException]\n/dir/sub\n") == "/other/dir /other/dir/z.o");
  CHECK(removed("[ExclusionList]\n*\n[ExclusionException]\n/dir/sub/y.o\n") ==
        "/a.tmp /ax /b.txt /bx /sp ace.txt /dir/a.tmp /dir/keep /dir/x.o /names /names/cob /names/dog /other "
        "/other/a.tmp /other/dir /other/dir/z.o");
  CHECK(removed("[ExclusionList]\n*\n[ExclusionException]\n/\n") == "");
  // Exceptions alone exclude nothing.
  CHECK(removed("[ExclusionException]\n/dir/sub\n") == "");
}

TEST_CASE("config: excluded_or_below_excluded answers without a pruning walk") {
  auto cfg = CaptureConfig::parse("[ExclusionList]\ndir\n[ExclusionException]\n/dir/sub\n", "t");
  CHECK_FALSE(cfg.excluded("/other/dir/z.o"));  // its parent is excluded, which excluded() assumes is not
  CHECK(cfg.excluded_or_below_excluded("/other/dir/z.o"));
  CHECK_FALSE(cfg.excluded_or_below_excluded("/dir/sub/y.o"));
  CHECK_FALSE(cfg.excluded_or_below_excluded("/dir/a.tmp"));
  // Accepted path spellings.
  CHECK(cfg.excluded("other/dir"));
  CHECK(cfg.excluded("/other/dir/"));
  CHECK(cfg.excluded("//other//dir"));
}

TEST_CASE("config: wildcards are byte-wise and never cross a slash") {
  std::vector<std::string> tree = {"/\xC3\xA9", "/e", "/.hid", "/ab", "/a", "/aXb", "/aXbXb", "/abc"};
  CHECK(removed("[ExclusionList]\n?\n", tree) == "/e /a");                  // "é" is two bytes
  CHECK(removed("[ExclusionList]\n??\n", tree) == "/\xC3\xA9 /ab");
  CHECK(removed("[ExclusionList]\n\xC3\xA9\n", tree) == "/\xC3\xA9");
  CHECK(removed("[ExclusionList]\n*\n[ExclusionException]\n.*\n", tree) ==
        "/\xC3\xA9 /e /ab /a /aXb /aXbXb /abc");                            // '*' matches a leading dot
  CHECK(removed("[ExclusionList]\na*\n", tree) == "/ab /a /aXb /aXbXb /abc");  // '*' may be empty
  CHECK(removed("[ExclusionList]\n*?*?\n", tree) == "/\xC3\xA9 /.hid /ab /aXb /aXbXb /abc");
  CHECK(removed("[ExclusionList]\n**b\n", tree) == "/ab /aXb /aXbXb");
  CHECK(removed("[ExclusionList]\na*b\n", tree) == "/ab /aXb /aXbXb");     // backtracking
  CHECK(removed("[ExclusionList]\na*X*b\n", tree) == "/aXb /aXbXb");
  CHECK(removed("[ExclusionList]\n*b*\n", tree) == "/ab /aXb /aXbXb /abc");
  CHECK(removed("[ExclusionList]\na?b\n", tree) == "/aXb");
  CHECK(removed("[ExclusionList]\n*c\n", tree) == "/abc");
}

TEST_CASE("config: comments, blank lines, whitespace, quotes, CRLF") {
  CHECK(removed("[ExclusionList]\n   # comment\n  ; comment\n\n\t*.tmp \t\n") == "/a.tmp /dir/a.tmp /other/a.tmp");
  CHECK(removed("[ExclusionList]\n;ax\n#bx\n") == "");
  // No trailing comments: the whole line is the pattern.
  CHECK(removed("[ExclusionList]\n*.tmp # comment\n") == "");
  CHECK(removed("[ExclusionList]\n*.tmp ; comment\n") == "");
  // Quotes are optional; a matching pair is removed, spaces inside kept.
  CHECK(removed("[ExclusionList]\nsp ace.txt\n") == "/sp ace.txt");
  CHECK(removed("[ExclusionList]\n\"sp ace.txt\"\n") == "/sp ace.txt");
  CHECK(removed("[ExclusionList]\n'sp ace.txt'\n") == "/sp ace.txt");
  CHECK(removed("[ExclusionList]\n  \"ax\"  \n") == "/ax");
  CHECK(removed("[ExclusionList]\n\"  ax  \"\n") == "");
  CHECK(removed("[ExclusionList]\n\"ax'\n") == "");
  CHECK(removed("[ExclusionList]\n\"sp ace.txt\n") == "");
  CHECK(removed("[ExclusionList]\n\"sp\" \"ace.txt\"\n") == "");  // pattern: sp" "ace.txt
  CHECK(removed("[ExclusionList]\r\n*.tmp\r\nax\r\n") == "/a.tmp /ax /dir/a.tmp /other/a.tmp");
  CHECK(removed("[ExclusionList]\n\x0b" "ax\x0c\n") == "/ax");
  // A lone CR does not end a line: one line that is not a section header.
  auto cr = CaptureConfig::parse("[ExclusionList]\r*.tmp\rax\r", "t");
  CHECK(cr.excludes_nothing());
  CHECK(cr.warnings().size() == 1);
  // No final newline.
  CHECK(removed("[ExclusionList]\nax") == "/ax");
  // Text after a NUL does not take part.
  CHECK(removed(std::string("[ExclusionList]\nax\0zz\n", 22)) == "/ax");
}

TEST_CASE("config: sections") {
  auto cfg = CaptureConfig::parse(
      "ax\n[Foo]\nbx\nnames/co*\n[exclusionlist]\nax\n[ ExclusionList ]\nax\n[ExclusionList\nax\n"
      "[AlignmentList]\nax\n[CompressionExclusionList]\n*.o\n  [ExclusionList]  \n*.tmp\n"
      "[PrepopulateList]\n\\Windows\\System32\\*.dll\n[ExclusionException]\n/dir\n[ExclusionList]\nbx\n",
      "c.ini");
  CHECK(kept(cfg, kTree).count("/ax"));
  CHECK(cfg.excluded("/a.tmp"));
  CHECK(cfg.excluded("/bx"));  // a second [ExclusionList] adds to the first
  CHECK_FALSE(cfg.excluded("/dir/a.tmp"));
  CHECK_FALSE(cfg.excluded("/dir/x.o"));
  CHECK(cfg.exclusion_list().size() == 2);
  CHECK(cfg.exclusion_list()[0].text == "*.tmp");
  CHECK(cfg.exclusion_list()[0].line == 16);
  CHECK(cfg.exclusion_exceptions().size() == 1);
  CHECK(cfg.prepopulate() == std::vector<std::string>{"/Windows/System32/*.dll"});
  // Warnings, as wimlib's: line 1 outside a section, and unknown sections at
  // their header only (so "[ExclusionList" on line 9, inside one, is silent).
  std::string all;
  for (const auto& w : cfg.warnings()) all += w + "\n";
  CAPTURE(all);
  CHECK(cfg.warnings().size() == 5);
  CHECK(all.find("c.ini:1: \"ax\" is not in a bracketed section") != std::string::npos);
  CHECK(all.find("c.ini:2: unrecognized section \"[Foo]\"") != std::string::npos);
  CHECK(all.find("c.ini:5: unrecognized section \"[exclusionlist]\"") != std::string::npos);
  CHECK(all.find("c.ini:7: unrecognized section \"[ ExclusionList ]\"") != std::string::npos);
  CHECK(all.find("c.ini:11: unrecognized section \"[AlignmentList]\"") != std::string::npos);
  // Empty file, BOM only: nothing excluded, no warnings.
  for (const char* text : {"", "\xFF\xFE", "\xEF\xBB\xBF", "\n\n  \n"}) {
    auto e = CaptureConfig::parse(text, "t");
    CHECK(e.excludes_nothing());
    CHECK(e.warnings().empty());
  }
}

TEST_CASE("config: refused patterns name the line and the fix") {
  std::string msg = usage_error("[ExclusionList]\n*.tmp\nnames/co*\n");
  CHECK(msg.find("test.ini:3: invalid pattern \"names/co*\"") != std::string::npos);
  CHECK(msg.find("write \"/names/co*\"") != std::string::npos);
  // Shown canonical, as wimlib does.
  CHECK(usage_error("[ExclusionList]\nnames\\\\co*\\\\\n").find("\"names/co*\"") != std::string::npos);
  CHECK(usage_error("[ExclusionList]\n./dir\n").find("write \"/./dir\"") != std::string::npos);
  // Checked in every used section, CompressionExclusionList included; not in unknown ones.
  CHECK(usage_error("[ExclusionException]\na/b\n").find("test.ini:2:") != std::string::npos);
  CHECK(usage_error("[PrepopulateList]\na/b\n").find("test.ini:2:") != std::string::npos);
  CHECK(usage_error("[CompressionExclusionList]\na/b\n").find("test.ini:2:") != std::string::npos);
  CHECK(usage_error("[Foo]\na/b\n") == "(no error)");
  CHECK(usage_error("a/b\n") == "(no error)");
  // Drive letters: only before an absolute path.
  msg = usage_error("[ExclusionList]\n\n\nC:dir\n");
  CHECK(msg.find("test.ini:4: invalid pattern \"C:dir\"") != std::string::npos);
  CHECK(msg.find("\"C:/dir\"") != std::string::npos);
  CHECK(usage_error("[ExclusionList]\na:\n").find("must be absolute") != std::string::npos);
  CHECK(usage_error("[ExclusionList]\n::x\n").find("must be absolute") != std::string::npos);
  // "CD:" is no drive letter, so this is a relative multi-component pattern.
  CHECK(usage_error("[ExclusionList]\nCD:\\dir\n").find("write \"/CD:/dir\"") != std::string::npos);
  // UTF-16 with an odd length.
  CHECK(usage_error(utf16le_bom("[ExclusionList]\na\n") + "x").find("odd number of bytes") != std::string::npos);
}

TEST_CASE("config: drive letters are dropped with a warning") {
  for (const char* p : {"C:\\dir", "c:/dir", "1:\\dir", "*:/dir"}) {
    CAPTURE(p);
    auto cfg = CaptureConfig::parse(std::string("[ExclusionList]\n") + p + "\n", "t");
    REQUIRE(cfg.exclusion_list().size() == 1);
    CHECK(cfg.exclusion_list()[0].text == "/dir");
    REQUIRE(cfg.warnings().size() == 1);
    CHECK(cfg.warnings()[0].find("t:2: pattern \"" + std::string(p) + "\" starts with a drive letter") == 0);
  }
  // "/:x" starts with a slash: an absolute pattern whose first component is ":x".
  auto cfg = CaptureConfig::parse("[ExclusionList]\n/:x\n", "t");
  CHECK(cfg.exclusion_list()[0].text == "/:x");
  CHECK(cfg.warnings().empty());
}

TEST_CASE("config: encodings") {
  const std::string body = "[ExclusionList]\r\n?x\r\n\"sp ace.txt\"\r\n";
  const std::string expect = "/ax /bx /sp ace.txt";
  CHECK(removed(body) == expect);
  CHECK(removed("\xEF\xBB\xBF" + body) == expect);
  CHECK(removed(utf16le_bom(body)) == expect);
  CHECK(removed(utf16le_bom(body).substr(2)) == expect);  // no BOM: first byte ASCII, second zero
  // Non-ASCII through UTF-16LE: U+00E9 -> UTF-8 C3 A9.
  std::string e16 = utf16le_bom("[ExclusionList]\n");
  e16 += std::string("\xE9\x00\n\x00", 4);
  std::vector<std::string> tree = {"/\xC3\xA9", "/e"};
  CHECK(removed(e16, tree) == "/\xC3\xA9");
  // A UTF-16BE BOM is not recognised: the lines are garbage outside any section.
  std::string be = "\xFE\xFF";
  for (char c : std::string("[ExclusionList]\nax\n")) {
    be += '\0';
    be += c;
  }
  CHECK(CaptureConfig::parse(be, "t").excludes_nothing());
  // Invalid UTF-8 is kept as bytes (it simply matches the same bytes).
  CHECK(removed("[ExclusionList]\n\xE9\n", {"/\xE9", "/e"}) == "/\xE9");
  CHECK(decode_config_text(std::string("a\0b\0", 4), "t") == "ab");
  CHECK(decode_config_text("ab", "t") == "ab");
}

TEST_CASE("config: built-in defaults, as wimlib-imagex applies them on Linux") {
  auto d = CaptureConfig::defaults();
  CHECK(d.warnings().empty());
  CHECK(d.exclusion_list().size() == 9);
  std::vector<std::string> tree = {
      "/$ntfs.log", "/hiberfil.sys", "/pagefile.sys", "/swapfile.sys", "/System Volume Information/",
      "/RECYCLER/", "/$RECYCLE.BIN/", "/$Recycle.Bin/", "/Windows/", "/Windows/CSC/", "/Windows/CSC/x/",
      "/Windows/CSC/x/f", "/sub/", "/sub/pagefile.sys", "/PAGEFILE.SYS", "/windows/", "/windows/csc/"};
  auto k = kept(d, tree);
  CHECK(k == std::set<std::string>{"/", "/Windows", "/sub", "/sub/pagefile.sys", "/PAGEFILE.SYS", "/windows",
                                   "/windows/csc"});
  CHECK(CaptureConfig().excludes_nothing());
  CHECK_FALSE(CaptureConfig().excluded("/pagefile.sys"));
}

TEST_CASE("config: globs compile to the cheap forms") {
  auto kind = [](const char* g) { return PathGlob::compile(g, 1).components.front().kind; };
  CHECK(kind("*.tmp") == PathGlob::Kind::Suffix);
  CHECK(kind("**.tmp") == PathGlob::Kind::Suffix);
  CHECK(kind("foo*") == PathGlob::Kind::Prefix);
  CHECK(kind("*") == PathGlob::Kind::Star);
  CHECK(kind("**") == PathGlob::Kind::Star);
  CHECK(kind("foo") == PathGlob::Kind::Literal);
  CHECK(kind("f?o") == PathGlob::Kind::General);
  CHECK(kind("*a*") == PathGlob::Kind::General);
  CHECK(kind("a*b") == PathGlob::Kind::General);
  auto g = PathGlob::compile("/Windows/*/x?", 1);
  CHECK(g.absolute);
  CHECK(g.components.size() == 3);
  CHECK(PathGlob::compile("/", 1).components.empty());
}

namespace {

bool have_wimlib() { return std::system("command -v wimlib-imagex >/dev/null 2>&1") == 0; }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wp-config-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
}

// Runs wimlib-imagex capture + dir; nullopt-like "ERROR" when capture fails.
std::set<std::string> wimlib_capture(const TempDir& t, const std::string& config_bytes, bool use_config, bool* failed) {
  auto cfg = t.path / "c.ini";
  write_file(cfg, config_bytes);
  auto wim = t.path / "x.wim";
  std::filesystem::remove(wim);
  std::string cmd = "wimlib-imagex capture " + shell_quote((t.path / "tree").string()) + " " +
                    shell_quote(wim.string()) + " --compress=none" +
                    (use_config ? " --config=" + shell_quote(cfg.string()) : std::string()) + " >/dev/null 2>&1";
  *failed = std::system(cmd.c_str()) != 0;
  std::set<std::string> out;
  if (*failed) return out;
  auto list = t.path / "list.txt";
  cmd = "wimlib-imagex dir " + shell_quote(wim.string()) + " > " + shell_quote(list.string()) + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream f(list);
  for (std::string line; std::getline(f, line);)
    if (!line.empty() && line != "/") out.insert(line);
  return out;
}

}  // namespace

TEST_CASE("config differential: wimlib-imagex capture leaves out the same paths") {
  if (!have_wimlib()) {
    MESSAGE("wimlib-imagex not installed; skipping");
    return;
  }
  TempDir t;
  std::vector<std::string> tree = kTree;
  for (const char* p : {"/pagefile.sys", "/Windows/", "/Windows/CSC/", "/Windows/CSC/f", "/\xC3\xA9", "/.hid",
                        "/aXbXb", "/names/co", "/dir/sub/deep/", "/dir/sub/deep/z.o"})
    tree.push_back(p);
  for (const auto& p : tree) {
    auto disk = t.path / ("tree" + p);
    if (p.back() == '/') std::filesystem::create_directories(disk);
    else {
      std::filesystem::create_directories(disk.parent_path());
      write_file(disk, "x");
    }
  }
  const std::vector<std::string> configs = {
      "[ExclusionList]\n*.tmp\n",
      "[ExclusionList]\n?x\n??\n",
      "[ExclusionList]\n/dir\n",
      "[ExclusionList]\n/dir/*.o\n",
      "[ExclusionList]\n\\dir\\sub\n",
      "[ExclusionList]\n/*/*.o\n",
      "[ExclusionList]\n*\n",
      "[ExclusionList]\ndir\n",
      "[ExclusionList]\na*b\n*X*\n",
      "[ExclusionList]\nC:\\Windows\n",
      "[ExclusionList]\n/dir\n[ExclusionException]\n/dir/keep\n",
      "[ExclusionList]\n/dir\n[ExclusionException]\nkeep\n",
      "[ExclusionList]\n*.o\n[ExclusionException]\n/dir/sub\n",
      "[ExclusionList]\n*.o\n[ExclusionException]\nx.o\nsub\n",
      "[ExclusionList]\n/dir\n[ExclusionException]\n/dir/s*/deep\n",
      "[ExclusionList]\ndir\n[ExclusionException]\n/dir/sub\n",
      "[ExclusionList]\n*\n[ExclusionException]\n/dir/sub/y.o\n.*\n",
      "[ExclusionList]\n/dir\n[ExclusionException]\ndir\n",
      "[ExclusionList]\n/dir\n[ExclusionException]\n/*/keep\n/names/nonexistent/x\n",
      "[ExclusionList]\n*.tmp # trailing\n\"sp ace.txt\"\n'ax'\n",
      "[ExclusionList]\r\n*.tmp\r\n  ;c\r\n#c\r\n/names\r\n",
      "[Foo]\n*.tmp\n[ExclusionList]\nbx\n[exclusionlist]\nax\n",
      "*.tmp\n[CompressionExclusionList]\n*.o\n[PrepopulateList]\n/dir\n",
      "[ExclusionList]\nnames/co*\n",
      "[ExclusionList]\nC:dir\n",
      "[ExclusionList]\nCD:\\dir\n",
      utf16le_bom("[ExclusionList]\r\n/dir/sub\r\n\"sp ace.txt\"\r\n"),
      utf16le_bom("[ExclusionList]\r\n/dir/sub\r\n").substr(2),
      "\xEF\xBB\xBF[ExclusionList]\n\xC3\xA9\n",
  };
  for (const auto& text : configs) {
    CAPTURE(text);
    bool wimlib_failed = false;
    auto theirs = wimlib_capture(t, text, true, &wimlib_failed);
    bool we_failed = false;
    std::set<std::string> ours;
    try {
      ours = kept(CaptureConfig::parse(text, "c.ini"), tree);
      ours.erase("/");
    } catch (const Error&) {
      we_failed = true;
    }
    CHECK(we_failed == wimlib_failed);
    CHECK(ours == theirs);
  }
  // No --config: the built-in defaults.
  bool failed = false;
  auto theirs = wimlib_capture(t, "", false, &failed);
  REQUIRE_FALSE(failed);
  auto ours = kept(CaptureConfig::defaults(), tree);
  ours.erase("/");
  CHECK(ours == theirs);
}

TEST_CASE("source list: paths, quotes, comments, default targets") {
  std::vector<std::string> warnings;
  auto l = parse_source_list(
      "# Make the WIM image from the 'winpe' directory\n"
      "winpe     /\n"
      "\n"
      "   # indented comment\n"
      "overlay   /overlay\n"
      "/data/stuff\t/\r\n"
      "\"with space\" \"/x y\"\n"
      "'single q'/t\n"
      "plain\n"
      "/abs/path/\n"
      "d \\a\\\\b\\\n"
      "d //a//b//\n"
      "d ///\n"
      "d \"\"\n"
      "d a b c\n"
      "d /#x\n"
      "d /a\"b\n",
      "list.txt", &warnings);
  REQUIRE(l.size() == 14);
  auto at = [&](size_t i) { return l[i].source + " -> " + l[i].target; };
  CHECK(at(0) == "winpe -> /");
  CHECK(l[0].line == 2);
  CHECK(at(1) == "overlay -> /overlay");
  CHECK(at(2) == "/data/stuff -> /");
  CHECK(at(3) == "with space -> /x y");
  CHECK(at(4) == "single q -> /t");  // a closing quote ends the path
  CHECK(at(5) == "plain -> /plain");
  CHECK(at(6) == "/abs/path/ -> /abs/path");
  CHECK(at(7) == "d -> /a/b");
  CHECK(at(8) == "d -> /a/b");
  CHECK(at(9) == "d -> /");
  CHECK(at(10) == "d -> /");
  CHECK(at(11) == "d -> /a");  // extra text ignored, with a warning
  CHECK(at(12) == "d -> /#x");
  CHECK(at(13) == "d -> /a\"b");
  CHECK(l[13].line == 17);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("list.txt:15: ignoring \"b c\" after the target") == 0);
  CHECK(parse_source_list("", "l").empty());
  CHECK(parse_source_list("\n  \n#\n", "l").empty());
}

TEST_CASE("source list: errors carry the line and a fix") {
  auto err = [](const std::string& text) -> std::string {
    try {
      parse_source_list(text, "list.txt");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::Usage);
      return e.what();
    }
    return "(no error)";
  };
  CHECK(err("a /x\n\"b /y\n").find("list.txt:2: missing closing quote") == 0);
  CHECK(err("a \"/x\n").find("list.txt:1: missing closing quote") == 0);
  CHECK(err("./dir\n").find("list.txt:1: target \"./dir\"") == 0);
  CHECK(err("./dir\n").find("\"/dir\"") != std::string::npos);
  CHECK(err("a /x/../y\n").find("list.txt:1:") == 0);
  CHECK(err("\"\" /x\n").find("list.txt:1: empty source") == 0);
  CHECK(err(std::string("a /x\0y\n", 7)).find("list.txt:1: contains a NUL") == 0);
}

TEST_CASE("source list: encodings") {
  auto l = parse_source_list("\xEF\xBB\xBF" "a /x\r\n", "l");
  REQUIRE(l.size() == 1);
  CHECK(l[0].source == "a");
  l = parse_source_list(utf16le_bom("a /x\r\n\"b c\"\r\n"), "l");
  REQUIRE(l.size() == 2);
  CHECK(l[1].source == "b c");
  CHECK(l[1].target == "/b c");
}

TEST_CASE("source list: overlay plan") {
  auto l = parse_source_list("winpe /\noverlay /a/b/c\nx /top\nstuff /\n", "l");
  auto plan = plan_overlay(l);
  REQUIRE(plan.size() == 4);
  CHECK(plan[0].to_root);
  CHECK(plan[0].rpfix);
  CHECK(plan[0].parents.empty());
  CHECK(plan[1].entry == 1);
  CHECK_FALSE(plan[1].to_root);
  CHECK_FALSE(plan[1].rpfix);
  CHECK(plan[1].parents == std::vector<std::string>{"/a", "/a/b"});
  CHECK(plan[1].parent == "/a/b");
  CHECK(plan[1].name == "c");
  CHECK(plan[2].parents.empty());
  CHECK(plan[2].parent == "/");
  CHECK(plan[2].name == "top");
  CHECK(plan[3].to_root);
}

TEST_CASE("config: arbitrary bytes parse or fail with a usage error, never crash") {
  const char alphabet[] = {'[', ']', '/', '\\', '*', '?', '"', '\'', ':', '#', ';', ' ', '\t', '\r', '\n', '\0',
                           'a', 'b', 'C', '.', '\xFF', '\xFE', '\xC3', '\xA9'};
  const std::string sections[] = {"[ExclusionList]\n", "[ExclusionException]\n", "[PrepopulateList]\n", ""};
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int iter = 0; iter < 3000; iter++) {
    std::string text = sections[rnd() % 4];
    for (int n = rnd() % 40; n > 0; n--) text += alphabet[rnd() % sizeof alphabet];
    if (rnd() % 3 == 0) text += sections[rnd() % 4] + text;
    std::string path;
    for (int n = rnd() % 12; n > 0; n--) path += alphabet[rnd() % sizeof alphabet];
    try {
      auto cfg = CaptureConfig::parse(text, "fuzz");
      (void)cfg.excluded(path);
      (void)cfg.excluded_or_below_excluded(path);
    } catch (const Error& e) {
      CHECK(e.code() == Errc::Usage);
    }
    try {
      auto l = parse_source_list(text, "fuzz");
      for (const auto& e : l) CHECK(e.target.front() == '/');
      (void)plan_overlay(l);
    } catch (const Error& e) {
      CHECK(e.code() == Errc::Usage);
    }
  }
}
