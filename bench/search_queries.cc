// search-queries: the realistic query stream of bench/shares.h, one query
// a line as "kind<TAB>query", for load tools (scripts/bench.sh replays it
// with wrk).
//
//   search-queries [--seed N] [--count N] [--kind KIND]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "bench/shares.h"

int main(int argc, char** argv) {
  CLI::App app{"search-queries: the realistic query stream, one 'kind<TAB>query' a line"};
  uint64_t seed = 1;
  int count = 100000;
  std::string kind;
  app.add_option("--seed", seed, "the generator's seed (the same seed, the same queries)");
  app.add_option("--count", count, "queries")->check(CLI::Range(1, 10000000));
  app.add_option("--kind", kind, "one kind only (word, two-words, prefix, glob, title, miss, one-letter, two-letters, folded, any-order, filtered, typo)");
  CLI11_PARSE(app, argc, argv);
  const p2pshare::bench::Shares shares(seed);
  auto queries = kind.empty() ? shares.Queries(count) : shares.Queries(kind, count);
  for (const auto& q : queries) std::printf("%s\t%s\n", q.kind.c_str(), q.text.c_str());
  return 0;
}
