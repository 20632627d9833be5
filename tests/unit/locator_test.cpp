// Locator on its own: a peer with no central and no friends answers from
// its own catalog; requests are checked; query ids are handled once;
// replies merge per (name, sha256).
#include "pserver/locator.h"

#include <tuple>

#include "common/proto_convert.h"

#include <gtest/gtest.h>

#include "common/sha256.h"
#include "unit/file_util.h"
#include "unit/test_dir.h"

namespace p2pshare::pserver {
namespace {

namespace fs = std::filesystem;
const auto kDeadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(5); };

v1::Located Result(const std::string& name, const std::string& sha, const std::string& holder) {
  v1::Located r;
  r.mutable_file()->set_name(name);
  r.mutable_file()->set_sha256(sha);
  r.mutable_file()->set_size(1);
  auto* h = r.add_holders();
  h->set_username(holder);
  r.set_source(v1::Located::FLOOD);
  return r;
}

TEST(MergeLocateReplies, UnitesHoldersPerContentAndKeepsTheFirstPageByName) {
  const std::string x(64, 'a'), y(64, 'b');
  v1::LocateReply into, from;
  *into.add_results() = Result("b.txt", x, "ann");
  *into.add_results() = Result("a.txt", x, "ann");
  into.add_visited("ann");
  *from.add_results() = Result("b.txt", x, "bob");
  *from.add_results() = Result("b.txt", y, "bob");  // same name, other content: its own result
  *from.add_results() = Result("b.txt", x, "ann");  // a holder already known
  from.add_visited("bob");
  from.set_declined(2);
  MergeLocateReplies(&into, from, 2);
  EXPECT_EQ(into.total(), 3);
  ASSERT_EQ(into.results_size(), 2);
  EXPECT_EQ(into.results(0).file().name(), "a.txt");
  EXPECT_EQ(into.results(1).file().name(), "b.txt");
  EXPECT_EQ(into.results(1).file().sha256(), x);
  ASSERT_EQ(into.results(1).holders_size(), 2);
  EXPECT_EQ(into.results(1).holders(1).username(), "bob");
  EXPECT_EQ(std::vector<std::string>(into.visited().begin(), into.visited().end()),
            (std::vector<std::string>{"ann", "bob"}));
  EXPECT_EQ(into.declined(), 2);
}

class LocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(tmp_.path() / "share/Music/Song One.ogg", "one");
    testing::WriteFile(tmp_.path() / "share/notes.txt", "notes");
    folder_ = std::move(SharedFolder::Open((tmp_.path() / "share").string())).value();
    catalog_ = std::make_unique<Catalog>(folder_.get());
    ASSERT_TRUE(catalog_->Refresh().ok());
    locator_ = std::make_unique<Locator>(nullptr, catalog_.get(), LocatorOptions{"ann"},
                                         [] { return std::vector<std::string>{}; },
                                         [] { return HostPort{"10.0.0.7", 50123}; });
  }
  testing::TestDir tmp_;
  std::unique_ptr<SharedFolder> folder_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Locator> locator_;
};

TEST_F(LocatorTest, WithoutCentralItAnswersFromItsOwnCatalog) {
  v1::LocateRequest req;
  req.set_query("song*OGG");
  auto reply = locator_->Locate(req, kDeadline());
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  ASSERT_EQ(reply->results_size(), 1);
  const auto& r = reply->results(0);
  EXPECT_EQ(r.file().name(), "Music/Song One.ogg");
  EXPECT_EQ(r.file().sha256(), Sha256Hex("one"));
  EXPECT_EQ(r.source(), v1::Located::FLOOD);
  ASSERT_EQ(r.holders_size(), 1);
  EXPECT_EQ(r.holders(0).host(), "10.0.0.7");
  EXPECT_EQ(r.holders(0).port(), 50123);
  EXPECT_EQ(std::vector<std::string>(reply->visited().begin(), reply->visited().end()),
            std::vector<std::string>{"ann"});

  v1::LocateRequest by_hash;
  by_hash.set_sha256(Sha256Hex("notes"));
  reply = locator_->Locate(by_hash, kDeadline());
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->results_size(), 1);
  EXPECT_EQ(reply->results(0).file().name(), "notes.txt");
}

TEST_F(LocatorTest, BadRequestsAreRefusedAndRepeatedIdsDeclined) {
  auto code = [&](const std::function<void(v1::LocateRequest&)>& set) {
    v1::LocateRequest req;
    set(req);
    auto r = locator_->Locate(req, kDeadline());
    return r.ok() ? Code::kOk : r.status().code();
  };
  EXPECT_EQ(code([](auto& r) { r.set_sha256("ABC"); }), Code::kInvalidArgument);
  EXPECT_EQ(code([](auto& r) { r.set_ttl(99); }), Code::kInvalidArgument);
  EXPECT_EQ(code([](auto& r) { r.set_ttl(-1); }), Code::kInvalidArgument);
  EXPECT_EQ(code([](auto& r) { r.set_limit(5000); }), Code::kInvalidArgument);
  EXPECT_EQ(code([](auto& r) { r.set_query(std::string(2000, 'x')); }), Code::kInvalidArgument);
  EXPECT_EQ(code([](auto& r) { r.set_flood(true); }), Code::kInvalidArgument);  // no query id

  v1::LocateRequest flood;
  flood.set_flood(true);
  flood.set_query_id("q-1");
  flood.set_query("notes");
  auto first = locator_->Locate(flood, kDeadline());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->results_size(), 1);
  auto again = locator_->Locate(flood, kDeadline());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->results_size(), 0);
  EXPECT_TRUE(again->visited().empty());
  EXPECT_EQ(again->declined(), 1);
}

TEST_F(LocatorTest, AFloodOfJunkIdsForgetsOnlyTheOldest) {
  LocatorOptions small{"ann"};
  small.max_seen_ids = 100;
  Locator locator(nullptr, catalog_.get(), small, {}, {});
  v1::LocateRequest flood;
  flood.set_flood(true);
  flood.set_query("notes");
  flood.set_query_id("the-real-one");
  ASSERT_EQ(locator.Locate(flood, kDeadline())->results_size(), 1);
  for (int i = 0; i < 150; ++i) {  // more fresh ids than it keeps
    flood.set_query_id("junk-" + std::to_string(i));
    ASSERT_TRUE(locator.Locate(flood, kDeadline()).ok());
  }
  // The 100 newest are remembered (a wipe-all at 100 would have forgotten
  // junk-60 with everything else); the oldest went first.
  flood.set_query_id("junk-60");
  EXPECT_EQ(locator.Locate(flood, kDeadline())->declined(), 1);
  flood.set_query_id("junk-149");
  EXPECT_EQ(locator.Locate(flood, kDeadline())->declined(), 1);
  flood.set_query_id("the-real-one");
  EXPECT_EQ(locator.Locate(flood, kDeadline())->declined(), 0) << "the oldest is forgotten";
}

TEST(DropBadLocateEntriesTest, KeepsWhatIsWellFormedAndCountsTheRest) {
  v1::LocateReply reply;
  auto add = [&](const std::string& name, int64_t size, const std::string& sha,
                 std::vector<std::tuple<std::string, std::string, int>> holders) {
    v1::Located* r = reply.add_results();
    r->mutable_file()->set_name(name);
    r->mutable_file()->set_size(size);
    r->mutable_file()->set_sha256(sha);
    for (auto& [u, h, p] : holders) {
      auto* a = r->add_holders();
      a->set_username(u);
      a->set_host(h);
      a->set_port(p);
    }
  };
  const std::string sha(64, 'c');
  add("good.mp3", 10, sha, {{"ann", "10.0.0.1", 50051}, {"bad user!", "10.0.0.2", 50052},
                            {"bob", "x:1,y", 50053}, {"cy", "::1", 70000}});
  add("evil\x1b[2J.mp3", 10, sha, {{"ann", "10.0.0.1", 50051}});
  add("../escape", 10, sha, {{"ann", "10.0.0.1", 50051}});
  add("negative.bin", -1, sha, {{"ann", "10.0.0.1", 50051}});
  add("nohash.bin", 1, "xyz", {{"ann", "10.0.0.1", 50051}});
  add("orphan.bin", 1, sha, {{"", "", 0}});
  reply.add_visited("ann");
  reply.add_visited("a\x07" "b");
  reply.set_total(-5);
  int dropped = DropBadLocateEntries(&reply, 50);
  ASSERT_EQ(reply.results_size(), 1);
  EXPECT_EQ(reply.results(0).file().name(), "good.mp3");
  ASSERT_EQ(reply.results(0).holders_size(), 1);
  EXPECT_EQ(reply.results(0).holders(0).username(), "ann");
  EXPECT_EQ(reply.visited_size(), 1);
  EXPECT_EQ(reply.total(), 1);
  EXPECT_EQ(dropped, 3 + 5 + 1 + 1);  // holders, results, visited, orphan's holder
}

}  // namespace
}  // namespace p2pshare::pserver
