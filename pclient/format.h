// Text output of peer-client: sizes and times in human units, aligned
// tables, the progress line. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace p2pshare::pclient {

// 0 B, 999 B, 1.0 KiB, 3.4 MiB, 1.2 GiB ...
std::string HumanSize(int64_t bytes);
// "45 s", "3 min 20 s", "2 h 05 min"; "?" when negative.
std::string HumanDuration(double seconds);
// The first 12 hex digits.
std::string ShortHash(const std::string& sha256);

// A table with left-aligned columns and a header underline.
// `text` safe for a terminal: control characters (below 0x20, and 0x7f)
// written as \xNN, so a name from another peer can never move the cursor,
// clear the screen or change colours.
// `keep_newlines`: '\n' stays (for whole blocks of output).
std::string Printable(const std::string& text, bool keep_newlines = false);

// Aligned columns; every cell goes through Printable.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// " 42% [########------------]  42.0 MiB / 100.0 MiB  12.3 MiB/s  ETA 5 s"
std::string ProgressLine(int64_t done, int64_t total, double bytes_per_second, int width = 24);

}  // namespace p2pshare::pclient
