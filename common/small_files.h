// Small files written whole and read whole: keys, certificates, pins,
// configs, the friends list.
#pragma once

#include <string>

#include "common/status.h"

namespace p2pshare {

// Writes `contents` to `path` through a temp file and a rename, with `mode`
// (0600 for keys), so readers see the old file or the new one, never half.
// Safe for several writers at once, in one process or several: the last
// rename wins, whole.
Status WriteFileAtomically(const std::string& path, const std::string& contents, unsigned mode);
// Creates `path` whole with `contents` unless it exists (AlreadyExists):
// of several processes creating it at once exactly one wins, and no reader
// ever sees it half written.
Status CreateFileOnce(const std::string& path, const std::string& contents, unsigned mode);
// The whole of a small file; NotFound when it does not exist.
Result<std::string> ReadSmallFile(const std::string& path);

}  // namespace p2pshare
