// CentralTokenVerifier's cache against a scripted central: a good answer is
// kept for the TTL and asked again after it; unknown tokens and failures to
// ask are never kept.
#include "pserver/token_verifier.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <thread>

#include "unit/in_process_central.h"

namespace p2pshare::pserver {
namespace {

class TokenVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.Post("/api/v1/verify", [this](const httplib::Request& req, httplib::Response& res) {
      std::string token = Json::parse(req.body).value("token", "");
      ++calls_[token];
      if (token == "good-token") {
        res.set_content(R"({"username":"bob"})", "application/json");
      } else if (token == "flaky-token") {
        res.status = 503;
        res.set_content(R"({"error":"unavailable","message":"busy"})", "application/json");
      } else {
        res.status = 404;
        res.set_content(R"({"error":"unknown_token","message":"no such session"})",
                        "application/json");
      }
    });
    int port = fake_.bind_to_any_port("127.0.0.1");
    serving_ = std::thread([this] { fake_.listen_after_bind(); });
    ASSERT_TRUE(testing::WaitUntil([this] { return fake_.is_running(); }));
    client_ = std::make_unique<DirectoryClient>("http://127.0.0.1:" + std::to_string(port));
    client_->set_token("the-peer-servers-own-token");
    verifier_ = std::make_unique<CentralTokenVerifier>(client_.get(), std::chrono::seconds(30),
                                                       [this] { return now_; });
  }
  void TearDown() override {
    verifier_.reset();
    client_.reset();  // closes its keep-alive connection, so stop() need not wait it out
    fake_.stop();
    serving_.join();
  }

  httplib::Server fake_;
  std::thread serving_;
  std::map<std::string, int> calls_;  // written on the fake's one thread per request
  CentralTokenVerifier::Clock::time_point now_ = CentralTokenVerifier::Clock::now();
  std::unique_ptr<DirectoryClient> client_;
  std::unique_ptr<CentralTokenVerifier> verifier_;
};

TEST_F(TokenVerifierTest, GoodAnswerIsKeptForTheTtlThenAskedAgain) {
  EXPECT_EQ(*verifier_->Verify("good-token"), "bob");
  EXPECT_EQ(*verifier_->Verify("good-token"), "bob");
  now_ += std::chrono::seconds(29);
  EXPECT_EQ(*verifier_->Verify("good-token"), "bob");
  EXPECT_EQ(calls_["good-token"], 1) << "answered from the cache within 30 s";
  now_ += std::chrono::seconds(2);
  EXPECT_EQ(*verifier_->Verify("good-token"), "bob");
  EXPECT_EQ(calls_["good-token"], 2) << "asked again once the answer aged out";
}

TEST_F(TokenVerifierTest, UnknownTokensAndFailuresAreNeverKept) {
  for (int i = 0; i < 2; ++i) {
    auto unknown = verifier_->Verify("stolen-or-old-token");
    EXPECT_EQ(unknown.status().code(), Code::kUnauthenticated);
    auto flaky = verifier_->Verify("flaky-token");
    EXPECT_EQ(flaky.status().code(), Code::kUnavailable);
  }
  EXPECT_EQ(calls_["stolen-or-old-token"], 2);
  EXPECT_EQ(calls_["flaky-token"], 2);
}

TEST_F(TokenVerifierTest, MissingOrOversizedTokensAreRefusedWithoutAsking) {
  EXPECT_EQ(verifier_->Verify("").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(verifier_->Verify(std::string(300, 'a')).status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(calls_.empty());
}

}  // namespace
}  // namespace p2pshare::pserver
