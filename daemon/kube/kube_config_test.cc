#include "daemon/kube/kube_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"

namespace quasar::kube {
namespace {

namespace fs = std::filesystem;

constexpr char kCa[] = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-kubeconfig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("ca.crt", kCa);
    write("client.crt", kCert);
    write("client.key", kKey);
    write("token", "file-token\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }
  // A kubeconfig whose current context "c" uses cluster "k" and user "u".
  std::string config(const std::string& cluster, const std::string& user) {
    return "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
           "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"
           "- name: c\n  context: {cluster: k, user: u, namespace: team}\n"
           "clusters:\n- name: k\n  cluster:\n" +
           cluster + "users:\n- name: u\n  user:\n" + user;
  }

  std::string dir_;
};

TEST_F(KubeconfigTest, ReadsFilesRelativeToTheKubeconfig) {
  write("kc",
        config("    server: https://10.0.0.1:6443/\n    certificate-authority: ca.crt\n",
               "    client-certificate: client.crt\n    client-key: " + dir_ + "/client.key\n"));
  auto c = loadKubeconfig(dir_ + "/kc");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_NE(c->ca_origin.find(dir_ + "/ca.crt"), std::string::npos) << c->ca_origin;
  EXPECT_EQ(c->client_cert_pem, kCert);
  EXPECT_EQ(c->client_key_pem, kKey);
  EXPECT_EQ(c->default_namespace, "team");
  EXPECT_TRUE(c->token.empty());
}

TEST_F(KubeconfigTest, DecodesInlineData) {
  auto c =
      parseKubeconfig(config("    server: https://k.example:443\n    certificate-authority-data: " +
                                 absl::Base64Escape(kCa) + "\n",
                             "    client-certificate-data: " + absl::Base64Escape(kCert) +
                                 "\n    client-key-data: " + absl::Base64Escape(kKey) + "\n"),
                      dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_EQ(c->client_cert_pem, kCert);
  EXPECT_EQ(c->client_key_pem, kKey);
}

TEST_F(KubeconfigTest, TokenAndTokenFile) {
  auto c = parseKubeconfig(config("    server: https://k:1\n", "    token: abc\n"), dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token, "abc");
  EXPECT_TRUE(c->ca_pem.empty());  // the system's trust store
  c = parseKubeconfig(config("    server: https://k:1\n", "    tokenFile: token\n"), dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token_file, dir_ + "/token");
}

// Each broken kubeconfig is refused with the field (or file) named.
TEST_F(KubeconfigTest, ErrorsNameTheField) {
  struct Case {
    std::string cluster, user, want;
  };
  const std::string ok_cluster = "    server: https://k:1\n";
  const std::vector<Case> cases = {
      {"    server: http://k:1\n", "    token: t\n", "clusters[k].cluster.server"},
      {"    certificate-authority: ca.crt\n", "    token: t\n", "clusters[k].cluster.server"},
      {ok_cluster + "    certificate-authority: missing.crt\n", "    token: t\n",
       "clusters[k].cluster.certificate-authority: open " + dir_ + "/missing.crt"},
      {ok_cluster + "    certificate-authority-data: '%%%'\n", "    token: t\n",
       "clusters[k].cluster.certificate-authority-data: not base64"},
      {ok_cluster + "    certificate-authority-data: " + absl::Base64Escape("hello") + "\n",
       "    token: t\n", "clusters[k].cluster.certificate-authority-data: not PEM"},
      {ok_cluster + "    certificate-authority: ca.crt\n    certificate-authority-data: eA==\n",
       "    token: t\n",
       "clusters[k].cluster.certificate-authority and certificate-authority-data"},
      {ok_cluster + "    insecure-skip-tls-verify: true\n", "    token: t\n",
       "clusters[k].cluster.insecure-skip-tls-verify"},
      {ok_cluster, "    client-certificate: client.crt\n", "users[u].user: client-certificate"},
      {ok_cluster, "    client-key-data: '!!'\n", "users[u].user.client-key-data: not base64"},
      {ok_cluster, "    exec: {command: aws}\n", "users[u].user.exec: not supported"},
      {ok_cluster, "    tokenFile: nope\n",
       "users[u].user.tokenFile: token file " + dir_ + "/nope"},
  };
  for (const auto& c : cases) {
    auto got = parseKubeconfig(config(c.cluster, c.user), dir_);
    ASSERT_FALSE(got.ok()) << c.want;
    EXPECT_NE(got.status().message().find(c.want), std::string::npos)
        << "want " << c.want << ", got " << got.status();
  }
}

TEST_F(KubeconfigTest, ErrorsForMissingContextAndSections) {
  auto got = parseKubeconfig("apiVersion: v1\nkind: Config\n", dir_);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("current-context"), std::string::npos) << got.status();
  got = parseKubeconfig("current-context: x\ncontexts: []\n", dir_);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("contexts: no entry named \"x\""), std::string::npos)
      << got.status();
  got = parseKubeconfig("current-context: [unclosed\n", dir_);
  ASSERT_FALSE(got.ok());
  got = loadKubeconfig(dir_ + "/absent");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find(dir_ + "/absent"), std::string::npos);
}

TEST_F(KubeconfigTest, InCluster) {
  InClusterPaths paths{dir_ + "/token", dir_ + "/ca.crt", dir_ + "/namespace"};
  write("namespace", "kube-system\n");
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto c = inClusterConfig(paths);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  c = inClusterConfig(paths);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_EQ(c->token_file, dir_ + "/token");
  EXPECT_EQ(c->default_namespace, "kube-system");
  paths.ca_file = dir_ + "/no-ca";
  c = inClusterConfig(paths);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/no-ca"), std::string::npos) << c.status();
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_F(KubeconfigTest, TokenFileIsReReadWhenItChanges) {
  TokenSource tokens("", dir_ + "/token", std::chrono::milliseconds(0));
  auto t = tokens.token();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "file-token");
  // Rotation as the kubelet does it: a new file renamed over the old one.
  write("token.new", "rotated-token-longer\n");
  fs::rename(dir_ + "/token.new", dir_ + "/token");
  t = tokens.token();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "rotated-token-longer");
  write("token", "");
  t = tokens.token();
  EXPECT_FALSE(t.ok());
}

TEST_F(KubeconfigTest, TokenFileCheckedAtMostEveryInterval) {
  TokenSource tokens("", dir_ + "/token", std::chrono::hours(1));
  ASSERT_EQ(*tokens.token(), "file-token");
  write("token.new", "second\n");
  fs::rename(dir_ + "/token.new", dir_ + "/token");
  EXPECT_EQ(*tokens.token(), "file-token");  // not checked again yet
  EXPECT_TRUE(tokens.forceReload());         // a 401 forces it
  EXPECT_EQ(*tokens.token(), "second");
  EXPECT_FALSE(tokens.forceReload());  // unchanged
}

}  // namespace
}  // namespace quasar::kube
