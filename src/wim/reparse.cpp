#include "wim/reparse.hpp"

#include <sys/stat.h>

#include "util/utf.hpp"

namespace wp::wim {

namespace {

// §9.2: header sizes before the path buffer.
constexpr size_t kSymlinkHeaderSize = 12;
constexpr size_t kJunctionHeaderSize = 8;

bool is_link_tag(uint32_t tag) { return tag == image::kReparseTagSymlink || tag == image::kReparseTagMountPoint; }

// §9.3 step 1: '/' ⇄ '\' so that backslashes in UNIX targets round-trip.
template <class S>
void swap_separators(S& s) {
  for (auto& c : s) {
    if (c == '/')
      c = '\\';
    else if (c == '\\')
      c = '/';
  }
}

bool starts_with_nocase(std::u16string_view s, std::u16string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++) {
    char16_t a = s[i], b = prefix[i];
    if (a >= u'a' && a <= u'z') a = char16_t(a - 0x20);
    if (b >= u'a' && b <= u'z') b = char16_t(b - 0x20);
    if (a != b) return false;
  }
  return true;
}

// §9.3 apply step 3: drops "\??\X:", "\DosDevices\X:" or "\Device\Name".
std::u16string_view strip_nt_prefix(std::u16string_view s) {
  for (std::u16string_view prefix : {std::u16string_view(u"\\??\\"), std::u16string_view(u"\\DosDevices\\"),
                                     std::u16string_view(u"\\Device\\")}) {
    if (!starts_with_nocase(s, prefix)) continue;
    s.remove_prefix(prefix.size());
    size_t next = s.find(u'\\');
    return next == std::u16string_view::npos ? std::u16string_view() : s.substr(next);
  }
  return s;
}

}  // namespace

std::optional<LinkReparseData> parse_link_reparse_data(uint32_t tag, ByteSpan data) {
  if (!is_link_tag(tag) || data.size() > kMaxReparseDataSize) return std::nullopt;
  const size_t header = tag == image::kReparseTagSymlink ? kSymlinkHeaderSize : kJunctionHeaderSize;
  if (data.size() < header) return std::nullopt;
  const uint16_t sub_off = load_le16(&data[0]), sub_len = load_le16(&data[2]);
  const uint16_t print_off = load_le16(&data[4]), print_len = load_le16(&data[6]);
  if ((sub_off | sub_len | print_off | print_len) & 1) return std::nullopt;
  const size_t buf = data.size() - header;
  if (size_t(sub_off) + sub_len > buf || size_t(print_off) + print_len > buf) return std::nullopt;
  LinkReparseData r;
  r.substitute_name = utf16le_decode(data.subspan(header + sub_off, sub_len));
  r.print_name = utf16le_decode(data.subspan(header + print_off, print_len));
  r.relative = tag == image::kReparseTagSymlink && (load_le32(&data[8]) & kSymlinkFlagRelative);
  return r;
}

Bytes make_link_reparse_data(uint32_t tag, std::u16string_view substitute_name, std::u16string_view print_name,
                             bool relative) {
  const bool symlink = tag == image::kReparseTagSymlink;
  const size_t header = symlink ? kSymlinkHeaderSize : kJunctionHeaderSize;
  const size_t sub_bytes = 2 * substitute_name.size(), print_bytes = 2 * print_name.size();
  const size_t total = header + sub_bytes + 2 + print_bytes + 2;
  if (total > kMaxReparseDataSize)
    fail(Errc::Unsupported, "symbolic link target is too long for a reparse point (" + std::to_string(total) +
                                " bytes of reparse data; the limit is " + std::to_string(kMaxReparseDataSize) + ")");
  ByteWriter w;
  w.bytes().reserve(total);
  w.u16(0);  // substitute name at offset 0
  w.u16(uint16_t(sub_bytes));
  w.u16(uint16_t(sub_bytes + 2));  // print name after the substitute name and its NUL
  w.u16(uint16_t(print_bytes));
  if (symlink) w.u32(relative ? kSymlinkFlagRelative : 0);
  utf16le_encode(substitute_name, w.bytes());
  w.u16(0);
  utf16le_encode(print_name, w.bytes());
  w.u16(0);
  return std::move(w.bytes());
}

Bytes make_symlink_reparse_data(std::string_view unix_target, bool fixed) {
  std::string t(unix_target);
  swap_separators(t);
  auto u = utf8_to_utf16(t);
  if (!u)
    fail(Errc::Unsupported, "symbolic link target '" + std::string(unix_target) + "' is not valid UTF-8");
  const bool relative = !fixed && !unix_target.starts_with('/');
  if (relative) return make_link_reparse_data(image::kReparseTagSymlink, *u, *u, true);
  // §9.3 step 3: a dummy drive makes it an ordinary absolute NT path.
  std::u16string print = u"C:" + *u;
  return make_link_reparse_data(image::kReparseTagSymlink, u"\\??\\" + print, print, false);
}

std::optional<std::string> rpfix_capture_target(std::string_view target,
                                                const std::function<bool(const std::string& prefix)>& is_capture_root) {
  if (!target.starts_with('/')) return std::nullopt;
  size_t i = 0;
  for (;;) {
    while (i < target.size() && target[i] == '/') i++;
    if (i == target.size()) return std::nullopt;
    while (i < target.size() && target[i] != '/') i++;
    if (is_capture_root(std::string(target.substr(0, i)))) return std::string(target.substr(i));
  }
}

std::optional<std::string> rpfix_capture_target(std::string_view target, dev_t root_dev, ino_t root_ino) {
  return rpfix_capture_target(target, [&](const std::string& prefix) {
    struct stat st;
    return ::stat(prefix.c_str(), &st) == 0 && st.st_dev == root_dev && st.st_ino == root_ino;
  });
}

std::optional<std::string> reparse_to_unix_target(uint32_t tag, uint16_t rp_flags, ByteSpan data, bool rpfix,
                                                  std::string_view target_dir_abs) {
  auto link = parse_link_reparse_data(tag, data);
  if (!link) return std::nullopt;
  std::u16string_view name = link->substitute_name;
  if (name.find(u'\0') != std::u16string_view::npos) return std::nullopt;
  if (link->relative) {
    if (name.empty()) return std::nullopt;
    std::string t = utf16_to_utf8(name);
    swap_separators(t);
    return t;
  }
  std::string t = utf16_to_utf8(strip_nt_prefix(name));
  swap_separators(t);
  if (rpfix && !(rp_flags & image::kRpNotFixed)) {
    while (target_dir_abs.ends_with('/')) target_dir_abs.remove_suffix(1);
    t.insert(0, target_dir_abs);
  }
  if (t.empty()) t.push_back('/');  // (not t = "/": GCC 12 -Wrestrict false positive)
  return t;
}

}  // namespace wp::wim
