// Max pods and address capacity per instance type, checked against AWS's eni-max-pods.txt
// (awslabs/amazon-eks-ami, files/eni-max-pods.txt) for the AWS form.
#include "ipam/eni/limits.h"

#include <gtest/gtest.h>

namespace quasar::ipam::eni {
namespace {

PodLimits aws(int enis, int ips, int configured = 0) {
  auto l = podLimits({enis, ips}, MaxPodsFormula::kPrimaryServesPods, configured);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.value_or(PodLimits{});
}

PodLimits reserved(int enis, int ips) {
  auto l = podLimits({enis, ips}, MaxPodsFormula::kPrimaryReserved);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.value_or(PodLimits{});
}

TEST(PodLimits, AwsFormMatchesEniMaxPods) {
  EXPECT_EQ(aws(3, 10).max_pods, 29);    // m5.large
  EXPECT_EQ(aws(15, 50).max_pods, 737);  // p4d.24xlarge
  EXPECT_EQ(aws(3, 4).max_pods, 11);     // t3.small
  EXPECT_EQ(aws(2, 10).max_pods, 20);    // m4.large
  EXPECT_EQ(aws(4, 15).max_pods, 58);    // m5.xlarge
  EXPECT_EQ(aws(8, 30).max_pods, 234);   // m5.4xlarge
  EXPECT_EQ(aws(2, 2).max_pods, 4);      // t3.nano
}

TEST(PodLimits, AwsFormCapacityLeavesOutTheHostNetworkPods) {
  auto m5 = aws(3, 10);
  EXPECT_EQ(m5.address_capacity, 27);  // 29 - 2
  EXPECT_EQ(m5.pod_interfaces, 3);
  EXPECT_EQ(m5.addresses_per_interface, 9);
  EXPECT_EQ(m5.explanation, "3 ENIs x (10 IPs - 1) + 2 = 29");
  EXPECT_EQ(aws(15, 50).address_capacity, 735);
}

TEST(PodLimits, PrimaryReservedFormKeepsEachEnisPrimaryAddress) {
  auto m5 = reserved(3, 10);
  EXPECT_EQ(m5.max_pods, 20);          // (3 - 1) x 10
  EXPECT_EQ(m5.address_capacity, 18);  // (3 - 1) x (10 - 1): max pods less ENIs - 1
  EXPECT_EQ(m5.pod_interfaces, 2);
  EXPECT_EQ(m5.explanation, "(3 ENIs - 1) x 10 IPs = 20");
  auto p4d = reserved(15, 50);
  EXPECT_EQ(p4d.max_pods, 700);
  EXPECT_EQ(p4d.address_capacity, 686);
  EXPECT_EQ(p4d.max_pods - p4d.address_capacity, 15 - 1);
  EXPECT_EQ(reserved(1, 10).address_capacity, 0);  // one ENI: the host's only
}

// The AWS complaint on GPU nodes: the kubelet runs 110 pods, yet a p4d's warm pool would take
// hundreds of the subnet's addresses.
TEST(PodLimits, ConfiguredMaxPodsCapsBoth) {
  auto p4d = aws(15, 50, 110);
  EXPECT_EQ(p4d.formula_max_pods, 737);
  EXPECT_EQ(p4d.max_pods, 110);
  EXPECT_EQ(p4d.address_capacity, 110);
  EXPECT_EQ(p4d.explanation,
            "15 ENIs x (50 IPs - 1) + 2 = 737, capped at the configured maxPods 110");
  auto small = aws(3, 4, 110);  // a cap above the formula changes nothing
  EXPECT_EQ(small.max_pods, 11);
  EXPECT_EQ(small.address_capacity, 9);
}

TEST(PodLimits, RefusesLimitsThatDescribeNoInstance) {
  EXPECT_TRUE(
      absl::IsInvalidArgument(podLimits({0, 10}, MaxPodsFormula::kPrimaryServesPods).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(podLimits({3, 1}, MaxPodsFormula::kPrimaryServesPods).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(podLimits({3, 10}, MaxPodsFormula::kPrimaryServesPods, -1).status()));
}

TEST(PodLimits, FormulaNamesParse) {
  EXPECT_EQ(*parseFormula("aws"), MaxPodsFormula::kPrimaryServesPods);
  EXPECT_EQ(*parseFormula("primary-reserved"), MaxPodsFormula::kPrimaryReserved);
  EXPECT_STREQ(formulaName(MaxPodsFormula::kPrimaryReserved), "primary-reserved");
  EXPECT_TRUE(absl::IsInvalidArgument(parseFormula("terway").status()));
}

}  // namespace
}  // namespace quasar::ipam::eni
