#pragma once
// The Kubernetes API server stand-in (tests/k8s/apiserver_standin.py, docs/k8s-standin.md) for
// C++ tests: started with a PKI of its own (tests/k8s/make-certs.sh), a bearer token file and
// kubeconfigs in a temporary directory, on a free port of the loopback. Run the test in a
// network namespace of its own (tests/in-netns.sh). The process dies with the test
// (tests/spawn.h) and is stopped, its directory removed, by the destructor.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/kube/kube_config.h"

namespace quasar::tests {

class K8sStandin {
 public:
  // Bearer token written to the stand-in's token file at start.
  static constexpr char kToken[] = "quasar-standin-token-1";

  // `extra_args`: e.g. {"--bookmark-interval", "1"}. Waits until it answers /healthz.
  static absl::StatusOr<std::unique_ptr<K8sStandin>> start(std::vector<std::string> extra_args);
  ~K8sStandin();

  int port() const { return port_; }
  std::string server() const;
  // A file in the stand-in's directory (ca.crt, client.crt, tokens, standin.log, ...).
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // The file of bearer tokens the stand-in accepts (one a line; it re-reads it on change).
  std::string serverTokenFile() const { return path("tokens"); }

  // The client-certificate user, as a config and as a kubeconfig file.
  kube::KubeConfig certConfig() const;
  std::string certKubeconfig() const { return path("kubeconfig-cert"); }
  // A kubeconfig whose user reads its token from `token_file`.
  std::string writeTokenKubeconfig(const std::string& token_file) const;

  // POST /standin/<what> (compact, drop-watches, down?seconds=N, ...); returns the body.
  absl::StatusOr<std::string> control(const std::string& what) const;
  // GET /standin/stats.
  absl::StatusOr<std::string> stats() const;
  // Runs `kubectl --kubeconfig <cert kubeconfig> <args>` with `stdin_text` on its stdin;
  // returns its output, or an error with it.
  absl::StatusOr<std::string> kubectl(const std::string& args,
                                      const std::string& stdin_text = "") const;
  // Waits until /healthz answers (after /standin/down).
  absl::Status waitReady(std::chrono::milliseconds timeout) const;
  std::string log() const;

  // Runs make-certs.sh into `dir` (another CA, for tests that must be refused).
  static absl::Status makeCerts(const std::string& dir);

 private:
  K8sStandin() = default;

  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace quasar::tests
