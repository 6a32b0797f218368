#include "daemon/ctl/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "conf/json_parse.h"

namespace quasar::daemon {
namespace {

nlohmann::json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  char* end = nullptr;
  errno = 0;
  const long long i = std::strtoll(s.c_str(), &end, 10);
  if (errno == 0 && end && *end == '\0') return i;
  errno = 0;
  const double d = std::strtod(s.c_str(), &end);
  if (errno == 0 && end && *end == '\0' && s.find_first_of("0123456789") != std::string::npos) {
    return d;
  }
  return s;
}

// `depth` is the number of maps and sequences around `n`: the JSON sent to quasard may nest at
// most conf::kMaxJsonDepth deep.
absl::Status toJson(const YAML::Node& n, int depth, nlohmann::json& out) {
  const bool nests = n.Type() == YAML::NodeType::Map || n.Type() == YAML::NodeType::Sequence;
  if (nests && depth >= conf::kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", n.Mark().line + 1, ": nests deeper than ", conf::kMaxJsonDepth, " levels"));
  }
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out = nlohmann::json::object();
      for (const auto& kv : n) {
        if (auto s = toJson(kv.second, depth + 1, out[kv.first.as<std::string>()]); !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    case YAML::NodeType::Sequence:
      out = nlohmann::json::array();
      for (const auto& item : n) {
        if (auto s = toJson(item, depth + 1, out.emplace_back()); !s.ok()) return s;
      }
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      out = scalar(n);
      return absl::OkStatus();
    default:
      out = nullptr;
      return absl::OkStatus();
  }
}

void emit(YAML::Emitter& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      emit(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) emit(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const auto s = j.get<std::string>();
    // A string that would read back as another type is quoted.
    YAML::Node probe(s);
    if (!scalar(probe).is_string()) {
      out << YAML::DoubleQuoted << s;
    } else {
      out << s;
    }
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

}  // namespace

absl::StatusOr<std::vector<nlohmann::json>> yamlDocumentsToJson(const std::string& text) {
  try {
    std::vector<nlohmann::json> docs;
    for (const auto& node : YAML::LoadAll(text)) {
      if (node.IsNull()) continue;  // empty document between ---
      if (auto s = toJson(node, 0, docs.emplace_back()); !s.ok()) return s;
    }
    return docs;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid YAML or JSON: ", e.what()));
  }
}

std::string jsonToYaml(const nlohmann::json& j) {
  YAML::Emitter out;
  emit(out, j);
  return out.c_str();
}

}  // namespace quasar::daemon
