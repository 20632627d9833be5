// The one hex codec and the one host:port parser.
#include <gtest/gtest.h>

#include <array>

#include "common/hex.h"
#include "common/central_trust.h"
#include "common/directory_client.h"
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

TEST(HostNameTest, OnlyAddressesAndDnsNames) {
  for (const char* good : {"10.0.0.1", "::1", "2001:db8::5", "localhost", "peer-7.lab.example.edu",
                           "A1.b2"}) {
    EXPECT_TRUE(IsHostName(good)) << good;
  }
  for (const std::string& bad :
       {std::string(), std::string("a:1"), std::string("ipv4:1.2.3.4"), std::string("1.2.3.4,5.6.7.8"),
        std::string("a b"), std::string("a\nb"), std::string("\x1b[31m"), std::string("-a.b"),
        std::string("a-.b"), std::string("a..b"), std::string(".a"), std::string("[::1]"),
        std::string(64, 'a') + ".b", std::string(254, 'a'), std::string("a_b")}) {
    EXPECT_FALSE(IsHostName(bad)) << ::testing::PrintToString(bad);
  }
}

TEST(CentralUrlTest, SchemeHostAndPort) {
  auto https = ParseCentralUrl("https://central.lab:8443");
  ASSERT_TRUE(https.ok());
  EXPECT_TRUE(https->https);
  EXPECT_EQ(https->host, "central.lab");
  EXPECT_EQ(https->port, 8443);
  EXPECT_EQ(ParseCentralUrl("https://central.lab")->port, 443);
  EXPECT_EQ(ParseCentralUrl("http://[::1]:8080")->host, "::1");
  EXPECT_EQ(ParseCentralUrl("https://[::1]")->host, "::1");
  EXPECT_FALSE(ParseCentralUrl("ftp://x").ok());
  EXPECT_FALSE(ParseCentralUrl("https://x:1/api").ok());
  EXPECT_FALSE(ParseCentralUrl("https://::1:80").ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.9"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(PlainPasswordTest, NoPasswordOverPlainHttpBeyondLoopback) {
  // 192.0.2.1 is TEST-NET-1: never reached, and never asked: the refusal
  // comes before any connection.
  DirectoryClient remote("http://192.0.2.1:8080");
  auto login = remote.Login(LoginRequest{"alice", "alice-password", std::nullopt, std::nullopt, {}});
  EXPECT_EQ(login.status().reason(), "plain_password");
  EXPECT_EQ(remote.Register("alice", "alice-password").status().reason(), "plain_password");
  DirectoryClientOptions allowed;
  allowed.allow_plain_password = true;
  allowed.connect_timeout = std::chrono::milliseconds(50);
  DirectoryClient told("http://192.0.2.1:8080", allowed);
  EXPECT_NE(told.Register("alice", "alice-password").status().reason(), "plain_password");
  DirectoryClient local("http://127.0.0.1:1");
  EXPECT_NE(local.Register("alice", "alice-password").status().reason(), "plain_password");
}

}  // namespace
}  // namespace p2pshare
