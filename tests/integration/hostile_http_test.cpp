// Hostile HTTP against the real `central` (label `robustness`): slow and
// idle connections, floods of headers, oversized request lines, ambiguous
// lengths. Central stays up and a normal client keeps getting /healthz.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "integration/raw_connection.h"
#include "integration/test_support.h"

namespace p2pshare::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string StatusLine(const std::string& reply) { return reply.substr(0, reply.find('\r')); }

class HostileHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Hundreds of sockets in this process: raise the soft limit.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  // These attacks speak raw HTTP bytes, so central serves plain HTTP here
  // (the gate's HTTP rules are the same with TLS; trust_test.cpp attacks
  // the TLS path itself).
  void StartCentral(Json overrides) {
    overrides["tls"] = false;
    // Attacker and honest client share 127.0.0.1 here; these tests are about
    // what waiting costs, so the bound per address (tested on its own in
    // tests/attacks) is lifted.
    if (!overrides.contains("max_connections_per_address")) {
      overrides["max_connections_per_address"] = 1000000;
    }
    central_ = std::make_unique<CentralProcess>(dir_.path(), std::move(overrides));
    Status s = central_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override {
    if (HasFailure() && central_) {
      std::string log = central_->log();
      if (log.size() > 20000) log = "..." + log.substr(log.size() - 20000);
      std::fprintf(stderr, "central log:\n%s\n", log.c_str());
    }
  }
  // The reply to one request on a fresh connection.
  std::string Exchange(const std::string& request) {
    RawConnection c(central_->port());
    EXPECT_TRUE(c.ok());
    c.Send(request);
    return c.ReadUntilClosed(std::chrono::seconds(10));
  }
  bool Healthy() {
    httplib::Client client("127.0.0.1", central_->port());
    auto res = client.Get("/healthz");
    return res && res->status == 200;
  }

  TestDir dir_;
  std::unique_ptr<CentralProcess> central_;
};

TEST_F(HostileHttpTest, SlowAndIdleConnectionsDoNotDelayANormalClient) {
  StartCentral(Json{{"request_timeout_s", 3}});
  const int port = central_->port();
  // 300 clients sending a request header a byte at a time (slowloris),
  // 100 sending a small body a byte at a time, 200 sending nothing: 600
  // connections, ten times central's 64 workers.
  std::vector<std::unique_ptr<RawConnection>> slow_headers, slow_bodies, silent;
  for (int i = 0; i < 300; ++i) {
    slow_headers.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(slow_headers.back()->ok());
    ASSERT_TRUE(slow_headers.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  }
  for (int i = 0; i < 100; ++i) {
    slow_bodies.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(slow_bodies.back()->ok());
    ASSERT_TRUE(slow_bodies.back()->Send(
        "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 4000\r\n\r\n{"));
  }
  for (int i = 0; i < 200; ++i) {
    silent.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(silent.back()->ok());
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (auto& c : slow_headers) c->Send("X");
      for (auto& c : slow_bodies) c->Send(" ");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the attack's pace
    }
  });

  // A normal client: keep-alive requests, and every fifth on a new connection.
  httplib::Client keep_alive("127.0.0.1", port);
  keep_alive.set_keep_alive(true);
  std::vector<double> ms;
  int failures = 0;
  auto until = Clock::now() + std::chrono::milliseconds(2500);  // inside request_timeout
  for (int i = 0; Clock::now() < until; ++i) {
    auto t0 = Clock::now();
    bool ok;
    if (i % 5 == 4) {
      httplib::Client fresh("127.0.0.1", port);
      auto res = fresh.Get("/healthz");
      ok = res && res->status == 200;
    } else {
      auto res = keep_alive.Get("/healthz");
      ok = res && res->status == 200;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!ok) ++failures;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the client's pace
  }
  stop = true;
  trickle.join();
  std::sort(ms.begin(), ms.end());
  std::printf("healthz under attack: %zu requests, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
  EXPECT_EQ(failures, 0);
  EXPECT_GT(ms.size(), 50u);
  EXPECT_LT(ms.back(), 100.0) << "slowest /healthz under attack";

  // Every slow request is cut off with 408 once request_timeout passes.
  for (auto* group : {&slow_headers, &slow_bodies, &silent}) {
    for (auto& c : *group) {
      std::string reply = c->ReadUntilClosed(std::chrono::seconds(10));
      EXPECT_EQ(StatusLine(reply), "HTTP/1.1 408 Request Timeout") << reply;
    }
  }
  EXPECT_TRUE(Healthy());
}

TEST_F(HostileHttpTest, ConnectionsOverTheCapDropTheOldestWaiting) {
  StartCentral(Json{{"max_connections", 16}});
  const int port = central_->port();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(idle.back()->ok());
  }
  // New clients still get in, and all but about max_connections of the
  // waiting ones were let go (the oldest first; workers park them in
  // parallel, so the exact set is not fixed).
  ASSERT_TRUE(WaitUntil([&] { return Healthy(); }, std::chrono::seconds(15)));
  auto closed = [&] {
    int n = 0;
    for (auto& c : idle) n += c->ClosedByServer() ? 1 : 0;
    return n;
  };
  EXPECT_TRUE(WaitUntil([&] { return closed() >= 64 - 16; }, std::chrono::seconds(15))) << closed();
  // Each Healthy() connection also waits there once served, and may push one more out.
  EXPECT_LE(closed(), 64 - 16 + 4) << "a cap, not a purge";
}

TEST_F(HostileHttpTest, FloodsOversizedLinesAndAmbiguousLengthsAreRefused) {
  StartCentral(Json::object());
  // 2 000 headers (~40 KiB): over the 32 KiB header limit.
  std::string flood = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) flood += "X-Flood-" + std::to_string(i) + ": yes\r\n";
  EXPECT_EQ(StatusLine(Exchange(flood + "\r\n")), "HTTP/1.1 431 Request Header Fields Too Large");

  // A request line of 100 KiB, and one of 9 KiB (under the header limit,
  // over cpp-httplib's URI limit).
  std::string huge_uri = "GET /api/v1/search?q=" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(StatusLine(Exchange(huge_uri)), "HTTP/1.1 414 URI Too Long");
  std::string long_uri = "GET /api/v1/search?q=" + std::string(9 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(StatusLine(Exchange(long_uri)).substr(0, 12), "HTTP/1.1 414");

  // One header line of 10 KiB: malformed for cpp-httplib.
  std::string long_header =
      "GET /healthz HTTP/1.1\r\nX-Long: " + std::string(10 * 1024, 'b') + "\r\n\r\n";
  EXPECT_EQ(StatusLine(Exchange(long_header)).substr(0, 12), "HTTP/1.1 400");

  // Two Content-Lengths, equal or not: refused before any body is read.
  const std::string body = R"({"username":"a","password":"bbbbbbbbbb"})";
  for (const std::string& second : {std::to_string(body.size()), std::string("5")}) {
    std::string dup = "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) +
                      "\r\nContent-Length: " + second + "\r\n\r\n" + body;
    std::string reply = Exchange(dup);
    EXPECT_EQ(StatusLine(reply), "HTTP/1.1 400 Bad Request") << reply;
    EXPECT_NE(reply.find("more than one Content-Length"), std::string::npos) << reply;
  }
  // Negative, non-numeric and absurd lengths; chunked bodies.
  for (const std::string& len : {std::string("-1"), std::string("12abc")}) {
    std::string r = Exchange("POST /api/v1/login HTTP/1.1\r\nContent-Length: " + len + "\r\n\r\n{}");
    EXPECT_EQ(StatusLine(r), "HTTP/1.1 400 Bad Request") << len << ": " << r;
  }
  EXPECT_EQ(StatusLine(Exchange("PUT /api/v1/index HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n")),
            "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(StatusLine(Exchange("POST /api/v1/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "2\r\n{}\r\n0\r\n\r\n")),
            "HTTP/1.1 411 Length Required");
  // Garbage instead of HTTP.
  EXPECT_EQ(StatusLine(Exchange(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)))
                .substr(0, 12),
            "HTTP/1.1 400");

  // Pipelined requests on one connection are all answered, in order.
  std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n";
  std::string replies = Exchange(two);
  EXPECT_EQ(StatusLine(replies), "HTTP/1.1 200 OK");
  EXPECT_NE(replies.find("HTTP/1.1 404 Not Found"), std::string::npos) << replies;

  EXPECT_TRUE(Healthy());
}

// A PROXY protocol v2 header (as HAProxy's send-proxy-v2 writes it) from
// `source`:`port` (IPv4 or IPv6 text) to central; `command` 1 is PROXY, 0
// LOCAL.
std::string ProxyHeader(const std::string& source, int port, int central_port, int command = 1) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  unsigned char src[16] = {0}, dst[16] = {0};
  const bool v6 = source.find(':') != std::string::npos;
  h += static_cast<char>(0x20 | command);
  h += static_cast<char>(v6 ? 0x21 : 0x11);
  const size_t ip = v6 ? 16 : 4;
  inet_pton(v6 ? AF_INET6 : AF_INET, source.c_str(), src);
  inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "::1" : "127.0.0.1", dst);
  const size_t length = 2 * ip + 4;
  h += static_cast<char>(length >> 8);
  h += static_cast<char>(length & 0xff);
  h.append(reinterpret_cast<char*>(src), ip);
  h.append(reinterpret_cast<char*>(dst), ip);
  for (int p : {port, central_port}) {
    h += static_cast<char>(p >> 8);
    h += static_cast<char>(p & 0xff);
  }
  return h;
}

std::string LoginBytes(const std::string& username, const std::string& password) {
  const std::string body = Json{{"username", username}, {"password", password}}.dump();
  return "POST /api/v1/login HTTP/1.1\r\nHost: central\r\nContent-Type: application/json\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: central\r\n\r\n";

// Behind a TCP balancer every client would come from the balancer's
// address. From a trusted balancer (127.0.0.2 here) central takes the
// client's address from the PROXY header: a login's default host is the
// client's, and the bound per address counts each client apart. Anyone
// else sending such a header gains nothing, and the balancer's connections
// without one are closed unanswered.
TEST_F(HostileHttpTest, ABalancersProxyHeaderNamesTheClientOnlyFromATrustedAddress) {
  StartCentral(Json{{"trusted_proxies", Json::array({"127.0.0.2"})},
                    {"max_connections_per_address", 2}});
  auto client = central_->Client();
  ASSERT_TRUE(client->Register("alice", "alice-password").ok());
  ASSERT_TRUE(client->Register("bob", "bobs-password").ok());
  const int port = central_->port();

  // Through the balancer: the login's host is the client's address.
  for (auto [user, password, source] :
       {std::tuple{"alice", "alice-password", "203.0.113.9"},
        std::tuple{"bob", "bobs-password", "2001:db8::7"}}) {
    RawConnection via(port, "127.0.0.2");
    ASSERT_TRUE(via.ok());
    via.Send(ProxyHeader(source, 40000, port) + LoginBytes(user, password));
    std::string reply = via.ReadUntilClosed(std::chrono::seconds(10));
    ASSERT_EQ(StatusLine(reply), "HTTP/1.1 200 OK") << reply;
    auto body = Json::parse(reply.substr(reply.find("\r\n\r\n") + 4));
    EXPECT_EQ(body["host"], source) << user;
  }

  // The balancer's own connection (LOCAL, as a health check may be): served.
  {
    RawConnection check(port, "127.0.0.2");
    check.Send(ProxyHeader("0.0.0.0", 0, port, /*command=*/0) + kHealthz);
    EXPECT_EQ(StatusLine(check.ReadUntil("}", std::chrono::seconds(10))), "HTTP/1.1 200 OK");
  }

  // From the balancer's address without a header, or with a broken one:
  // closed, nothing answered.
  std::string truncated_v6 = ProxyHeader("2001:db8::1", 1, port);
  truncated_v6[15] = 8;  // declares 8 bytes of addresses: too few for IPv6
  std::string oversized = ProxyHeader("203.0.113.9", 1, port);
  oversized[14] = static_cast<char>(0xff);  // 65 000 bytes of header announced
  for (const std::string& bad :
       {kHealthz, std::string("\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c", 16) + kHealthz,
        truncated_v6 + kHealthz, oversized + kHealthz}) {
    RawConnection via(port, "127.0.0.2");
    via.Send(bad);
    EXPECT_EQ(via.ReadUntilClosed(std::chrono::seconds(10)), "")
        << "answered a balancer connection with a bad header: " << bad.substr(0, 20);
  }

  // A stranger (127.0.0.1 is not trusted) that sends a header claiming
  // another address is not believed: no login comes of it.
  {
    ASSERT_TRUE(client->Register("mallory", "mallory-password").ok());
    RawConnection forged(port, "127.0.0.1");
    forged.Send(ProxyHeader("198.51.100.1", 1, port) + LoginBytes("mallory", "mallory-password"));
    std::string reply = forged.ReadUntilClosed(std::chrono::seconds(10));
    EXPECT_NE(StatusLine(reply), "HTTP/1.1 200 OK") << reply;
    EXPECT_EQ(reply.find("198.51.100.1"), std::string::npos);
  }

  // The bound per address holds each client named by the balancer apart:
  // two held connections of one client fill its share, a third is closed;
  // another client through the same balancer is served.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, "127.0.0.2"));
    held.back()->Send(ProxyHeader("203.0.113.50", 1000 + i, port) + kHealthz);
    ASSERT_EQ(StatusLine(held.back()->ReadUntil("}", std::chrono::seconds(10))), "HTTP/1.1 200 OK");
  }
  {
    RawConnection third(port, "127.0.0.2");
    third.Send(ProxyHeader("203.0.113.50", 1002, port) + kHealthz);
    EXPECT_EQ(third.ReadUntilClosed(std::chrono::seconds(10)), "");
    RawConnection other(port, "127.0.0.2");
    other.Send(ProxyHeader("203.0.113.51", 1003, port) + kHealthz);
    EXPECT_EQ(StatusLine(other.ReadUntil("}", std::chrono::seconds(10))), "HTTP/1.1 200 OK");
  }
  // Central is still up for a direct caller. 127.0.0.1's share is 2 here:
  // the registering client lets its connection go, and the forged one's
  // slot is freed once central has seen it close.
  client.reset();
  EXPECT_TRUE(WaitUntil([&] { return Healthy(); }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace p2pshare::testing
