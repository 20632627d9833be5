#include "pclient/command_line.h"

#include <gtest/gtest.h>

namespace p2pshare::pclient {
namespace {

std::vector<std::string> Words(const std::string& line) {
  auto w = SplitWords(line);
  EXPECT_TRUE(w.ok()) << line;
  return w.ok() ? *w : std::vector<std::string>{};
}

TEST(SplitWordsTest, QuotesAndEscapes) {
  EXPECT_EQ(Words("download  notes.txt "), (std::vector<std::string>{"download", "notes.txt"}));
  EXPECT_EQ(Words("download \"Help - The Beatles.mp3\" --to /tmp/x"),
            (std::vector<std::string>{"download", "Help - The Beatles.mp3", "--to", "/tmp/x"}));
  EXPECT_EQ(Words("upload 'it''s.txt'"), (std::vector<std::string>{"upload", "its.txt"}));
  EXPECT_EQ(Words("upload my\\ file.txt"), (std::vector<std::string>{"upload", "my file.txt"}));
  EXPECT_EQ(Words("search \"\""), (std::vector<std::string>{"search", ""}));
  EXPECT_TRUE(Words("   ").empty());
  EXPECT_FALSE(SplitWords("download \"unclosed").ok());
}

TEST(ParseCommandTest, ArgumentsAndOptions) {
  auto c = ParseCommand({"download", "#2", "--from", "bob", "--to=/tmp/d"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->name, "download");
  EXPECT_EQ(c->args, (std::vector<std::string>{"#2"}));
  EXPECT_EQ(c->Option("--from"), "bob");
  EXPECT_EQ(c->Option("--to"), "/tmp/d");
  EXPECT_FALSE(c->Option("--limit-rate").has_value());
}

TEST(ParseCommandTest, FlagsTakeNoValue) {
  auto c = ParseCommand({"download", "--verify-only", "#2"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->Flag("--verify-only"));
  EXPECT_EQ(c->args, (std::vector<std::string>{"#2"}));
  EXPECT_FALSE(ParseCommand({"download", "#2"})->Flag("--verify-only"));
  auto bad = ParseCommand({"download", "#2", "--verify-only=yes"});
  EXPECT_NE(bad.status().message().find("--verify-only takes no value"), std::string::npos);
}

TEST(ParseCommandTest, SearchTakesTheRestOfTheLine) {
  auto c = ParseCommand({"search", "the", "beatles"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->args, (std::vector<std::string>{"the beatles"}));
}

TEST(ParseCommandTest, HelpAfterACommandExplainsThatCommand) {
  for (const char* help : {"--help", "-h"}) {
    auto c = ParseCommand({"download", "#3", help});
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->name, "help");
    EXPECT_EQ(c->args, std::vector<std::string>{"download"});
  }
}

TEST(ParseCommandTest, ExitIsQuit) {
  EXPECT_EQ(ParseCommand({"exit"})->name, "quit");
}

TEST(ParseCommandTest, MistakesSayWhatIsWrong) {
  auto unknown = ParseCommand({"downlaod", "x"});
  EXPECT_NE(unknown.status().message().find("unknown command 'downlaod'"), std::string::npos);
  auto option = ParseCommand({"download", "x", "--form", "bob"});
  EXPECT_NE(option.status().message().find("no option --form"), std::string::npos);
  auto value = ParseCommand({"download", "x", "--from"});
  EXPECT_NE(value.status().message().find("--from needs a value"), std::string::npos);
  auto missing = ParseCommand({"download"});
  EXPECT_NE(missing.status().message().find("usage: download"), std::string::npos);
  auto extra = ParseCommand({"ping", "a", "b"});
  EXPECT_NE(extra.status().message().find("usage: ping"), std::string::npos);
  EXPECT_FALSE(ParseCommand({}).ok());
}

TEST(ParseCommandTest, EveryCommandOfTheSpecExists) {
  for (const char* name : {"help", "login", "logout", "register", "status", "peers", "search",
                           "files", "download", "upload", "ping", "quit", "exit"}) {
    EXPECT_NE(FindCommand(name), nullptr) << name;
  }
}

TEST(CommandTableTest, EachCommandHasItsUsageAndMethod) {
  std::vector<std::string> no_login_first;
  for (const auto& c : Commands()) {
    EXPECT_EQ(c.usage.rfind(c.name, 0), 0u) << c.usage;
    EXPECT_NE(c.run, nullptr) << c.name;
    EXPECT_FALSE(c.summary.empty()) << c.name;
    if (!c.login_first) no_login_first.push_back(c.name);
  }
  EXPECT_EQ(no_login_first, (std::vector<std::string>{"help", "login", "register", "cancel", "retry", "quit"}));
  EXPECT_EQ(FindCommand("exit"), FindCommand("quit"));
  EXPECT_EQ(FindCommand("nope"), nullptr);
  auto search = ParseCommand({"search", "the", "beatles"});
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->args, std::vector<std::string>{"the beatles"}) << "search joins its words";
}

}  // namespace
}  // namespace p2pshare::pclient
