// Swarm download: one file from several holders at once, piece by piece,
// each piece verified against the hash tree's piece layer the moment it
// arrives (docs/protocol.md, "Pieces and the hash tree", "Swarm download").
//
// Which piece each source is asked for is PiecePicker's choice
// (pclient/piece_picker.h); each run of pieces is received through the
// range pipeline (pclient/range_receiver.h). The root comes from central
// (each holder's, GET /files/{sha256}); the piece layer from any holder
// (PieceHashes), believed only when it hashes up to that root. Up to 8 sources, taken in random order, each get a
// thread, which takes the next missing pieces (a run of about a second)
// as soon as it is done with the last, so a faster holder serves more of
// the file. A holder that sends a piece that fails its hash, fails, ends
// early or sends nothing for too long (CallWatch) is dropped for this
// download, its pieces go back to the others and its place to a holder not
// tried yet; when no piece is left unasked, idle sources race the ones
// still in flight (endgame, pieces of up to 4 MiB) and the first verified
// copy wins. Pieces of up to 4 MiB are verified in memory before they are
// written; larger ones are written as they come and hashed on the way, so
// memory does not follow any size a holder claims.
//
// Verified pieces are written into <name>.part; which ones are verified is
// kept in the .part itself, past the file's last byte (two slots written in
// turn, each with its checksum, after the pieces it names are on disk), so
// a download killed at any moment resumes fetching only what is missing.
// The .part is cut to the file's size and renamed into place only after
// the whole file's SHA-256 matched too.
#pragma once

#include <optional>

#include "common/status.h"
#include "pclient/transfer_types.h"

namespace p2pshare::pclient {

// Downloads `req.file` as above, one claim (root and size) after another,
// most holders first (the version a .part here was verified against
// first, whatever the vote). Nothing (nullopt) when the swarm cannot
// start: no holder gives a piece layer that hashes to its root; then
// `*why_not` (when given) says what each holder did. Errors as
// DownloadFile's.
std::optional<Result<DownloadResult>> SwarmDownload(const DownloadRequest& req, const ProgressFn& progress,
                                                    const NoteFn& note, std::string* why_not = nullptr);

}  // namespace p2pshare::pclient
