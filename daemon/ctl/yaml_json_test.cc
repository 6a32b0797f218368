#include "daemon/ctl/yaml_json.h"

#include <gtest/gtest.h>

#include <string>

#include "conf/json_parse.h"

namespace quasar::daemon {
namespace {

TEST(YamlJson, TypesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  auto docs = yamlDocumentsToJson(R"(
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {version: "2", enabled: "true"}}
spec:
  containers:
  - name: c
    ports: [{containerPort: 8080, protocol: TCP}]
---
---
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}
)");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 2u);
  const auto& pod = (*docs)[0];
  EXPECT_TRUE(pod["spec"]["containers"][0]["ports"][0]["containerPort"].is_number_integer());
  EXPECT_EQ(pod["metadata"]["labels"]["version"], "2");
  EXPECT_EQ(pod["metadata"]["labels"]["enabled"], "true");
  EXPECT_EQ((*docs)[1]["kind"], "Namespace");
  // Round trip: strings that look like numbers stay strings.
  auto back = yamlDocumentsToJson(jsonToYaml(pod));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0], pod);
}

TEST(YamlJson, BadInputSaysWhere) {
  auto r = yamlDocumentsToJson("a: [1, 2\nb: c\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line"), std::string::npos) << r.status();
}

// quasard refuses JSON nested deeper than conf::kMaxJsonDepth; quasarctl says so first.
TEST(YamlJson, RefusesNestingDeeperThanQuasardAccepts) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  auto ok = yamlDocumentsToJson("a: " + nested(conf::kMaxJsonDepth - 1));
  ASSERT_TRUE(ok.ok()) << ok.status();
  for (int depth : {conf::kMaxJsonDepth, 5000, 100000}) {
    auto r = yamlDocumentsToJson("a: " + nested(depth));
    ASSERT_FALSE(r.ok()) << depth;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << depth;
  }
  auto r = yamlDocumentsToJson("a: " + nested(conf::kMaxJsonDepth));
  EXPECT_NE(r.status().message().find("deeper than 128"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace quasar::daemon
