// seed-accounts: creates accounts straight in a central database, with
// cheap password hashes, so a benchmark can log in thousands of peers in
// seconds (a real account costs 100 000 PBKDF2 iterations per login, by
// design). Benchmarks only: never point it at a real directory.
//
//   seed-accounts DB PREFIX COUNT     accounts PREFIX0 .. PREFIX<COUNT-1>,
//                                     password "<name>-load-password"
#include <cstdio>
#include <cstdlib>
#include <string>

#include "central/auth.h"
#include "central/store/directory_store.h"

int main(int argc, char** argv) {
  using namespace p2pshare::central;
  if (argc != 4) {
    std::fprintf(stderr, "usage: seed-accounts DB PREFIX COUNT\n");
    return 2;
  }
  auto store = DirectoryStore::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "seed-accounts: %s\n", store.status().message().c_str());
    return 1;
  }
  const std::string prefix = argv[2];
  const int count = std::atoi(argv[3]);
  for (int i = 0; i < count; ++i) {
    std::string name = prefix + std::to_string(i);
    auto s = (*store)->CreateAccount({name, HashPassword(name + "-load-password", 1)});
    if (!s.ok() && s.reason() != "username_taken") {
      std::fprintf(stderr, "seed-accounts: %s\n", s.message().c_str());
      return 1;
    }
  }
  std::printf("seed-accounts: %d accounts\n", count);
  return 0;
}
