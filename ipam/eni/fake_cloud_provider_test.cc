// The fake cloud keeps EC2's rules that the pool depends on; if it did not, the pool's tests
// would prove nothing.
#include "ipam/cloud/fake_cloud_provider.h"

#include <gtest/gtest.h>

#include "ipam/eni/test_util.h"

namespace quasar::ipam::eni {
namespace {

using namespace testing;

cloud::CreateInterfaceRequest create(const std::string& token) {
  cloud::CreateInterfaceRequest r;
  r.subnet_id = "subnet-a";
  r.tags = {{cloud::kNodeTag, "node-a"}};
  r.client_token = token;
  return r;
}

TEST(FakeCloud, ClientTokenReturnsTheFirstInterface) {
  auto c = t3small();
  auto a = c->createInterface(create("t1"));
  auto again = c->createInterface(create("t1"));
  auto other = c->createInterface(create("t2"));
  ASSERT_TRUE(a.ok() && again.ok() && other.ok());
  EXPECT_EQ(a->id, again->id);
  EXPECT_NE(a->id, other->id);
  auto changed = create("t1");
  changed.tags.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(c->createInterface(changed).status()));
  EXPECT_EQ(c->calls("createInterface"), 4);
}

TEST(FakeCloud, EnforcesInterfaceAndAddressLimits) {
  auto c = t3small();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(c->createInterface(create("")).value().id);
  ASSERT_TRUE(c->attachInterface(ids[0], "i-0123456789abcdef0", 1).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      c->attachInterface(ids[1], "i-0123456789abcdef0", 1).status()));  // device taken
  ASSERT_TRUE(c->attachInterface(ids[1], "i-0123456789abcdef0", 2).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(
      c->attachInterface(ids[2], "i-0123456789abcdef0", 3).status()));  // 3 ENIs
  EXPECT_EQ(c->assignPrivateIps(ids[0], 3).value().size(), 3u);
  EXPECT_TRUE(absl::IsResourceExhausted(c->assignPrivateIps(ids[0], 1).status()));  // 4 IPs
  EXPECT_TRUE(absl::IsFailedPrecondition(c->deleteInterface(ids[0])));
  EXPECT_TRUE(absl::IsInvalidArgument(
      c->detachInterface(c->interface("eni-primary").attachment_id, false)));
}

TEST(FakeCloud, InjectedFailuresAndCounters) {
  auto c = t3small();
  c->throttle("assignPrivateIps", 2);
  EXPECT_TRUE(absl::IsUnavailable(c->assignPrivateIps("eni-primary", 1).status()));
  EXPECT_TRUE(absl::IsUnavailable(c->assignPrivateIps("eni-primary", 1).status()));
  auto ok = c->assignPrivateIps("eni-primary", 1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->front(), ip("10.40.0.5"));  // .4 is the primary's; .0-.3 are EC2's
  EXPECT_EQ(c->calls("assignPrivateIps"), 3);
  EXPECT_EQ(c->mutatingCalls(), 3);
  EXPECT_TRUE(c->describeInstance().ok());
  EXPECT_EQ(c->mutatingCalls(), 3);
  EXPECT_EQ(c->totalCalls(), 4);
}

}  // namespace
}  // namespace quasar::ipam::eni
