#include "pclient/format.h"

#include <gtest/gtest.h>

#include <sstream>

namespace p2pshare::pclient {
namespace {

TEST(FormatTest, HumanSizes) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(999), "999 B");
  EXPECT_EQ(HumanSize(1023), "1.0 KiB");
  EXPECT_EQ(HumanSize(1047142), "1.0 MiB") << "never 1022.6 KiB";
  EXPECT_EQ(HumanSize(1024), "1.0 KiB");
  EXPECT_EQ(HumanSize(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
  EXPECT_EQ(HumanSize(int64_t{5} << 30), "5.0 GiB");
}

TEST(FormatTest, HumanDurations) {
  EXPECT_EQ(HumanDuration(0.04), "0.0 s");
  EXPECT_EQ(HumanDuration(2.5), "2.5 s");
  EXPECT_EQ(HumanDuration(45), "45 s");
  EXPECT_EQ(HumanDuration(200), "3 min 20 s");
  EXPECT_EQ(HumanDuration(7500), "2 h 05 min");
  EXPECT_EQ(HumanDuration(-1), "?");
}

TEST(FormatTest, TablesAlignColumns) {
  Table t({"#", "name", "size"});
  t.AddRow({"1", "a.txt", "1 B"});
  t.AddRow({"10", "ñandú.mp3", "3.0 MiB"});
  EXPECT_EQ(t.Render(),
            "#   name       size\n"
            "--  ---------  -------\n"
            "1   a.txt      1 B\n"
            "10  ñandú.mp3  3.0 MiB\n");
}

TEST(FormatTest, ATableFitsTheTerminalByCuttingItsWidestColumn) {
  Table t({"#", "transfer", "state", "note"});
  t.AddRow({"1", "download Cours de maths/ (12 files)", "running",
            "could not complete lecture.mp4: alice went offline; 5.0 MiB of 24.0 MiB verified are kept"});
  const std::string text = t.Render(60);
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    size_t columns = 0;
    for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
    EXPECT_LE(columns, 60u) << line;
  }
  EXPECT_EQ(count, 3) << "a row stays one line:\n" << text;
  EXPECT_NE(text.find("download Cours de maths/ (12 files)"), std::string::npos) << "the note gave way first:\n" << text;
  EXPECT_NE(text.find("\u2026"), std::string::npos) << text;
  EXPECT_EQ(t.Render(), t.Render(1000)) << "without a terminal nothing is cut";
}

TEST(FormatTest, ProgressLineShowsPercentBytesRateAndEta) {
  std::string line = ProgressLine(50 * 1024 * 1024, 100 * 1024 * 1024, 10 * 1024 * 1024, 10);
  EXPECT_EQ(line, " 50% [#####-----]  50.0 MiB / 100.0 MiB  10.0 MiB/s  ETA 5.0 s");
  EXPECT_NE(ProgressLine(0, 100, 0).find("ETA ?"), std::string::npos);
  EXPECT_NE(ProgressLine(100, 100, 5).find("100%"), std::string::npos);
}

TEST(FormatTest, ShortHash) { EXPECT_EQ(ShortHash(std::string(64, 'a')), "aaaaaaaaaaaa"); }

TEST(PrintableTest, ControlCharactersNeverReachTheTerminal) {
  EXPECT_EQ(Printable("plain name.mp3"), "plain name.mp3");
  EXPECT_EQ(Printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(Printable("bell\x07\x7f"), "bell\\x07\\x7f");
  EXPECT_EQ(Printable("two\nlines"), "two\\x0alines");
  EXPECT_EQ(Printable("two\nlines", /*keep_newlines=*/true), "two\nlines");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 stays";
  // C1 controls: U+009B is the 8-bit CSI (ESC [ to many terminals), U+0085
  // a line break; raw bytes that are not UTF-8 (a stray 0x9b) alike.
  EXPECT_EQ(Printable("a\xc2\x9b" "2Jb"), "a\\u009b2Jb");
  EXPECT_EQ(Printable("x\xc2\x85y\xc2\x80\xc2\x9f"), "x\\u0085y\\u0080\\u009f");
  EXPECT_EQ(Printable("raw\x9b" "31m"), "raw\\x9b31m");
  EXPECT_EQ(Printable("\xc2\xa0nbsp \xe6\x97\xa5\xf0\x9f\x8e\xb5"), "\xc2\xa0nbsp \xe6\x97\xa5\xf0\x9f\x8e\xb5")
      << "U+00A0 and beyond stay";
  EXPECT_EQ(Printable("\xed\xa0\x80\xc0\xaf"), "\\xed\\xa0\\x80\\xc0\\xaf") << "surrogates, overlong forms";
  Table t({"name"});
  t.AddRow({"evil\x1b]0;title\x07"});
  EXPECT_EQ(t.Render().find('\x1b'), std::string::npos);
}

TEST(FormatTest, SourcesLineCountsSendingAndQueuedHoldersAndShowsRatesOnRequest) {
  std::vector<SourceStatus> sources = {{"alice", 8 << 20, 2 << 20, 0, false},
                                       {"bob", 1 << 20, 1 << 20, 0, false},
                                       {"dave", 0, 0, 2, false},
                                       {"mallory", 0, 0, 0, true}};
  EXPECT_EQ(SourcesLine(sources, false), "2 sources, 1 queued");
  EXPECT_EQ(SourcesLine(sources, true), "2 sources, 1 queued: alice 2.0 MiB/s, bob 1.0 MiB/s, dave queued #2");
  EXPECT_EQ(SourcesLine({{"alice", 0, 0, 0, false}}, false), "1 source");
  EXPECT_EQ(SourcesLine({}, true), "");
}

TEST(FormatTest, SourcesSummarySaysWhatEachHolderSentAndWhyOneWasDropped) {
  EXPECT_EQ(SourcesSummary({{"alice", 8 << 20}, {"bob", 4 << 20}}, {{"dave", "sent bad data for piece 3"}}),
            "alice 8.0 MiB, bob 4.0 MiB; dropped: dave (sent bad data for piece 3)");
  EXPECT_EQ(SourcesSummary({}, {{"evil\x1b[2J", "x"}}), "dropped: evil\\x1b[2J (x)");
}

TEST(FormatTest, ShellWordQuotesOnlyWhatAShellWouldSplitOrExpand) {
  EXPECT_EQ(ShellWord("/home/ann/peer.json"), "/home/ann/peer.json");
  EXPECT_EQ(ShellWord("/home/ann/my peer.json"), "'/home/ann/my peer.json'");
  EXPECT_EQ(ShellWord("$HOME/ann's.json"), "'$HOME/ann'\\''s.json'");
  EXPECT_EQ(ShellWord(""), "''");
}

}  // namespace
}  // namespace p2pshare::pclient
