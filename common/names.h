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

// A peer's internal folder inside its shared folder (keys, certificates,
// caches, uploads in progress): never shared, never written by a transfer.
inline constexpr char kInternalDir[] = ".p2pshare";

// CheckFileName, and not a name any peer shares or a transfer may write:
// PermissionDenied for names inside kInternalDir and names ending in
// kPartSuffix. Peer-servers check what they serve and take; peer-client
// checks every name another peer or central gives it (a file to download,
// a folder's listing), so nothing lands in .p2pshare/ even when the
// downloads go to the shared folder itself.
Status CheckSharedName(std::string_view name);

// OK when `username` is 1-32 characters of [A-Za-z0-9_.-] starting with a
// letter or digit. Otherwise InvalidArgument.
Status CheckUsername(std::string_view username);

// True when `s` is 64 lowercase hex digits.
bool IsSha256Hex(std::string_view s);

}  // namespace p2pshare
