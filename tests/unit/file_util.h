// Writing test files of known content.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace p2pshare::testing {

// `size` pseudo-random bytes from `seed`.
inline std::string RandomBytes(size_t size, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace p2pshare::testing
