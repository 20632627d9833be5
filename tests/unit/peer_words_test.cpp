// The one translation of failed calls between peers into a person's words:
// what gRPC says never reaches a person.
#include "pclient/peer_words.h"

#include <gtest/gtest.h>

namespace p2pshare::pclient {
namespace {

TEST(PeerWordsTest, TransportErrorsBecomeWhatThePeerDid) {
  using grpc::StatusCode;
  const std::pair<grpc::Status, std::string> cases[] = {
      {{StatusCode::UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:31053: Failed to connect to "
        "remote host: Connection refused"},
       "went offline"},
      {{StatusCode::UNAVAILABLE, "Socket closed"}, "went offline"},
      {{StatusCode::UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:1: "
                                 "Network is unreachable"},
       "went offline"},
      {{StatusCode::UNAVAILABLE, "DNS resolution failed"}, "cannot be reached"},
      {{StatusCode::UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:5: "
                                 "refused the server: the certificate is mallory's, not alice's"},
       "is not who it claims to be (the certificate is mallory's, not alice's)"},
      {{StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"}, "did not answer in time"},
      {{StatusCode::NOT_FOUND, "no shared file has sha256 ab"}, "does not share it any more"},
      {{StatusCode::RESOURCE_EXHAUSTED, "all 2 upload slots here are busy"}, "is busy (all 2 upload slots here are busy)"},
      {{StatusCode::PERMISSION_DENIED, "only members"}, "refused: only members"},
      {{StatusCode::INTERNAL, "stack trace ..."}, "failed on its side"},
  };
  for (const auto& [status, words] : cases) {
    EXPECT_EQ(PeerTrouble("carol", status), words) << status.error_message();
  }
}

TEST(PeerWordsTest, APeersOwnWordsAreKeptShort) {
  const std::string page(100000, 'x');
  const std::string said = PeerTrouble("mallory", grpc::Status(grpc::StatusCode::PERMISSION_DENIED, page));
  EXPECT_LT(said.size(), 200u);
}

TEST(PeerWordsTest, AStatusSaysWhatWasBeingDoneWhoAndKeepsTheCode) {
  Status s = PeerCallStatus("carol", grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed"), "ping carol");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message(), "ping carol: carol went offline");
  EXPECT_TRUE(PeerAway(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")));
  EXPECT_FALSE(PeerAway(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "")));
}

}  // namespace
}  // namespace p2pshare::pclient
