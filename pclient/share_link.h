// p2pshare: links (docs/protocol.md, "Links"): a file named by its content,
// to paste in a mail or a chat, like ed2k and magnet links:
//
//   p2pshare:?sha256=<64 hex>&size=<bytes>&root=<64 hex>&name=<percent-encoded>
//
// sha256 and size are required; root (the hash-tree root, so pieces can be
// checked as they come) and name (what to save it as) are optional. A link
// is a claim like any other: its holders are found by sha256 and only a
// holder of that very size (and root, when given) is used, the name is
// checked like any shared name, and the bytes are verified as always.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace p2pshare::pclient {

inline constexpr char kLinkScheme[] = "p2pshare:";

struct ShareLink {
  std::string sha256;
  int64_t size = 0;
  std::string root;  // empty: not given
  std::string name;  // empty: not given
};

std::string FormatLink(const ShareLink& link);
// `s` with every byte but letters, digits and -_.~/ as %XX (a link's name,
// a URL's path).
std::string PercentEncode(const std::string& s);
// InvalidArgument saying what is wrong ("bad_link").
Result<ShareLink> ParseLink(const std::string& text);
bool LooksLikeLink(const std::string& text);

}  // namespace p2pshare::pclient
