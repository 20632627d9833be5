// Wishes: saved searches told once of new matches (central/wish_book.h,
// central/wishes.h), and their bounds tested as a stranger with many
// accounts would push them.
#include "central/wishes.h"

#include <gtest/gtest.h>

#include <map>

#include "central/directory.h"
#include "common/sha256.h"
#include "unit/test_dir.h"

namespace p2pshare::central {
namespace {

FileEntry File(const std::string& name, const std::string& content, int64_t size = 100) {
  return FileEntry{name, size, Sha256Hex(content)};
}

WishRecord Wish(int64_t id, const std::string& user, const std::string& query) {
  return WishRecord{id, user, query, "10.0.0.1", 0, {}};
}

std::vector<int64_t> Ids(const std::vector<WishFound>& found) {
  std::vector<int64_t> out;
  for (const auto& f : found) out.push_back(f.wish);
  return out;
}

TEST(WishBookTest, ANewFileTellsTheWishesItMatchesOnceAndNeverItsOwnHolder) {
  WishBook book;
  book.Put(Wish(1, "alice", "beatles"));
  book.Put(Wish(2, "alice", "let it be type:audio"));
  book.Put(Wish(3, "bob", "zoe"));
  book.Put(Wish(4, "carol", "holiday size>1M"));
  auto one = [] { return int64_t{1}; };
  EXPECT_EQ(Ids(book.Match(File("The Beatles/Let It Be.ogg", "a"), "dave", one)), (std::vector<int64_t>{1, 2}));
  // The same content again, under another name or holder: not news.
  EXPECT_TRUE(book.Match(File("copies/beatles - let it be.ogg", "a"), "erin", one).empty());
  // Another content is.
  EXPECT_EQ(Ids(book.Match(File("Beatles/Help.mp3", "b"), "dave", one)), (std::vector<int64_t>{1}));
  // Folded as searches are; filters hold.
  EXPECT_EQ(Ids(book.Match(File("Zoë.txt", "c"), "dave", one)), (std::vector<int64_t>{3}));
  EXPECT_TRUE(book.Match(File("holiday.jpg", "d", 1000), "dave", one).empty());
  EXPECT_EQ(Ids(book.Match(File("holiday.jpg", "e", 2 << 20), "dave", one)), (std::vector<int64_t>{4}));
  // A holder is not told of its own file.
  EXPECT_TRUE(book.Match(File("beatles live.ogg", "f"), "alice", one).empty());
  book.Remove(1);
  EXPECT_TRUE(book.Match(File("beatles 2.ogg", "g"), "dave", one).empty());
  EXPECT_EQ(book.size(), 3u);
}

TEST(WishBookTest, AWishNeedsAWordToWatchFor) {
  for (const char* bad : {"type:audio", "*", "a", "size>1G", "*beat"}) {
    auto q = NameQuery::Parse(bad);
    ASSERT_TRUE(q.ok()) << bad;
    EXPECT_EQ(CheckWishQuery(*q).reason(), "bad_wish") << bad;
  }
  EXPECT_TRUE(CheckWishQuery(NameQuery::Parse("be*").value()).ok());
}

// Matching a file reads only the wishes filed under its words' heads: a
// flood of wishes under other heads costs it nothing, and the honest wish
// is still found.
TEST(WishBookTest, AFloodOfOtherWishesIsNeverReadForAFile) {
  WishBook book;
  for (int i = 0; i < static_cast<int>(kMaxWishes) - 1; ++i) {
    book.Put(Wish(i + 1, "u" + std::to_string(i % 1000), "zz" + std::to_string(i)));
  }
  book.Put(Wish(kMaxWishes, "alice", "beatles"));
  int asked = 0;
  auto found = book.Match(File("The Beatles/Help.ogg", "h"), "dave", [&] { return ++asked, int64_t{1}; });
  EXPECT_EQ(Ids(found), (std::vector<int64_t>{kMaxWishes}));
}

class WishesDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = DirectoryStore::Open(tmp_ / "central.db");
    ASSERT_TRUE(store.ok());
    DirectoryOptions o;
    o.port_range = {50051, 50100};
    o.pbkdf2_iterations = 1000;
    dir_ = std::make_unique<Directory>(std::move(store).value(), o);
    dir_->SetSignalSink([this](const std::string& user, const std::string& line) {
      MutexLock lock(mu_);
      if (!channel_open_) return false;
      told_[user].push_back(Json::parse(line));
      return true;
    });
    ASSERT_TRUE(dir_->Start(false).ok());
  }
  void Join(const std::string& user) {
    ASSERT_TRUE(dir_->Register(user, user + "-password").ok());
    int64_t retry = 0;
    ASSERT_TRUE(dir_->Login(LoginRequest{user, user + "-password", std::nullopt, std::nullopt, {}}, "127.0.0.1", &retry).ok());
  }
  std::vector<Json> Told(const std::string& user) {
    dir_->DrainWishes();
    MutexLock lock(mu_);
    return told_[user];
  }
  Mutex mu_;
  bool channel_open_ = true;
  std::map<std::string, std::vector<Json>> told_;
  testing::TestDir tmp_;
  std::unique_ptr<Directory> dir_;
};

TEST_F(WishesDirectoryTest, AMatchIndexedLaterIsToldOnceOverTheChannel) {
  Join("alice");
  Join("bob");
  ASSERT_TRUE(dir_->ReplaceIndex("bob", {File("old beatles.ogg", "old")}).ok());
  int64_t now = -1;
  auto made = dir_->AddWish("alice", "Beatles", "127.0.0.1", &now);
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_EQ(now, 1);  // found already: not news
  EXPECT_EQ(made->query, "beatles");
  ASSERT_TRUE(dir_->PatchIndex("bob", {File("The Beatles/Help.ogg", "help")}, {}).ok());
  auto told = Told("alice");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0]["type"], "wish");
  EXPECT_EQ(told[0]["name"], "The Beatles/Help.ogg");
  EXPECT_EQ(told[0]["holder"], "bob");
  EXPECT_EQ(told[0]["wish"], made->id);
  // bob indexes everything again (a new login does): nothing is news.
  ASSERT_TRUE(dir_->ReplaceIndex("bob", {File("old beatles.ogg", "old"), File("The Beatles/Help.ogg", "help")}).ok());
  EXPECT_EQ(Told("alice").size(), 1u);
  // The wish survives a restart of central, with what it told.
  dir_.reset();
  SetUp();
  Join("carol");
  ASSERT_TRUE(dir_->ReplaceIndex("carol", {File("help - beatles.ogg", "help")}).ok());
  EXPECT_TRUE(Told("alice").size() == 1u);
  ASSERT_EQ(dir_->ListWishes("alice")->size(), 1u);
  // No channel open: the news waits for the next one.
  {
    MutexLock lock(mu_);
    channel_open_ = false;
  }
  ASSERT_TRUE(dir_->PatchIndex("carol", {File("beatles 1965.ogg", "1965")}, {}).ok());
  dir_->DrainWishes();
  const std::string waiting = dir_->TakeWishNews("alice");
  EXPECT_NE(waiting.find("beatles 1965.ogg"), std::string::npos) << waiting;
  EXPECT_EQ(dir_->TakeWishNews("alice"), "");
  ASSERT_TRUE(dir_->RemoveWish("alice", made->id).ok());
  EXPECT_EQ(dir_->RemoveWish("alice", made->id).reason(), "not_found");
  EXPECT_TRUE(dir_->ListWishes("alice")->empty());
}

// A stranger with free accounts: each holds kWishesPerAccount at most, and
// one address kWishesPerAddress whatever accounts it makes; others making
// wishes from elsewhere are untouched.
TEST_F(WishesDirectoryTest, ManyAccountsFromOneAddressHoldABoundedNumberOfWishes) {
  int64_t now = 0;
  Join("mallory0");
  for (int i = 0; i < kWishesPerAccount; ++i) {
    ASSERT_TRUE(dir_->AddWish("mallory0", "spam" + std::to_string(i), "203.0.113.9", &now).ok());
  }
  auto refused = dir_->AddWish("mallory0", "one more", "203.0.113.9", &now);
  EXPECT_EQ(refused.status().reason(), "too_many_wishes");
  EXPECT_NE(refused.status().message().find("for this account"), std::string::npos);
  int made = kWishesPerAccount;
  Status last;
  for (int a = 1; a < 10 && last.ok(); ++a) {
    const std::string user = "mallory" + std::to_string(a);
    ASSERT_TRUE(dir_->Register(user, user + "-password").ok());
    for (int i = 0; i < kWishesPerAccount && last.ok(); ++i) {
      auto r = dir_->AddWish(user, "spam" + std::to_string(i), "203.0.113.9", &now);
      last = r.status();
      if (r.ok()) ++made;
    }
  }
  EXPECT_EQ(made, kWishesPerAddress);
  EXPECT_NE(last.message().find("from this address"), std::string::npos) << last.message();
  Join("alice");
  EXPECT_TRUE(dir_->AddWish("alice", "beatles", "198.51.100.7", &now).ok());
  // Not a wish: a word to watch for is needed, and the query must parse.
  EXPECT_EQ(dir_->AddWish("alice", "type:audio", "198.51.100.7", &now).status().reason(), "bad_wish");
  EXPECT_EQ(dir_->AddWish("alice", "size>ten beatles", "198.51.100.7", &now).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace p2pshare::central
