// search-bench: central's SearchIndex on its own, at growing sizes.
//
// Builds an index of N files (10 files a peer, names like
// "music/<artist>/<album>/<nn> <title>.ogg" from a vocabulary of made-up
// words) and reports the time to ingest, the memory it took, and the
// latency of a mix of queries. Prints one JSON object per size.
//
//   search-bench [N...]          default: 10000 100000 1000000
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "central/search_index.h"
#include "common/json_fields.h"
#include "common/sha256.h"

namespace {

using Clock = std::chrono::steady_clock;
using p2pshare::FileEntry;
using p2pshare::Json;

int64_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

std::vector<std::string> Vocabulary(std::mt19937& rng, size_t n) {
  static const char* syllables[] = {"ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "da", "po",
                                    "re", "xi", "bu", "fa", "go", "he", "ju", "qu", "wa", "ze"};
  std::vector<std::string> words;
  for (size_t i = 0; i < n; ++i) {
    std::string w;
    int k = 2 + static_cast<int>(rng() % 3);
    for (int j = 0; j < k; ++j) w += syllables[rng() % 20];
    words.push_back(w);
  }
  return words;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

Json Run(int64_t n) {
  std::mt19937 rng(42);
  auto words = Vocabulary(rng, 5000);
  auto word = [&] { return words[rng() % words.size()]; };
  const int64_t per_peer = 10;
  const int64_t peers = std::max<int64_t>(1, n / per_peer);
  std::vector<std::vector<FileEntry>> batches(static_cast<size_t>(peers));
  std::vector<std::string> titles;
  for (int64_t p = 0; p < peers; ++p) {
    std::string artist = word() + " " + word();
    std::string album = word();
    for (int64_t j = 0; j < per_peer; ++j) {
      std::string title = word() + " " + word();
      if (titles.size() < 2000) titles.push_back(title);
      std::string name = "music/" + artist + "/" + album + "/" + std::to_string(j) + " " + title + ".ogg";
      batches[static_cast<size_t>(p)].push_back(
          FileEntry{name, 1000 + j, p2pshare::Sha256Hex(std::to_string(p * per_peer + j))});
    }
  }
  const int64_t rss0 = RssBytes();
  p2pshare::central::SearchIndex index;
  auto t0 = Clock::now();
  for (int64_t p = 0; p < peers; ++p) index.Replace("peer" + std::to_string(p), batches[static_cast<size_t>(p)]);
  double ingest_s = std::chrono::duration<double>(Clock::now() - t0).count();
  batches.clear();
  batches.shrink_to_fit();
  const int64_t rss1 = RssBytes();

  struct Kind {
    const char* name;
    std::function<std::string()> query;
  };
  std::vector<Kind> kinds = {
      {"title", [&] { return titles[rng() % titles.size()]; }},            // a few hits
      {"word", [&] { return word(); }},                                    // tens to hundreds
      {"miss", [&] { return word() + "zzq"; }},                            // nothing
      {"glob", [&] { return word() + "*.ogg"; }},                          // wildcard
      {"broad", [] { return std::string(".ogg"); }},                       // everything, page 1
  };
  Json out{{"files", index.held_files()}, {"ingest_s", ingest_s},
           {"index_mib", static_cast<double>(rss1 - rss0) / 1048576.0}};
  std::vector<double> all_ms;
  for (const auto& k : kinds) {
    std::vector<double> ms;
    int64_t hits = 0;
    const int rounds = std::string(k.name) == "broad" ? 20 : 2000;
    for (int i = 0; i < rounds; ++i) {
      std::string q = k.query();
      auto t = Clock::now();
      auto page = index.Search(q, 50, 0);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      hits += page.total;
    }
    if (std::string(k.name) != "broad") all_ms.insert(all_ms.end(), ms.begin(), ms.end());
    out[k.name] = Json{{"p50_ms", Percentile(ms, 0.5)}, {"p99_ms", Percentile(ms, 0.99)},
                       {"mean_hits", static_cast<double>(hits) / rounds}};
  }
  out["substring_p50_ms"] = Percentile(all_ms, 0.5);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {10000, 100000, 1000000};
  for (int64_t n : sizes) std::printf("%s\n", Run(n).dump().c_str());
  return 0;
}
