#include "daemon/kube/kube_config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "yaml-cpp/yaml.h"

namespace quasar::kube {
namespace {

absl::Status errnoStatus(int err, const std::string& what) {
  const std::string msg = what + ": " + strerror(err);
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

bool looksPem(const std::string& s) { return absl::StrContains(s, "-----BEGIN "); }

// One kubeconfig section: its fields by name, with the path used in error messages.
class Section {
 public:
  Section(YAML::Node node, std::string where) : node_(std::move(node)), where_(std::move(where)) {}

  const std::string& where() const { return where_; }
  bool has(const char* key) const {
    return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
  }
  std::string field(const char* key) const { return where_ + "." + key; }

  absl::StatusOr<std::string> str(const char* key) const {
    if (!has(key)) return std::string();
    const YAML::Node v = node_[key];
    if (!v.IsScalar()) return absl::InvalidArgumentError(field(key) + ": not a string");
    return v.as<std::string>();
  }
  absl::StatusOr<bool> flag(const char* key) const {
    if (!has(key)) return false;
    const YAML::Node v = node_[key];
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) {
      return absl::InvalidArgumentError(field(key) + ": not a boolean");
    }
    return out;
  }

 private:
  YAML::Node node_;
  std::string where_;
};

// The entry of list `list_key` (clusters, users, contexts) called `name`: its `inner` map.
absl::StatusOr<Section> namedEntry(const YAML::Node& root, const char* list_key, const char* inner,
                                   const std::string& name) {
  const YAML::Node list = root[list_key];
  if (list.IsDefined() && !list.IsNull() && !list.IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(list_key, ": not a list"));
  }
  if (list.IsSequence()) {
    for (const YAML::Node& entry : list) {
      if (!entry.IsMap() || !entry["name"].IsScalar()) continue;
      if (entry["name"].as<std::string>() != name) continue;
      const std::string where = absl::StrCat(list_key, "[", name, "].", inner);
      const YAML::Node body = entry[inner];
      if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
        return absl::InvalidArgumentError(where + ": not a map");
      }
      return Section(body, where);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(list_key, ": no entry named \"", name, "\""));
}

// A PEM item given as a file (`file_key`) or inline base64 (`data_key`); "" when neither.
absl::StatusOr<std::string> pemItem(const Section& s, const char* file_key, const char* data_key,
                                    const std::string& base_dir, std::string* origin) {
  auto file = s.str(file_key);
  if (!file.ok()) return file.status();
  auto data = s.str(data_key);
  if (!data.ok()) return data.status();
  if (!file->empty() && !data->empty()) {
    return absl::InvalidArgumentError(s.field(file_key) + " and " + data_key +
                                      ": both set, give one");
  }
  std::string pem;
  std::string from;
  if (!data->empty()) {
    from = s.field(data_key);
    if (!absl::Base64Unescape(*data, &pem)) {
      return absl::InvalidArgumentError(from + ": not base64");
    }
  } else if (!file->empty()) {
    const std::string path = resolve(base_dir, *file);
    from = s.field(file_key) + " " + path;
    auto content = readSmallFile(path);
    if (!content.ok())
      return absl::Status(content.status().code(),
                          s.field(file_key) + ": " + std::string(content.status().message()));
    pem = std::move(*content);
  } else {
    return std::string();
  }
  if (!looksPem(pem)) return absl::InvalidArgumentError(from + ": not PEM");
  if (origin != nullptr) *origin = from;
  return pem;
}

absl::StatusOr<KubeConfig> parseRoot(const YAML::Node& root, const std::string& base_dir) {
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a map");
  Section top(root, "kubeconfig");
  auto context_name = top.str("current-context");
  if (!context_name.ok()) return context_name.status();
  if (context_name->empty()) return absl::InvalidArgumentError("current-context: not set");
  auto context = namedEntry(root, "contexts", "context", *context_name);
  if (!context.ok()) return context.status();
  auto cluster_name = context->str("cluster");
  if (!cluster_name.ok()) return cluster_name.status();
  if (cluster_name->empty())
    return absl::InvalidArgumentError(context->field("cluster") + ": not set");
  auto user_name = context->str("user");
  if (!user_name.ok()) return user_name.status();

  KubeConfig out;
  auto ns = context->str("namespace");
  if (!ns.ok()) return ns.status();
  out.default_namespace = *ns;

  auto cluster = namedEntry(root, "clusters", "cluster", *cluster_name);
  if (!cluster.ok()) return cluster.status();
  auto server = cluster->str("server");
  if (!server.ok()) return server.status();
  if (!absl::StartsWith(*server, "https://") || server->size() <= 8) {
    return absl::InvalidArgumentError(cluster->field("server") + ": \"" + *server +
                                      "\" is not an https:// URL");
  }
  out.server = std::string(absl::StripSuffix(*server, "/"));
  auto insecure = cluster->flag("insecure-skip-tls-verify");
  if (!insecure.ok()) return insecure.status();
  if (*insecure) {
    return absl::InvalidArgumentError(cluster->field("insecure-skip-tls-verify") +
                                      ": not supported, the server is always verified");
  }
  auto ca = pemItem(*cluster, "certificate-authority", "certificate-authority-data", base_dir,
                    &out.ca_origin);
  if (!ca.ok()) return ca.status();
  out.ca_pem = std::move(*ca);

  if (user_name->empty()) return out;  // no credentials: the server decides
  auto user = namedEntry(root, "users", "user", *user_name);
  if (!user.ok()) return user.status();
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user->has(unsupported)) {
      return absl::InvalidArgumentError(user->field(unsupported) + ": not supported");
    }
  }
  auto cert = pemItem(*user, "client-certificate", "client-certificate-data", base_dir, nullptr);
  if (!cert.ok()) return cert.status();
  auto key = pemItem(*user, "client-key", "client-key-data", base_dir, nullptr);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(user->where() +
                                      ": client-certificate and client-key go together");
  }
  out.client_cert_pem = std::move(*cert);
  out.client_key_pem = std::move(*key);
  auto token = user->str("token");
  if (!token.ok()) return token.status();
  out.token = *token;
  auto token_file = user->str("tokenFile");
  if (!token_file.ok()) return token_file.status();
  if (!token_file->empty()) {
    out.token_file = resolve(base_dir, *token_file);
    TokenSource probe("", out.token_file);
    if (auto t = probe.token(); !t.ok()) {
      return absl::Status(t.status().code(),
                          user->field("tokenFile") + ": " + std::string(t.status().message()));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return errnoStatus(err, "open " + path);
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::InternalError("read " + path + ": failed");
  return buf.str();
}

absl::StatusOr<KubeConfig> parseKubeconfig(absl::string_view yaml, const std::string& base_dir) {
  try {
    return parseRoot(YAML::Load(std::string(yaml)), base_dir);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("kubeconfig: ") + e.what());
  }
}

absl::StatusOr<KubeConfig> loadKubeconfig(const std::string& path) {
  auto text = readSmallFile(path);
  if (!text.ok()) return text.status();
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto config = parseKubeconfig(*text, dir.empty() ? "/" : dir);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        "kubeconfig " + path + ": " + std::string(config.status().message()));
  }
  return config;
}

absl::StatusOr<KubeConfig> inClusterConfig(const InClusterPaths& paths) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') {
    return absl::FailedPreconditionError("in-cluster: KUBERNETES_SERVICE_HOST is not set");
  }
  if (port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError("in-cluster: KUBERNETES_SERVICE_PORT is not set");
  }
  const std::string h = host;
  KubeConfig out;
  out.server =
      absl::StrCat("https://", h.find(':') != std::string::npos ? "[" + h + "]" : h, ":", port);
  auto ca = readSmallFile(paths.ca_file);
  if (!ca.ok())
    return absl::Status(ca.status().code(), "in-cluster CA: " + std::string(ca.status().message()));
  if (!looksPem(*ca))
    return absl::InvalidArgumentError("in-cluster CA " + paths.ca_file + ": not PEM");
  out.ca_pem = std::move(*ca);
  out.ca_origin = paths.ca_file;
  out.token_file = paths.token_file;
  TokenSource probe("", out.token_file);
  if (auto t = probe.token(); !t.ok()) {
    return absl::Status(t.status().code(),
                        "in-cluster token: " + std::string(t.status().message()));
  }
  if (auto ns = readSmallFile(paths.namespace_file); ns.ok()) {
    out.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return out;
}

TokenSource::TokenSource(std::string token, std::string token_file,
                         std::chrono::milliseconds check_interval)
    : static_token_(std::move(token)),
      file_(std::move(token_file)),
      check_interval_(check_interval) {}

absl::Status TokenSource::reloadLocked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && loaded_ && now < next_check_) return error_;
  next_check_ = now + check_interval_;
  struct stat st {};
  if (stat(file_.c_str(), &st) != 0) {
    const int err = errno;
    error_ = errnoStatus(err, "token file " + file_);
    token_.clear();
    loaded_ = true;
    return error_;
  }
  const FileId id{static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
                  static_cast<long long>(st.st_size), static_cast<long long>(st.st_ino)};
  // A rewrite within the file system's timestamp granularity keeps mtime and maybe size:
  // forced reloads (after a 401) read the content regardless.
  if (!force && loaded_ && error_.ok() && id == file_id_) return error_;
  auto content = readSmallFile(file_);
  loaded_ = true;
  if (!content.ok()) {
    error_ = absl::Status(content.status().code(),
                          "token file: " + std::string(content.status().message()));
    token_.clear();
    return error_;
  }
  const std::string token(absl::StripAsciiWhitespace(*content));
  if (token.empty()) {
    error_ = absl::FailedPreconditionError("token file " + file_ + ": empty");
    token_.clear();
    return error_;
  }
  file_id_ = id;
  token_ = token;
  error_ = absl::OkStatus();
  return error_;
}

absl::StatusOr<std::string> TokenSource::token() {
  if (file_.empty()) return static_token_;
  std::lock_guard lock(mu_);
  if (absl::Status s = reloadLocked(false); !s.ok()) return s;
  return token_;
}

bool TokenSource::forceReload() {
  if (file_.empty()) return false;
  std::lock_guard lock(mu_);
  const std::string before = token_;
  return reloadLocked(true).ok() && token_ != before;
}

}  // namespace quasar::kube
