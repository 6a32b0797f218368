#include "conf/json_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace quasar::conf {
namespace {

std::string nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(ParseJson, ParsesUpToTheDepthBound) {
  auto j = parseJson(R"({"a": [1, {"b": "c"}], "d": null})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"][1]["b"], "c");
  auto deepest = parseJson(nested(kMaxJsonDepth));
  ASSERT_TRUE(deepest.ok()) << deepest.status();
  EXPECT_TRUE(deepest->is_array());
}

TEST(ParseJson, RefusesDeeperNestingWithoutRecursing) {
  for (int depth : {kMaxJsonDepth + 1, 5000, 1000000}) {
    auto j = parseJson(nested(depth));
    ASSERT_FALSE(j.ok()) << depth;
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(j.status().message().find("deeper than 128"), std::string::npos) << j.status();
  }
  // Objects count as lists do, and a bound can be chosen.
  std::string objects;
  for (int i = 0; i < 10; ++i) objects += R"({"k":)";
  objects += "1" + std::string(10, '}');
  EXPECT_TRUE(parseJson(objects, 10).ok());
  EXPECT_FALSE(parseJson(R"({"x":)" + objects + "}", 10).ok());
}

TEST(ParseJson, BracketsInsideStringsDoNotCount) {
  const std::string text = R"({"s": ")" + nested(500) + R"(\"[[[", "t": "\\"})";
  auto j = parseJson(text, 2);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["s"], nested(500) + "\"[[[");
  EXPECT_EQ((*j)["t"], "\\");
}

TEST(ParseJson, InvalidJsonIsAnErrorNotAnException) {
  for (const char* text : {"", "{not json", "[1, 2", "\"\xff\"", "{\"a\": 1} trailing"}) {
    auto j = parseJson(text);
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(j.status().message().find("not valid JSON"), std::string::npos) << j.status();
  }
}

TEST(Utf8, ValidatesAndReplacesIllFormedBytes) {
  for (const char* ok : {"", "eth0", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x8d"}) {
    EXPECT_TRUE(isValidUtf8(ok)) << ok;
    EXPECT_EQ(toValidUtf8(ok), ok);
  }
  for (const char* bad : {"\xff", "\xc3", "\xc3\x28", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf0\x9f\x90"}) {
    EXPECT_FALSE(isValidUtf8(bad)) << bad;
    EXPECT_TRUE(isValidUtf8(toValidUtf8(bad))) << bad;
  }
  EXPECT_EQ(toValidUtf8("a\xff" "b\xc3\xa9"),
            "a\xef\xbf\xbd"
            "b\xc3\xa9");
}

}  // namespace
}  // namespace quasar::conf
