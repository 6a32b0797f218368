#include "ipam/floating/lease.h"

#include <gtest/gtest.h>

#include "ipam/floating/lease_rules.h"
#include "ipam/floating/test_util.h"

namespace quasar::ipam::floating {
namespace {

TEST(ParseReleasePolicy, AcceptsGalaxysValuesAndDefaultsToRelease) {
  EXPECT_EQ(*parseReleasePolicy("release"), ReleasePolicy::kRelease);
  EXPECT_EQ(*parseReleasePolicy("immutable"), ReleasePolicy::kImmutable);
  EXPECT_EQ(*parseReleasePolicy("never"), ReleasePolicy::kNever);
  EXPECT_EQ(*parseReleasePolicy(""), ReleasePolicy::kRelease);
  for (auto p : {ReleasePolicy::kRelease, ReleasePolicy::kImmutable, ReleasePolicy::kNever}) {
    EXPECT_EQ(*parseReleasePolicy(toString(p)), p);
  }
}

TEST(ParseReleasePolicy, RejectsAnythingElseNamingTheValue) {
  auto p = parseReleasePolicy("Immutable ");
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_NE(p.status().message().find("\"Immutable \""), absl::string_view::npos);
}

TEST(WorkloadKind, RoundTrips) {
  for (auto k : {WorkloadKind::kStatefulSet, WorkloadKind::kDeployment, WorkloadKind::kReplicaSet,
                 WorkloadKind::kPod}) {
    EXPECT_EQ(*parseWorkloadKind(toString(k)), k);
  }
  EXPECT_FALSE(parseWorkloadKind("DaemonSet").ok());
}

TEST(DescribeHolder, NamesPodAndNodeOrTheWorkload) {
  Lease l;
  l.pod = {"ns", "web-0", "u"};
  l.node = "n1";
  EXPECT_EQ(describeHolder(l), "pod ns/web-0 on node n1");
  l.state = LeaseState::kUnbound;
  l.policy = ReleasePolicy::kImmutable;
  l.workload = {WorkloadKind::kStatefulSet, "ns", "web", "u"};
  EXPECT_EQ(describeHolder(l), "StatefulSet ns/web (immutable, unbound)");
}

TEST(KeptRank, ImmutableNeedsTheSameWorkloadUidButNeverDoesNot) {
  Lease l;
  l.state = LeaseState::kUnbound;
  l.policy = ReleasePolicy::kImmutable;
  l.workload = testing::workload(WorkloadKind::kDeployment, "d", "old");
  const auto recreated = testing::workload(WorkloadKind::kDeployment, "d", "new");
  EXPECT_EQ(keptRank(l, recreated, {"default", "d-x", "p"}), 0);
  EXPECT_EQ(keptRank(l, l.workload, {"default", "d-x", "p"}), kRankUnbound);
  l.policy = ReleasePolicy::kNever;
  EXPECT_EQ(keptRank(l, recreated, {"default", "d-x", "p"}), kRankUnbound);
}

TEST(KeptRank, IdentityKindsTakeOnlyTheirOwnPodsLease) {
  Lease l;
  l.state = LeaseState::kUnbound;
  l.policy = ReleasePolicy::kImmutable;
  l.workload = testing::workload(WorkloadKind::kStatefulSet, "web");
  l.pod = {"default", "web-0", "old"};
  EXPECT_EQ(keptRank(l, l.workload, {"default", "web-1", "x"}), 0);
  EXPECT_EQ(keptRank(l, l.workload, {"default", "web-0", "new"}), kRankUnbound);
  // Still bound to an earlier web-0: stale, the new web-0 takes it over.
  l.state = LeaseState::kBound;
  EXPECT_EQ(keptRank(l, l.workload, {"default", "web-0", "new"}), kRankStaleBound);
  EXPECT_EQ(keptRank(l, l.workload, {"default", "web-0", "old"}), 0);
  l.policy = ReleasePolicy::kRelease;
  EXPECT_EQ(keptRank(l, l.workload, {"default", "web-0", "new"}), 0);
}

}  // namespace
}  // namespace quasar::ipam::floating
