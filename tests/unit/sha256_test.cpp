#include "common/sha256.h"

#include <gtest/gtest.h>

#include <fstream>

#include "unit/test_dir.h"

namespace p2pshare {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7919 % 251);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 777) h.Update(std::string_view(data).substr(i, 777));
  EXPECT_EQ(h.FinishHex(), Sha256Hex(data));
}

TEST(Sha256Test, FileHashCrossesBlockBoundaries) {
  testing::TestDir dir;
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 253);
  std::ofstream(dir / "f", std::ios::binary) << data;
  auto h = Sha256File(dir / "f");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, Sha256Hex(data));
}

TEST(Sha256Test, MissingFileIsNotFound) {
  testing::TestDir dir;
  EXPECT_EQ(Sha256File(dir / "absent").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace p2pshare
