// Moving bytes between peers over gRPC, in bounded memory.
//
// Download: into <dir>/<name>.part, resuming what a .part holds (its bytes
// are verified again, never trusted blindly), then SHA-256 verified and
// renamed into place without replacing anything; nothing unverified is
// ever renamed into place. Requests go by sha256, so a holder sharing the
// content under another name serves it too. Each holder is reached over
// mutual TLS and must present the certificate of the account it was named
// as (common/peer_channel.h); an impostor is left like a holder that
// failed. No token or other secret goes to a holder.
//
// One engine, two strategies, chosen from what the request and the
// holders offer (ChooseStrategy), both receiving through the same pipeline
// (pclient/range_receiver.h):
//  - pieces (pclient/swarm.h): from up to 8 holders at once, each piece
//    verified against the hash tree the moment it arrives;
//  - in order (pclient/in_order.h): from one holder at a time, from the
//    first byte missing, the whole file hashed as it comes.
//
// Upload: reads the file once, in 1 MiB messages hashed as they go; the
// SHA-256 follows the data as the last message, and the receiver verifies
// size and hash before the file appears there.
//
// Thread-compatible: one transfer per call; progress on the caller's thread.
#pragma once

#include <functional>
#include <string>

#include "common/directory_types.h"
#include "common/status.h"
#include "pclient/transfer_types.h"

namespace p2pshare::pclient {

enum class Strategy {
  kPieces,   // some holder reports a hash tree (a root) for the file
  kInOrder,  // --verify-only, an empty file, a file already at the path
             // (checked whole), or no holder reports a root; also when no
             // holder gives a piece layer that matches its root
};
// The strategy for `req`; `file_at_path`: something is at the download's
// path already.
Strategy ChooseStrategy(const DownloadRequest& req, bool file_at_path);

// Errors: InvalidArgument (a hostile name), AlreadyExists (another file is
// at the path), Unavailable (no holder could complete; the .part is kept for
// a later resume), DataLoss (the bytes failed verification; .part removed),
// Cancelled (stop_requested; the .part is kept for a resume).
Result<DownloadResult> DownloadFile(const DownloadRequest& request, const ProgressFn& progress,
                                    const NoteFn& note);

// Sends the local file at `path` as `name` to `target`. Errors as the
// receiver said them (ALREADY_EXISTS, RESOURCE_EXHAUSTED, ...), NotFound for
// a missing local file, Cancelled when `stop_requested` (asked at each
// chunk; may be null) said so (the receiver keeps nothing).
Result<UploadResult> UploadFile(const std::string& path, const std::string& name,
                                const Holder& target, const ProgressFn& progress,
                                const std::function<bool()>& stop_requested = nullptr);

}  // namespace p2pshare::pclient
