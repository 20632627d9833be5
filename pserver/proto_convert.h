// The project's file record in its gRPC form, for the service and the locator.
#pragma once

#include "common/directory_types.h"
#include "p2pshare.pb.h"

namespace p2pshare::pserver {

inline void ToProto(const FileEntry& f, v1::FileInfo* out) {
  out->set_name(f.name);
  out->set_size(f.size);
  out->set_sha256(f.sha256);
}

}  // namespace p2pshare::pserver
