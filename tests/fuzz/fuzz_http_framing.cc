// Fuzz target: the gate's request framing (central/http_framing.h).
//
// Oracle: a header block found complete ends with its first empty line,
// every LF in it follows a CR and every CR is followed by an LF (so
// cpp-httplib ends the block exactly there); a bare line end is reported
// at a real bare LF or CR, and never after an empty line that ended the
// block; nothing is ever read past the limit; ScanFraming never fails on
// a block it is given.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "central/http_framing.h"

namespace {

[[noreturn]] void Bug(const char* what, std::string_view input) {
  std::fprintf(stderr, "BUG: %s for input of %zu bytes\n", what, input.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using p2pshare::central::HeaderScan;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first byte picks a limit, so short limits are fuzzed too.
  const size_t limit = size == 0 ? 0 : static_cast<size_t>(data[0]) * 4 + 1;
  const auto block = p2pshare::central::ScanHeaderBlock(in, limit);
  const size_t looked = std::min(in.size(), limit);
  switch (block.scan) {
    case HeaderScan::kComplete: {
      if (block.end > looked || block.end < 2) Bug("block end out of range", in);
      const std::string_view b = in.substr(0, block.end);
      if (!b.ends_with("\r\n")) Bug("block does not end in CRLF", in);
      if (b.size() != 2 && !b.ends_with("\r\n\r\n")) Bug("block does not end at an empty line", in);
      for (size_t i = 0; i < b.size(); ++i) {
        if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) Bug("bare LF inside a complete block", in);
        if (b[i] == '\r' && (i + 1 >= b.size() || b[i + 1] != '\n')) Bug("bare CR inside a complete block", in);
      }
      if (b.substr(0, b.size() - 2).find("\r\n\r\n") != std::string_view::npos) Bug("an earlier empty line", in);
      (void)p2pshare::central::ScanFraming(b);
      break;
    }
    case HeaderScan::kBareLineEnd: {
      const size_t at = block.end;
      if (at >= looked) Bug("bare line end out of range", in);
      const bool bare_lf = in[at] == '\n' && (at == 0 || in[at - 1] != '\r');
      const bool bare_cr = in[at] == '\r' && at + 1 < looked && in[at + 1] != '\n';
      if (!bare_lf && !bare_cr) Bug("reported a line end that is not bare", in);
      if (in.substr(0, at).find("\r\n\r\n") != std::string_view::npos) Bug("looked past the block's end", in);
      break;
    }
    case HeaderScan::kIncomplete: {
      const std::string_view seen = in.substr(0, looked);
      if (seen.find("\r\n\r\n") != std::string_view::npos || seen.starts_with("\r\n")) Bug("missed the block's end", in);
      for (size_t i = 0; i < seen.size(); ++i) {
        if (seen[i] == '\n' && (i == 0 || seen[i - 1] != '\r')) Bug("missed a bare LF", in);
      }
      break;
    }
  }
  return 0;
}
