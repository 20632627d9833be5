#include "central/auth.h"

#include <gtest/gtest.h>

#include <set>

namespace p2pshare::central {
namespace {

TEST(PasswordTest, HashVerifiesOnlyTheRightPassword) {
  std::string h = HashPassword("correct horse", 1000);
  EXPECT_TRUE(VerifyPassword("correct horse", h));
  EXPECT_FALSE(VerifyPassword("correct horsE", h));
  EXPECT_FALSE(VerifyPassword("", h));
  EXPECT_EQ(h.find("correct"), std::string::npos);
}

TEST(PasswordTest, SaltedSoEqualPasswordsHashDifferently) {
  EXPECT_NE(HashPassword("same", 1000), HashPassword("same", 1000));
}

TEST(PasswordTest, MalformedHashesNeverVerify) {
  for (const char* bad : {"", "plain", "pbkdf2-sha256$x$00$00", "pbkdf2-sha256$1000$zz$00",
                          "pbkdf2-sha256$1000$00$0011", "md5$1$00$00"}) {
    EXPECT_FALSE(VerifyPassword("x", bad)) << bad;
  }
}

TEST(TokenTest, TokensAre256RandomBits) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = NewToken();
    EXPECT_EQ(t.size(), 64u);
    EXPECT_TRUE(seen.insert(t).second);
    EXPECT_NE(TokenHash(t), t);
  }
}

TEST(LoginThrottleTest, SlowsDownAfterRepeatedFailuresAndForgives) {
  LoginThrottle throttle(ThrottlePolicy{3, 8000});
  auto t0 = LoginThrottle::Clock::now();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t0), 0);
    throttle.RecordFailure("bob", "10.0.0.1", t0);
  }
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t0), 0);
  throttle.RecordFailure("bob", "10.0.0.1", t0);  // third failure: 1 s wait
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t0), 1);
  EXPECT_EQ(throttle.RetryAfter("carol", "10.0.0.2", t0), 0);  // others unaffected
  auto t1 = t0 + std::chrono::seconds(1);
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t1), 0);
  for (int i = 0; i < 10; ++i) throttle.RecordFailure("bob", "10.0.0.1", t1);
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t1), 8);  // capped
  // After the wait the owner may try again; a success clears the count.
  auto t2 = t1 + std::chrono::seconds(8);
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t2), 0);
  throttle.RecordSuccess("bob", "10.0.0.1", t2);
  throttle.RecordFailure("bob", "10.0.0.1", t2);
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.1", t2), 0);
  // Fifteen quiet minutes forget everything.
  for (int i = 0; i < 10; ++i) throttle.RecordFailure("bob", "10.0.0.7", t2);
  auto t3 = t2 + std::chrono::minutes(16);
  EXPECT_EQ(throttle.RetryAfter("bob", "10.0.0.7", t3), 0);
}

TEST(LoginThrottleTest, OneAddressGuessingManyNamesIsSlowedToo) {
  LoginThrottle throttle(ThrottlePolicy{2, 60000});
  auto t0 = LoginThrottle::Clock::now();
  for (int i = 0; i < 8; ++i) throttle.RecordFailure("user" + std::to_string(i), "10.9.9.9", t0);
  EXPECT_GT(throttle.RetryAfter("someone-else", "10.9.9.9", t0), 0);
  EXPECT_EQ(throttle.RetryAfter("someone-else", "10.9.9.8", t0), 0);
}

TEST(LoginThrottleTest, AnAttackerCannotLockTheOwnerOut) {
  LoginThrottle throttle(ThrottlePolicy{5, 60000});
  auto t = LoginThrottle::Clock::now();
  throttle.RecordSuccess("alice", "10.0.0.1", t);  // alice's own machine
  // An attacker guesses alice's password from another address, retrying
  // the moment each wait ends, for an hour.
  for (int i = 0; i < 3600; ++i) {
    t += std::chrono::seconds(1);
    if (throttle.RetryAfter("alice", "10.6.6.6", t) == 0) throttle.RecordFailure("alice", "10.6.6.6", t);
    ASSERT_EQ(throttle.RetryAfter("alice", "10.0.0.1", t), 0) << "second " << i;
    ASSERT_EQ(throttle.RetryAfter("alice", "10.0.0.2", t), 0) << "a new address of alice's";
  }
  EXPECT_GT(throttle.RetryAfter("alice", "10.6.6.6", t), 0) << "the attacker stays slowed";
  // Guessing from alice's own address (a shared NAT) under many names slows
  // strangers there, but not alice, who has logged in from it before.
  for (int i = 0; i < 100; ++i) throttle.RecordFailure("user" + std::to_string(i), "10.0.0.1", t);
  EXPECT_GT(throttle.RetryAfter("bob", "10.0.0.1", t), 0);
  EXPECT_EQ(throttle.RetryAfter("alice", "10.0.0.1", t), 0);
}

}  // namespace
}  // namespace p2pshare::central
