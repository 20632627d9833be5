// Text output of peer-client: sizes and times in human units, aligned
// tables, the progress line. Pure functions, no I/O.
#pragma once

#include <map>
#include <utility>

#include "pclient/transfer_types.h"

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

// `text` as one word for a POSIX shell: as it is when it holds only safe
// characters, else in single quotes ("peer-server --config 'my peer.json'").
std::string ShellWord(const std::string& text);

// A table with left-aligned columns and a header underline.
// `text` safe for a terminal (common/terminal_text.h): C0 and C1 control
// characters, DEL and bytes that are not UTF-8 escaped, so a name from
// another peer can never move the cursor, clear the screen or change
// colours.
// `keep_newlines`: '\n' stays (for whole blocks of output).
std::string Printable(const std::string& text, bool keep_newlines = false);

// Aligned columns; every cell goes through Printable.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  // `max_width` > 0: lines of at most that many columns (a terminal's),
  // the widest columns cut with "…" first.
  std::string Render(size_t max_width = 0) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// " 42% [########------------]  42.0 MiB / 100.0 MiB  12.3 MiB/s  ETA 5 s"
std::string ProgressLine(int64_t done, int64_t total, double bytes_per_second, int width = 24);

// A swarm download's sources for the progress line: "3 sources, 2 queued";
// with `rates`, each holder too: "3 sources, 1 queued: alice 2.0 MiB/s,
// bob 1.1 MiB/s, dave queued #2". Empty for no sources.
std::string SourcesLine(const std::vector<SourceStatus>& sources, bool rates);

// The end of a swarm download: "alice 8.0 MiB, bob 4.0 MiB; dropped: dave
// (sent bad data for piece 3 ...)".
std::string SourcesSummary(const std::map<std::string, int64_t>& bytes_from,
                           const std::vector<std::pair<std::string, std::string>>& dropped);

}  // namespace p2pshare::pclient
