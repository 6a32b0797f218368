#include "daemon/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "daemon/metrics/quasard_metrics.h"

namespace quasar::metrics {
namespace {

TEST(Exposition, MatchesTheGoldenText) {
  Registry r;
  auto& calls = r.counter("quasar_test_calls_total", "Calls by command.", {"command", "result"});
  calls.with({"ADD", "ok"}).inc(3);
  calls.with({"DEL", "unavailable"}).inc();
  calls.with({"ADD", "already_exists"}).inc(2);
  r.gauge("quasar_test_temperature", "A gauge\\with a backslash\nand a newline.").get().set(-1.5);
  auto& lat = r.histogram("quasar_test_duration_seconds", "Latency.", {"command"}, {0.125, 0.5, 2});
  lat.with({"ADD"}).observe(0.0625);
  lat.with({"ADD"}).observe(0.125);  // on a bound: counted in that bucket ("le")
  lat.with({"ADD"}).observe(1);
  lat.with({"ADD"}).observe(8);
  r.gauge("quasar_test_unused", "Labelled, never used: not exposed.", {"pool"});
  r.counter("quasar_test_plain_total", "No labels: exposed from the start.");

  EXPECT_EQ(r.expose(),
            "# HELP quasar_test_calls_total Calls by command.\n"
            "# TYPE quasar_test_calls_total counter\n"
            "quasar_test_calls_total{command=\"ADD\",result=\"already_exists\"} 2\n"
            "quasar_test_calls_total{command=\"ADD\",result=\"ok\"} 3\n"
            "quasar_test_calls_total{command=\"DEL\",result=\"unavailable\"} 1\n"
            "# HELP quasar_test_duration_seconds Latency.\n"
            "# TYPE quasar_test_duration_seconds histogram\n"
            "quasar_test_duration_seconds_bucket{command=\"ADD\",le=\"0.125\"} 2\n"
            "quasar_test_duration_seconds_bucket{command=\"ADD\",le=\"0.5\"} 2\n"
            "quasar_test_duration_seconds_bucket{command=\"ADD\",le=\"2\"} 3\n"
            "quasar_test_duration_seconds_bucket{command=\"ADD\",le=\"+Inf\"} 4\n"
            "quasar_test_duration_seconds_sum{command=\"ADD\"} 9.1875\n"
            "quasar_test_duration_seconds_count{command=\"ADD\"} 4\n"
            "# HELP quasar_test_plain_total No labels: exposed from the start.\n"
            "# TYPE quasar_test_plain_total counter\n"
            "quasar_test_plain_total 0\n"
            "# HELP quasar_test_temperature A gauge\\\\with a backslash\\nand a newline.\n"
            "# TYPE quasar_test_temperature gauge\n"
            "quasar_test_temperature -1.5\n");
}

TEST(Exposition, EscapesBackslashQuoteAndNewlineInLabelValues) {
  Registry r;
  auto& g = r.gauge("quasar_test_g", "G.", {"path"});
  g.with({"C:\\dir \"quoted\"\nnext"}).set(1);
  EXPECT_EQ(r.expose(),
            "# HELP quasar_test_g G.\n# TYPE quasar_test_g gauge\n"
            "quasar_test_g{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 1\n");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");  // quotes stay in HELP
  EXPECT_EQ(escapeLabelValue("plain ünïcode"), "plain ünïcode");
}

TEST(Exposition, FormatsSpecialAndShortestValues) {
  EXPECT_EQ(formatValue(0.001), "0.001");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(10), "10");
  EXPECT_EQ(formatValue(-0.25), "-0.25");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(formatValue(1.0 / 3)), 1.0 / 3);  // round-trips
}

TEST(Histogram, BucketsAreCumulativeAndEndInInf) {
  const std::vector<double> bounds = {1, 2, 4};
  Histogram h(bounds);
  for (double v : {0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 100.0}) h.observe(v);
  h.observe(std::nan(""));
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 6, 9}));
  EXPECT_DOUBLE_EQ(s.sum, 116);  // NaN is counted, not summed
}

TEST(Histogram, CniBucketsSpanOneMillisecondToTenSeconds) {
  EXPECT_EQ(kCniLatencyBuckets.front(), 0.001);
  EXPECT_EQ(kCniLatencyBuckets.back(), 10);
  EXPECT_TRUE(std::is_sorted(kCniLatencyBuckets.begin(), kCniLatencyBuckets.end()));
}

TEST(Family, ChildHandleIsStableAndShared) {
  Registry r;
  auto& f = r.counter("quasar_test_total", "T.", {"a"});
  Counter& c = f.with({"x"});
  for (int i = 0; i < 100; ++i) f.with({"y"});  // other children do not move it
  EXPECT_EQ(&c, &f.with({"x"}));
  const std::vector<std::string> dynamic = {"x"};
  EXPECT_EQ(&c, &f.with(std::span<const std::string>(dynamic)));
  c.inc(5);
  EXPECT_EQ(f.with({"x"}).value(), 5u);
}

TEST(Family, CollectedSeriesAreComputedAtScrapeAndEndWithTheirRegistration) {
  Registry r;
  auto& g = r.gauge("quasar_test_pool", "P.", {"pool"});
  g.with({"fixed"}).set(7);
  double value = 1;
  {
    auto reg = g.collect([&](Samples& s) {
      s.add({"10.0.0.0/24"}, value);
      s.add({"fixed"}, 99);  // a child with these labels exists: it wins
    });
    value = 2;
    EXPECT_EQ(r.expose(),
              "# HELP quasar_test_pool P.\n# TYPE quasar_test_pool gauge\n"
              "quasar_test_pool{pool=\"fixed\"} 7\n"
              "quasar_test_pool{pool=\"10.0.0.0/24\"} 2\n");
  }
  EXPECT_EQ(r.expose(),
            "# HELP quasar_test_pool P.\n# TYPE quasar_test_pool gauge\n"
            "quasar_test_pool{pool=\"fixed\"} 7\n");
}

TEST(CallMetrics, CountsByOperationAndResultAndTimes) {
  QuasardMetrics m;
  const auto start = std::chrono::steady_clock::now();
  m.cni().record(kCniAdd, absl::StatusCode::kOk, start);
  m.cni().record(kCniAdd, absl::StatusCode::kOk, start);
  m.cni().record(kCniAdd, absl::StatusCode::kUnavailable, start);
  m.cni().record(kCniDel, static_cast<absl::StatusCode>(99), start);  // unknown code
  EXPECT_EQ(m.cni_requests.with({"ADD", "ok"}).value(), 2u);
  EXPECT_EQ(m.cni_requests.with({"ADD", "unavailable"}).value(), 1u);
  EXPECT_EQ(m.cni_requests.with({"DEL", "unknown"}).value(), 1u);
  EXPECT_EQ(m.cni_request_duration.with({"ADD"}).snapshot().cumulative.back(), 3u);
  EXPECT_EQ(&m.cni().calls(kCniAdd, absl::StatusCode::kOk), &m.cni_requests.with({"ADD", "ok"}));
}

TEST(QuasardMetrics, EveryFamilyIsNamedQuasarAndExposedOnceUsed) {
  QuasardMetrics m;
  m.watch("cluster").synced.set(1);
  m.reconcile("routing").runs.inc();
  auto reg = m.collectPools([] { return std::vector<PoolUsage>{{"10.244.1.0/24", 3, 1, 254}}; });
  const std::string text = m.registry().expose();
  EXPECT_NE(text.find("quasar_watch_synced{kind=\"cluster\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("quasar_ipam_pool_addresses_capacity{pool=\"10.244.1.0/24\"} 254\n"),
            std::string::npos);
  EXPECT_NE(text.find("quasar_reconcile_runs_total{agent=\"routing\"} 1\n"), std::string::npos);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const std::string name = line.rfind("# ", 0) == 0 ? line.substr(7) : line;
    EXPECT_EQ(name.rfind("quasar_", 0), 0u) << line;
  }
}

// Many threads on the same children: nothing is lost (run under TSan too).
TEST(Concurrency, IncrementsFromManyThreadsAreAllCounted) {
  Registry r;
  auto& c = r.counter("quasar_test_total", "T.", {"t"});
  auto& g = r.gauge("quasar_test_g", "G.");
  auto& h = r.histogram("quasar_test_seconds", "H.", {}, {0.5, 1});
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done) r.expose();  // scrapes and creations race the updates
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = c.with({"shared"});
      for (int i = 0; i < kPerThread; ++i) {
        mine.inc();
        c.with({std::to_string(t)}).inc();
        g.get().add(1);
        h.get().observe(i % 2 ? 0.25 : 2);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(c.with({"shared"}).value(), uint64_t{kThreads} * kPerThread);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(c.with({std::to_string(t)}).value(), kPerThread);
  EXPECT_EQ(g.get().value(), kThreads * kPerThread);
  const auto s = h.get().snapshot();
  EXPECT_EQ(s.cumulative,
            (std::vector<uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread / 2,
                                   kThreads * kPerThread}));
  EXPECT_DOUBLE_EQ(s.sum, kThreads * kPerThread / 2 * 2.25);
}

// Names Prometheus would refuse are programming errors, caught where they are declared.
TEST(RegistryDeathTest, RefusesBadDeclarations) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  EXPECT_DEATH(r.counter("quasar_calls", "no _total suffix"), "ends in _total");
  EXPECT_DEATH(r.gauge("quasar_g_total", "G."), "only counters end in _total");
  EXPECT_DEATH(r.gauge("quasar-bad", "G."), "invalid metric name");
  EXPECT_DEATH(r.gauge("quasar_g", "G.", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(r.gauge("quasar_g", ""), "HELP text is required");
  EXPECT_DEATH(r.histogram("quasar_h", "H.", {"le"}, {1}), "label \"le\"");
  EXPECT_DEATH(r.histogram("quasar_h", "H.", {}, {1, 1}), "strictly increasing");
  r.gauge("quasar_twice", "G.");
  EXPECT_DEATH(r.gauge("quasar_twice", "G."), "registered twice");
  auto& f = r.counter("quasar_two_total", "C.", {"a", "b"});
  EXPECT_DEATH(f.with({"only-one"}), "1 label values");
}

}  // namespace
}  // namespace quasar::metrics
