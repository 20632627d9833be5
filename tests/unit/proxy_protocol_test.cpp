// The PROXY protocol v2 reader (central/proxy_protocol.h): what a trusted
// balancer sends is read exactly, and anything else is refused from its
// first wrong byte, never read past.
#include "central/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace p2pshare::central {
namespace {

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

// A header: version/command byte, family/transport byte, then `rest`.
std::string Header(unsigned char command, unsigned char family, const std::string& rest) {
  std::string h = kSignature;
  h += static_cast<char>(command);
  h += static_cast<char>(family);
  h += static_cast<char>(rest.size() >> 8);
  h += static_cast<char>(rest.size() & 0xff);
  return h + rest;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string out;
  for (int x : b) out += static_cast<char>(x);
  return out;
}

TEST(ProxyProtocolTest, ReadsTheClientsAddressOfAnIpv4Connection) {
  std::string h = Header(0x21, 0x11, Bytes({203, 0, 113, 9, 127, 0, 0, 1, 0x9c, 0x40, 0x1f, 0x90}));
  ProxyHeader out;
  ASSERT_EQ(ParseProxyV2(h + "GET / HTTP/1.1\r\n", &out), ProxyParse::kDone);
  EXPECT_EQ(out.length, h.size()) << "exactly the header is consumed, not the request after it";
  EXPECT_EQ(out.source_ip, "203.0.113.9");
  EXPECT_EQ(out.source_port, 40000);
}

TEST(ProxyProtocolTest, ReadsIpv6AndNamesMappedIpv4AsIpv4) {
  std::string v6 = Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
  std::string mapped = Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 4});
  std::string dst(16, '\0');
  ProxyHeader out;
  ASSERT_EQ(ParseProxyV2(Header(0x21, 0x21, v6 + dst + Bytes({0, 80, 0, 80})), &out), ProxyParse::kDone);
  EXPECT_EQ(out.source_ip, "2001:db8::7");
  ASSERT_EQ(ParseProxyV2(Header(0x21, 0x21, mapped + dst + Bytes({0, 80, 0, 80})), &out),
            ProxyParse::kDone);
  EXPECT_EQ(out.source_ip, "198.51.100.4");
}

TEST(ProxyProtocolTest, LocalAndUnspecifiedConnectionsKeepTheSocketsAddress) {
  ProxyHeader out;
  ASSERT_EQ(ParseProxyV2(Header(0x20, 0x00, ""), &out), ProxyParse::kDone);
  EXPECT_FALSE(out.source_ip.has_value());
  EXPECT_EQ(out.length, 16u);
  // TLVs after the addresses are skipped with them.
  std::string with_tlv = Header(0x21, 0x11, Bytes({10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0x04, 0, 1, 'x'}));
  ASSERT_EQ(ParseProxyV2(with_tlv, &out), ProxyParse::kDone);
  EXPECT_EQ(out.length, with_tlv.size());
  EXPECT_EQ(out.source_ip, "10.0.0.1");
}

TEST(ProxyProtocolTest, WaitsForTheWholeHeaderAndAsksForNoMore) {
  std::string h = Header(0x21, 0x11, Bytes({203, 0, 113, 9, 127, 0, 0, 1, 0, 1, 0, 2}));
  ProxyHeader out;
  for (size_t n = 0; n < h.size(); ++n) {
    EXPECT_EQ(ParseProxyV2(h.substr(0, n), &out), ProxyParse::kIncomplete) << n;
    size_t want = ProxyBytesWanted(h.substr(0, n));
    EXPECT_GT(want, 0u) << n;
    EXPECT_LE(n + want, h.size()) << "asks for bytes past the header at " << n;
  }
  EXPECT_EQ(ProxyBytesWanted(h), 0u);
}

TEST(ProxyProtocolTest, RefusesWhatIsNotAHeader) {
  ProxyHeader out;
  // Plain HTTP or TLS from a balancer that should have sent a header: at
  // the first byte.
  EXPECT_EQ(ParseProxyV2("G", &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(std::string("\x16\x03\x01", 3), &out), ProxyParse::kBad);
  // Version 1 (text) and version 3; a command beyond PROXY.
  EXPECT_EQ(ParseProxyV2("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(Header(0x31, 0x11, std::string(12, '\0')), &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(Header(0x22, 0x11, std::string(12, '\0')), &out), ProxyParse::kBad);
  // Addresses shorter than their family; UDP; a unix socket.
  EXPECT_EQ(ParseProxyV2(Header(0x21, 0x11, std::string(11, '\0')), &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(Header(0x21, 0x21, std::string(35, '\0')), &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(Header(0x21, 0x12, std::string(12, '\0')), &out), ProxyParse::kBad);
  EXPECT_EQ(ParseProxyV2(Header(0x21, 0x31, std::string(216, '\0')), &out), ProxyParse::kBad);
  // A length over the bound is refused before its bytes are waited for.
  std::string huge = kSignature + Bytes({0x21, 0x11, 0xff, 0xff});
  EXPECT_EQ(ParseProxyV2(huge, &out), ProxyParse::kBad);
  EXPECT_EQ(ProxyBytesWanted(huge), 0u);
}

}  // namespace
}  // namespace p2pshare::central
