// The shared DirectoryStore suite: every backend must pass it. Backends are
// listed in INSTANTIATE_TEST_SUITE_P at the bottom.
#include "central/store/directory_store.h"
#include "central/store/postgres_store.h"

#include <gtest/gtest.h>

#include <thread>

#include <sqlite3.h>
#include <sys/stat.h>

#include <functional>

#include "unit/test_database.h"
#include "unit/test_dir.h"

namespace p2pshare::central {
namespace {

// A backend's store URL for one test; `keep` holds what must outlive it
// (a PostgreSQL database of its own).
struct StoreUrl {
  std::string url;
  std::shared_ptr<void> keep;
};
struct StoreFactory {
  const char* backend;
  std::function<StoreUrl(const testing::TestDir&)> make;
};
void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.backend; }

class DirectoryStoreTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    StoreUrl made = GetParam().make(dir_);
    if (made.url.empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
    url_ = made.url;
    keep_ = made.keep;
    Reopen();
  }
  void TearDown() override { store_.reset(); }
  void Reopen() {
    store_.reset();
    auto s = DirectoryStore::Open(url_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  void Online(const std::string& user, int port, const std::string& host = "127.0.0.1") {
    ASSERT_TRUE(store_->CreateAccount({user, "hash"}).ok());
    ASSERT_TRUE(store_->AddPeer({user, host, port}).ok());
  }
  static FileEntry File(const std::string& name, int64_t size, char hash) {
    return FileEntry{name, size, std::string(64, hash)};
  }
  std::vector<std::string> Names(const SearchPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.results) out.push_back(r.name);
    return out;
  }
  SearchPage Find(const std::string& q, int64_t limit = 50, int64_t offset = 0) {
    auto r = store_->Search(SearchQuery{q, limit, offset});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : SearchPage{};
  }

  testing::TestDir dir_;
  std::string url_;
  std::shared_ptr<void> keep_;
  std::unique_ptr<DirectoryStore> store_;
};

TEST_P(DirectoryStoreTest, WishesKeepTheirBoundsAndWhatTheyTold) {
  ASSERT_TRUE(store_->CreateAccount({"alice", "hash"}).ok());
  ASSERT_TRUE(store_->CreateAccount({"bob", "hash"}).ok());
  const WishBounds bounds{2, 3, 4};
  auto a1 = store_->AddWish({0, "alice", "beatles", "10.0.0.1", 0, {1, 0xffffffffffffffffULL}}, bounds);
  ASSERT_TRUE(a1.ok()) << a1.status().message();
  EXPECT_GT(a1->id, 0);
  EXPECT_GT(a1->created_unix, 0);
  ASSERT_TRUE(store_->AddWish({0, "alice", "zoe", "10.0.0.1", 0, {}}, bounds).ok());
  EXPECT_NE(store_->AddWish({0, "alice", "x1", "10.0.0.2", 0, {}}, bounds).status().message().find("for this account"),
            std::string::npos);
  ASSERT_TRUE(store_->AddWish({0, "bob", "x2", "10.0.0.1", 0, {}}, bounds).ok());
  EXPECT_NE(store_->AddWish({0, "bob", "x3", "10.0.0.1", 0, {}}, bounds).status().message().find("from this address"),
            std::string::npos);
  ASSERT_TRUE(store_->AddWish({0, "bob", "x4", "10.0.0.2", 0, {}}, bounds).ok());
  auto full = store_->AddWish({0, "carol", "x5", "10.0.0.3", 0, {}}, bounds);
  EXPECT_EQ(full.status().reason(), "too_many_wishes");
  ASSERT_TRUE(store_->SetWishSeen(a1->id, {7, 8, 9}).ok());
  Reopen();
  auto mine = store_->ListWishes("alice");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].query, "beatles");
  EXPECT_EQ((*mine)[0].seen, (std::vector<uint64_t>{7, 8, 9}));
  EXPECT_EQ(store_->ListWishes("")->size(), 4u);
  EXPECT_EQ(store_->RemoveWish("bob", a1->id).reason(), "not_found");  // not bob's
  ASSERT_TRUE(store_->RemoveWish("alice", a1->id).ok());
  EXPECT_EQ(store_->ListWishes("alice")->size(), 1u);
}

TEST_P(DirectoryStoreTest, AccountsAreUnique) {
  ASSERT_TRUE(store_->CreateAccount({"alice", "h1"}).ok());
  Status again = store_->CreateAccount({"alice", "h2"});
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(again.reason(), "username_taken");
  auto found = store_->FindAccount("alice");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->password_hash, "h1");
  EXPECT_FALSE(store_->FindAccount("bob")->has_value());
}

TEST_P(DirectoryStoreTest, OnePortPerHost) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->CreateAccount({"bob", "h"}).ok());
  EXPECT_EQ(store_->AddPeer({"bob", "127.0.0.1", 50051}).code(), Code::kAlreadyExists);
  EXPECT_TRUE(store_->AddPeer({"bob", "10.0.0.2", 50051}).ok());  // other host: fine
  EXPECT_EQ(*store_->PortsInUse("127.0.0.1"), (std::set<int>{50051}));
}

TEST_P(DirectoryStoreTest, ReplaceIndexDropsOldFiles) {
  Online("alice", 50051);
  ASSERT_EQ(*store_->ReplaceIndex("alice", {File("a.txt", 1, 'a'), File("b.txt", 2, 'b')}), 2);
  ASSERT_EQ(*store_->ReplaceIndex("alice", {File("c.txt", 3, 'c')}), 1);
  EXPECT_EQ(Names(Find("")), (std::vector<std::string>{"c.txt"}));
}

TEST_P(DirectoryStoreTest, PatchIndexAddsReplacesAndRemoves) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("a.txt", 1, 'a'), File("b.txt", 2, 'b')}).ok());
  auto count = store_->PatchIndex("alice", {File("b.txt", 5, 'e'), File("d.txt", 4, 'd')},
                                  {"a.txt", "never-there.txt"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  SearchPage all = Find("");
  EXPECT_EQ(Names(all), (std::vector<std::string>{"b.txt", "d.txt"}));
  EXPECT_EQ(all.results[0].size, 5);
  EXPECT_EQ(all.results[0].sha256, std::string(64, 'e'));
}

TEST_P(DirectoryStoreTest, IndexOfAnOfflinePeerIsRefused) {
  ASSERT_TRUE(store_->CreateAccount({"ghost", "h"}).ok());
  EXPECT_EQ(store_->ReplaceIndex("ghost", {File("a", 1, 'a')}).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->PatchIndex("ghost", {}, {}).status().code(), Code::kNotFound);
}

TEST_P(DirectoryStoreTest, SearchIsCaseInsensitiveSubstring) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("Music/The Beatles - Help.mp3", 1, 'a'),
                                             File("notes.TXT", 2, 'b'),
                                             File("beat.wav", 3, 'c')})
                  .ok());
  EXPECT_EQ(Names(Find("BEAT")),
            (std::vector<std::string>{"Music/The Beatles - Help.mp3", "beat.wav"}));
  EXPECT_EQ(Names(Find("txt")), (std::vector<std::string>{"notes.TXT"}));
  EXPECT_EQ(Find("nothing").total, 0);
}

TEST_P(DirectoryStoreTest, SearchGlobs) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("The Beatles - Help.mp3", 1, 'a'),
                                             File("beat.wav", 2, 'b'), File("a1.txt", 3, 'c'),
                                             File("a22.txt", 4, 'd'), File("x[1].txt", 5, 'e')})
                  .ok());
  EXPECT_EQ(Names(Find("beat*mp3")), (std::vector<std::string>{"The Beatles - Help.mp3"}));
  EXPECT_EQ(Names(Find("*.wav")), (std::vector<std::string>{"beat.wav"}));
  EXPECT_EQ(Names(Find("a?.txt")), (std::vector<std::string>{"a1.txt"}));
  EXPECT_EQ(Names(Find("[1]")), (std::vector<std::string>{"x[1].txt"}));  // brackets literal
  EXPECT_EQ(Names(Find("%")), std::vector<std::string>{});                 // no SQL LIKE leaks
}

TEST_P(DirectoryStoreTest, OneResultPerNameAndHashWithAllHolders) {
  Online("alice", 50051);
  Online("bob", 50052);
  Online("carol", 50053);
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("song.mp3", 10, 'a')}).ok());
  ASSERT_TRUE(store_->ReplaceIndex("bob", {File("song.mp3", 10, 'a')}).ok());
  ASSERT_TRUE(store_->ReplaceIndex("carol", {File("song.mp3", 11, 'b')}).ok());
  SearchPage page = Find("song");
  ASSERT_EQ(page.total, 2);
  ASSERT_EQ(page.results.size(), 2u);
  EXPECT_EQ(page.results[0].holders,
            (std::vector<Holder>{{"alice", "127.0.0.1", 50051}, {"bob", "127.0.0.1", 50052}}));
  EXPECT_EQ(page.results[1].holders, (std::vector<Holder>{{"carol", "127.0.0.1", 50053}}));
}

TEST_P(DirectoryStoreTest, SearchPages) {
  Online("alice", 50051);
  std::vector<FileEntry> files;
  for (int i = 0; i < 25; ++i) {
    files.push_back(File("f" + std::string(i < 10 ? "0" : "") + std::to_string(i), i, 'a'));
  }
  ASSERT_TRUE(store_->ReplaceIndex("alice", files).ok());
  SearchPage p = Find("f", 10, 20);
  EXPECT_EQ(p.total, 25);
  EXPECT_EQ(Names(p), (std::vector<std::string>{"f20", "f21", "f22", "f23", "f24"}));
  EXPECT_EQ(Find("f", 10, 100).results.size(), 0u);
  EXPECT_EQ(Find("f", 0, 0).total, 25);
}

TEST_P(DirectoryStoreTest, RemovePeerDropsItsFilesAndEndsItsSessions) {
  Online("alice", 50051);
  Online("bob", 50052);
  ASSERT_TRUE(store_->AddSession({"t1", "alice", SessionState::kActive, ""}, 100).ok());
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("shared.bin", 1, 'a')}).ok());
  ASSERT_TRUE(store_->ReplaceIndex("bob", {File("shared.bin", 1, 'a')}).ok());
  auto removed = store_->RemovePeer("alice", SessionState::kExpired, 200);
  ASSERT_TRUE(removed.ok() && removed->has_value());
  EXPECT_EQ((*removed)->port, 50051);
  SearchPage page = Find("shared");
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_EQ(page.results[0].holders.size(), 1u);
  EXPECT_EQ(page.results[0].holders[0].username, "bob");
  EXPECT_EQ((*store_->FindSession("t1"))->state, SessionState::kExpired);
  EXPECT_FALSE(store_->RemovePeer("alice", SessionState::kExpired, 300)->has_value());
  EXPECT_TRUE(store_->PortsInUse("127.0.0.1")->count(50051) == 0);
}

TEST_P(DirectoryStoreTest, FindByHashAndListPeers) {
  Online("alice", 50051);
  Online("bob", 50052);
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("b-name", 7, 'f'), File("other", 3, 'e')}).ok());
  ASSERT_TRUE(store_->ReplaceIndex("bob", {File("a-name", 7, 'f')}).ok());
  auto found = store_->FindByHash(std::string(64, 'f'));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "a-name");
  EXPECT_EQ((*found)->holders.size(), 2u);
  EXPECT_FALSE(store_->FindByHash(std::string(64, '0'))->has_value());
  auto peers = store_->ListPeers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[0].files, 2);
  EXPECT_EQ((*peers)[0].bytes, 10);
  auto counts = store_->Counts();
  EXPECT_EQ(counts->accounts, 2);
  EXPECT_EQ(counts->files, 3);
  EXPECT_EQ(counts->unique_files, 3);
  EXPECT_EQ(counts->bytes, 17);
}

TEST_P(DirectoryStoreTest, EverythingSurvivesReopening) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->AddSession({"tok", "alice", SessionState::kActive, ""}, 1).ok());
  FileEntry with_root = File("tree.bin", 2, 'b');
  with_root.root = std::string(64, '7');
  ASSERT_TRUE(store_->ReplaceIndex("alice", {File("kept.txt", 1, 'a'), with_root}).ok());
  Reopen();
  auto found = store_->FindByHash(std::string(64, 'b'));
  ASSERT_TRUE(found.ok() && found->has_value());
  ASSERT_EQ((*found)->holders.size(), 1u);
  EXPECT_EQ((*found)->holders[0].root, std::string(64, '7'));  // the index central rebuilds from
  EXPECT_EQ(store_->ListFiles("alice")->at(1), with_root);
  EXPECT_TRUE(store_->FindAccount("alice")->has_value());
  EXPECT_EQ((*store_->FindSession("tok"))->state, SessionState::kActive);
  EXPECT_EQ(Names(Find("kept")), (std::vector<std::string>{"kept.txt"}));
  EXPECT_EQ(store_->ListPeerRecords()->size(), 1u);
}

TEST_P(DirectoryStoreTest, PurgeForgetsOnlyOldEndedSessions) {
  Online("alice", 50051);
  ASSERT_TRUE(store_->AddSession({"old", "alice", SessionState::kActive, ""}, 1).ok());
  ASSERT_TRUE(store_->RemovePeer("alice", SessionState::kLoggedOut, 10).ok());
  ASSERT_TRUE(store_->AddSession({"new", "alice", SessionState::kActive, ""}, 20).ok());
  ASSERT_TRUE(store_->PurgeEndedSessions(15).ok());
  EXPECT_FALSE(store_->FindSession("old")->has_value());
  EXPECT_TRUE(store_->FindSession("new")->has_value());
}

// A database of schema 1 (the first release) opens as schema 2 with its
// index intact, and one of a newer schema is refused.
TEST(SqliteSchemaTest, VersionOneIsMigratedAndNewerRefused) {
  testing::TestDir dir;
  const std::string path = dir / "v1.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE accounts(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
      "  created_at INTEGER NOT NULL DEFAULT (unixepoch()));"
      "CREATE TABLE peers(username TEXT PRIMARY KEY REFERENCES accounts(username),"
      "  host TEXT NOT NULL, port INTEGER NOT NULL, UNIQUE(host, port));"
      "CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES "
      "  accounts(username), state INTEGER NOT NULL, created_at INTEGER NOT NULL, ended_at INTEGER);"
      "CREATE INDEX sessions_by_user ON sessions(username, state);"
      "CREATE TABLE files(username TEXT NOT NULL REFERENCES peers(username) ON DELETE CASCADE,"
      "  name TEXT NOT NULL, name_lower TEXT NOT NULL, size INTEGER NOT NULL,"
      "  sha256 TEXT NOT NULL, PRIMARY KEY(username, name)) WITHOUT ROWID;"
      "CREATE INDEX files_by_name ON files(name, sha256);"
      "CREATE INDEX files_by_hash ON files(sha256);"
      "INSERT INTO accounts(username, password_hash) VALUES('alice', 'h');"
      "INSERT INTO peers VALUES('alice', '127.0.0.1', 50051);"
      "INSERT INTO files VALUES('alice', 'Music/A.mp3', 'music/a.mp3', 3, "
      "  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');"
      "PRAGMA user_version=1;";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  {
    auto store = DirectoryStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto files = (*store)->ListFiles("alice");
    ASSERT_TRUE(files.ok());
    ASSERT_EQ(files->size(), 1u);
    EXPECT_EQ((*files)[0], (FileEntry{"Music/A.mp3", 3, std::string(64, 'a')}));
    EXPECT_EQ((*store)->Search(SearchQuery{"a.MP3", 50, 0})->total, 1);
  }
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = DirectoryStore::Open(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), Code::kFailedPrecondition);
}

TEST_P(DirectoryStoreTest, CertificatesAreRevokedWithTheirAccountAndForgottenWhenExpired) {
  Online("alice", 50051);
  Online("bob", 50052);
  ASSERT_TRUE(store_->AddSession({"ta", "alice", SessionState::kActive, "KEY-A"}, 1000).ok());
  ASSERT_TRUE(store_->AddCertificate({"a1", "alice", "ta", 5000}).ok());
  ASSERT_TRUE(store_->AddCertificate({"a2", "alice", "ta", 8000}).ok());
  ASSERT_TRUE(store_->AddCertificate({"b1", "bob", "tb", 8000}).ok());
  EXPECT_EQ(store_->FindSession("ta")->value().public_key, "KEY-A");
  EXPECT_EQ(store_->NewestCertificate("ta")->value().serial, "a2");
  EXPECT_FALSE(store_->NewestCertificate("nobody")->has_value());
  EXPECT_TRUE(store_->RevokedAfter(0, 1000)->empty());

  ASSERT_TRUE(store_->RemovePeer("alice", SessionState::kLoggedOut, 6000).ok());
  // a1 had expired by then: nothing to revoke; a2 is revoked; bob's stays.
  auto revoked = store_->RevokedAfter(0, 6000);
  ASSERT_TRUE(revoked.ok() && revoked->size() == 1);
  const RevokedCertificate a2 = revoked->front();
  EXPECT_EQ(a2.serial, "a2");
  EXPECT_EQ(a2.not_after, 8000);
  EXPECT_GT(a2.seq, 0);
  EXPECT_TRUE(store_->RevokedAfter(a2.seq, 6000)->empty()) << "nothing since";
  EXPECT_TRUE(store_->RevokedAfter(0, 9000)->empty()) << "expired: no longer listed";
  // bob's revocation comes after alice's, in one step for all his.
  ASSERT_TRUE(store_->AddSession({"tb", "bob", SessionState::kActive, "KEY-B"}, 1000).ok());
  ASSERT_TRUE(store_->AddCertificate({"b2", "bob", "tb", 8500}).ok());
  ASSERT_TRUE(store_->RemovePeer("bob", SessionState::kLoggedOut, 6100).ok());
  auto since = store_->RevokedAfter(a2.seq, 6100);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 2u);
  EXPECT_EQ((*since)[0].serial, "b1");
  EXPECT_EQ((*since)[1].serial, "b2");
  EXPECT_EQ((*since)[0].seq, (*since)[1].seq);
  EXPECT_GT((*since)[0].seq, a2.seq);
  // A second logout revokes nothing again.
  ASSERT_TRUE(store_->RemovePeer("alice", SessionState::kLoggedOut, 6200).ok());
  EXPECT_EQ(store_->RevokedAfter(0, 6200)->size(), 3u);
  Reopen();
  EXPECT_EQ(store_->RevokedAfter(0, 6000)->front(), a2) << "kept";
  ASSERT_TRUE(store_->PurgeEndedSessions(9000).ok());
  EXPECT_FALSE(store_->NewestCertificate("ta")->has_value());
}

// Takes a database made by this build back to schema `version`: undoes
// each later step, newest first (the migration tests' starting points).
::testing::AssertionResult DowngradeTo(testing::TestDatabase& db, int version) {
  struct Undo {
    int version;
    std::vector<const char*> sql;
  };
  const Undo steps[] = {
      {5, {"DROP TABLE wishes"}},
      {4, {"ALTER TABLE live DROP COLUMN serving"}},
      {3, {"ALTER TABLE live DROP COLUMN reachable, DROP COLUMN reach_why"}},
      {2, {"DROP INDEX certificates_by_revocation", "ALTER TABLE certificates DROP COLUMN revoked_seq"}},
  };
  for (const Undo& step : steps) {
    if (step.version <= version) break;
    for (const char* sql : step.sql) {
      if (!db.Run(sql)) return ::testing::AssertionFailure() << sql;
    }
  }
  if (!db.Run(("DELETE FROM schema_version WHERE version > " + std::to_string(version)).c_str())) {
    return ::testing::AssertionFailure() << "schema_version";
  }
  return ::testing::AssertionSuccess();
}

// A database whose schema is newer than this build is refused, not used.
TEST(PostgresSchemaTest, NewerSchemaIsRefused) {
  testing::TestDatabase db;
  if (db.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  ASSERT_TRUE(DirectoryStore::Open(db.url()).ok());
  ASSERT_TRUE(db.Run("INSERT INTO schema_version VALUES(99)"));
  auto newer = DirectoryStore::Open(db.url());
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), Code::kFailedPrecondition);
}

// A version 1 database (before revocations were numbered) is migrated:
// what it had revoked is numbered, in the order of expiry.
TEST(PostgresSchemaTest, VersionOneIsMigrated) {
  testing::TestDatabase db;
  if (db.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  ASSERT_TRUE(DirectoryStore::Open(db.url()).ok());
  ASSERT_TRUE(DowngradeTo(db, 1));
  ASSERT_TRUE(db.Run("INSERT INTO certificates VALUES('s2', 'alice', 't', 9500, true), "
                     "('s1', 'alice', 't', 9000, true), ('s3', 'bob', 'u', 9000, false)"));
  auto store = DirectoryStore::Open(db.url());
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto revoked = (*store)->RevokedAfter(0, 1000);
  ASSERT_TRUE(revoked.ok());
  ASSERT_EQ(revoked->size(), 2u);
  EXPECT_EQ((*revoked)[0].serial, "s1");
  EXPECT_EQ((*revoked)[1].serial, "s2");
  EXPECT_LT((*revoked)[0].seq, (*revoked)[1].seq);
}

// A version 3 database (before heartbeats said whom a peer serves) is
// migrated: live peers keep their rows, serve nobody yet, and what a
// heartbeat says they serve is kept.
TEST(PostgresSchemaTest, VersionThreeIsMigrated) {
  testing::TestDatabase db;
  if (db.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  ASSERT_TRUE(DirectoryStore::Open(db.url()).ok());
  ASSERT_TRUE(DowngradeTo(db, 3));
  ASSERT_TRUE(db.Run("INSERT INTO accounts VALUES('alice', 'hash')"));
  ASSERT_TRUE(db.Run("INSERT INTO live(username) VALUES('alice')"));
  auto store = DirectoryStore::Open(db.url());
  ASSERT_TRUE(store.ok()) << store.status().message();
  ReplicaStore* replica = (*store)->replica();
  auto before = replica->Live("alice");
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_TRUE((*before)->serving.empty());
  PeerLoad load;
  load.serving = {ServingTo{"carol", 1048576}, ServingTo{"dave", 5}};
  ASSERT_TRUE(replica->Heartbeat("alice", load).ok());
  auto after = replica->Live("alice");
  ASSERT_TRUE(after.ok() && after->has_value());
  ASSERT_EQ((*after)->serving.size(), 2u);
  EXPECT_EQ((*after)->serving[0].to, "carol");
  EXPECT_EQ((*after)->serving[0].rate, 1048576);
  EXPECT_EQ((*after)->serving[1].to, "dave");
}

// A version 2 database (before central checked peers' addresses) is
// migrated: live peers keep their rows, and a check's answer can be kept.
TEST(PostgresSchemaTest, VersionTwoIsMigrated) {
  testing::TestDatabase db;
  if (db.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  ASSERT_TRUE(DirectoryStore::Open(db.url()).ok());
  ASSERT_TRUE(DowngradeTo(db, 2));
  ASSERT_TRUE(db.Run("INSERT INTO accounts VALUES('alice', 'hash')"));
  ASSERT_TRUE(db.Run("INSERT INTO live(username) VALUES('alice')"));
  auto store = DirectoryStore::Open(db.url());
  ASSERT_TRUE(store.ok()) << store.status().message();
  ReplicaStore* replica = (*store)->replica();
  auto before = replica->Live("alice");
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_EQ((*before)->reachable, "") << "not checked yet";
  ASSERT_TRUE(replica->SetReachability("alice", "unreachable", "connection refused").ok());
  auto after = replica->Live("alice");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->reachable, "unreachable");
  EXPECT_EQ((*after)->reach_why, "connection refused");
  EXPECT_EQ(replica->SetReachability("bob", "direct", "").code(), Code::kNotFound) << "bob is not live";
}

// A version 4 database (before wishes) is migrated: its accounts can make
// wishes at once.
TEST(PostgresSchemaTest, VersionFourIsMigrated) {
  testing::TestDatabase db;
  if (db.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
  ASSERT_TRUE(DirectoryStore::Open(db.url()).ok());
  ASSERT_TRUE(DowngradeTo(db, 4));
  ASSERT_TRUE(db.Run("INSERT INTO accounts VALUES('alice', 'hash')"));
  auto store = DirectoryStore::Open(db.url());
  ASSERT_TRUE(store.ok()) << store.status().message();
  ASSERT_TRUE((*store)->AddWish({0, "alice", "beatles", "10.0.0.1", 0, {}}, WishBounds{1, 1, 1}).ok());
  EXPECT_EQ((*store)->ListWishes("alice")->size(), 1u);
}

// A store on a database of its own, for what only PostgreSQL replicas
// share; skipped when the run has no PostgreSQL cluster.
class PostgresReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (db_.url().empty()) GTEST_SKIP() << "no PostgreSQL cluster for this run";
    auto store = DirectoryStore::Open(db_.url());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    replica_ = store_->replica();
    ASSERT_NE(replica_, nullptr);
  }
  testing::TestDatabase db_;
  std::unique_ptr<DirectoryStore> store_;
  ReplicaStore* replica_ = nullptr;
};

// Heartbeats from many threads at once are written in groups: each caller
// still learns about its own account alone — written (and its load kept),
// or NotFound when its account has no liveness — whatever it was grouped
// with.
TEST_F(PostgresReplicaTest, HeartbeatsWrittenTogetherAnswerEachCallerAlone) {
  ReplicaStore* replica = replica_;
  constexpr int kAccounts = 40;
  for (int i = 0; i < kAccounts; ++i) {
    const std::string user = "u" + std::to_string(i);
    ASSERT_TRUE(store_->CreateAccount({user, "hash"}).ok());
    if (i % 4 != 0) {  // every 4th is not live
      ASSERT_TRUE(replica->TouchLogin(user).ok());
    }
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(kAccounts * 5);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (size_t k = static_cast<size_t>(t); k < results.size(); k += 8) {
        const int i = static_cast<int>(k % kAccounts);
        PeerLoad load;
        load.active_transfers = i;
        load.free_bytes = int64_t{1000} * i;
        results[k] = replica->Heartbeat("u" + std::to_string(i), load);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < results.size(); ++k) {
    const int i = static_cast<int>(k % kAccounts);
    if (i % 4 == 0) {
      EXPECT_EQ(results[k].code(), Code::kNotFound) << "u" << i;
    } else {
      EXPECT_TRUE(results[k].ok()) << "u" << i << ": " << results[k].message();
    }
  }
  auto all = replica->AllLive();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kAccounts - kAccounts / 4));
  for (const auto& [user, load] : *all) {
    const int i = std::stoi(user.substr(1));
    EXPECT_EQ(load.active_transfers, i) << user;
    EXPECT_EQ(load.free_bytes, int64_t{1000} * i) << user;
  }
}

// The counts replicas share for failed logins and registrations follow
// auth.h's and limits.h's rules; old counts are forgotten.
TEST_F(PostgresReplicaTest, LoginAndRegistrationCountsFollowTheRulesAndAreForgotten) {
  ReplicaStore* r = replica_;
  const ThrottlePolicy policy;
  for (int i = 0; i < policy.free_failures - 1; ++i) {
    ASSERT_TRUE(r->RecordLoginFailure("alice", "192.0.2.1", policy).ok());
    EXPECT_EQ(*r->LoginRetryAfter("alice", "192.0.2.1", policy), 0) << "failure " << i + 1 << " is free";
  }
  ASSERT_TRUE(r->RecordLoginFailure("alice", "192.0.2.1", policy).ok());
  EXPECT_GE(*r->LoginRetryAfter("alice", "192.0.2.1", policy), 1);
  EXPECT_EQ(*r->LoginRetryAfter("alice", "198.51.100.7", policy), 0) << "another address is not held up";
  EXPECT_EQ(*r->LoginRetryAfter("bob", "192.0.2.1", policy), 0) << "the address has 20 free failures";
  // A success clears the pair's count and makes the pair known.
  ASSERT_TRUE(r->RecordLoginSuccess("alice", "192.0.2.1").ok());
  EXPECT_EQ(*r->LoginRetryAfter("alice", "192.0.2.1", policy), 0);

  // Registrations: a bucket of 3 a minute, shared by every caller of the store.
  EXPECT_EQ(*r->TakeRegistration("192.0.2.9", 3), 0);
  EXPECT_EQ(*r->TakeRegistration("192.0.2.9", 3), 0);
  EXPECT_EQ(*r->TakeRegistration("192.0.2.9", 3), 0);
  const int64_t wait_ms = *r->TakeRegistration("192.0.2.9", 3);
  EXPECT_GT(wait_ms, 0);
  EXPECT_LE(wait_ms, 20000) << "one token comes back every 20 s";
  EXPECT_EQ(*r->TakeRegistration("192.0.2.10", 3), 0) << "per address";
  EXPECT_EQ(*r->TakeRegistration("192.0.2.9", 0), 0) << "0: no limit";

  // Counts 16 minutes old are forgotten by the sweep; recent ones stay.
  ASSERT_TRUE(r->RecordLoginFailure("carol", "192.0.2.2", policy).ok());
  ASSERT_TRUE(db_.Run("UPDATE login_failures SET last_failure = last_failure - 960000 "
                     "WHERE key LIKE '%192.0.2.1'"));
  ASSERT_TRUE(db_.Run("UPDATE registrations SET at = at - 7200000 WHERE address = '192.0.2.9'"));
  ASSERT_TRUE(r->ForgetOldCounts(policy.known_for_ms).ok());
  ASSERT_TRUE(db_.Run("DO $$ BEGIN IF (SELECT count(*) FROM login_failures) <> 2 "
                     "THEN RAISE EXCEPTION 'old failures kept'; END IF; END $$"))
      << "only carol's pair and address should remain";
  ASSERT_TRUE(db_.Run("DO $$ BEGIN IF EXISTS (SELECT 1 FROM registrations WHERE address = '192.0.2.9') "
                     "THEN RAISE EXCEPTION 'old bucket kept'; END IF; END $$"));
  EXPECT_EQ(*r->TakeRegistration("192.0.2.9", 3), 0) << "a forgotten bucket is full again";
}

// No server at the URL: a clear Unavailable, not a crash or a hang.
TEST(PostgresSchemaTest, AnUnreachableServerIsUnavailable) {
  auto store = DirectoryStore::Open("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_NE(store.status().message().find("cannot be reached"), std::string::npos);
}

TEST(QueryToLikeTest, Translation) {
  EXPECT_EQ(QueryToLike(""), "%");
  EXPECT_EQ(QueryToLike("Beat"), "%beat%");
  EXPECT_EQ(QueryToLike("a*b?"), "%a%b_%");
  EXPECT_EQ(QueryToLike("50%_off\\"), "%50\\%\\_off\\\\%");
}

TEST(QueryToGlobTest, Translation) {
  EXPECT_EQ(QueryToGlob(""), "*");
  EXPECT_EQ(QueryToGlob("Beat"), "*beat*");
  EXPECT_EQ(QueryToGlob("a*b?"), "*a*b?*");
  EXPECT_EQ(QueryToGlob("x[1]"), "*x[[]1]*");
  EXPECT_EQ(QueryToGlob("*.mp3"), "*.mp3*");
}

TEST(SqliteStoreTest, TheDatabaseAndItsSideFilesAreForTheOwnerOnly) {
  testing::TestDir dir;
  const std::string path = dir / "central.db";
  const mode_t old_mask = ::umask(022);
  {
    auto store = DirectoryStore::Open("sqlite:" + path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->CreateAccount({"alice", "hash"}).ok());
    for (const char* side : {"", "-wal", "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat((path + side).c_str(), &st), 0) << side;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << "central.db" << side;
    }
  }
  // A database an older version left readable by others is tightened.
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto reopened = DirectoryStore::Open("sqlite:" + path);
  ASSERT_TRUE(reopened.ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::umask(old_mask);
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, DirectoryStoreTest,
    ::testing::Values(StoreFactory{"sqlite", [](const testing::TestDir& d) {
      return StoreUrl{"sqlite:" + (d / "sub/central.db"), nullptr};
    }}),
    [](const auto&) { return std::string("store"); });

// PostgreSQL: a database of its own per test on ctest's throwaway cluster.
INSTANTIATE_TEST_SUITE_P(
    Postgres, DirectoryStoreTest,
    ::testing::Values(StoreFactory{"postgresql", [](const testing::TestDir&) {
      auto db = std::make_shared<testing::TestDatabase>();
      return StoreUrl{db->url(), db};
    }}),
    [](const auto&) { return std::string("store"); });

}  // namespace
}  // namespace p2pshare::central
