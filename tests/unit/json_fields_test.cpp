#include "common/json_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace p2pshare {
namespace {

TEST(JsonFieldsTest, DeepNestingIsRefusedBeforeAnythingIsBuilt) {
  auto deep = ParseJsonObject(std::string(1 << 20, '['));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), Code::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("nested deeper than 32 levels"), std::string::npos);
  // Brackets inside strings are text, not nesting.
  EXPECT_TRUE(ParseJsonObject(R"({"name": ")" + std::string(100, '[') + R"(\"["})").ok());
  std::string ok = "{\"a\":";
  for (int i = 0; i < 30; ++i) ok += "[";
  ok += std::string(30, ']') + "}";
  EXPECT_TRUE(ParseJsonObject(ok).ok()) << "31 levels";
}

TEST(JsonFieldsTest, ABodyOfManySmallValuesIsRefusedButAFullIndexBodyIsNot) {
  // 1 MiB of empty objects parses to ~29 MiB.
  std::string objects = "{\"files\":[";
  while (objects.size() < (1 << 20)) objects += "{},";
  objects += "{}]}";
  auto many = ParseJsonObject(objects);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("too many values"), std::string::npos) << many.status().message();
  // The largest index body DirectoryClient sends (1 MiB) with short names.
  std::string index = "{\"files\":[";
  for (int i = 0; index.size() < (1 << 20) - 200; ++i) {
    index += std::string(i ? "," : "") + R"({"name":"a)" + std::to_string(i) + R"(","size":1,"sha256":")" +
             std::string(64, 'a') + R"(","root":")" + std::string(64, 'b') + R"("})";
  }
  index += "]}";
  JsonShape shape = MeasureJson(index);
  EXPECT_LT(shape.cost, kMaxJsonCost);
  EXPECT_EQ(shape.depth, 3);
  EXPECT_TRUE(ParseJsonObject(index).ok());
}

}  // namespace
}  // namespace p2pshare
