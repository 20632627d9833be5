// search-bench: central's SearchIndex on its own, at growing sizes, with
// the realistic shares and queries of bench/shares.h.
//
// Builds an index of N held files (2 500 a peer, as in the directory part) and reports the time to
// ingest, the memory it took, and for each kind of query of the realistic
// mix the latency of a search computed afresh (the worst case of each
// query: central's reply cache is not here), the entries it checked and
// the matches it counted; then the mix as it arrives. Prints one JSON
// object per size.
//
//   search-bench [N...]          default: 10000 100000 1000000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/shares.h"
#include "central/search_index.h"
#include "common/json_fields.h"

namespace {

using Clock = std::chrono::steady_clock;
using p2pshare::Json;
using p2pshare::bench::Shares;

constexpr uint64_t kSeed = 1;
constexpr int kFilesPerPeer = 2500;

int64_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

Json Run(int64_t n) {
  const Shares shares(kSeed);
  const int peers = static_cast<int>(std::max<int64_t>(1, n / kFilesPerPeer));
  const int per_peer = static_cast<int>(std::min<int64_t>(n, kFilesPerPeer));
  std::vector<std::vector<p2pshare::FileEntry>> batches;
  for (int p = 0; p < peers; ++p) batches.push_back(shares.PeerFiles(p, per_peer));
  const int64_t rss0 = RssBytes();
  p2pshare::central::SearchIndex index;
  auto t0 = Clock::now();
  for (int p = 0; p < peers; ++p) index.Replace("peer" + std::to_string(p), batches[static_cast<size_t>(p)]);
  const double ingest_s = Ms(t0) / 1000;
  batches.clear();
  batches.shrink_to_fit();
  const int64_t rss1 = RssBytes();

  Json out{{"files", index.held_files()}, {"distinct", index.unique_files()}, {"ingest_s", ingest_s},
           {"index_mib", static_cast<double>(rss1 - rss0) / 1048576.0}};
  Json kinds = Json::object();
  double worst_p99 = 0;
  for (const auto& [kind, share] : Shares::Mix()) {
    std::vector<double> ms;
    double examined = 0, total = 0;
    for (const auto& q : shares.Queries(kind, 2000)) {
      auto t = Clock::now();
      auto page = index.Search(q.text, 20, 0);
      ms.push_back(Ms(t));
      examined += static_cast<double>(page.examined);
      total += static_cast<double>(page.total);
    }
    worst_p99 = std::max(worst_p99, Percentile(ms, 0.99));
    kinds[kind] = Json{{"p50_ms", Percentile(ms, 0.5)}, {"p99_ms", Percentile(ms, 0.99)},
                       {"max_ms", Percentile(ms, 1.0)}, {"mean_examined", examined / 2000},
                       {"mean_total", total / 2000}};
  }
  out["kinds"] = kinds;
  out["worst_kind_p99_ms"] = worst_p99;
  // The mix as it arrives, each search computed afresh (central's reply
  // cache is measured through HTTP: scripts/bench.sh directory).
  std::vector<double> mix_ms;
  for (const auto& q : shares.Queries(20000)) {
    auto t = Clock::now();
    index.Search(q.text, 20, 0);
    mix_ms.push_back(Ms(t));
  }
  double sum = 0;
  for (double v : mix_ms) sum += v;
  out["mix"] = Json{{"p50_ms", Percentile(mix_ms, 0.5)}, {"p99_ms", Percentile(mix_ms, 0.99)},
                    {"mean_ms", sum / static_cast<double>(mix_ms.size())}};
  return out;
}

}  // namespace

// search-bench --explain N QUERY...: each query's time, entries checked and
// count at N files (for looking into one query).
int Explain(int64_t n, int argc, char** argv) {
  const Shares shares(kSeed);
  p2pshare::central::SearchIndex index;
  for (int p = 0; p < static_cast<int>(n / kFilesPerPeer); ++p) {
    index.Replace("peer" + std::to_string(p), shares.PeerFiles(p, kFilesPerPeer));
  }
  for (int i = 0; i < argc; ++i) {
    auto t = Clock::now();
    auto page = index.Search(argv[i], 20, 0);
    std::printf("%s\t%.3f ms\t%lld checked\t%lld%s found\n", argv[i], Ms(t),
                static_cast<long long>(page.examined), static_cast<long long>(page.total),
                page.total_exact ? "" : "+");
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "--explain") return Explain(std::atoll(argv[2]), argc - 3, argv + 3);
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {10000, 100000, 1000000};
  for (int64_t n : sizes) std::printf("%s\n", Run(n).dump().c_str());
  return 0;
}
