// The real `central` binary driven over HTTP: every route of
// docs/protocol.md, its errors, ports, eviction, restart after kill -9.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <sstream>

#include <fstream>
#include <thread>

#include "integration/test_support.h"

namespace p2pshare::testing {
namespace {

const std::string kHashA(64, 'a');

const std::string kHashB(64, 'b');

class CentralTest : public ::testing::Test {
 protected:
  // Starts central with `overrides` over the defaults (TTL 3 s).
  void StartCentral(Json overrides = Json::object()) {
    central_ = std::make_unique<CentralProcess>(dir_.path(), std::move(overrides));
    Status s = central_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void SetUp() override { StartCentral(); }
  void TearDown() override {
    if (HasFailure() && central_) std::fprintf(stderr, "central log:\n%s\n", central_->log().c_str());
  }

  // A client logged in as `user`.
  std::unique_ptr<DirectoryClient> Peer(const std::string& user, LoginReply* reply = nullptr) {
    auto client = central_->Client();
    auto login = RegisterAndLogin(*client, user);
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    if (reply != nullptr && login.ok()) *reply = *login;
    return client;
  }
  httplib::Client& Raw() {
    raw_ = central_->Http();
    return *raw_;
  }
  static Json JsonOf(const httplib::Result& r) {
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
  static std::vector<std::string> HolderNames(const SearchPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.results) {
      for (const auto& h : r.holders) out.push_back(h.username);
    }
    return out;
  }

  TestDir dir_;
  std::unique_ptr<CentralProcess> central_;
  std::unique_ptr<httplib::Client> raw_;
};

TEST_F(CentralTest, HealthzAndUnknownRoutesAnswerJson) {
  auto& raw = Raw();
  auto health = raw.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(JsonOf(health)["status"], "ok");
  auto missing = raw.Get("/api/v1/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(JsonOf(missing)["error"], "not_found");
  EXPECT_TRUE(JsonOf(missing)["message"].is_string());
}

TEST_F(CentralTest, EveryRouteWorksEndToEnd) {
  LoginReply a, b;
  auto alice = Peer("alice", &a);
  auto bob = Peer("bob", &b);
  EXPECT_EQ(a.username, "alice");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.heartbeat_interval_s, 1);
  EXPECT_EQ(a.session_ttl_s, 3);
  EXPECT_EQ(a.token.size(), 64u);

  EXPECT_EQ(alice->Heartbeat({int64_t{1} << 30, 0})->session_ttl_s, 3);
  EXPECT_EQ(bob->Heartbeat({int64_t{1} << 20, 0})->session_ttl_s, 3);
  EXPECT_EQ(*alice->ReplaceIndex({{"Music/Help.mp3", 100, kHashA, ""}, {"notes.txt", 5, kHashB, ""}}), 2);
  EXPECT_EQ(*bob->ReplaceIndex({{"help-copy.mp3", 100, kHashA, ""}}), 1);
  EXPECT_EQ(*alice->PatchIndex({{"new.txt", 7, kHashB, ""}}, {"notes.txt"}), 2);

  auto search = alice->Search("HELP");
  ASSERT_TRUE(search.ok()) << search.status().ToString();
  EXPECT_EQ(search->total, 2);
  ASSERT_EQ(search->results.size(), 2u);
  EXPECT_EQ(search->results[0].name, "Music/Help.mp3");
  EXPECT_EQ(search->results[0].holders[0], (Holder{"alice", "127.0.0.1", a.port, ""}));
  EXPECT_EQ(alice->Search("notes")->total, 0);  // removed by the patch

  auto file = bob->FindFile(kHashA);
  ASSERT_TRUE(file.ok() && file->has_value());
  EXPECT_EQ((*file)->holders.size(), 2u);
  EXPECT_FALSE(bob->FindFile(std::string(64, '9'))->has_value());

  auto peers = alice->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].username, "alice");
  EXPECT_EQ((*peers)[0].files, 2);
  EXPECT_EQ((*peers)[0].bytes, 107);
  EXPECT_EQ((*peers)[0].last_seen.size(), 20u);  // 2026-11-21T14:16:00Z

  auto target = alice->UploadTarget("big.iso", 1000);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->username, "bob");
  EXPECT_EQ(target->port, b.port);


  auto stats = alice->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->peers_online, 2);
  EXPECT_EQ(stats->accounts, 2);
  EXPECT_EQ(stats->files, 3);
  EXPECT_EQ(stats->unique_files, 3);
  EXPECT_GT(stats->requests, 10);

  // Logout: 204, files gone, the token dead.
  auto& raw = Raw();
  auto out = raw.Post("/api/v1/logout", {{"Authorization", "Bearer " + a.token}}, "", "application/json");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 204);
  EXPECT_EQ(HolderNames(*bob->Search("")), (std::vector<std::string>{"bob"}));
  EXPECT_EQ(alice->Heartbeat().status().reason(), "logged_out");
}

// Central keeps search replies; a change of the index or of who is online
// is in the very next reply.
TEST_F(CentralTest, ARepeatedSearchSeesEveryChangeAtOnce) {
  LoginReply a, b;
  auto alice = Peer("alice", &a);
  auto bob = Peer("bob", &b);
  ASSERT_TRUE(alice->ReplaceIndex({{"live/one.ogg", 1, kHashA, ""}}).ok());
  EXPECT_EQ(bob->Search("live")->total, 1);
  EXPECT_EQ(bob->Search("LIVE")->total, 1);  // the same reply, any case
  ASSERT_TRUE(alice->PatchIndex({{"live/two.ogg", 2, kHashB, ""}}, {}).ok());
  EXPECT_EQ(bob->Search("live")->total, 2);
  ASSERT_TRUE(bob->ReplaceIndex({{"live/two.ogg", 2, kHashB, ""}}).ok());
  auto both = bob->Search("live");
  ASSERT_EQ(both->results.size(), 2u);
  EXPECT_EQ(both->results[0].name, "live/two.ogg");  // two holders first now
  EXPECT_EQ(both->results[0].holders_total, 2);
  ASSERT_TRUE(alice->Logout().ok());
  auto after = bob->Search("live");
  EXPECT_EQ(after->total, 1);
  EXPECT_EQ(after->results[0].holders, (std::vector<Holder>{{"bob", "127.0.0.1", b.port}}));
}

TEST_F(CentralTest, RegistrationErrors) {
  auto c = central_->Client();
  ASSERT_TRUE(c->Register("alice", "alice-password").ok());
  auto taken = c->Register("alice", "other-password");
  EXPECT_EQ(taken.status().reason(), "username_taken");
  EXPECT_EQ(HttpStatusFor(taken.status()), 409);
  EXPECT_EQ(c->Register("../evil", "long-enough").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->Register("bob", "short").status().code(), Code::kInvalidArgument);

  central_->Stop();
  StartCentral(Json{{"allow_registration", false}});
  auto closed = central_->Client()->Register("carol", "carol-password");
  EXPECT_EQ(closed.status().reason(), "registration_closed");
  EXPECT_EQ(HttpStatusFor(closed.status()), 403);
  // Accounts made before still log in.
  EXPECT_TRUE(central_->Client()->Login({"alice", "alice-password", std::nullopt, std::nullopt, {}}).ok());
}

TEST_F(CentralTest, WrongPasswordIs401AndGuessingIsSlowed) {
  auto c = central_->Client();
  ASSERT_TRUE(c->Register("alice", "alice-password").ok());
  auto wrong = c->Login({"alice", "not-it", std::nullopt, std::nullopt, {}});
  EXPECT_EQ(wrong.status().reason(), "bad_credentials");
  EXPECT_EQ(HttpStatusFor(wrong.status()), 401);
  EXPECT_EQ(c->Login({"nobody", "x", std::nullopt, std::nullopt, {}}).status().reason(),
            "bad_credentials");
  for (int i = 0; i < 4; ++i) (void)c->Login({"alice", "guess", std::nullopt, std::nullopt, {}});
  auto& raw = Raw();
  auto slowed = raw.Post("/api/v1/login", R"({"username":"alice","password":"alice-password"})",
                         "application/json");
  ASSERT_TRUE(slowed);
  EXPECT_EQ(slowed->status, 429);
  EXPECT_EQ(JsonOf(slowed)["error"], "too_many_attempts");
  EXPECT_TRUE(slowed->has_header("Retry-After"));
}

TEST_F(CentralTest, MalformedJsonIs400NamingTheField) {
  auto& raw = Raw();
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    const char* mentions;
  } cases[] = {
      {"POST", "/api/v1/register", R"({"username": 5, "password": "long-enough"})", "username"},
      {"POST", "/api/v1/register", R"({"username": "x"})", "password"},
      {"POST", "/api/v1/register", R"({"username": "x", )", "JSON"},
      {"POST", "/api/v1/register", R"([1, 2])", "object"},
      {"POST", "/api/v1/login", R"({"username": "a", "password": "b", "preferred_port": "x"})",
       "preferred_port"},
      {"POST", "/api/v1/login", R"({"username": "a", "password": "b", "client": "yes"})", "client"},
  };
  for (const Case& c : cases) {
    auto r = raw.Post(c.path, c.body, "application/json");
    ASSERT_TRUE(r) << c.body;
    EXPECT_EQ(r->status, 400) << c.body;
    Json j = JsonOf(r);
    EXPECT_EQ(j["error"], "bad_request") << c.body;
    EXPECT_NE(j["message"].get<std::string>().find(c.mentions), std::string::npos)
        << c.body << " -> " << r->body;
  }
  LoginReply a;
  auto alice = Peer("alice", &a);
  httplib::Headers auth{{"Authorization", "Bearer " + a.token}};
  auto bad_index = raw.Put("/api/v1/index", auth,
                           R"({"files": [{"name": "ok", "size": 1, "sha256": ")" + kHashA +
                               R"("}, {"name": "x", "size": "big", "sha256": ")" + kHashA + R"("}]})",
                           "application/json");
  ASSERT_TRUE(bad_index);
  EXPECT_EQ(bad_index->status, 400);
  EXPECT_NE(bad_index->body.find("files[1].size"), std::string::npos) << bad_index->body;
  auto hostile = raw.Patch("/api/v1/index", auth,
                           R"({"added": [{"name": "../../etc/passwd", "size": 1, "sha256": ")" +
                               kHashA + R"("}]})",
                           "application/json");
  ASSERT_TRUE(hostile);
  EXPECT_EQ(hostile->status, 400);
  EXPECT_NE(hostile->body.find("added[0].name"), std::string::npos) << hostile->body;
  auto limit = raw.Get("/api/v1/search?q=x&limit=lots");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->status, 400);
  EXPECT_NE(limit->body.find("limit"), std::string::npos);
  auto too_many = raw.Get("/api/v1/search?q=x&limit=1001");
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->status, 400);
  // Pages end at offset + limit 10000, with a way forward in the message.
  auto deep = raw.Get("/api/v1/search?q=x&limit=50&offset=9960");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->status, 400);
  EXPECT_NE(deep->body.find("more specific"), std::string::npos) << deep->body;
  auto huge = raw.Get("/api/v1/search?q=x&limit=50&offset=9223372036854775807");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 400);
  auto last = raw.Get("/api/v1/search?q=x&limit=50&offset=9950");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200);
  EXPECT_NE(last->body.find("\"total_exact\":true"), std::string::npos) << last->body;
  EXPECT_EQ(*alice->ReplaceIndex({}), 0);  // nothing was half-applied
}

TEST_F(CentralTest, EveryTokenRouteRejectsBadFieldsNamingThem) {
  LoginReply a;
  auto alice = Peer("alice", &a);
  auto& raw = Raw();
  httplib::Headers auth{{"Authorization", "Bearer " + a.token}};
  struct Case {
    const char* method;
    const char* path;
    std::string body;
    int status;
    const char* mentions;
  } cases[] = {
      {"POST", "/api/v1/heartbeat", R"({"free_bytes": "lots"})", 400, "free_bytes"},
      {"POST", "/api/v1/heartbeat", R"({"active_transfers": -1})", 400, "active_transfers"},
      {"POST", "/api/v1/heartbeat", R"({"sending_rate": -5})", 400, "sending_rate"},
      {"POST", "/api/v1/heartbeat", R"({"receiving_rate": "fast"})", 400, "receiving_rate"},
      {"POST", "/api/v1/upload-target", R"({"name": "../x", "size": 1})", 400, "name"},
      {"POST", "/api/v1/upload-target", R"({"name": "x"})", 400, "size"},
      {"PATCH", "/api/v1/index", R"({"removed": [5]})", 400, "removed[0]"},
      {"PATCH", "/api/v1/index", R"({"added": {"name": "x"}})", 400, "added"},
      {"PUT", "/api/v1/index", R"({"files": [{"name": "a", "size": 1, "sha256": "ABC"}]})", 400,
       "files[0].sha256"},
      {"PUT", "/api/v1/index", R"({})", 400, "files"},
  };
  for (const Case& c : cases) {
    httplib::Request req;
    req.method = c.method;
    req.path = c.path;
    req.headers = auth;
    req.body = c.body;
    req.headers.emplace("Content-Type", "application/json");
    auto r = raw.send(req);
    ASSERT_TRUE(r) << c.path << " " << c.body;
    EXPECT_EQ(r->status, c.status) << c.path << " " << c.body << " -> " << r->body;
    EXPECT_NE(JsonOf(r)["message"].get<std::string>().find(c.mentions), std::string::npos)
        << c.path << " " << c.body << " -> " << r->body;
  }
  auto bad_hash = raw.Get("/api/v1/files/not-a-hash");
  ASSERT_TRUE(bad_hash);
  EXPECT_EQ(bad_hash->status, 400);
  auto unknown = raw.Get("/api/v1/files/" + std::string(64, '0'));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(JsonOf(unknown)["error"], "not_found");
  // A body-less POST without Content-Length is answered at once, not after a timeout.
  httplib::Request bare;
  bare.method = "POST";
  bare.path = "/api/v1/logout";
  bare.headers = auth;
  bare.headers.emplace("Transfer-Encoding", "chunked");
  auto length_required = Raw().send(bare);
  ASSERT_TRUE(length_required);
  EXPECT_EQ(length_required->status, 411);
  EXPECT_TRUE(alice->Heartbeat().ok()) << "a refused request must not have logged alice out";
}

TEST_F(CentralTest, OversizedAndChunkedBodiesAreRefused) {
  auto& raw = Raw();
  std::string big(2 * 1024 * 1024, 'x');
  auto r = raw.Post("/api/v1/register", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(JsonOf(r)["error"], "payload_too_large");

  // Chunked: central answers on the headers, without reading the body.
  std::string answer = central_->RawExchange(
                                   "POST /api/v1/register HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 411", 0), 0u) << answer;
  EXPECT_NE(answer.find("length_required"), std::string::npos) << answer;

  // A large JSON body sent as a form (curl -d's default type) is told why.
  std::string index = R"({"files": [)";
  for (int i = 0; i < 200; ++i) {
    index += std::string(i ? "," : "") + R"({"name": "f)" + std::to_string(i) +
             R"(", "size": 1, "sha256": ")" + kHashA + R"("})";
  }
  index += "]}";
  auto form = Raw().Post("/api/v1/register", index, "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  EXPECT_NE(form->body.find("application/json"), std::string::npos) << form->body;

  auto health = Raw().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(CentralTest, TokensAreChecked) {
  LoginReply a;
  auto alice = Peer("alice", &a);
  auto anonymous = central_->Client();
  EXPECT_EQ(anonymous->Heartbeat().status().reason(), "unauthenticated");
  EXPECT_EQ(anonymous->ReplaceIndex({}).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(anonymous->UploadTarget("x", 1).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(anonymous->Logout().code(), Code::kUnauthenticated);
  anonymous->set_token(std::string(64, 'f'));
  EXPECT_EQ(anonymous->Heartbeat().status().reason(), "bad_token");
  // No route tells anyone whose a token is any more.
  auto verify = Raw().Post("/api/v1/verify", Json{{"token", a.token}}.dump(), "application/json");
  ASSERT_TRUE(verify);
  EXPECT_EQ(verify->status, 404);
}

TEST_F(CentralTest, ATokenCannotChangeAnotherPeersIndex) {
  auto alice = Peer("alice");
  auto bob = Peer("bob");
  ASSERT_TRUE(bob->ReplaceIndex({{"bobs-file.txt", 1, kHashB}}).ok());
  // alice's token only ever acts on alice: replacing and removing by bob's
  // file names leaves bob's index alone.
  ASSERT_TRUE(alice->ReplaceIndex({{"bobs-file.txt", 666, kHashA}}).ok());
  ASSERT_TRUE(alice->PatchIndex({}, {"bobs-file.txt"}).ok());
  auto page = bob->Search("bobs-file");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->results.size(), 1u);
  EXPECT_EQ(page->results[0].sha256, kHashB);
  EXPECT_EQ(HolderNames(*page), (std::vector<std::string>{"bob"}));
}

TEST_F(CentralTest, PeersOnOneHostGetDifferentPortsAndLogoutFreesThem) {
  LoginReply a, b, c;
  auto alice = Peer("alice", &a);
  auto bob = Peer("bob", &b);
  EXPECT_NE(a.port, b.port);
  EXPECT_EQ(a.port, 50051);
  EXPECT_EQ(b.port, 50052);
  ASSERT_TRUE(alice->Logout().ok());
  auto carol = Peer("carol", &c);
  EXPECT_EQ(c.port, 50051);
  // A second login of an online account joins its peer: same port.
  LoginReply b2;
  auto bob_client = Peer("bob", &b2);
  EXPECT_EQ(b2.port, b.port);
  EXPECT_NE(b2.token, b.token);
  // Sessions that join (a REPL, each one-shot command) are no news to the
  // dashboard's recent events: bob's peer came online once.
  std::vector<std::unique_ptr<DirectoryClient>> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(Peer("bob"));
  auto reply = central_->Http()->Get("/api/v1/events");
  ASSERT_TRUE(reply);
  const Json events = Json::parse(reply->body);
  int bob_logins = 0;
  for (const Json& e : events["events"]) bob_logins += e["kind"] == "login" && e["username"] == "bob";
  EXPECT_EQ(bob_logins, 1) << reply->body;
}

TEST_F(CentralTest, NoFreePortIs503) {
  central_->Stop();
  StartCentral(Json{{"port_range", {50051, 50051}}});
  auto alice = Peer("alice");
  auto c = central_->Client();
  ASSERT_TRUE(c->Register("bob", "bob-password").ok());
  auto r = c->Login({"bob", "bob-password", std::nullopt, std::nullopt, {}});
  EXPECT_EQ(r.status().reason(), "no_free_port");
  EXPECT_EQ(HttpStatusFor(r.status()), 503);
  // Another host has its own ports.
  EXPECT_EQ(c->Login({"bob", "bob-password", "10.0.0.7", std::nullopt, {}})->port, 50051);
}

TEST_F(CentralTest, NoPeerAvailableIs503) {
  auto alice = Peer("alice");
  auto r = alice->UploadTarget("x.bin", 10);
  EXPECT_EQ(r.status().reason(), "no_peer_available");
  EXPECT_EQ(HttpStatusFor(r.status()), 503);
}

TEST_F(CentralTest, SilentPeerVanishesFromSearchAfterTheTtl) {
  // From before alice's first call: her last contact with central is later
  // still, so her eviction cannot come sooner than the TTL after this
  // (measured from after her calls, a slow build read as "too early").
  auto start = std::chrono::steady_clock::now();
  auto alice = Peer("alice");
  auto bob = Peer("bob");
  ASSERT_TRUE(alice->ReplaceIndex({{"alice-only.txt", 1, kHashA}}).ok());
  ASSERT_TRUE(bob->ReplaceIndex({{"bob-only.txt", 1, kHashB}}).ok());
  ASSERT_EQ(alice->Search("alice-only")->total, 1);
  // bob heartbeats; alice does not.
  bool gone = WaitUntil(
      [&] {
        (void)bob->Heartbeat();
        return alice->Search("alice-only")->total == 0;
      },
      std::chrono::seconds(8));
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(gone) << "alice's file is still searchable 8 s after her last heartbeat";
  EXPECT_GE(waited, std::chrono::milliseconds(2500)) << "evicted before the TTL of 3 s";
  EXPECT_EQ(bob->Search("bob-only")->total, 1);
  auto peers = bob->Peers();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].username, "bob");
  EXPECT_EQ(alice->Heartbeat().status().reason(), "session_expired");
  EXPECT_NE(central_->log().find("evicted alice"), std::string::npos);
}

TEST_F(CentralTest, KillNineAndRestartKeepsAccountsSessionsAndIndex) {
  LoginReply a;
  auto alice = Peer("alice", &a);
  ASSERT_TRUE(alice->ReplaceIndex({{"durable.txt", 42, kHashA}}).ok());
  ASSERT_TRUE(alice->PatchIndex({{"patched.txt", 1, kHashB}}, {}).ok());
  central_->Kill9();
  // Stay down longer than the TTL: the restart must not count the downtime.
  auto down_since = std::chrono::steady_clock::now();
  WaitUntil([&] { return std::chrono::steady_clock::now() - down_since > std::chrono::seconds(4); },
            std::chrono::seconds(5));
  ASSERT_TRUE(central_->Start().ok());
  EXPECT_TRUE(alice->Heartbeat().ok()) << "the session did not survive the restart";
  auto page = alice->Search("");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 2);
  auto peers = alice->Peers();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].port, a.port);
  auto again = central_->Client();
  EXPECT_TRUE(again->Login({"alice", "alice-password", std::nullopt, std::nullopt, {}}).ok());
}

TEST_F(CentralTest, PublicReadFalseNeedsAToken) {
  central_->Stop();
  StartCentral(Json{{"public_read", false}});
  auto anonymous = central_->Client();
  EXPECT_EQ(anonymous->Search("x").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(anonymous->Peers().status().code(), Code::kUnauthenticated);
  EXPECT_EQ(anonymous->Stats().status().code(), Code::kUnauthenticated);
  auto history = Raw().Get("/api/v1/history");  // the plots tell how busy the network is
  ASSERT_TRUE(history);
  EXPECT_EQ(history->status, 401) << history->body;
  auto alice = Peer("alice");
  EXPECT_TRUE(alice->Search("x").ok());
  EXPECT_TRUE(anonymous->Health().ok());
}

TEST_F(CentralTest, SigtermStopsCleanlyAndPromptly) {
  auto alice = Peer("alice");  // leaves an idle keep-alive connection open
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(central_->Stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_EQ(central_->Client()->Health().reason(), "unreachable");
}

TEST(CentralStartupTest, BadConfigStopsWithOneLineNamingTheKey) {
  TestDir dir;
  std::ofstream(dir / "bad.json") << R"({"listen": "127.0.0.1:0", "session_tl_s": 3})";
  auto [code, out] = RunToEnd({CENTRAL_BIN, "--config", dir / "bad.json"}, dir / "out.log");
  EXPECT_EQ(code, 2);  // a config that does not check (docs/protocol.md, "Exit codes")
  EXPECT_NE(out.find("unknown key 'session_tl_s'; did you mean 'session_ttl_s'?"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  auto [code2, out2] = RunToEnd({CENTRAL_BIN, "--listen", "127.0.0.1:0", "--session-ttl-s", "x"},
                                dir / "out2.log");
  EXPECT_EQ(code2, 2);
  EXPECT_NE(out2.find("--session-ttl-s"), std::string::npos) << out2;
}

TEST(CentralStartupTest, TakenListenPortIsAClearError) {
  TestDir dir;
  CentralProcess first(dir.path() / "", Json{{"db", dir / "a.db"}});
  ASSERT_TRUE(first.Start().ok());
  auto [code, out] = RunToEnd({CENTRAL_BIN, "--listen", "127.0.0.1:" + std::to_string(first.port()),
                               "--db", dir / "b.db"},
                              dir / "out.log");
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("cannot listen"), std::string::npos) << out;
  EXPECT_NE(out.find("the port is in use"), std::string::npos) << out;
}

TEST(DirectoryClientTest, UnreachableCentralIsUnavailable) {
  DirectoryClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(500);
  DirectoryClient client("http://127.0.0.1:1", o);
  Status s = client.Health();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.reason(), "unreachable");
}

TEST_F(CentralTest, LogFormatJsonWritesOneObjectALineForALogCollector) {
  central_->Stop();
  StartCentral(Json{{"log_format", "json"}});
  auto peer = Peer("alice");
  ASSERT_TRUE(peer->Logout().ok());
  std::istringstream lines(central_->log());
  std::string line;
  int events = 0;
  bool login = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
    EXPECT_EQ(j.value("program", ""), "central") << line;
    login |= j.value("message", "").find("login of alice") != std::string::npos;
    ++events;
  }
  EXPECT_GE(events, 3);
  EXPECT_TRUE(login) << central_->log();
}

}  // namespace
}  // namespace p2pshare::testing
