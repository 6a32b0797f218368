#pragma once
// YAML <-> JSON for quasarctl: Kubernetes manifests are YAML or JSON (YAML 1.2 contains JSON).
// Plain scalars become numbers, booleans or null where they read as such (containerPort: 8080
// is a number); quoted scalars stay strings ("8080").

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

// Every document of a YAML stream. InvalidArgument with yaml-cpp's line/column on bad input.
absl::StatusOr<std::vector<nlohmann::json>> yamlDocumentsToJson(const std::string& text);
std::string jsonToYaml(const nlohmann::json& j);

}  // namespace quasar::daemon
