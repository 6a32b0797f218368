#pragma once
// Where the Kubernetes API server is and how quasard authenticates to it: from a kubeconfig file
// (`quasard --kubeconfig`, the daemon config's kubernetes.kubeconfig) or from the pod's service
// account (in-cluster). HTTPS only, the server always verified: against the cluster's CA (the
// system's trust store only for a kubeconfig that names no CA).
//
// Certificates and keys are read into memory when the config is loaded (libcurl takes them as
// blobs: no temporary files), once: a rotated client certificate needs a new config. The bearer
// token of a token file (the service account's projected token, a kubeconfig's tokenFile) is
// re-read when the file changes: TokenSource.
//
// Errors: InvalidArgument naming the kubeconfig field for bad content; for a file that cannot be
// read, NotFound/PermissionDenied/Internal naming the field and the file. Never throws.

#include <chrono>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quasar::kube {

struct KubeConfig {
  // https://host:port, without a trailing slash.
  std::string server;
  // PEM: the CA bundle the server's certificate must chain to. Empty: the system's trust store
  // (a kubeconfig without certificate-authority, for a server with a public certificate).
  std::string ca_pem;
  // Where ca_pem came from, for error messages ("ca.crt", "kubeconfig K
  // certificate-authority-data").
  std::string ca_origin;
  // PEM: a client certificate and its key (both or neither).
  std::string client_cert_pem;
  std::string client_key_pem;
  // A static bearer token, or a file holding it (wins over `token`; re-read when it changes).
  std::string token;
  std::string token_file;
  // The kubeconfig context's namespace ("" when unset); informational.
  std::string default_namespace;
};

// Parses kubeconfig YAML: current-context -> its cluster (server, certificate-authority or
// certificate-authority-data) and user (client-certificate/client-key or their -data, token,
// tokenFile). Relative file paths are relative to `base_dir` (the kubeconfig's directory, as
// kubectl resolves them). Unsupported auth (exec, auth-provider, username/password) and
// insecure-skip-tls-verify are errors naming the field.
absl::StatusOr<KubeConfig> parseKubeconfig(absl::string_view yaml, const std::string& base_dir);
// Reads and parses the kubeconfig file at `path`.
absl::StatusOr<KubeConfig> loadKubeconfig(const std::string& path);

// The service account's files inside a pod; tests point them elsewhere.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host is
// bracketed), the CA from paths.ca_file, the token from paths.token_file (re-read on change).
// FailedPrecondition naming the variable when the environment lacks one; the file's error when
// the token or CA cannot be read.
absl::StatusOr<KubeConfig> inClusterConfig(const InClusterPaths& paths = {});

// Reads a whole (small) file. NotFound/PermissionDenied/Internal naming the path and errno.
absl::StatusOr<std::string> readSmallFile(const std::string& path);

// The bearer token to send, from KubeConfig::token or re-read from KubeConfig::token_file.
// Thread-safe. The file is checked (stat: mtime, size, inode) at most every `check_interval`;
// forceReload() re-reads it now (after a 401: the token may have rotated since the last check).
class TokenSource {
 public:
  TokenSource(std::string token, std::string token_file,
              std::chrono::milliseconds check_interval = std::chrono::seconds(5));

  // The current token ("" when the config has none). An unreadable or empty token file is an
  // error naming the file; the last good token is not used after the file went bad.
  absl::StatusOr<std::string> token();
  // Re-reads the file now. True when the token differs from the one returned before.
  bool forceReload();
  bool fromFile() const { return !file_.empty(); }

 private:
  absl::Status reloadLocked(bool force);

  const std::string static_token_;
  const std::string file_;
  const std::chrono::milliseconds check_interval_;
  std::mutex mu_;
  std::string token_;
  absl::Status error_;
  bool loaded_ = false;
  std::chrono::steady_clock::time_point next_check_{};
  struct FileId {
    long long mtime_ns = -1, size = -1, inode = -1;
    bool operator==(const FileId&) const = default;
  } file_id_;
};

}  // namespace quasar::kube
