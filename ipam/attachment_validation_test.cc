#include "ipam/attachment_validation.h"

#include <gtest/gtest.h>

namespace quasar::ipam {
namespace {

TEST(ValidateAttachment, AcceptsWhatRuntimesUse) {
  EXPECT_TRUE(validateAttachment({"c1", "eth0"}).ok());
  EXPECT_TRUE(validateAttachment({std::string(64, 'a'), "net1"}).ok());
  EXPECT_TRUE(validateAttachment({"k8s_POD_web-1.default_0", "eth0.100"}).ok());
  EXPECT_TRUE(validateAttachment({std::string(kMaxContainerIdLength, '7'), "a"}).ok());
  EXPECT_TRUE(validateAttachment({"c", std::string(kMaxIfnameLength, 'x')}).ok());
}

TEST(ValidateAttachment, RejectsBadContainerIds) {
  for (const std::string& id :
       {std::string(), std::string(kMaxContainerIdLength + 1, 'a'), std::string("-c1"),
        std::string(".c1"), std::string("_c1"), std::string("c 1"), std::string("c/1"),
        std::string("c1\n"), std::string("c1\"x=y"), std::string("c\0001", 3)}) {
    auto s = validateAttachment({id, "eth0"});
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << "container ID of " << id.size() << " bytes: " << s;
  }
}

TEST(ValidateAttachment, RejectsBadIfnames) {
  for (const std::string& name :
       {std::string(), std::string(kMaxIfnameLength + 1, 'e'), std::string("."), std::string(".."),
        std::string("eth/0"), std::string("eth:0"), std::string("eth 0"), std::string("eth0\t"),
        std::string("eth\n0"), std::string("et\0h", 4)}) {
    auto s = validateAttachment({"c1", name});
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << "ifname of " << name.size() << " bytes: " << s;
  }
}

}  // namespace
}  // namespace quasar::ipam
