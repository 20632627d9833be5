#include "pclient/format.h"

#include <cmath>
#include <cstdio>

#include "common/terminal_text.h"

namespace p2pshare::pclient {

std::string HumanSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  // At most 3 digits before the point: 1000 KiB is "1.0 MiB", not "1000.0 KiB".
  if (bytes < 1000) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 999.95 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string HumanDuration(double seconds) {
  if (seconds < 0 || std::isnan(seconds) || std::isinf(seconds)) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (seconds < 9.95) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%ld s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%ld min %02ld s", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld h %02ld min", s / 3600, (s % 3600) / 60);
  }
  return buf;
}

std::string ShortHash(const std::string& sha256) { return sha256.substr(0, 12); }

std::string Printable(const std::string& text, bool keep_newlines) {
  return TerminalSafe(text, keep_newlines ? Newlines::kKeep : Newlines::kHex);
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = Printable(cell);
  rows_.push_back(std::move(cells));
}

namespace {
// Display width of UTF-8 text: code points (good enough for names).
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}
}  // namespace

namespace {

// `s` cut to `width` columns, with "…" as the last when it was cut.
std::string CutTo(const std::string& s, size_t width) {
  if (Width(s) <= width) return s;
  std::string out;
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool starts = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (starts && ++w > width - 1) break;
    out += s[i];
  }
  return out + "\u2026";
}

}  // namespace

std::string Table::Render(size_t max_width) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = Width(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  // Too wide for the terminal: the widest column gives way first (a note,
  // a long name), down to its header's width or 8 columns.
  auto total = [&] {
    size_t t = 2 * (widths.size() - 1);
    for (size_t w : widths) t += w;
    return t;
  };
  while (max_width > 0 && total() > max_width) {
    size_t widest = 0;
    for (size_t i = 1; i < widths.size(); ++i) {
      if (widths[i] >= widths[widest]) widest = i;
    }
    const size_t least = std::max<size_t>(8, Width(headers_[widest]));
    if (widths[widest] <= least) break;
    widths[widest] = std::max(least, widths[widest] - std::min(widths[widest] - least, total() - max_width));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string cell = CutTo(cells[i], widths[i]);
      out += cell;
      if (i + 1 < cells.size()) out += std::string(widths[i] - Width(cell) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers_);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string ProgressLine(int64_t done, int64_t total, double rate, int width) {
  double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  fraction = std::min(1.0, std::max(0.0, fraction));
  int filled = static_cast<int>(fraction * width);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
  std::string bar = std::string(pct) + " [" + std::string(filled, '#') +
                    std::string(width - filled, '-') + "]  " + HumanSize(done) + " / " +
                    HumanSize(total) + "  " + HumanSize(static_cast<int64_t>(rate)) + "/s";
  double eta = rate > 0 ? static_cast<double>(total - done) / rate : -1;
  bar += "  ETA " + HumanDuration(eta);
  return bar;
}

std::string SourcesLine(const std::vector<SourceStatus>& sources, bool rates) {
  if (sources.empty()) return "";
  int64_t sending = 0, queued = 0;
  std::string each;
  for (const SourceStatus& s : sources) {
    if (s.dropped) continue;
    std::string what;
    if (s.queue_place > 0) {
      queued++;
      what = "queued #" + std::to_string(s.queue_place);
    } else {
      sending++;
      what = HumanSize(static_cast<int64_t>(s.rate)) + "/s";
    }
    each += (each.empty() ? "" : ", ") + Printable(s.holder) + " " + what;
  }
  std::string out = std::to_string(sending) + (sending == 1 ? " source" : " sources");
  if (queued > 0) out += ", " + std::to_string(queued) + " queued";
  if (rates && !each.empty()) out += ": " + each;
  return out;
}

std::string SourcesSummary(const std::map<std::string, int64_t>& bytes_from,
                           const std::vector<std::pair<std::string, std::string>>& dropped) {
  std::string out;
  for (const auto& [holder, bytes] : bytes_from) {
    out += (out.empty() ? "" : ", ") + Printable(holder) + " " + HumanSize(bytes);
  }
  for (size_t i = 0; i < dropped.size(); ++i) {
    out += std::string(i == 0 ? (out.empty() ? "dropped: " : "; dropped: ") : ", ") + Printable(dropped[i].first) +
           " (" + Printable(dropped[i].second) + ")";
  }
  return out;
}

std::string ShellWord(const std::string& text) {
  if (!text.empty() &&
      text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") ==
          std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

}  // namespace p2pshare::pclient
