// One download as a person counts it: the calls of one account for one
// file, however many; bounded whatever strangers do.
#include "pserver/upload_ledger.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace p2pshare::pserver {
namespace {

using Clock = UploadLedger::Clock;

FileEntry File(const std::string& name) { return FileEntry{name, 1000, std::string(64, name[0]), ""}; }

TEST(UploadLedgerTest, ManyCallsOfOneAccountForOneFileAreOneDownloadUntilItGoesQuiet) {
  UploadLedger ledger;
  const auto t0 = Clock::now();
  for (int call = 0; call < 10; ++call) {  // a swarm downloader's runs, a second apart
    const auto at = t0 + std::chrono::seconds(call);
    ledger.Begin("carol", File("film"), at);
    ledger.Sent("carol", File("film").sha256, 100, at + std::chrono::milliseconds(500));
    ledger.End("carol", File("film").sha256, at + std::chrono::milliseconds(900));
  }
  auto now = ledger.Now(t0 + std::chrono::seconds(10));
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].to, "carol");
  EXPECT_EQ(now[0].bytes, 1000);
  EXPECT_GT(now[0].rate, 0);
  EXPECT_TRUE(ledger.Now(t0 + std::chrono::seconds(10) + kServedGap).empty()) << "over once quiet";
}

TEST(UploadLedgerTest, StrangersFloodingTinyCallsNeverPushOutADownloadInFlight) {
  UploadLedger ledger;
  const auto t0 = Clock::now();
  ledger.Begin("carol", File("film"), t0);  // in flight throughout
  for (size_t i = 0; i < 3 * kMaxServed; ++i) {
    const std::string who = "stranger" + std::to_string(i);
    ledger.Begin(who, File("x"), t0);
    ledger.End(who, File("x").sha256, t0);
  }
  auto now = ledger.Now(t0 + std::chrono::seconds(1));
  EXPECT_LE(now.size(), kMaxServed);
  EXPECT_TRUE(std::any_of(now.begin(), now.end(), [](const auto& s) { return s.to == "carol"; }));
}

}  // namespace
}  // namespace p2pshare::pserver
