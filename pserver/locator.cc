#include "pserver/locator.h"

#include <algorithm>
#include <future>
#include <map>
#include <set>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/grpc_status.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "common/mutex.h"
#include "common/names.h"
#include "common/name_query.h"
#include "common/peer_channel.h"
#include "common/proto_convert.h"

namespace p2pshare::pserver {
namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr size_t kMaxQueryBytes = 1024;


}  // namespace

void MergeLocateReplies(v1::LocateReply* into, const v1::LocateReply& from, int limit) {
  std::map<std::pair<std::string, std::string>, v1::Located> merged;
  auto add = [&](const v1::Located& r) {
    auto [it, fresh] = merged.try_emplace({r.file().name(), r.file().sha256()}, r);
    if (fresh) return;
    v1::Located& have = it->second;
    for (const auto& h : r.holders()) {
      bool known = std::any_of(have.holders().begin(), have.holders().end(),
                               [&](const v1::PeerAddress& k) { return k.username() == h.username(); });
      if (!known) *have.add_holders() = h;
    }
    if (r.file().size() > have.file().size()) have.mutable_file()->set_size(r.file().size());
  };
  for (const auto& r : into->results()) add(r);
  for (const auto& r : from.results()) add(r);
  into->clear_results();
  into->set_total(static_cast<int64_t>(merged.size()));
  for (auto& [key, r] : merged) {
    if (into->results_size() >= limit) break;
    *into->add_results() = std::move(r);
  }
  for (const auto& v : from.visited()) into->add_visited(v);
  into->set_declined(into->declined() + from.declined());
}

Locator::Locator(DirectoryClient* central, const Catalog* catalog, LocatorOptions options,
                 std::function<std::vector<std::string>()> friends, std::function<HostPort()> self)
    : central_(central),
      catalog_(catalog),
      options_(std::move(options)),
      friends_(std::move(friends)),
      self_(std::move(self)) {}

Result<v1::LocateReply> Locator::Locate(const v1::LocateRequest& req,
                                        std::chrono::system_clock::time_point deadline) {
  if (req.query().size() > kMaxQueryBytes) {
    return InvalidArgument("query is over " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  if (!req.sha256().empty() && !IsSha256Hex(req.sha256())) {
    return InvalidArgument("sha256 must be 64 lowercase hex digits");
  }
  if (req.limit() < 0 || req.limit() > kMaxLimit) {
    return InvalidArgument("limit must lie in 0.." + std::to_string(kMaxLimit));
  }
  if (req.ttl() < 0 || req.ttl() > options_.max_ttl) {
    return InvalidArgument("ttl must lie in 0.." + std::to_string(options_.max_ttl));
  }
  if (req.query_id().size() > 64) return InvalidArgument("query_id is over 64 bytes");
  if (auto query = NameQuery::Parse(req.query()); !query.ok()) return query.status();

  if (req.flood()) {  // forwarded by a peer
    if (req.query_id().empty()) return InvalidArgument("a flood needs a query_id");
    if (!FirstSight(req.query_id())) {
      v1::LocateReply declined;
      declined.set_declined(1);
      return declined;
    }
    return Flood(req, deadline);
  }

  // A client's query: central first, on the caller's behalf.
  if (central_ != nullptr) {
    auto answer = FromCentral(req);
    if (answer.ok() || !CentralUnavailable(answer.status())) return answer;
    spdlog::info("central cannot answer a search ({}); flooding it to friends",
                 answer.status().message());
  }
  v1::LocateRequest flood = req;
  flood.set_flood(true);
  if (flood.query_id().empty()) flood.set_query_id(RandomHex(16));
  if (flood.ttl() == 0) flood.set_ttl(std::min(options_.default_ttl, options_.max_ttl));
  FirstSight(flood.query_id());
  return Flood(flood, deadline);
}

Result<v1::LocateReply> Locator::FromCentral(const v1::LocateRequest& req) {
  const int limit = req.limit() == 0 ? kDefaultLimit : req.limit();
  std::vector<FileResult> found;
  int64_t total = 0;
  bool estimated = false;
  if (!req.sha256().empty()) {
    ASSIGN_OR_RETURN(auto file, central_->FindFile(req.sha256()));
    if (file) found.push_back(std::move(*file));
    total = static_cast<int64_t>(found.size());
  } else {
    ASSIGN_OR_RETURN(SearchPage page, central_->Search(req.query(), limit, 0));
    found = std::move(page.results);
    total = page.total;
    estimated = !page.total_exact;
  }
  v1::LocateReply reply;
  reply.set_total(total);
  reply.set_total_estimated(estimated);
  for (const FileResult& f : found) {
    v1::Located* r = reply.add_results();
    ToProto(FileEntry{f.name, f.size, f.sha256, ""}, r->mutable_file());  // roots are per holder
    for (const Holder& h : f.holders) ToProto(h, r->add_holders());
    r->set_source(v1::Located::DIRECTORY);
  }
  return reply;
}

void Locator::AddOwnMatches(const v1::LocateRequest& req, v1::LocateReply* reply) const {
  const int limit = req.limit() == 0 ? kDefaultLimit : req.limit();
  // Locate checked that it parses; a query that does not finds nothing.
  auto parsed = NameQuery::Parse(req.query());
  if (!parsed.ok()) return;
  const NameQuery& query = *parsed;
  const HostPort self = self_ ? self_() : HostPort{};
  v1::LocateReply own;
  int64_t total = 0;
  for (const FileEntry& f : catalog_->Files()) {  // sorted by name
    bool match = req.sha256().empty()
                     ? query.Admits(f.size, 1, f.name) && query.Rank(FoldName(f.name)) >= 0
                     : f.sha256 == req.sha256();
    if (!match) continue;
    ++total;
    if (own.results_size() >= limit) continue;
    v1::Located* r = own.add_results();
    ToProto(f, r->mutable_file());
    ToProto(Holder{options_.username, self.host, self.port, f.root}, r->add_holders());
    r->set_source(v1::Located::FLOOD);
  }
  MergeLocateReplies(reply, own, limit);
}

v1::LocateReply Locator::Flood(const v1::LocateRequest& req,
                               std::chrono::system_clock::time_point deadline) {
  const int limit = req.limit() == 0 ? kDefaultLimit : req.limit();
  v1::LocateReply reply;
  reply.add_visited(options_.username);
  AddOwnMatches(req, &reply);
  const auto child_deadline = deadline - options_.hop_margin;
  if (req.ttl() <= 0 || child_deadline <= std::chrono::system_clock::now()) return reply;

  v1::LocateRequest forward = req;
  forward.set_ttl(req.ttl() - 1);
  const HostPort own = self_ ? self_() : HostPort{};
  const std::string self = JoinHostPort(own.host, own.port);
  std::set<std::string> friends;
  for (const std::string& f : friends_ ? friends_() : std::vector<std::string>{}) {
    if (f != self) friends.insert(f);
  }
  std::vector<std::pair<std::string, std::future<std::pair<grpc::Status, v1::LocateReply>>>> asks;
  for (const std::string& address : friends) {
    asks.emplace_back(address, std::async(std::launch::async, [address, forward, child_deadline] {
      auto parsed = ParseHostPort(address);
      if (!parsed.ok()) return std::make_pair(ToGrpcStatus(parsed.status()), v1::LocateReply());
      // A friend is known by its address only: any member may answer.
      auto stub = PeerStub(parsed->host, parsed->port, "");
      grpc::ClientContext ctx;
      ctx.set_deadline(child_deadline);
      v1::LocateReply answer;
      grpc::Status s = stub->Locate(&ctx, forward, &answer);
      return std::make_pair(s, answer);
    }));
  }
  for (auto& [address, ask] : asks) {
    auto [status, answer] = ask.get();
    if (!status.ok()) {
      spdlog::info("friend {} did not answer query {}: {}", address, req.query_id(),
                   status.error_message());
      continue;
    }
    if (int bad = DropBadLocateEntries(&answer, limit); bad > 0) {
      spdlog::warn("friend {} answered query {} with {} malformed entries; dropped them", address,
                   req.query_id(), bad);
    }
    MergeLocateReplies(&reply, answer, limit);
  }
  return reply;
}

bool Locator::FirstSight(const std::string& id) {
  auto now = Clock::now();
  MutexLock lock(mu_);
  // Forget what aged out, and the oldest beyond the bound: a flood of junk
  // ids pushes out only the oldest ids, never all of them at once.
  while (!seen_order_.empty() && (now - seen_order_.front().second > options_.remember_ids ||
                                  seen_order_.size() >= options_.max_seen_ids)) {
    seen_.erase(seen_order_.front().first);
    seen_order_.pop_front();
  }
  if (seen_.count(id)) return false;
  seen_order_.emplace_back(id, now);
  seen_.emplace(id, std::prev(seen_order_.end()));
  return true;
}

}  // namespace p2pshare::pserver
