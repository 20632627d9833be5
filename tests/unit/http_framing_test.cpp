#include "central/http_framing.h"

#include <gtest/gtest.h>

#include <string>

namespace p2pshare::central {
namespace {

TEST(HttpFramingTest, AHeaderBlockEndsAtItsFirstEmptyLine) {
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  HeaderBlock b = ScanHeaderBlock(head + "body", 32768);
  EXPECT_EQ(b.scan, HeaderScan::kComplete);
  EXPECT_EQ(b.end, head.size());
  EXPECT_EQ(ScanHeaderBlock("GET / HTTP/1.1\r\nHost: x\r\n", 32768).scan, HeaderScan::kIncomplete);
  // A CR at the end of what arrived may still get its LF.
  EXPECT_EQ(ScanHeaderBlock("GET / HTTP/1.1\r\nHost: x\r\n\r", 32768).scan, HeaderScan::kIncomplete);
  // Past the limit nothing is looked at.
  EXPECT_EQ(ScanHeaderBlock(head, 10).scan, HeaderScan::kIncomplete);
}

TEST(HttpFramingTest, ABareLineFeedOrCarriageReturnIsRefused) {
  // The attack: CRLF lines, then a bare LF. cpp-httplib would skip it and
  // read on; the gate must not hand it over as whole.
  HeaderBlock b = ScanHeaderBlock("GET /healthz HTTP/1.1\r\nHost: x\r\n\n", 32768);
  EXPECT_EQ(b.scan, HeaderScan::kBareLineEnd);
  EXPECT_EQ(b.end, 32u);
  EXPECT_EQ(ScanHeaderBlock("GET / HTTP/1.1\nHost: x\r\n\r\n", 32768).scan, HeaderScan::kBareLineEnd);
  EXPECT_EQ(ScanHeaderBlock("GET / HTTP/1.1\n\n", 32768).scan, HeaderScan::kBareLineEnd);
  EXPECT_EQ(ScanHeaderBlock("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 32768).scan, HeaderScan::kBareLineEnd);
  // In the body, anything goes.
  EXPECT_EQ(ScanHeaderBlock("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\n\r\n", 32768).scan,
            HeaderScan::kComplete);
}

TEST(HttpFramingTest, FramingHeaders) {
  Framing f = ScanFraming("PUT /api/v1/index HTTP/1.1\r\ncontent-LENGTH: 12 \r\n\r\n");
  EXPECT_TRUE(f.body_method);
  EXPECT_TRUE(f.has_length);
  EXPECT_EQ(f.content_length, 12u);
  EXPECT_FALSE(f.has_transfer_encoding);
  f = ScanFraming("POST / HTTP/1.1\r\nContent-Length: 1x\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(f.content_length, 0u) << "malformed: the worker refuses it";
  EXPECT_TRUE(f.has_transfer_encoding);
  f = ScanFraming("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  EXPECT_EQ(f.content_length, UINT64_MAX);
  EXPECT_FALSE(ScanFraming("GET / HTTP/1.1\r\n\r\n").body_method);
}

TEST(HttpFramingTest, AcceptEncodingIsRenamedSoNoReplyIsCompressed) {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\naccept-ENCODING: br, gzip\r\nX-Keep: Accept-Encoding: no\r\n\r\n";
  const size_t size = head.size();
  DropAcceptEncoding(head.data(), head.size());
  EXPECT_EQ(head.size(), size);
  EXPECT_NE(head.find("\r\nXccept-ENCODING: br, gzip\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Keep: Accept-Encoding: no"), std::string::npos) << "only field names";
  EXPECT_EQ(ScanHeaderBlock(head, 32768).end, size);
}

}  // namespace
}  // namespace p2pshare::central
