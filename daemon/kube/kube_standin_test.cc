// The API client and reflector against the Kubernetes API server stand-in (tests/k8s/), with
// the real kubectl changing objects. Label netns: run through tests/in-netns.sh.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "tests/eventually.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/api_status.h"
#include "daemon/kube/reflector.h"
#include "tests/k8s_standin.h"

namespace quasar::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Versions = std::map<std::string, std::string>;  // object key -> resourceVersion
using tests::K8sStandin;

// Applies events strictly: an ADDED for a held object, a MODIFIED or DELETED for an unknown one,
// or a MODIFIED that does not move the version forward is recorded as a violation (an event
// applied twice, or one lost before it). After a relist, onSynced must match what the events
// made. The gate holds the reflector's thread inside onEvent, so a test can make it lag.
class StrictSink : public ReflectorSink {
 public:
  void onSynced(const std::string&, std::vector<json> objects) override {
    std::lock_guard lock(mu_);
    Versions listed;
    for (const auto& o : objects) listed[objectKey(o)] = resourceVersionOf(o);
    if (syncs_ > 0 && versionsLocked() != listed) {
      violations_.push_back("a relist's objects differ from its events' result");
    }
    objects_.clear();
    for (auto& o : objects) {
      std::string key =
          objectKey(o);  // before the move: json's operator= takes its argument by value
      objects_[std::move(key)] = std::move(o);
    }
    ++syncs_;
    cv_.notify_all();
  }

  void onEvent(const std::string&, EventType type, const json& object) override {
    std::unique_lock lock(mu_);
    if (gate_closed_) {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !gate_closed_; });
      blocked_ = false;
    }
    const std::string key = objectKey(object);
    const std::string rv = resourceVersionOf(object);
    auto it = objects_.find(key);
    const std::string what = std::string(eventTypeName(type)) + " " + key + "@" + rv;
    if (type == EventType::kAdded) {
      if (it != objects_.end()) violations_.push_back(what + ": already held");
      objects_[key] = object;
    } else if (it == objects_.end()) {
      violations_.push_back(what + ": not held");
    } else if (type == EventType::kModified) {
      if (std::stoll(rv) <= std::stoll(resourceVersionOf(it->second))) {
        violations_.push_back(what + ": not newer than " + resourceVersionOf(it->second));
      }
      it->second = object;
    } else {
      objects_.erase(it);
    }
    ++events_;
    cv_.notify_all();
  }

  Versions versions() const {
    std::lock_guard lock(mu_);
    return versionsLocked();
  }
  std::optional<json> get(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }
  // Waits until pred(objects) holds.
  bool waitFor(const std::function<bool(const std::map<std::string, json>&)>& pred,
               milliseconds timeout = seconds(10)) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(objects_); });
  }
  bool waitHas(const std::string& key) const {
    return waitFor([&](const auto& m) { return m.contains(key); });
  }
  bool waitGone(const std::string& key) const {
    return waitFor([&](const auto& m) { return !m.contains(key); });
  }

  void closeGate() {
    std::lock_guard lock(mu_);
    gate_closed_ = true;
  }
  void openGate() {
    std::lock_guard lock(mu_);
    gate_closed_ = false;
    cv_.notify_all();
  }
  bool waitBlocked(milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return blocked_; });
  }

 private:
  Versions versionsLocked() const {
    Versions v;
    for (const auto& [k, o] : objects_) v[k] = resourceVersionOf(o);
    return v;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, json> objects_;
  std::vector<std::string> violations_;
  int syncs_ = 0;
  size_t events_ = 0;
  bool gate_closed_ = false;
  bool blocked_ = false;
};

class RecordingObserver : public ReflectorObserver {
 public:
  void onWatchState(const std::string&, WatchState s) override {
    std::lock_guard lock(mu_);
    states_.insert(s);
  }
  void onError(const std::string&, const absl::Status&) override {
    std::lock_guard lock(mu_);
    ++errors_;
  }
  bool saw(WatchState s) const {
    std::lock_guard lock(mu_);
    return states_.contains(s);
  }

 private:
  mutable std::mutex mu_;
  std::set<WatchState> states_;
  int errors_ = 0;
};

using ::quasar::tests::eventually;

Versions serverVersions(const ApiClient& api, const Resource& r, const std::string& ns = "",
                        const std::string& label_selector = "") {
  ListOptions o;
  o.namespace_name = ns;
  o.label_selector = label_selector;
  auto list = api.list(r, o);
  EXPECT_TRUE(list.ok()) << list.status();
  Versions v;
  if (list.ok()) {
    for (const auto& item : list->items) v[objectKey(item)] = resourceVersionOf(item);
  }
  return v;
}

json node(const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", std::move(labels)}}}};
}

json pod(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "burst"}}}}},
          {"spec", {{"containers", {{{"name", "c"}, {"image", "registry.invalid/c:1"}}}}}}};
}

json namespaceObject(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

void writeFileAtomically(const std::string& path, const std::string& content) {
  std::ofstream(path + ".new") << content;
  std::filesystem::rename(path + ".new", path);
}

class KubeStandinTest : public ::testing::Test {
 protected:
  void SetUp() override { startStandin({"--bookmark-interval", "1"}); }
  void startStandin(std::vector<std::string> args) {
    auto s = K8sStandin::start(std::move(args));
    ASSERT_TRUE(s.ok()) << s.status();
    standin_ = std::move(*s);
    auto http = HttpClient::create(standin_->certConfig());
    ASSERT_TRUE(http.ok()) << http.status();
    api_ = std::make_unique<ApiClient>(*http);
  }
  void TearDown() override {
    if (HasFailure() && standin_ != nullptr) std::cerr << "stand-in log:\n" << standin_->log();
  }

  // Quick to notice trouble and to come back, for tests that last seconds.
  static ReflectorOptions options(const Resource& r) {
    ReflectorOptions o;
    o.resource = r;
    o.idle_timeout = seconds(5);
    o.backoff_initial = milliseconds(50);
    o.backoff_max = milliseconds(500);
    return o;
  }

  std::unique_ptr<K8sStandin> standin_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(KubeStandinTest, ListWatchSeesKubectlCreatesUpdatesDeletes) {
  ASSERT_TRUE(api_->create(nodeResource(), node("node-a")).ok());
  StrictSink pods_sink;
  StrictSink gpu_sink;
  Reflector pods(*api_, options(podResource()), pods_sink);
  ReflectorOptions gpu_options = options(nodeResource());
  gpu_options.kind = "GpuNode";
  gpu_options.label_selector = "nvidia.com/gpu.present=true";
  Reflector gpu_nodes(*api_, gpu_options, gpu_sink);
  pods.start();
  gpu_nodes.start();
  ASSERT_TRUE(pods.waitSynced(seconds(10)));
  ASSERT_TRUE(gpu_nodes.waitSynced(seconds(10)));
  EXPECT_TRUE(gpu_sink.versions().empty());
  EXPECT_FALSE(pods.resourceVersion().empty());

  auto out = standin_->kubectl("create --validate=false -f -", R"(
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  labels: {app: web}
  annotations: {quasar.io/floating-ip: "true"}
spec:
  nodeName: node-a
  containers: [{name: c, image: registry.invalid/web:1}]
)");
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(pods_sink.waitHas("default/web-1"));
  auto web = pods_sink.get("default/web-1");
  EXPECT_EQ((*web)["metadata"]["annotations"]["quasar.io/floating-ip"], "true");
  EXPECT_EQ((*web)["kind"], "Pod");

  ASSERT_TRUE(standin_->kubectl("label pod web-1 tier=front").ok());
  EXPECT_TRUE(pods_sink.waitFor([](const auto& m) {
    auto it = m.find("default/web-1");
    return it != m.end() && it->second["metadata"]["labels"].value("tier", "") == "front";
  }));
  // A label selector: the node enters the watch when it gets the label, leaves when it loses it.
  ASSERT_TRUE(standin_->kubectl("label node node-a nvidia.com/gpu.present=true").ok());
  EXPECT_TRUE(gpu_sink.waitHas("node-a"));
  ASSERT_TRUE(standin_->kubectl("label node node-a nvidia.com/gpu.present-").ok());
  EXPECT_TRUE(gpu_sink.waitGone("node-a"));
  ASSERT_TRUE(standin_->kubectl("delete pod web-1 --wait=false").ok());
  EXPECT_TRUE(pods_sink.waitGone("default/web-1"));

  EXPECT_EQ(pods_sink.violations(), std::vector<std::string>{});
  EXPECT_EQ(gpu_sink.violations(), std::vector<std::string>{});
  EXPECT_EQ(pods.relists(), 0u);
  EXPECT_EQ(pods.state(), WatchState::kWatching);
  // stop() aborts the open watch at once instead of waiting for a byte or a timeout.
  const auto t0 = std::chrono::steady_clock::now();
  pods.stop();
  gpu_nodes.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(500));
  EXPECT_EQ(pods.state(), WatchState::kStopped);
}

TEST_F(KubeStandinTest, GetPatchCreateReplaceDeleteList) {
  json n1 = node("n1");
  n1["metadata"]["annotations"] = {{"other.io/x", "keep"}};
  auto created = api_->create(nodeResource(), n1);
  ASSERT_TRUE(created.ok()) << created.status();
  auto got = api_->get(nodeResource(), "", "n1", milliseconds(500));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["kind"], "Node");
  // quasard writes only its own annotation: a merge patch leaves the others.
  auto patched = api_->mergePatch(
      nodeResource(), "", "n1",
      {{"metadata", {{"annotations", {{"quasar.io/tunnel", "10.1.2.3"}}}}}}, milliseconds(1000));
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["metadata"]["annotations"]["quasar.io/tunnel"], "10.1.2.3");
  EXPECT_EQ((*patched)["metadata"]["annotations"]["other.io/x"], "keep");

  EXPECT_EQ(api_->get(podResource(), "default", "nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(api_->create(nodeResource(), n1).status().code(), absl::StatusCode::kAlreadyExists);
  json stale = *created;  // the version before the patch
  stale["metadata"]["labels"] = {{"x", "y"}};
  EXPECT_EQ(api_->replace(nodeResource(), stale).status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(api_->replace(nodeResource(), *patched).ok());
  EXPECT_TRUE(api_->remove(nodeResource(), "", "n1").ok());
  EXPECT_EQ(api_->remove(nodeResource(), "", "n1").code(), absl::StatusCode::kNotFound);

  // Pagination: 4 built-in namespaces and 5 more, 2 a page.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(api_->create(namespaceResource(), namespaceObject("ns-" + std::to_string(i))).ok());
  }
  ListOptions lo;
  lo.limit = 2;
  auto list = api_->list(namespaceResource(), lo);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->items.size(), 9u);
  EXPECT_FALSE(list->resource_version.empty());
  for (const auto& item : list->items) {
    EXPECT_EQ(item["kind"], "Namespace");
    EXPECT_EQ(item["apiVersion"], "v1");
  }
  lo.field_selector = "metadata.name=ns-3";
  list = api_->list(namespaceResource(), lo);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->items.size(), 1u);
  lo.field_selector = "spec.bogus=1";
  EXPECT_EQ(api_->list(namespaceResource(), lo).status().code(),
            absl::StatusCode::kInvalidArgument);
}

json crd(const std::string& plural, const std::string& kind, const std::string& scope) {
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + ".quasar.io"}}},
          {"spec",
           {{"group", "quasar.io"},
            {"scope", scope},
            {"names", {{"plural", plural}, {"kind", kind}, {"listKind", kind + "List"}}},
            {"versions",
             {{{"name", "v1"},
               {"served", true},
               {"storage", true},
               {"schema",
                {{"openAPIV3Schema",
                  {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
}

TEST_F(KubeStandinTest, NetworkPoliciesAndCustomResources) {
  const Resource crds{"CustomResourceDefinition", "apiextensions.k8s.io", "v1",
                      "customresourcedefinitions", false};
  ASSERT_TRUE(api_->create(crds, crd("floatingippools", "FloatingIPPool", "Cluster")).ok());
  ASSERT_TRUE(api_->create(crds, crd("networkpolicies", "NetworkPolicy", "Namespaced")).ok());
  StrictSink pools_sink, qnp_sink, np_sink;
  Reflector pools(*api_, options(floatingIpPoolResource()), pools_sink);
  ReflectorOptions qnp_options = options(quasarNetworkPolicyResource());
  qnp_options.kind = "QuasarNetworkPolicy";
  Reflector qnp(*api_, qnp_options, qnp_sink);
  Reflector np(*api_, options(networkPolicyResource()), np_sink);
  for (Reflector* r : {&pools, &qnp, &np}) r->start();
  for (Reflector* r : {&pools, &qnp, &np}) ASSERT_TRUE(r->waitSynced(seconds(10))) << r->kind();

  ASSERT_TRUE(standin_
                  ->kubectl("create --validate=false -f -", R"(
apiVersion: quasar.io/v1
kind: FloatingIPPool
metadata: {name: public-a}
spec: {cidr: 10.200.0.0/28}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress]}
)")
                  .ok());
  json qpol = {{"apiVersion", "quasar.io/v1"},
               {"kind", "NetworkPolicy"},
               {"metadata", {{"name", "gpu-only"}, {"namespace", "default"}}},
               {"spec", {{"nodeSelector", {{"nvidia.com/gpu.present", "true"}}}}}};
  ASSERT_TRUE(api_->create(quasarNetworkPolicyResource(), qpol).ok());
  ASSERT_TRUE(pools_sink.waitHas("public-a"));
  EXPECT_EQ((*pools_sink.get("public-a"))["spec"]["cidr"], "10.200.0.0/28");
  EXPECT_EQ((*pools_sink.get("public-a"))["apiVersion"], "quasar.io/v1");
  ASSERT_TRUE(np_sink.waitHas("default/deny-all"));
  EXPECT_EQ((*np_sink.get("default/deny-all"))["kind"], "NetworkPolicy");
  ASSERT_TRUE(qnp_sink.waitHas("default/gpu-only"));
  EXPECT_FALSE(np_sink.get("default/gpu-only").has_value());  // two groups, two resources
}

// The issue's case: a 410 Gone in the middle of 500 changes. The reflector is held inside the
// sink (so it lags), its watch is cut, more changes are made and the history is compacted past
// its version: the resumed watch gets an ERROR 410, the reflector relists and hands over the
// difference. The sink ends equal to the server, having seen no event twice and none out of order.
TEST_F(KubeStandinTest, Forced410DuringBurstEndsEqualToServer) {
  ASSERT_TRUE(api_->create(namespaceResource(), namespaceObject("burst")).ok());
  StrictSink sink;
  ReflectorOptions o = options(podResource());
  o.namespace_name = "burst";
  Reflector reflector(*api_, o, sink);
  reflector.start();
  ASSERT_TRUE(reflector.waitSynced(seconds(10)));

  // 200 creates, 200 label changes, 100 deletes.
  auto change = [&](int i) -> absl::Status {
    if (i < 200) return api_->create(podResource(), pod("burst", "p" + std::to_string(i))).status();
    const std::string name = "p" + std::to_string(i < 400 ? i - 200 : i - 400);
    if (i < 400) {
      return api_
          ->mergePatch(podResource(), "burst", name,
                       {{"metadata", {{"labels", {{"gen", std::to_string(i)}}}}}})
          .status();
    }
    return api_->remove(podResource(), "burst", name);
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) {
    if (i == 250) {
      sink.closeGate();
      ASSERT_TRUE(change(i).ok());
      ASSERT_TRUE(sink.waitBlocked(seconds(10)));  // the reflector is now behind
      ASSERT_TRUE(standin_->control("drop-watches").ok());
      for (++i; i < 300; ++i) ASSERT_TRUE(change(i).ok()) << i;
      ASSERT_TRUE(standin_->control("compact").ok());
      sink.openGate();
    }
    ASSERT_TRUE(change(i).ok()) << i;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const Versions want = serverVersions(*api_, podResource(), "burst");
  EXPECT_EQ(want.size(), 100u);
  EXPECT_TRUE(eventually([&] { return sink.versions() == want; }, seconds(20)));
  const auto t2 = std::chrono::steady_clock::now();
  std::cout << "burst: 500 changes in " << std::chrono::duration_cast<milliseconds>(t1 - t0).count()
            << " ms, the sink equal to the server "
            << std::chrono::duration_cast<milliseconds>(t2 - t1).count() << " ms after\n";
  EXPECT_EQ(sink.versions(), want);
  EXPECT_EQ(sink.violations(), std::vector<std::string>{});
  EXPECT_EQ(reflector.relists(), 1u);
  auto last = sink.get("burst/p199");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ((*last)["metadata"]["labels"]["gen"], "399");
}

// The stand-in goes down (connections refused, open ones cut) and comes back with its state:
// the reflector keeps what it has meanwhile, then resumes its watch from its version (no
// relist) and catches up. (The issue's 20 s outage, shortened: the length changes nothing.)
TEST_F(KubeStandinTest, KeepsStateWhileServerIsDownThenCatchesUp) {
  for (const char* n : {"n0", "n1", "n2"}) {
    ASSERT_TRUE(api_->create(nodeResource(), node(n)).ok());
  }
  StrictSink sink;
  RecordingObserver observer;
  Reflector reflector(*api_, options(nodeResource()), sink, &observer);
  reflector.start();
  ASSERT_TRUE(reflector.waitSynced(seconds(10)));
  const Versions before = serverVersions(*api_, nodeResource());
  ASSERT_TRUE(eventually([&] { return sink.versions() == before; }));

  ASSERT_TRUE(standin_->control("down?seconds=4").ok());
  ASSERT_TRUE(eventually([&] { return observer.saw(WatchState::kBackoff); }));
  // The ADD path's direct GET fails fast (refused) while the view keeps its objects.
  auto get = api_->get(nodeResource(), "", "n0", milliseconds(500));
  EXPECT_TRUE(isRetryable(get.status())) << get.status();
  EXPECT_EQ(sink.versions(), before);
  EXPECT_TRUE(reflector.synced());

  ASSERT_TRUE(standin_->waitReady(seconds(15)).ok());
  ASSERT_TRUE(api_->create(nodeResource(), node("n3")).ok());
  ASSERT_TRUE(
      api_->mergePatch(nodeResource(), "", "n0", {{"metadata", {{"labels", {{"a", "b"}}}}}}).ok());
  ASSERT_TRUE(api_->remove(nodeResource(), "", "n1").ok());
  const Versions after = serverVersions(*api_, nodeResource());
  EXPECT_TRUE(eventually([&] { return sink.versions() == after; }));
  EXPECT_EQ(sink.versions(), after);
  EXPECT_EQ(sink.violations(), std::vector<std::string>{});
  EXPECT_EQ(reflector.relists(), 0u);
  EXPECT_GE(reflector.errors(), 1u);
}

// A service account token rotates: the file changes, the server accepts only the new token. The
// client still holds the old one (it checks the file every 5 s), gets a 401 on its next watch,
// reads the file at once and retries.
TEST_F(KubeStandinTest, BearerTokenFileRotates) {
  const std::string token_file = standin_->path("client-token");
  writeFileAtomically(token_file, std::string(K8sStandin::kToken) + "\n");
  auto config = loadKubeconfig(standin_->writeTokenKubeconfig(token_file));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->client_cert_pem.empty());
  auto http = HttpClient::create(*config);
  ASSERT_TRUE(http.ok());
  ApiClient token_api(*http);
  StrictSink sink;
  Reflector reflector(token_api, options(namespaceResource()), sink);
  reflector.start();
  ASSERT_TRUE(reflector.waitSynced(seconds(10)));
  ASSERT_TRUE(sink.waitHas("default"));

  writeFileAtomically(standin_->serverTokenFile(), "rotated-token-2,quasar-test,1\n");
  writeFileAtomically(token_file, "rotated-token-2\n");
  ASSERT_TRUE(standin_->control("drop-watches").ok());
  ASSERT_TRUE(api_->create(namespaceResource(), namespaceObject("after-rotation")).ok());
  EXPECT_TRUE(sink.waitHas("after-rotation"));
  EXPECT_TRUE(token_api.get(namespaceResource(), "", "default").ok());

  KubeConfig old = *config;
  old.token_file.clear();
  old.token = K8sStandin::kToken;
  auto old_http = HttpClient::create(old);
  ASSERT_TRUE(old_http.ok());
  EXPECT_EQ(ApiClient(*old_http).get(namespaceResource(), "", "default").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(sink.violations(), std::vector<std::string>{});
}

// Without bookmarks a quiet watch sends nothing: after the idle timeout it is taken as dead
// (as a connection whose peer vanished would be) and resumed from its version.
class KubeStandinQuietTest : public KubeStandinTest {
 protected:
  void SetUp() override { startStandin({"--bookmark-interval", "3600"}); }
};

TEST_F(KubeStandinQuietTest, SilentWatchIsResumedAfterTheIdleTimeout) {
  StrictSink sink;
  RecordingObserver observer;
  ReflectorOptions o = options(nodeResource());
  o.idle_timeout = seconds(1);
  Reflector reflector(*api_, o, sink, &observer);
  reflector.start();
  ASSERT_TRUE(reflector.waitSynced(seconds(10)));
  ASSERT_TRUE(eventually([&] { return reflector.errors() >= 1; }, seconds(10)));
  EXPECT_TRUE(observer.saw(WatchState::kBackoff));
  ASSERT_TRUE(api_->create(nodeResource(), node("late")).ok());
  EXPECT_TRUE(sink.waitHas("late"));
  EXPECT_EQ(reflector.relists(), 0u);
  EXPECT_EQ(sink.violations(), std::vector<std::string>{});
}

TEST_F(KubeStandinTest, ServerCertificateFromAnotherCaIsRefused) {
  const std::string other = standin_->path("other-pki");
  ASSERT_TRUE(K8sStandin::makeCerts(other).ok());
  KubeConfig config = standin_->certConfig();
  auto good = HttpClient::create(config);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(ApiClient(*good).get(namespaceResource(), "", "default").ok());

  std::ifstream in(other + "/ca.crt");
  config.ca_pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  config.ca_origin = other + "/ca.crt";
  auto bad = HttpClient::create(config);
  ASSERT_TRUE(bad.ok());
  auto got = ApiClient(*bad).get(namespaceResource(), "", "default");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_NE(got.status().message().find("(CA from " + other + "/ca.crt)"), std::string::npos)
      << got.status();
}

}  // namespace
}  // namespace quasar::kube
