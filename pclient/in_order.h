// The in-order strategy of a download (pclient/transfers.h): the whole
// file from one holder at a time, from the first byte missing, hashed as
// it comes. For --verify-only, an empty file, a file already at the path,
// and holders that report no hash tree.
//
// A .part from an earlier attempt is hashed again and continued (the
// holders are asked from its end). Holders are tried in random order, never
// by name, so holders that serve nothing cannot all come first (and each
// that stays silent is cut off: CallWatch). A holder that fails, holds
// another version or ends early is left for the next; a hash that differs
// at the end removes the .part.
#pragma once

#include "common/status.h"
#include "pclient/transfer_types.h"

namespace p2pshare::pclient {

// Errors as DownloadFile's.
Result<DownloadResult> InOrderDownload(const DownloadRequest& req, const ProgressFn& progress, const NoteFn& note);

}  // namespace p2pshare::pclient
