// The project's records in their gRPC forms (proto/p2pshare.proto), both
// ways: one conversion for the peer-server's service and locator and for
// peer-client.
#pragma once

#include <string>

#include "common/directory_types.h"
#include "p2pshare.pb.h"

namespace p2pshare {

inline void ToProto(const FileEntry& f, v1::FileInfo* out) {
  out->set_name(f.name);
  out->set_size(f.size);
  out->set_sha256(f.sha256);
  out->set_root(f.root);
}

inline FileEntry FromProto(const v1::FileInfo& f) { return FileEntry{f.name(), f.size(), f.sha256(), f.root()}; }

inline void ToProto(const Holder& h, v1::PeerAddress* out) {
  out->set_username(h.username);
  out->set_host(h.host);
  out->set_port(h.port);
  out->set_root(h.root);
}

inline Holder FromProto(const v1::PeerAddress& h) { return Holder{h.username(), h.host(), h.port(), h.root()}; }

// A Locate result as a search result (its source aside).
inline FileResult FromProto(const v1::Located& r) {
  FileResult out{r.file().name(), r.file().size(), r.file().sha256(), {}};
  for (const auto& h : r.holders()) {
    out.holders.push_back(FromProto(h));
    // A flood answer names the root in the file (its one holder's own).
    if (out.holders.back().root.empty()) out.holders.back().root = r.file().root();
  }
  return out;
}

// What another peer's Locate reply may hold (docs/protocol.md, "Friend
// peers"): bounds on its size, and each result checked as the index checks
// names, sizes and hashes, each holder as a username, a host name or
// address and a port.
inline constexpr int kMaxLocateResults = 1000;
inline constexpr int kMaxHoldersPerResult = 64;
inline constexpr int kMaxVisited = 256;

// Drops from `reply` every result, holder and visited name that breaks the
// rules above (and results beyond `limit`); how many things it dropped.
int DropBadLocateEntries(v1::LocateReply* reply, int limit);

}  // namespace p2pshare
