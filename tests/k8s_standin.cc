#include "tests/k8s_standin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/kube/http_client.h"
#include "tests/spawn.h"

#ifndef QUASAR_SOURCE_DIR
#error "QUASAR_SOURCE_DIR must name the source tree (tests/k8s/)"
#endif

namespace quasar::tests {
namespace {

// A port nothing listens on: the stand-in must get a known port (--port 0 prints it on stdout,
// which spawnBackground discards), and keep it across /standin/down. Private netns: no race.
absl::StatusOr<int> freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", strerror(err)));
  }
  close(fd);
  return ntohs(a.sin_port);
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
}

std::string kubeconfigJson(const std::string& server, const std::string& ca,
                           const std::string& user) {
  return absl::StrCat(
      R"({"apiVersion":"v1","kind":"Config","current-context":"standin",)",
      R"("clusters":[{"name":"standin","cluster":{"server":")", server,
      R"(","certificate-authority":")", ca, R"("}}],"users":[{"name":"u","user":)", user,
      R"(}],"contexts":[{"name":"standin","context":{"cluster":"standin","user":"u"}}]})");
}

}  // namespace

absl::StatusOr<std::unique_ptr<K8sStandin>> K8sStandin::start(std::vector<std::string> extra_args) {
  std::unique_ptr<K8sStandin> s(new K8sStandin());
  char tmpl[] = "/tmp/quasar-k8s-standin-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  s->dir_ = tmpl;
  const std::string k8s = std::string(QUASAR_SOURCE_DIR) + "/tests/k8s";
  if (absl::Status c = makeCerts(s->dir_); !c.ok()) return c;
  writeFile(s->serverTokenFile(), std::string(kToken) + ",quasar-test,1\n");
  auto port = freePort();
  if (!port.ok()) return port.status();
  s->port_ = *port;
  writeFile(s->certKubeconfig(),
            kubeconfigJson(s->server(), s->path("ca.crt"),
                           absl::StrCat(R"({"client-certificate":")", s->path("client.crt"),
                                        R"(","client-key":")", s->path("client.key"), R"("})")));
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   k8s + "/apiserver_standin.py",
                                   "--cert",
                                   s->path("server.crt"),
                                   "--key",
                                   s->path("server.key"),
                                   "--client-ca",
                                   s->path("ca.crt"),
                                   "--token-file",
                                   s->serverTokenFile(),
                                   "--port",
                                   std::to_string(s->port_)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  s->pid_ = spawnBackground(argv, s->path("standin.log"));
  if (s->pid_ < 0) return absl::InternalError("cannot start the stand-in");
  if (absl::Status r = s->waitReady(std::chrono::seconds(15)); !r.ok()) {
    return absl::UnavailableError(std::string(r.message()) + "; log: " + s->log());
  }
  return s;
}

K8sStandin::~K8sStandin() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (!dir_.empty() && getenv("QUASAR_STANDIN_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string K8sStandin::server() const { return absl::StrCat("https://127.0.0.1:", port_); }

kube::KubeConfig K8sStandin::certConfig() const {
  auto c = kube::loadKubeconfig(certKubeconfig());
  return c.ok() ? *c : kube::KubeConfig{};
}

std::string K8sStandin::writeTokenKubeconfig(const std::string& token_file) const {
  const std::string p = path("kubeconfig-token");
  writeFile(p, kubeconfigJson(server(), path("ca.crt"),
                              absl::StrCat(R"({"tokenFile":")", token_file, R"("})")));
  return p;
}

absl::StatusOr<std::string> K8sStandin::control(const std::string& what) const {
  auto http = kube::HttpClient::create(certConfig());
  if (!http.ok()) return http.status();
  kube::HttpClient::Request req;
  req.method = "POST";
  req.path = "/standin/" + what;
  auto r = (*http)->call(req);
  if (!r.ok()) return r.status();
  return r->body;
}

absl::StatusOr<std::string> K8sStandin::stats() const {
  auto http = kube::HttpClient::create(certConfig());
  if (!http.ok()) return http.status();
  kube::HttpClient::Request req;
  req.path = "/standin/stats";
  auto r = (*http)->call(req);
  if (!r.ok()) return r.status();
  return r->body;
}

absl::Status K8sStandin::waitReady(std::chrono::milliseconds timeout) const {
  kube::HttpClient::Options o;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.request_timeout = std::chrono::seconds(2);
  auto http = kube::HttpClient::create(certConfig(), o);
  if (!http.ok()) return http.status();
  const auto until = std::chrono::steady_clock::now() + timeout;
  absl::Status last;
  do {
    kube::HttpClient::Request req;
    req.path = "/healthz";
    auto r = (*http)->call(req);
    if (r.ok()) return absl::OkStatus();
    last = r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < until);
  return absl::UnavailableError("stand-in not ready: " + last.ToString());
}

absl::StatusOr<std::string> K8sStandin::kubectl(const std::string& args,
                                                const std::string& stdin_text) const {
  const std::string in = path("kubectl.in");
  const std::string out = path("kubectl.out");
  writeFile(in, stdin_text);
  const std::string cmd =
      absl::StrCat("HOME=", dir_, " kubectl --kubeconfig ", certKubeconfig(), " --cache-dir ",
                   path("kcache"), " ", args, " <", in, " >", out, " 2>&1");
  const int rc = system(cmd.c_str());
  std::ifstream f(out);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (rc != 0) return absl::InternalError("kubectl " + args + ": " + text);
  return text;
}

absl::Status K8sStandin::makeCerts(const std::string& dir) {
  const std::string cmd =
      std::string(QUASAR_SOURCE_DIR) + "/tests/k8s/make-certs.sh " + dir + " >/dev/null 2>&1";
  if (system(cmd.c_str()) != 0) return absl::InternalError("make-certs.sh " + dir + " failed");
  return absl::OkStatus();
}

std::string K8sStandin::log() const {
  std::ifstream f(path("standin.log"));
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace quasar::tests
