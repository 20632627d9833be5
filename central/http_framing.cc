#include "central/http_framing.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace p2pshare::central {
namespace {

bool StartsWithNoCase(std::string_view text, std::string_view lower_prefix) {
  return text.size() >= lower_prefix.size() &&
         std::equal(lower_prefix.begin(), lower_prefix.end(), text.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

// The unsigned decimal after a header's name; 0 when malformed, UINT64_MAX
// when it overflows.
uint64_t ParseLength(std::string_view value) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
  for (; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return UINT64_MAX;
    v = v * 10 + static_cast<uint64_t>(value[i] - '0');
  }
  while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
  return i < value.size() && value[i] == '\r' ? v : 0;
}

}  // namespace

HeaderBlock ScanHeaderBlock(std::string_view data, size_t limit) {
  const size_t n = std::min(data.size(), limit);
  const char* p = data.data();
  // Only CR and LF matter: jump between them (memchr-speed on long lines).
  for (size_t i = 0; i < n;) {
    const void* cr = std::memchr(p + i, '\r', n - i);
    const void* lf = std::memchr(p + i, '\n', n - i);
    const size_t at_cr = cr != nullptr ? static_cast<size_t>(static_cast<const char*>(cr) - p) : n;
    const size_t at_lf = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - p) : n;
    if (at_lf < at_cr) return {HeaderScan::kBareLineEnd, at_lf};  // an LF without its CR
    if (at_cr == n) break;
    if (at_cr + 1 == n) break;  // its LF may still come
    if (p[at_cr + 1] != '\n') return {HeaderScan::kBareLineEnd, at_cr};
    // CRLF at at_cr: an empty line when it follows another CRLF (or starts
    // the block: cpp-httplib then fails on the empty request line at once).
    if (at_cr == 0 || (at_cr >= 2 && p[at_cr - 1] == '\n')) return {HeaderScan::kComplete, at_cr + 2};
    i = at_cr + 2;
  }
  return {HeaderScan::kIncomplete, 0};
}

void DropAcceptEncoding(char* block, size_t size) {
  static constexpr std::string_view kName = "accept-encoding:";
  const std::string_view header(block, size);
  for (size_t line = header.find('\n'); line != std::string_view::npos && line + 1 < size;
       line = header.find('\n', line + 1)) {
    if (StartsWithNoCase(header.substr(line + 1), kName)) block[line + 1] = 'X';
  }
}

Framing ScanFraming(std::string_view header) {
  static constexpr std::string_view kLength = "content-length:";
  static constexpr std::string_view kEncoding = "transfer-encoding:";
  Framing f;
  f.body_method = header.starts_with("POST ") || header.starts_with("PUT ") ||
                  header.starts_with("PATCH ");
  size_t line = header.find('\n');
  while (line != std::string_view::npos && line + 1 < header.size()) {
    std::string_view rest = header.substr(line + 1);
    if (!f.has_length && StartsWithNoCase(rest, kLength)) {
      f.has_length = true;
      f.content_length = ParseLength(rest.substr(kLength.size()));
    } else if (StartsWithNoCase(rest, kEncoding)) {
      f.has_transfer_encoding = true;
    }
    line = header.find('\n', line + 1);
  }
  return f;
}

}  // namespace p2pshare::central
