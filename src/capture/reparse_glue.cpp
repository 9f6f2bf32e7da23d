#include "capture/reparse_glue.hpp"

#include "image/image.hpp"
#include "util/utf.hpp"

namespace wp::glue {

static void swap_separators(std::string& s) {
  for (char& c : s) c = c == '/' ? '\\' : c == '\\' ? '/' : c;
}

std::optional<Bytes> symlink_to_reparse(std::string_view target, bool fixed) {
  // wim-format.md §9.3: swap '/' and '\'; absolute targets get a dummy drive.
  std::string t(target);
  swap_separators(t);
  bool relative = !fixed && (target.empty() || target[0] != '/');
  std::string print = relative ? t : "C:" + t;
  std::string subst = relative ? t : "\\??\\" + print;
  auto s16 = utf8_to_utf16(subst);
  auto p16 = utf8_to_utf16(print);
  if (!s16 || !p16) return std::nullopt;
  size_t sn = s16->size() * 2, pn = p16->size() * 2;
  if (12 + sn + 2 + pn + 2 > 16376) return std::nullopt;
  ByteWriter w;
  w.u16(0);
  w.u16(uint16_t(sn));
  w.u16(uint16_t(sn + 2));
  w.u16(uint16_t(pn));
  w.u32(relative ? 1 : 0);
  utf16le_encode(*s16, w.bytes());
  w.u16(0);
  utf16le_encode(*p16, w.bytes());
  w.u16(0);
  return std::move(w.bytes());
}

std::optional<std::string> reparse_to_symlink(uint32_t tag, uint16_t rp_flags, ByteSpan data, bool rpfix,
                                              std::string_view target_dir) {
  size_t hdr = tag == image::kReparseTagSymlink ? 12 : tag == image::kReparseTagMountPoint ? 8 : 0;
  if (hdr == 0 || data.size() < hdr) return std::nullopt;
  uint16_t soff = load_le16(&data[0]), slen = load_le16(&data[2]);
  if ((soff | slen) & 1 || size_t(soff) + slen > data.size() - hdr) return std::nullopt;
  std::u16string s16 = utf16le_decode(data.subspan(hdr + soff, slen));
  if (s16.find(u'\0') != std::u16string::npos) return std::nullopt;
  std::string s = utf16_to_utf8(s16);
  bool relative = tag == image::kReparseTagSymlink && (load_le32(&data[8]) & 1);
  if (!relative) {
    // Strip an NT prefix and the component after it (drive, volume GUID...).
    for (std::string_view pre : {"\\??\\", "\\DosDevices\\", "\\Device\\"}) {
      if (s.starts_with(pre)) {
        size_t next = s.find('\\', pre.size());
        s.erase(0, next == std::string::npos ? s.size() : next);
        break;
      }
    }
  }
  swap_separators(s);
  if (!relative) {
    if (rpfix && !(rp_flags & image::kRpNotFixed)) s.insert(0, target_dir);
    if (s.empty()) s = "/";
  }
  return s;
}

}  // namespace wp::glue
