#include "tests/netpol/truth_table.h"

#include <gtest/gtest.h>

namespace quasar::tests::netpol {
namespace {

const std::vector<std::string> kPods = {"x/a", "x/b", "y/a"};

Observation allOk() {
  return {kPods, std::vector<std::vector<Outcome>>(3, std::vector<Outcome>(3, Outcome::kOk))};
}

TEST(Reachability, ExpectationsAsUpstreamSetsThem) {
  Reachability r(kPods, true);
  r.expectPeer(PeerMatch{}, PeerMatch{"x", ""}, false);
  EXPECT_FALSE(r.expected("y/a", "x/b"));
  EXPECT_TRUE(r.expected("x/a", "y/a"));
  r.expectAllIngress("x/a", true);
  EXPECT_TRUE(r.expected("y/a", "x/a"));
  r.expectAllEgress("y/a", false);
  EXPECT_FALSE(r.expected("y/a", "x/a"));
  EXPECT_FALSE(r.expected("y/a", "y/a"));
  r.allowLoopback();
  EXPECT_TRUE(r.expected("y/a", "y/a"));
  r.expect("y/a", "x/a", true);
  EXPECT_TRUE(r.expected("y/a", "x/a"));
}

TEST(Compare, MatchingTablesAreRightAndLoopbackIsIgnored) {
  Reachability r(kPods, true);
  r.expect("x/a", "x/a", false);  // a pod to itself is not compared
  auto c = compare(r, allOk());
  EXPECT_EQ(c.wrong, 0);
  EXPECT_EQ(c.right, 6);
  EXPECT_EQ(c.ignored, 3);
}

TEST(Compare, ADifferenceIsCountedAndDrawnInUpstreamsGrid) {
  Reachability r(kPods, true);
  r.expectAllIngress("x/b", false);
  auto obs = allOk();
  obs.outcome[0][1] = Outcome::kRejected;  // x/a -> x/b as expected
  obs.outcome[2][1] = Outcome::kTimeout;   // y/a -> x/b too, by a timeout
  obs.outcome[2][0] = Outcome::kError;     // y/a -> x/a: a failed probe is not a connection
  auto c = compare(r, obs);
  EXPECT_EQ(c.wrong, 1);
  EXPECT_EQ(c.right, 5);
  EXPECT_NE(c.report.find("reachability: correct:5, incorrect:1"), std::string::npos) << c.report;
  EXPECT_NE(
      c.report.find("expected:\n\n-\tx/a\tx/b\ty/a\nx/a\t.\tX\t.\nx/b\t.\tX\t.\ny/a\t.\tX\t.\n"),
      std::string::npos)
      << c.report;
  EXPECT_NE(c.report.find("y/a\tE\tT\t.\n"), std::string::npos) << c.report;
  EXPECT_NE(c.report.find("comparison:\n\n-\tx/a\tx/b\ty/a\nx/a\t-\t.\t.\nx/b\t.\t-\t.\n"
                          "y/a\tX\t.\t-\n"),
            std::string::npos)
      << c.report;
}

TEST(Compare, AnObservationOfOtherPodsIsAllWrong) {
  Reachability r(kPods, true);
  Observation obs = allOk();
  obs.pods[2] = "z/a";
  EXPECT_EQ(compare(r, obs).wrong, 9);
}

TEST(Outcome, ParsesTheProbesWords) {
  EXPECT_EQ(parseOutcome("ok"), Outcome::kOk);
  EXPECT_EQ(parseOutcome("rejected"), Outcome::kRejected);
  EXPECT_EQ(parseOutcome("timeout"), Outcome::kTimeout);
  EXPECT_EQ(parseOutcome("error:socket:_Protocol_not_supported"), Outcome::kError);
  EXPECT_EQ(parseOutcome(""), Outcome::kError);
}

}  // namespace
}  // namespace quasar::tests::netpol
