#include "daemon/cluster/gone_nodes.h"

#include <gtest/gtest.h>

namespace quasar::daemon {
namespace {

using namespace std::chrono_literals;

TEST(GoneNodesTest, GoneOnlyAfterTheGraceFromTheFirstPassThatSawIt) {
  GoneNodes gone(60s);
  const GoneNodes::Clock::time_point t0{};
  gone.observe({"a"}, t0);
  EXPECT_FALSE(gone.goneForGrace("a"));
  EXPECT_FALSE(gone.goneForGrace("b"));  // first seen gone now
  gone.observe({"a"}, t0 + 59s);
  EXPECT_FALSE(gone.goneForGrace("b"));
  gone.observe({"a"}, t0 + 60s);
  EXPECT_TRUE(gone.goneForGrace("b"));
  EXPECT_FALSE(gone.goneForGrace("a"));
}

TEST(GoneNodesTest, ANodeBackStartsItsGraceAnew) {
  GoneNodes gone(60s);
  const GoneNodes::Clock::time_point t0{};
  gone.observe({}, t0);
  EXPECT_FALSE(gone.goneForGrace("b"));
  gone.observe({"b"}, t0 + 30s);  // back
  EXPECT_FALSE(gone.goneForGrace("b"));
  gone.observe({}, t0 + 40s);  // gone again
  EXPECT_FALSE(gone.goneForGrace("b"));
  gone.observe({}, t0 + 90s);
  EXPECT_FALSE(gone.goneForGrace("b"));  // 50 s since it went again
  gone.observe({}, t0 + 100s);
  EXPECT_TRUE(gone.goneForGrace("b"));
}

}  // namespace
}  // namespace quasar::daemon
