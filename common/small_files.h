// Small files written whole and read whole: keys, certificates, pins,
// configs, the friends list.
#pragma once

#include <string>

#include "common/status.h"

namespace p2pshare {

// Writes `contents` to `path` through a temp file and a rename, with `mode`
// (0600 for keys), so readers see the old file or the new one, never half.
Status WriteFileAtomically(const std::string& path, const std::string& contents, unsigned mode);
// The whole of a small file; NotFound when it does not exist.
Result<std::string> ReadSmallFile(const std::string& path);

}  // namespace p2pshare
