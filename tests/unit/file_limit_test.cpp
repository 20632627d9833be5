// RaiseOpenFileLimit: servers raise their soft open-file limit (never lower
// it), up to the hard one. ctest runs each test in a process of its own.
#include "common/file_limit.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace p2pshare {
namespace {

TEST(FileLimitTest, RaisesTheSoftLimitUpToTheHardOneAndNeverLowersIt) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 2048) GTEST_SKIP() << "hard limit " << lim.rlim_max;
  rlimit low = lim;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);

  EXPECT_EQ(RaiseOpenFileLimit(2048), 2048u);
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(low.rlim_cur, 2048u);
  EXPECT_EQ(RaiseOpenFileLimit(100), 2048u) << "lowered";

  const uint64_t all = RaiseOpenFileLimit(kUnlimitedFiles);
  if (lim.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(all, lim.rlim_max) << "not raised to the hard limit";
  } else {
    EXPECT_GE(all, 2048u);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
}

}  // namespace
}  // namespace p2pshare
