#include "common/names.h"

#include <string>

namespace p2pshare {
namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not a valid,
// shortest-form, non-surrogate sequence.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

Status CheckFileName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("bad file name: " + why, "bad_name");
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > kMaxFileNameBytes) return bad("longer than 1024 bytes");
  if (name.front() == '/') return bad("absolute paths are not allowed");
  if (name.back() == '/') return bad("it ends with '/'");
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7F) return bad("it contains a control character");
    size_t len = Utf8SequenceLength(name, i);
    if (len == 0) return bad("it is not valid UTF-8");
    i += len;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) return bad("it contains an empty path component");
    if (component == "." || component == "..") return bad("'.' and '..' are not allowed");
    if (component.size() > kMaxComponentBytes) return bad("a component is longer than 255 bytes");
    start = end + 1;
  }
  return Status::Ok();
}

Status CheckUsername(std::string_view username) {
  auto bad = [](const char* why) {
    return InvalidArgument(std::string("bad username: ") + why, "bad_username");
  };
  if (username.empty()) return bad("it is empty");
  if (username.size() > 32) return bad("longer than 32 characters");
  for (size_t i = 0; i < username.size(); ++i) {
    char c = username[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (i == 0 && !alnum) return bad("it must start with a letter or digit");
    if (!alnum && c != '_' && c != '.' && c != '-') {
      return bad("only letters, digits, '_', '.' and '-' are allowed");
    }
  }
  return Status::Ok();
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckSharedName(std::string_view name) {
  RETURN_IF_ERROR(CheckFileName(name));
  std::string_view internal(kInternalDir);
  if (name == internal || (name.size() > internal.size() && name.substr(0, internal.size()) == internal &&
                           name[internal.size()] == '/')) {
    std::string message = "'";  // built in steps: GCC 12 warns (-Wrestrict) on "'" + string&&
    message.append(name).append("' is inside the peer's internal folder");
    return PermissionDenied(message);
  }
  std::string_view part(kPartSuffix);
  if (name.size() >= part.size() && name.substr(name.size() - part.size()) == part) {
    return PermissionDenied("partial downloads (*.part) are not shared");
  }
  return Status::Ok();
}

}  // namespace p2pshare
