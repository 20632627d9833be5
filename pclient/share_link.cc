#include "pclient/share_link.h"

#include <cctype>
#include <charconv>

#include "common/names.h"

namespace p2pshare::pclient {
namespace {

// Links are pasted into chats and mails: at most this long.
constexpr size_t kMaxLinkBytes = 8192;

}  // namespace

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '.' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return InvalidArgument("a '%' without two hex digits", "bad_link");
      const int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("a '%' without two hex digits", "bad_link");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Status Bad(const std::string& why) {
  return InvalidArgument("not a usable p2pshare: link (" + why + "); it looks like p2pshare:?sha256=...&size=...",
                         "bad_link");
}

}  // namespace

bool LooksLikeLink(const std::string& text) { return text.rfind(kLinkScheme, 0) == 0; }

std::string FormatLink(const ShareLink& link) {
  std::string out = std::string(kLinkScheme) + "?sha256=" + link.sha256 + "&size=" + std::to_string(link.size);
  if (!link.root.empty()) out += "&root=" + link.root;
  if (!link.name.empty()) out += "&name=" + PercentEncode(link.name);
  return out;
}

Result<ShareLink> ParseLink(const std::string& text) {
  if (!LooksLikeLink(text)) return Bad("it does not start with p2pshare:");
  if (text.size() > kMaxLinkBytes) return Bad("longer than " + std::to_string(kMaxLinkBytes) + " bytes");
  std::string query = text.substr(sizeof(kLinkScheme) - 1);
  if (!query.empty() && query[0] == '?') query.erase(0, 1);
  ShareLink link;
  bool has_size = false;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = pair.substr(0, eq);
    ASSIGN_OR_RETURN(std::string value, PercentDecode(eq == std::string::npos ? "" : pair.substr(eq + 1)));
    if (key == "sha256") {
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!IsSha256Hex(value)) return Bad("sha256 must be 64 hex digits");
      link.sha256 = value;
    } else if (key == "size") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), link.size);
      if (ec != std::errc() || ptr != value.data() + value.size() || link.size < 0) {
        return Bad("size must be a number of bytes");
      }
      has_size = true;
    } else if (key == "root") {
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!IsSha256Hex(value)) return Bad("root must be 64 hex digits");
      link.root = value;
    } else if (key == "name") {
      if (Status ok = CheckSharedName(value); !ok.ok()) return Bad("its name: " + ok.message());
      link.name = value;
    }  // other keys: from a later version, not needed to fetch the file
  }
  if (link.sha256.empty()) return Bad("no sha256");
  if (!has_size) return Bad("no size");
  return link;
}

}  // namespace p2pshare::pclient
