#include "central/directory.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/x509.h"
#include "unit/test_dir.h"

namespace p2pshare::central {
namespace {

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open(DirectoryOptions options = Options()) {
    dir_.reset();
    auto store = DirectoryStore::Open(tmp_ / "central.db");
    ASSERT_TRUE(store.ok()) << store.status().message();
    dir_ = std::make_unique<Directory>(std::move(store).value(), options);
    ASSERT_TRUE(dir_->Start(/*run_sweeper=*/false).ok());
  }
  static DirectoryOptions Options() {
    DirectoryOptions o;
    o.port_range = {50051, 50053};
    o.heartbeat_interval_s = 1;
    o.session_ttl_s = 3;
    o.pbkdf2_iterations = 1000;
    o.now = [] { return fake_now; };
    return o;
  }
  LoginReply Join(const std::string& user, std::optional<int64_t> preferred = std::nullopt) {
    auto reg = dir_->Register(user, user + "-password");
    if (!reg.ok()) {
      EXPECT_EQ(reg.status().reason(), "username_taken");
    }
    int64_t retry = 0;
    auto r = dir_->Login(LoginRequest{user, user + "-password", std::nullopt, preferred, {}},
                         "127.0.0.1", &retry);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : LoginReply{};
  }

  static inline Directory::Clock::time_point fake_now = Directory::Clock::now();
  testing::TestDir tmp_;
  std::unique_ptr<Directory> dir_;
};

TEST_F(DirectoryTest, PeersOnOneHostGetDistinctPortsAndLogoutFreesThem) {
  EXPECT_EQ(Join("alice").port, 50051);
  EXPECT_EQ(Join("bob").port, 50052);
  EXPECT_EQ(Join("carol").port, 50053);
  int64_t retry = 0;
  ASSERT_TRUE(dir_->Register("dave", "dave-password").ok());
  auto full = dir_->Login({"dave", "dave-password", std::nullopt, std::nullopt, {}}, "127.0.0.1", &retry);
  EXPECT_EQ(full.status().reason(), "no_free_port");
  ASSERT_TRUE(dir_->Logout("bob").ok());
  EXPECT_EQ(Join("dave").port, 50052);
}

TEST_F(DirectoryTest, FriendsAreThePeersThatJoinedJustBeforeInARing) {
  auto addr = [](const LoginReply& r) { return r.host + ":" + std::to_string(r.port); };
  LoginReply a = Join("alice");
  EXPECT_TRUE(a.friends.empty()) << "nobody else is online";
  LoginReply b = Join("bob");
  EXPECT_EQ(b.friends, std::vector<std::string>{addr(a)});
  LoginReply c = Join("carol");
  EXPECT_EQ(c.friends, (std::vector<std::string>{addr(b), addr(a)}));
  // The ring closes: the first peer's friends wrap around to the newest.
  EXPECT_EQ(dir_->Heartbeat("alice", {})->friends, (std::vector<std::string>{addr(c), addr(b)}));
  EXPECT_EQ(dir_->Heartbeat("bob", {})->friends, (std::vector<std::string>{addr(a), addr(c)}));
  // A second login of an online account keeps its place in the ring.
  EXPECT_EQ(Join("alice").friends, (std::vector<std::string>{addr(c), addr(b)}));
  // Someone leaving closes the gap.
  ASSERT_TRUE(dir_->Logout("bob").ok());
  EXPECT_EQ(dir_->Heartbeat("carol", {})->friends, std::vector<std::string>{addr(a)});
  EXPECT_EQ(dir_->Heartbeat("alice", {})->friends, std::vector<std::string>{addr(c)});
}

TEST_F(DirectoryTest, SecondLoginJoinsThePeerWithItsOwnToken) {
  LoginReply server = Join("alice");
  LoginReply client = Join("alice");
  EXPECT_EQ(client.port, server.port);
  EXPECT_NE(client.token, server.token);
  EXPECT_EQ(*dir_->Authenticate(server.token), "alice");
  EXPECT_EQ(*dir_->Authenticate(client.token), "alice");
  // A logout on either token takes the whole peer off.
  ASSERT_TRUE(dir_->Logout(*dir_->Authenticate(client.token)).ok());
  EXPECT_EQ(dir_->Authenticate(server.token).status().reason(), "logged_out");
}

TEST_F(DirectoryTest, ExcludedPortsAreNeverHandedOut) {
  ASSERT_TRUE(dir_->Register("alice", "alice-password").ok());
  int64_t retry = 0;
  LoginRequest req{"alice", "alice-password", std::nullopt, 50051, {}};
  req.exclude_ports = {50051, 50052};
  EXPECT_EQ(dir_->Login(req, "127.0.0.1", &retry)->port, 50053);
}

TEST_F(DirectoryTest, PreferredPortIsHonouredWhenFree) {
  EXPECT_EQ(Join("alice", 50053).port, 50053);
  EXPECT_EQ(Join("bob", 50053).port, 50051);
}

TEST_F(DirectoryTest, StatsCountWhatTheStoreHolds) {
  const std::string x(64, 'a'), y(64, 'b'), z(64, 'c');
  Join("alice");
  Join("bob");
  ASSERT_TRUE(dir_->ReplaceIndex("alice", {{"a.txt", 10, x}, {"b.txt", 20, y}}).ok());
  ASSERT_TRUE(dir_->ReplaceIndex("bob", {{"a.txt", 10, x}, {"c.txt", 5, z}}).ok());
  ASSERT_TRUE(dir_->PatchIndex("bob", {{"d.txt", 7, y}}, {"c.txt"}).ok());
  auto check = [&](int64_t peers, int64_t files, int64_t unique, int64_t bytes) {
    auto s = dir_->Stats();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->peers_online, peers);
    EXPECT_EQ(s->accounts, 2);
    EXPECT_EQ(s->files, files);
    EXPECT_EQ(s->unique_files, unique);
    EXPECT_EQ(s->bytes, bytes);
    // The same as a SQL count over the store (the durable copy).
    auto store = DirectoryStore::Open(tmp_ / "central.db");
    ASSERT_TRUE(store.ok());
    auto c = (*store)->Counts();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->files, files);
    EXPECT_EQ(c->unique_files, unique);
    EXPECT_EQ(c->bytes, bytes);
  };
  check(2, 4, 3, 10 + 20 + 10 + 7);
  ASSERT_TRUE(dir_->Logout("alice").ok());
  check(1, 2, 2, 10 + 7);
}

TEST_F(DirectoryTest, PartialHoldersAreListedAfterWholeOnesUntilTheyStopSayingSoOrLeave) {
  const std::string x(64, 'a'), root(64, 'e'), other_root(64, 'f');
  Join("alice");
  Join("bob");
  Join("carol");  // the range has three ports
  ASSERT_TRUE(dir_->ReplaceIndex("alice", {{"film.bin", 1000, x, root}}).ok());
  HeartbeatRequest hb;
  hb.partials = std::vector<PartialFile>{{{"film.bin", 1000, x, root}, 400}};
  ASSERT_TRUE(dir_->Heartbeat("bob", hb).ok());
  // carol lies about the size: not listed (the whole holders' size stands).
  HeartbeatRequest liar;
  liar.partials = std::vector<PartialFile>{{{"film.bin", 2000, x, other_root}, 2000}};
  ASSERT_TRUE(dir_->Heartbeat("carol", liar).ok());
  auto found = dir_->FindFile(x);
  ASSERT_TRUE(found.ok() && found->has_value());
  const auto& holders = (*found)->holders;
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0].username, "alice");
  EXPECT_FALSE(holders[0].partial);
  EXPECT_EQ(holders[1].username, "bob");
  EXPECT_TRUE(holders[1].partial);
  EXPECT_EQ(holders[1].have, 400);
  EXPECT_EQ(holders[1].root, root);
  // A heartbeat without the field changes nothing; an empty list clears it.
  ASSERT_TRUE(dir_->Heartbeat("bob", {}).ok());
  EXPECT_EQ((*dir_->FindFile(x))->holders.size(), 2u);
  hb.partials = std::vector<PartialFile>{};
  ASSERT_TRUE(dir_->Heartbeat("bob", hb).ok());
  EXPECT_EQ((*dir_->FindFile(x))->holders.size(), 1u);
  // Found with partial holders alone; gone with the session.
  const std::string y(64, 'b');
  HeartbeatRequest only;
  only.partials = std::vector<PartialFile>{{{"new.bin", 10, y, root}, 5}};
  ASSERT_TRUE(dir_->Heartbeat("carol", only).ok());
  auto fresh = dir_->FindFile(y);
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*fresh)->name, "new.bin");
  EXPECT_TRUE((*fresh)->holders.at(0).partial);
  ASSERT_TRUE(dir_->Logout("carol").ok());
  EXPECT_FALSE(dir_->FindFile(y)->has_value());
}

TEST_F(DirectoryTest, SilentPeersAreEvictedAfterTheTtlOnly) {
  LoginReply a = Join("alice");
  LoginReply b = Join("bob");
  ASSERT_TRUE(dir_->ReplaceIndex("alice", {{"a.txt", 1, std::string(64, 'a')}}).ok());
  EXPECT_EQ(*dir_->Authenticate(a.token), "alice");  // now known without the store
  auto start = fake_now;
  fake_now = start + std::chrono::seconds(2);
  EXPECT_EQ(dir_->SweepOnce(fake_now), 0);
  ASSERT_TRUE(dir_->Heartbeat("bob", {}).ok());
  fake_now = start + std::chrono::milliseconds(3500);
  EXPECT_EQ(dir_->SweepOnce(fake_now), 1);
  EXPECT_EQ(dir_->Authenticate(a.token).status().reason(), "session_expired");
  EXPECT_EQ(*dir_->Authenticate(b.token), "bob");
  EXPECT_EQ(dir_->Search({"a.txt", 50, 0})->total, 0);
  EXPECT_EQ(Join("carol").port, 50051);  // alice's port is free again
}

TEST_F(DirectoryTest, RestartGivesEveryPeerAFullTtl) {
  LoginReply a = Join("alice");
  fake_now += std::chrono::seconds(60);  // central was down for a minute
  Open();  // a new Directory over the same database
  fake_now += std::chrono::milliseconds(2900);
  EXPECT_EQ(dir_->SweepOnce(fake_now), 0);
  fake_now += std::chrono::milliseconds(200);
  EXPECT_EQ(dir_->SweepOnce(fake_now), 1);  // ...but the TTL runs from the restart
  Open();
  a = Join("alice");
  EXPECT_EQ(*dir_->Authenticate(a.token), "alice");
  ASSERT_TRUE(dir_->Heartbeat("alice", {}).ok());
}

TEST_F(DirectoryTest, AClientAloneGetsASessionButNoPortNoPlaceOnlineAndNoEvents) {
  ASSERT_TRUE(dir_->Register("carol", "carol-password").ok());
  const int64_t events_before = dir_->EventsAfter(0).empty() ? 0 : dir_->EventsAfter(0).back().id;
  int64_t retry = 0;
  LoginRequest req{"carol", "carol-password", std::nullopt, std::nullopt, {}};
  req.client = true;
  auto c = dir_->Login(req, "127.0.0.1", &retry);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->port, 0);
  EXPECT_FALSE(c->joined);
  EXPECT_EQ(*dir_->Authenticate(c->token), "carol");
  ASSERT_TRUE(dir_->Heartbeat("carol", {}).ok());
  auto peers = dir_->Peers();
  ASSERT_TRUE(peers.ok());
  EXPECT_TRUE(peers->empty()) << "a client alone is listed online";
  EXPECT_EQ(Join("alice").port, 50051) << "the client took a port";
  // Silent past the TTL: its session ends, unannounced.
  fake_now += std::chrono::seconds(4);
  dir_->SweepOnce(fake_now);
  EXPECT_EQ(dir_->Authenticate(c->token).status().reason(), "session_expired");
  for (const auto& e : dir_->EventsAfter(events_before)) EXPECT_NE(e.username, "carol") << e.kind;
  // A client of an account whose peer is online joins it (its port).
  Open();
  Join("bob");
  req = {"bob", "bob-password", std::nullopt, std::nullopt, {}};
  req.client = true;
  auto joined = dir_->Login(req, "127.0.0.1", &retry);
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->joined);
  EXPECT_NE(joined->port, 0);
}

TEST_F(DirectoryTest, AClientsSessionFromBeforeARestartEnded) {
  ASSERT_TRUE(dir_->Register("carol", "carol-password").ok());
  int64_t retry = 0;
  LoginRequest req{"carol", "carol-password", std::nullopt, std::nullopt, {}};
  req.client = true;
  auto c = dir_->Login(req, "127.0.0.1", &retry);
  ASSERT_TRUE(c.ok());
  Open();  // a restart revives the online peers only; nobody heartbeats this one
  EXPECT_EQ(dir_->Authenticate(c->token).status().reason(), "session_expired");
}

TEST_F(DirectoryTest, WrongPasswordIsRefusedAndGuessingIsSlowed) {
  ASSERT_TRUE(dir_->Register("alice", "alice-password").ok());
  int64_t retry = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = dir_->Login({"alice", "guess" + std::to_string(i), std::nullopt, std::nullopt, {}},
                         "10.1.1.1", &retry);
    EXPECT_EQ(r.status().reason(), "bad_credentials");
  }
  auto blocked = dir_->Login({"alice", "alice-password", std::nullopt, std::nullopt, {}}, "10.1.1.1", &retry);
  EXPECT_EQ(blocked.status().reason(), "too_many_attempts");
  EXPECT_GT(retry, 0);
}

TEST_F(DirectoryTest, RegistrationRules) {
  EXPECT_EQ(dir_->Register("alice", "short").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(dir_->Register("../x", "long-enough").status().code(), Code::kInvalidArgument);
  DirectoryOptions closed = Options();
  closed.allow_registration = false;
  Open(closed);
  EXPECT_EQ(dir_->Register("bob", "long-enough").status().reason(), "registration_closed");
}

TEST_F(DirectoryTest, UploadTargetIsAnotherPeerWithRoomHandedTheFewestUploads) {
  Join("alice");
  Join("bob");
  Join("carol");
  ASSERT_TRUE(dir_->Heartbeat("bob", {100, 2}).ok());
  ASSERT_TRUE(dir_->Heartbeat("carol", {1000, 0}).ok());
  std::map<std::string, int> chosen;
  for (int i = 0; i < 20; ++i) chosen[dir_->UploadTarget("alice", "x.bin", 50)->username]++;
  // Never alice herself; what central handed out, not what each reports,
  // spreads them: neither gets more than one ahead of the other.
  EXPECT_EQ(chosen["alice"], 0);
  EXPECT_EQ(chosen["bob"], 10);
  EXPECT_EQ(chosen["carol"], 10);
  ASSERT_TRUE(dir_->Heartbeat("carol", {10, 0}).ok());  // now too small
  EXPECT_EQ(dir_->UploadTarget("alice", "x.bin", 50)->username, "bob");
  EXPECT_EQ(dir_->UploadTarget("alice", "x.bin", 5000).status().reason(), "no_peer_available");
  EXPECT_EQ(dir_->UploadTarget("alice", "../x", 5).status().code(), Code::kInvalidArgument);
}

TEST_F(DirectoryTest, APeerThatClaimsAbsurdRoomGetsAFairShareAtMost) {
  DirectoryOptions o = Options();
  o.port_range = {50051, 50060};
  Open(o);
  Join("uploader");
  for (const char* honest : {"h1", "h2", "h3", "h4"}) {
    Join(honest);
    ASSERT_TRUE(dir_->Heartbeat(honest, {int64_t{1} << 30, 0}).ok());
  }
  Join("liar");
  ASSERT_TRUE(dir_->Heartbeat("liar", {INT64_MAX, -5}).ok());  // 2^63 bytes free, "-5" transfers
  std::map<std::string, int> chosen;
  for (int i = 0; i < 100; ++i) chosen[dir_->UploadTarget("uploader", "x.bin", 1000)->username]++;
  // Five idle peers with room: a fair share is 20 of 100.
  EXPECT_LE(chosen["liar"], 40) << "the liar's claims bought it more than a fair share";
  EXPECT_GE(chosen["h1"] + chosen["h2"] + chosen["h3"] + chosen["h4"], 60);
}

TEST_F(DirectoryTest, APeerThatAlwaysReportsNoTransfersGetsAFairShareAtMost) {
  DirectoryOptions o = Options();
  o.port_range = {50051, 50060};
  Open(o);
  Join("uploader");
  for (const char* honest : {"h1", "h2", "h3"}) {
    Join(honest);
    ASSERT_TRUE(dir_->Heartbeat(honest, {int64_t{1} << 30, 3}).ok());  // busy, and saying so
  }
  Join("liar");
  ASSERT_TRUE(dir_->Heartbeat("liar", {int64_t{1} << 30, 0}).ok());
  std::map<std::string, int> chosen;
  for (int i = 0; i < 100; ++i) chosen[dir_->UploadTarget("uploader", "x.bin", 1000)->username]++;
  // Before, "0 transfers" won all 100 while the others were busy.
  EXPECT_LE(chosen["liar"], 26) << "a fair share of 100 among four is 25";
  EXPECT_GE(chosen["h1"] + chosen["h2"] + chosen["h3"], 74);
}

TEST_F(DirectoryTest, LoginGivesACertificateForTheRequestersKeyRenewedAndRevoked) {
  testing::TestDir ca_dir;
  auto ca = CertificateAuthority::Open(ca_dir / "ca", {"localhost"});
  ASSERT_TRUE(ca.ok());
  int64_t wall = UnixNow();
  DirectoryOptions o = Options();
  o.ca = ca->get();
  o.cert_lifetime_s = 3600;
  o.unix_now = [&wall] { return wall; };
  Open(o);
  std::string key = *NewPrivateKeyPem();
  ASSERT_TRUE(dir_->Register("alice", "alice-password").ok());
  int64_t retry = 0;
  LoginRequest req{"alice", "alice-password", std::nullopt, std::nullopt, {}, *MakeCsr(key, "peer/alice")};
  auto login = dir_->Login(req, "127.0.0.1", &retry);
  ASSERT_TRUE(login.ok()) << login.status().message();
  EXPECT_EQ(login->ca, (*ca)->ca_pem());
  auto cert = VerifyCertificate(login->certificate, login->ca, UnixNow());
  ASSERT_TRUE(cert.ok()) << cert.status().message();
  EXPECT_EQ(PeerUsername(*cert), "alice");
  EXPECT_TRUE(CertificateMatchesKey(login->certificate, key));
  EXPECT_TRUE(login->revoked.empty());

  // A heartbeat early in its life renews nothing; past half of it, it does.
  EXPECT_TRUE(dir_->Heartbeat("alice", {}, login->token)->certificate.empty());
  wall += 1900;
  auto renewed = dir_->Heartbeat("alice", {}, login->token);
  ASSERT_TRUE(renewed.ok());
  ASSERT_FALSE(renewed->certificate.empty());
  auto fresh = VerifyCertificate(renewed->certificate, login->ca, UnixNow());
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->serial, cert->serial);
  EXPECT_TRUE(CertificateMatchesKey(renewed->certificate, key)) << "the same key, renewed";

  // A bad request is refused before anything happens.
  req.csr = "junk";
  EXPECT_EQ(dir_->Login(req, "127.0.0.1", &retry).status().code(), Code::kInvalidArgument);

  // Logging out revokes both certificates; other peers hear it.
  Join("bob");
  ASSERT_TRUE(dir_->Logout("alice").ok());
  auto beat = dir_->Heartbeat("bob", {});
  ASSERT_TRUE(beat.ok());
  std::set<std::string> revoked(beat->revoked.begin(), beat->revoked.end());
  EXPECT_TRUE(revoked.count(cert->serial));
  EXPECT_TRUE(revoked.count(fresh->serial));
}

TEST_F(DirectoryTest, RevocationsAreToldOnceAPageAtATimeFromTheCallersCursor) {
  testing::TestDir ca_dir;
  auto ca = CertificateAuthority::Open(ca_dir / "ca", {"localhost"});
  ASSERT_TRUE(ca.ok());
  DirectoryOptions o = Options();
  o.ca = ca->get();
  o.pbkdf2_iterations = 10000;
  Open(o);
  std::string key = *NewPrivateKeyPem();
  Join("bob");
  auto first = dir_->Heartbeat("bob", {});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->revoked.empty());
  // 300 login/logout cycles, each revoking one certificate.
  ASSERT_TRUE(dir_->Register("mallory", "mallory-password").ok());
  std::set<std::string> issued;
  for (int i = 0; i < 300; ++i) {
    int64_t retry = 0;
    LoginRequest req{"mallory", "mallory-password", std::nullopt, std::nullopt, {}, *MakeCsr(key, "peer/mallory")};
    req.client = true;
    auto login = dir_->Login(req, "10.0.0.7", &retry);
    ASSERT_TRUE(login.ok()) << login.status().message();
    issued.insert(ReadCertificate(login->certificate)->serial);
    ASSERT_TRUE(dir_->Logout("mallory").ok());
  }
  // bob, who had heard of none, hears of them in two pages, then nothing.
  std::set<std::string> told;
  HeartbeatRequest req;
  req.revoked_after = first->revoked_seq;
  auto page1 = dir_->Heartbeat("bob", req);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(page1->revoked.size(), kRevokedPerReply);
  EXPECT_TRUE(page1->revoked_more);
  told.insert(page1->revoked.begin(), page1->revoked.end());
  req.revoked_after = page1->revoked_seq;
  auto page2 = dir_->Heartbeat("bob", req);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->revoked.size(), 300 - kRevokedPerReply);
  EXPECT_FALSE(page2->revoked_more);
  told.insert(page2->revoked.begin(), page2->revoked.end());
  EXPECT_EQ(told, issued);
  req.revoked_after = page2->revoked_seq;
  auto quiet = dir_->Heartbeat("bob", req);
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->revoked.empty());
  EXPECT_EQ(quiet->revoked_seq, page2->revoked_seq);
  // A cursor from another database (ahead of everything here): told everything again.
  req.revoked_after = page2->revoked_seq + 1000;
  EXPECT_EQ(dir_->Heartbeat("bob", req)->revoked.size(), kRevokedPerReply);
}

TEST_F(DirectoryTest, TooManyPeersFromOneAddressAreRefused) {
  DirectoryOptions o = Options();
  o.max_peers_per_address = 2;
  Open(o);
  for (const char* u : {"a1", "a2", "a3"}) ASSERT_TRUE(dir_->Register(u, std::string(u) + "-password").ok());
  int64_t retry = 0;
  auto login = [&](const char* u, const char* from) {
    return dir_->Login({u, std::string(u) + "-password", std::nullopt, std::nullopt, {}}, from, &retry);
  };
  EXPECT_TRUE(login("a1", "10.0.0.9").ok());
  EXPECT_TRUE(login("a2", "10.0.0.9").ok());
  EXPECT_EQ(login("a3", "10.0.0.9").status().reason(), "too_many_peers");
  EXPECT_TRUE(login("a1", "10.0.0.9").ok()) << "joining an online peer adds none";
  EXPECT_TRUE(login("a3", "10.0.0.10").ok()) << "another address";
  ASSERT_TRUE(dir_->Logout("a2").ok());
  ASSERT_TRUE(dir_->Logout("a3").ok());
  EXPECT_TRUE(login("a3", "10.0.0.9").ok()) << "room again after a logout";
}

TEST_F(DirectoryTest, ReportedLoadIsClampedToWhatAPeerCanHave) {
  Join("alice");
  Join("bob");
  ASSERT_TRUE(dir_->Heartbeat("bob", {INT64_MAX, INT64_MAX}).ok());
  auto target = dir_->UploadTarget("alice", "x.bin", 10);
  ASSERT_TRUE(target.ok());
  // Clamped, not believed: 2^63 free bytes count as 1 PiB.
  EXPECT_EQ(dir_->UploadTarget("alice", "x.bin", (int64_t{1} << 50) + 1).status().reason(),
            "no_peer_available");
}

TEST_F(DirectoryTest, TransfersPeersReportAreListedClampedToWhatAPeerCanDo) {
  Join("alice");
  Join("bob");
  HeartbeatRequest hb;
  hb.active_transfers = 3;
  hb.sending_rate = 5 << 20;
  hb.receiving_rate = INT64_MAX;  // a boast: not believed past 128 GiB/s
  ASSERT_TRUE(dir_->Heartbeat("bob", hb).ok());
  auto peers = dir_->Peers();
  ASSERT_TRUE(peers.ok());
  for (const PeerInfo& p : *peers) {
    if (p.username == "bob") {
      EXPECT_EQ(p.active_transfers, 3);
      EXPECT_EQ(p.sending_rate, 5 << 20);
      EXPECT_EQ(p.receiving_rate, Sessions::kMaxRate);
    } else {
      EXPECT_EQ(p.active_transfers, 0);
      EXPECT_EQ(p.sending_rate, 0);
    }
  }
  // And the JSON a dashboard reads round-trips.
  auto back = PeerInfoFromJson(ToJson(peers->front()), "peers[0]");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->receiving_rate, peers->front().receiving_rate);
}

TEST_F(DirectoryTest, DuplicateNamesInOneIndexAreRefused) {
  Join("alice");
  std::string h(64, 'a');
  auto r = dir_->ReplaceIndex("alice", {{"x", 1, h}, {"x", 2, h}});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("files[1]"), std::string::npos);
}

}  // namespace
}  // namespace p2pshare::central
