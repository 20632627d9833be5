// startup-bench: how fast a peer-server indexes its shared folder.
//
// Fills DIR (when it does not hold them yet) with FILES files of random
// bytes, TOTAL_MIB in all, in folders of 100; then, RUNS times, runs the
// peer-server's Catalog over it cold (hash cache deleted: every file read
// and hashed) and warm (the cache of the cold run: nothing hashed). Prints
// one JSON object with the median seconds of each and the cold rate.
//
//   startup-bench DIR [FILES] [TOTAL_MIB] [RUNS]     default: 10000 2048 3
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/json_fields.h"
#include "pserver/catalog.h"
#include "pserver/shared_folder.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using p2pshare::pserver::Catalog;
using p2pshare::pserver::SharedFolder;

std::string FileName(int i) {
  char name[64];
  std::snprintf(name, sizeof name, "set-%03d/file-%05d.bin", i / 100, i);
  return name;
}

// Writes the files that are missing; returns the total size of all.
int64_t Fill(const fs::path& dir, int files, int64_t total) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> buf;
  int64_t sum = 0;
  for (int i = 0; i < files; ++i) {
    int64_t size = total / files + (i < total % files ? 1 : 0);
    fs::path p = dir / FileName(i);
    sum += size;
    std::error_code ec;
    if (fs::exists(p, ec) && static_cast<int64_t>(fs::file_size(p, ec)) == size) continue;
    fs::create_directories(p.parent_path());
    buf.resize(static_cast<size_t>(size + 7) / 8);
    for (auto& w : buf) w = rng();
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(buf.data()), size);
  }
  return sum;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One Catalog over the folder, as a starting peer-server builds it.
double TimeRefresh(const std::string& dir, size_t want_files, int64_t* hashed) {
  auto start = Clock::now();
  auto folder = SharedFolder::Open(dir);
  if (!folder.ok()) {
    std::fprintf(stderr, "startup-bench: %s\n", folder.status().message().c_str());
    std::exit(1);
  }
  Catalog catalog(folder->get());
  auto delta = catalog.Refresh();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!delta.ok() || catalog.size() != want_files) {
    std::fprintf(stderr, "startup-bench: indexed %zu files, expected %zu\n", catalog.size(),
                 want_files);
    std::exit(1);
  }
  *hashed = catalog.files_hashed();
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: startup-bench DIR [FILES] [TOTAL_MIB] [RUNS]\n");
    return 2;
  }
  const std::string dir = fs::absolute(argv[1]).lexically_normal().string();
  const int files = argc > 2 ? std::atoi(argv[2]) : 10000;
  const int64_t total = (argc > 3 ? std::atoll(argv[3]) : 2048) << 20;
  const int runs = argc > 4 ? std::atoi(argv[4]) : 3;
  if (files <= 0 || total <= 0 || runs <= 0) {
    std::fprintf(stderr, "startup-bench: FILES, TOTAL_MIB and RUNS must be positive\n");
    return 2;
  }
  const int64_t bytes = Fill(dir, files, total);
  const std::string cache = dir + "/.p2pshare/hashes.tsv";

  std::vector<double> cold, warm;
  for (int r = 0; r < runs; ++r) {
    int64_t hashed = 0;
    fs::remove(cache);
    cold.push_back(TimeRefresh(dir, static_cast<size_t>(files), &hashed));
    if (hashed != files) {
      std::fprintf(stderr, "startup-bench: cold run hashed %lld files\n",
                   static_cast<long long>(hashed));
      return 1;
    }
    warm.push_back(TimeRefresh(dir, static_cast<size_t>(files), &hashed));
    if (hashed != 0) {
      std::fprintf(stderr, "startup-bench: warm run hashed %lld files\n",
                   static_cast<long long>(hashed));
      return 1;
    }
  }
  double c = Median(cold), w = Median(warm);
  p2pshare::Json out{{"files", files},
                     {"bytes", bytes},
                     {"cold_s", c},
                     {"cold_mb_per_s", static_cast<double>(bytes) / c / 1e6},
                     {"warm_s", w},
                     {"cold_runs", cold},
                     {"warm_runs", warm}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
