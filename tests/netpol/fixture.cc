#include "tests/netpol/fixture.h"

#include <stdlib.h>

#include <exception>
#include <iostream>
#include <memory>

namespace quasar::tests::netpol {
namespace {

std::unique_ptr<Cluster>& clusterSlot() {
  static std::unique_ptr<Cluster> c;
  return c;
}

std::string& errorSlot() {
  static std::string e;
  return e;
}

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      clusterSlot() = std::make_unique<Cluster>();
    } catch (const std::exception& e) {
      errorSlot() = e.what();
    }
  }
  void TearDown() override { clusterSlot().reset(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

std::string document(const std::string& api_version, const std::string& ns, const std::string& name,
                     const std::string& spec) {
  return "apiVersion: " + api_version + "\nkind: NetworkPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:" + spec + "\n";
}

}  // namespace

Cluster* cluster() { return clusterSlot().get(); }
const std::string& clusterError() { return errorSlot(); }

void NetpolTest::SetUp() { ASSERT_NE(cluster(), nullptr) << "no cluster: " << clusterError(); }

void NetpolTest::TearDown() {
  if (!cluster()) return;
  EXPECT_EQ(c().deleteAllPolicies(), "");
  if (c().labelsChanged()) {
    EXPECT_EQ(c().resetLabels(), "");
  }
  auto back = c().waitFor(reach(true), 80, Protocol::kTcp);
  EXPECT_EQ(back.wrong, 0) << "with the case's policies deleted and labels reset, not every pod "
                              "reaches every pod again:\n"
                           << back.report;
}

void NetpolTest::validate(const Reachability& expected, int port, Protocol proto) {
  auto cmp = c().waitFor(expected, port, proto);
  EXPECT_EQ(cmp.wrong, 0) << cmp.report;
  // Upstream's isVerbose: every table, also of passing checks.
  if (getenv("QUASAR_NETPOL_VERBOSE") && cmp.wrong == 0) std::cout << cmp.report << "\n";
}

std::string policy(const std::string& ns, const std::string& name, const std::string& spec) {
  return document("networking.k8s.io/v1", ns, name, spec);
}

std::string quasarPolicy(const std::string& ns, const std::string& name, const std::string& spec) {
  return document("quasar.io/v1", ns, name, spec);
}

}  // namespace quasar::tests::netpol
