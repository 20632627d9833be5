// Request framing at central's gate (RFC 9112): where a request's header
// block ends, and what its framing headers say about the body. Pure
// functions over the bytes received so far, so the gate (http_gate.cc) and
// cpp-httplib's parser can be held to one rule, and fuzzed alone.
//
// The rule (RFC 9112 section 2.2): every line of the request line and the
// header fields ends in CRLF, and the block ends at the first empty line. A
// bare LF or a bare CR in the block is refused outright: cpp-httplib skips
// a line ending in a bare LF and goes on reading, so a block the gate took
// for whole ("\r\n\n") kept a worker waiting for more; refusing it here
// means a worker is only ever handed a request the parser finishes at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace p2pshare::central {

enum class HeaderScan {
  kIncomplete,   // no empty line yet (and no bare line end)
  kComplete,     // the block ends at `end`
  kBareLineEnd,  // a bare LF or CR at `end`: refuse the request
};

struct HeaderBlock {
  HeaderScan scan = HeaderScan::kIncomplete;
  size_t end = 0;  // kComplete: bytes of the block, its empty line included
};

// Looks for the end of the header block in the first `limit` bytes of
// `data` (what has arrived of a request). A CR as the last byte looked at
// is not bare yet: its LF may still come.
HeaderBlock ScanHeaderBlock(std::string_view data, size_t limit);

// What the framing headers of a whole header block say.
struct Framing {
  bool has_length = false;
  uint64_t content_length = 0;  // the first Content-Length; 0 when malformed
  bool has_transfer_encoding = false;
  bool body_method = false;     // POST, PUT or PATCH
};

// Renames every Accept-Encoding field of the whole header block at the
// start of `block` (its first `size` bytes) in place, to one no one reads
// ("Xccept-Encoding"), so cpp-httplib never compresses a reply: a
// compressed reply that carries a secret (a token) beside text a stranger
// chose leaks it by its length (BREACH). The block keeps its size.
void DropAcceptEncoding(char* block, size_t size);

// `header` is a block ScanHeaderBlock found complete. A Content-Length
// that is not a plain decimal reads as 0 (the worker refuses it at once,
// http_api.cc FramingProblem); one past UINT64_MAX reads as UINT64_MAX.
Framing ScanFraming(std::string_view header);

}  // namespace p2pshare::central
