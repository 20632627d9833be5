// The naming rules shared by every program (docs/protocol.md, "Names and
// values"): file names inside a shared folder, account names, and content
// hashes.
#pragma once

#include <string_view>

#include "common/status.h"

namespace p2pshare {

inline constexpr size_t kMaxFileNameBytes = 1024;
// A download in progress is <name> + kPartSuffix; peer-servers never share
// such files (a name ending so is refused as an upload, too).
inline constexpr char kPartSuffix[] = ".part";
inline constexpr size_t kMaxComponentBytes = 255;

// OK when `name` is a relative path inside a shared folder: '/'-separated,
// non-empty components, no "." or "..", no leading or trailing '/', no NUL
// or control characters, valid UTF-8, <= 255 bytes a component and <= 1024
// bytes in all. Otherwise InvalidArgument saying which rule failed.
Status CheckFileName(std::string_view name);

// OK when `username` is 1-32 characters of [A-Za-z0-9_.-] starting with a
// letter or digit. Otherwise InvalidArgument.
Status CheckUsername(std::string_view username);

// True when `s` is 64 lowercase hex digits.
bool IsSha256Hex(std::string_view s);

}  // namespace p2pshare
