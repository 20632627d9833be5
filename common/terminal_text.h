// Text from elsewhere made safe to print on a terminal or in a log line:
// the one escaping every program uses for a remote string (a file name, a
// username, a peer's message) before it reaches a person.
//
// Escaped: the C0 controls (below 0x20) and DEL as `\xNN`; the C1 controls
// U+0080–U+009F (UTF-8 C2 80–C2 9F; U+009B is the 8-bit CSI, which many
// terminals obey like ESC [) as `\u0080`; and every byte that is not part
// of a valid UTF-8 character as `\xNN` (a stray 0x9B is the same CSI to a
// terminal in 8-bit mode). Everything else, other languages included,
// passes unchanged.
#pragma once

#include <string>
#include <string_view>

namespace p2pshare {

enum class Newlines {
  kHex,   // "\x0a", like any other control
  kBackslashN,  // "\n": a log line stays one line and still reads well
  kKeep,  // printed as they are (a multi-line message of our own layout)
};

std::string TerminalSafe(std::string_view text, Newlines newlines = Newlines::kHex);

}  // namespace p2pshare
