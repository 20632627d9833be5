// /metrics of the real central and a real peer-server, scraped before and
// after known actions: the counters an operator watches must move by what
// happened, and the events route must tell the same story.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <regex>

#include "common/sha256.h"
#include "common/small_files.h"
#include "common/x509.h"
#include "integration/network_test.h"
#include "unit/file_util.h"
#include "unit/peer_test_client.h"

namespace p2pshare::testing {
namespace {

namespace fs = std::filesystem;

// The value of the sample `series` (name plus labels, as printed) in a
// Prometheus text exposition; -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string Scrape(httplib::Client& c, const std::string& path = "/metrics",
                   std::string* type = nullptr) {
  auto res = c.Get(path);
  if (!res || res->status != 200) return "";
  if (type) *type = res->get_header_value("Content-Type");
  return res->body;
}

std::unique_ptr<httplib::Client> PlainHttp(int port) {
  return std::make_unique<httplib::Client>("127.0.0.1", port);
}

class MetricsTest : public NetworkTest {};

TEST_F(MetricsTest, CentralCountersMoveWithWhatHappens) {
  std::string type;
  std::string empty = Scrape(*central_->Http(), "/metrics", &type);
  ASSERT_FALSE(empty.empty());
  EXPECT_EQ(type.rfind("text/plain; version=0.0.4", 0), 0u) << type;
  EXPECT_NE(empty.find("# TYPE p2pshare_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_EQ(Sample(empty, "p2pshare_peers_online"), 0);
  // A peer with two files (its first login fails: its account is created then).
  StartPeer("alice", [](const fs::path& d) {
    WriteFile(d / "a.txt", "a");
    WriteFile(d / "b.txt", "bb");
  });
  std::string before = Scrape(*central_->Http());
  const std::string healthz = R"(p2pshare_http_requests_total{method="GET",route="/healthz",status="200"})";
  const std::string login_401 =
      R"(p2pshare_http_requests_total{method="POST",route="/api/v1/login",status="401"})";
  const double healthz_before = std::max(0.0, Sample(before, healthz));
  const double failed_before = Sample(before, "p2pshare_failed_logins_total");
  const double login_401_before = std::max(0.0, Sample(before, login_401));

  // Three health checks, two wrong passwords, and a session that stops
  // heartbeating.
  auto client = central_->Client();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Health().ok());
  ASSERT_TRUE(client->Register("mallory", "mallory-password").ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(client->Login({"mallory", "wrong", std::nullopt, std::nullopt, {}}).ok());
  }
  auto ghost = central_->Client();
  ASSERT_TRUE(RegisterAndLogin(*ghost, "ghost").ok());
  ASSERT_TRUE(client->Search("nothing", 5).ok());
  ASSERT_FALSE(client->FindFile(std::string(64, 'f'))->has_value());

  std::string after;
  ASSERT_TRUE(WaitUntil([&] {  // ghost is evicted after the 3 s TTL
    after = Scrape(*central_->Http());
    return Sample(after, "p2pshare_evictions_total") == 1 && Sample(after, "p2pshare_files") == 2;
  }, std::chrono::seconds(10))) << after;
  EXPECT_EQ(Sample(after, healthz), healthz_before + 3);
  EXPECT_EQ(Sample(after, "p2pshare_failed_logins_total"), failed_before + 2);
  EXPECT_EQ(Sample(after, "p2pshare_peers_online"), 1);
  EXPECT_GE(Sample(after, "p2pshare_logins_total"), 2);
  EXPECT_GE(Sample(after, R"(p2pshare_http_request_duration_seconds_count{route="/healthz"})"), 3);
  EXPECT_EQ(Sample(after, login_401), login_401_before + 2);
  EXPECT_EQ(Sample(after, R"(p2pshare_http_requests_total{method="GET",route="/api/v1/files/{sha256}",status="404"})"), 1)
      << "one label for every hash, never the raw path";
  EXPECT_EQ(Sample(after, R"(p2pshare_http_requests_total{method="GET",route="/api/v1/search",status="200"})"), 1);

  // The same story in the dashboard's events.
  Json events = Json::parse(Scrape(*central_->Http(), "/api/v1/events"));
  std::vector<std::string> seen;
  for (const auto& e : events["events"]) seen.push_back(e["kind"].get<std::string>() + ":" + e["username"].get<std::string>());
  auto has = [&](const std::string& what) { return std::find(seen.begin(), seen.end(), what) != seen.end(); };
  EXPECT_TRUE(has("login:alice")) << ::testing::PrintToString(seen);
  EXPECT_TRUE(has("login:ghost"));
  EXPECT_TRUE(has("eviction:ghost"));
  int64_t last = events["events"].back()["id"];
  EXPECT_TRUE(Json::parse(Scrape(*central_->Http(), "/api/v1/events?after=" + std::to_string(last)))["events"].empty());
}

TEST_F(MetricsTest, PeerServerCountsBytesTransfersAndErrors) {
  const int metrics_port = FreePort();
  std::string data = RandomBytes(700000, 5);
  PeerServerProcess& alice = StartPeer(
      "alice", [&](const fs::path& d) { WriteFile(d / "song.bin", data); },
      Json{{"metrics_listen", "127.0.0.1:" + std::to_string(metrics_port)}});
  std::string before = Scrape(*PlainHttp(metrics_port));
  ASSERT_FALSE(before.empty()) << alice.log();
  EXPECT_EQ(Sample(before, "p2pshare_peer_bytes_served_total"), 0);
  EXPECT_EQ(Sample(before, "p2pshare_peer_shared_files"), 1);
  EXPECT_EQ(Sample(before, "p2pshare_peer_active_transfers"), 0);

  TestMember bob(*central_, dir_.path(), "bob");
  ASSERT_TRUE(bob.status().ok()) << bob.status().ToString();
  PeerTestClient peer(alice.port(), bob.identity(), "alice");
  auto got = peer.Download("song.bin");
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.data, data);
  EXPECT_EQ(peer.Download("missing.bin").status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(PeerTestClient::WithoutCertificate(alice.port(), *ReadSmallFile(central_->ca_file()))
                .Download("song.bin")
                .status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(peer.Upload("up.bin", std::string(1234, 'u')).ok());

  std::string after = Scrape(*PlainHttp(metrics_port));
  EXPECT_EQ(Sample(after, "p2pshare_peer_bytes_served_total"), static_cast<double>(data.size()));
  EXPECT_EQ(Sample(after, "p2pshare_peer_bytes_received_total"), 1234);
  EXPECT_EQ(Sample(after, R"(p2pshare_peer_rpc_errors_total{code="NOT_FOUND",method="Download"})"), 1);
  EXPECT_EQ(Sample(after, R"(p2pshare_peer_rpc_errors_total{code="UNAUTHENTICATED",method="Download"})"), 1);
  EXPECT_EQ(Sample(after, "p2pshare_peer_active_transfers"), 0);

  // A taken address for /metrics is a clear start-up error.
  PeerServerProcess& again = *peers_.emplace_back(std::make_unique<PeerServerProcess>(
      dir_.path(), "carol", *central_,
      Json{{"metrics_listen", "127.0.0.1:" + std::to_string(metrics_port)}}));
  EXPECT_FALSE(again.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return again.log().find("for /metrics") != std::string::npos; },
                        std::chrono::seconds(5))) << again.log();
}

}  // namespace
}  // namespace p2pshare::testing
