// The one hex codec and the one host:port parser.
#include <gtest/gtest.h>

#include <array>

#include "common/hex.h"
#include "common/host_port.h"

namespace p2pshare {
namespace {

TEST(HexTest, EncodesLowercaseAndDecodesEitherCase) {
  const std::array<uint8_t, 4> bytes{0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "007fabff");
  std::array<uint8_t, 4> back{};
  ASSERT_TRUE(HexDecode("007FABff", back));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(HexDecode("007fab", back)) << "too short for the span";
  EXPECT_FALSE(HexDecode("007fabfg", back)) << "not a hex digit";
  EXPECT_EQ(HexDecode("0aff"), (std::vector<uint8_t>{0x0a, 0xff}));
  EXPECT_FALSE(HexDecode("abc").has_value()) << "odd length";
}

TEST(HexTest, RandomHexIsFreshEachTime) {
  std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(HexDecode(a).has_value());
}

TEST(HostPortTest, ParsesNamesIpv4AndBracketedIpv6) {
  auto a = ParseHostPort("peer.example.org:50051");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "peer.example.org");
  EXPECT_EQ(a->port, 50051);
  auto b = ParseHostPort("[2001:db8::7]:443");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->host, "2001:db8::7");
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(ParseHostPort("127.0.0.1:0", /*allow_any_port=*/true)->port, 0);
}

TEST(HostPortTest, RefusesWhatIsNotOneHostAndPort) {
  for (const char* bad : {"nowhere", ":80", "host:", "host:0", "host:65536", "host:80x",
                          "host:-1", "::1:80", "[::1:80", "[]:80", "a b:80", "host:80\n",
                          "ho[st]:80", "host:000080"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
  EXPECT_NE(ParseHostPort("::1:80").status().message().find("brackets"), std::string::npos);
  EXPECT_FALSE(ParseHostPort(std::string(400, 'a') + ":80").ok());
}

TEST(HostPortTest, JoinBracketsIpv6AndReadsBack) {
  EXPECT_EQ(JoinHostPort("127.0.0.1", 8080), "127.0.0.1:8080");
  EXPECT_EQ(JoinHostPort("::1", 8080), "[::1]:8080");
  for (const char* host : {"::1", "10.0.0.2", "lab-3.local"}) {
    auto back = ParseHostPort(JoinHostPort(host, 50051));
    ASSERT_TRUE(back.ok()) << host;
    EXPECT_EQ(back->host, host);
  }
}

}  // namespace
}  // namespace p2pshare
