// Which strategy a download takes, chosen from what the request and the
// holders offer (pclient/transfers.h), never through an error code.
#include <gtest/gtest.h>

#include "pclient/transfers.h"

namespace p2pshare::pclient {
namespace {

DownloadRequest Request(std::vector<Holder> holders, int64_t size = 1 << 20) {
  DownloadRequest req;
  req.file.name = "a.bin";
  req.file.size = size;
  req.file.sha256 = std::string(64, 'a');
  req.file.holders = std::move(holders);
  req.own_username = "me";
  return req;
}

Holder H(const std::string& name, const std::string& root, bool partial = false) {
  Holder h;
  h.username = name;
  h.root = root;
  h.partial = partial;
  return h;
}

TEST(DownloadStrategyTest, PiecesWhenAWholeHolderOtherThanThisPeerReportsARoot) {
  const std::string root(64, 'b');
  EXPECT_EQ(ChooseStrategy(Request({H("alice", ""), H("bob", root)}), false), Strategy::kPieces);
  EXPECT_EQ(ChooseStrategy(Request({H("alice", ""), H("bob", "")}), false), Strategy::kInOrder)
      << "no holder reports a tree";
  EXPECT_EQ(ChooseStrategy(Request({H("me", root), H("alice", "")}), false), Strategy::kInOrder)
      << "this peer's own root does not count";
  EXPECT_EQ(ChooseStrategy(Request({H("carol", root, true)}), false), Strategy::kInOrder)
      << "a partial holder alone cannot finish the file";
}

TEST(DownloadStrategyTest, InOrderForVerifyOnlyAnEmptyFileOrAFileAtThePath) {
  const std::string root(64, 'b');
  DownloadRequest req = Request({H("bob", root)});
  EXPECT_EQ(ChooseStrategy(req, true), Strategy::kInOrder) << "a file at the path is checked whole";
  req.verify_only = true;
  EXPECT_EQ(ChooseStrategy(req, false), Strategy::kInOrder);
  EXPECT_EQ(ChooseStrategy(Request({H("bob", root)}, 0), false), Strategy::kInOrder);
}

}  // namespace
}  // namespace p2pshare::pclient
