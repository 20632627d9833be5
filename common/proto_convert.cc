#include "common/proto_convert.h"

#include <algorithm>

#include "common/host_port.h"
#include "common/names.h"

namespace p2pshare {
namespace {

bool GoodHolder(const v1::PeerAddress& h) {
  return CheckUsername(h.username()).ok() && IsHostName(h.host()) && h.port() >= 1 &&
         h.port() <= 65535 && (h.root().empty() || IsSha256Hex(h.root()));
}

bool GoodFile(const v1::FileInfo& f) {
  return CheckSharedName(f.name()).ok() && f.size() >= 0 && IsSha256Hex(f.sha256()) &&
         (f.root().empty() || IsSha256Hex(f.root()));
}

}  // namespace

int DropBadLocateEntries(v1::LocateReply* reply, int limit) {
  int dropped = 0;
  const int keep = std::min(limit, kMaxLocateResults);
  auto* results = reply->mutable_results();
  for (int i = results->size() - 1; i >= 0; --i) {
    v1::Located* r = results->Mutable(i);
    auto* holders = r->mutable_holders();
    for (int j = holders->size() - 1; j >= 0; --j) {
      if (!GoodHolder(holders->Get(j)) || j >= kMaxHoldersPerResult) {
        holders->DeleteSubrange(j, 1);
        ++dropped;
      }
    }
    if (!GoodFile(r->file()) || r->holders().empty() || i >= keep) {
      results->DeleteSubrange(i, 1);
      ++dropped;
    }
  }
  auto* visited = reply->mutable_visited();
  for (int i = visited->size() - 1; i >= 0; --i) {
    if (!CheckUsername(visited->Get(i)).ok() || i >= kMaxVisited) {
      visited->DeleteSubrange(i, 1);
      ++dropped;
    }
  }
  if (reply->total() < reply->results_size() || reply->total() > (int64_t{1} << 40)) {
    reply->set_total(reply->results_size());
  }
  reply->set_declined(std::clamp(reply->declined(), 0, 1 << 20));
  return dropped;
}

}  // namespace p2pshare
