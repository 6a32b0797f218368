#include "cni/env.h"

#include <gtest/gtest.h>

#include <map>

#include "cni/errors.h"

namespace quasar::cni {
namespace {

absl::StatusOr<CniEnv> read(std::map<std::string, std::string> vars) {
  return readEnv([&](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::map<std::string, std::string> add() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc123"},
          {"CNI_NETNS", "/run/netns/p"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

TEST(CniEnv, ReadsAddWithKubernetesArgs) {
  auto vars = add();
  vars["CNI_ARGS"] =
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u1;X=y";
  auto e = read(vars);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->pod_namespace, "default");
  EXPECT_EQ(e->pod_name, "web-0");
  EXPECT_EQ(e->pod_uid, "u1");
}

TEST(CniEnv, UnknownArgsNeedIgnoreUnknown) {
  auto vars = add();
  vars["CNI_ARGS"] = "FOO=bar";
  auto e = read(vars);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(codeFor(e.status()), kInvalidEnvironment);
  EXPECT_NE(e.status().message().find("FOO"), std::string::npos);
}

TEST(CniEnv, MissingOrBadVariablesAreCode4AndNamed) {
  for (const char* var : {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}) {
    auto vars = add();
    vars.erase(var);
    auto e = read(vars);
    ASSERT_FALSE(e.ok()) << var;
    EXPECT_EQ(codeFor(e.status()), kInvalidEnvironment);
    EXPECT_NE(e.status().message().find(var), std::string::npos) << e.status();
  }
  auto bad_if = add();
  bad_if["CNI_IFNAME"] = "a-name-that-is-too-long";
  EXPECT_FALSE(read(bad_if).ok());
  auto bad_id = add();
  bad_id["CNI_CONTAINERID"] = "../etc";
  EXPECT_FALSE(read(bad_id).ok());
  auto bad_cmd = add();
  bad_cmd["CNI_COMMAND"] = "FROB";
  EXPECT_FALSE(read(bad_cmd).ok());
}

TEST(CniEnv, DelDoesNotNeedTheNetns) {
  auto vars = add();
  vars["CNI_COMMAND"] = "DEL";
  vars.erase("CNI_NETNS");
  EXPECT_TRUE(read(vars).ok());
}

TEST(CniEnv, VersionGcStatusNeedNoContainer) {
  for (const char* cmd : {"VERSION", "GC", "STATUS"}) {
    EXPECT_TRUE(read({{"CNI_COMMAND", cmd}}).ok()) << cmd;
  }
}

// Every CNI_* value ends up in a log line, an error message (JSON) or a request to quasard
// (protobuf): all of them must be UTF-8. Checked first, before the values mean anything.
TEST(CniEnv, NonUtf8ValuesAreCode4AndNamed) {
  for (const char* var :
       {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH", "CNI_ARGS"}) {
    auto vars = add();
    vars[var] = vars[var] + "\xc3\x28";  // a lead byte without its continuation
    auto e = read(vars);
    ASSERT_FALSE(e.ok()) << var;
    EXPECT_EQ(codeFor(e.status()), kInvalidEnvironment) << var;
    EXPECT_NE(e.status().message().find(std::string(var) + " is not valid UTF-8"),
              std::string::npos)
        << e.status();
  }
  auto vars = add();
  vars["CNI_ARGS"] = "K8S_POD_NAMESPACE=default;K8S_POD_NAME=caf\xc3\xa9";  // UTF-8 is fine
  auto e = read(vars);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->pod_name, "caf\xc3\xa9");
}

}  // namespace
}  // namespace quasar::cni
