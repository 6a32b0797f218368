#include "conf/eni_config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace quasar::conf {
namespace {

absl::Status fieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("daemon config field \"eni.", field, "\": ", what));
}

absl::StatusOr<std::map<std::string, std::string>> stringMap(const YAML::Node& n,
                                                             absl::string_view field) {
  std::map<std::string, std::string> out;
  if (!n) return out;
  if (!n.IsMap()) return fieldError(field, "must be a mapping of strings");
  for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  return out;
}

absl::StatusOr<int> target(const YAML::Node& n, absl::string_view field, int fallback) {
  if (!n) return fallback;
  const int v = n.as<int>();
  if (v < 0 || v > 10000) return fieldError(field, "must be in [0, 10000]");
  return v;
}

// AWS's tag rules: key 1-128 characters, value up to 256; they reach the cloud as request
// parameters (encoded), never a shell or a file name.
absl::Status checkTag(absl::string_view field, const std::string& key, const std::string& value) {
  if (key.empty() || key.size() > 128)
    return fieldError(field, "a tag key has 1 to 128 characters");
  if (value.size() > 256) return fieldError(field, "a tag value has at most 256 characters");
  return absl::OkStatus();
}

absl::StatusOr<EniConfig> parseEniNode(const YAML::Node& node) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError("daemon config field \"eni\": must be a mapping");
  }
  static const std::set<std::string> kKnown = {"nodeSelector",
                                               "ec2Endpoint",
                                               "imdsEndpoint",
                                               "region",
                                               "caFile",
                                               "subnet",
                                               "securityGroups",
                                               "warmIPTarget",
                                               "minimumIPTarget",
                                               "warmENITarget",
                                               "maxPodsFormula",
                                               "maxPods",
                                               "surplusCooldownSeconds",
                                               "refillSeconds",
                                               "usableTag",
                                               "untouchableTagKeys"};
  for (const auto& kv : node) {
    const auto k = kv.first.as<std::string>();
    if (!kKnown.count(k)) return fieldError(k, "unknown field");
  }
  EniConfig c;
  auto selector = stringMap(node["nodeSelector"], "nodeSelector");
  if (!selector.ok()) return selector.status();
  c.node_selector = std::move(*selector);
  for (auto [field, out] : {std::pair<const char*, std::string*>{"ec2Endpoint", &c.ec2_endpoint},
                            {"imdsEndpoint", &c.imds_endpoint},
                            {"region", &c.region},
                            {"caFile", &c.ca_file},
                            {"subnet", &c.subnet}}) {
    if (node[field]) *out = node[field].as<std::string>();
  }
  for (auto [field, url] :
       {std::pair<const char*, const std::string*>{"ec2Endpoint", &c.ec2_endpoint},
        {"imdsEndpoint", &c.imds_endpoint}}) {
    if (!url->empty() && url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) {
      return fieldError(field, "must be an http:// or https:// URL");
    }
  }
  if (c.imds_endpoint.empty()) return fieldError("imdsEndpoint", "must not be empty");
  if (const auto& g = node["securityGroups"]) {
    if (!g.IsSequence()) return fieldError("securityGroups", "must be a list of group ids");
    for (const auto& id : g) c.security_groups.push_back(id.as<std::string>());
  }
  auto warm_ip = target(node["warmIPTarget"], "warmIPTarget", c.warm_ip_target);
  if (!warm_ip.ok()) return warm_ip.status();
  auto min_ip = target(node["minimumIPTarget"], "minimumIPTarget", c.minimum_ip_target);
  if (!min_ip.ok()) return min_ip.status();
  auto warm_eni = target(node["warmENITarget"], "warmENITarget", c.warm_eni_target);
  if (!warm_eni.ok()) return warm_eni.status();
  c.warm_ip_target = *warm_ip;
  c.minimum_ip_target = *min_ip;
  c.warm_eni_target = *warm_eni;
  if (node["maxPodsFormula"]) c.max_pods_formula = node["maxPodsFormula"].as<std::string>();
  if (c.max_pods_formula != "aws" && c.max_pods_formula != "primary-reserved") {
    return fieldError("maxPodsFormula", "must be aws or primary-reserved");
  }
  auto max_pods = target(node["maxPods"], "maxPods", c.max_pods);
  if (!max_pods.ok()) return max_pods.status();
  c.max_pods = *max_pods;
  if (node["surplusCooldownSeconds"]) {
    const int v = node["surplusCooldownSeconds"].as<int>();
    if (v < 0 || v > 86400) return fieldError("surplusCooldownSeconds", "must be in [0, 86400]");
    c.surplus_cooldown = std::chrono::seconds(v);
  }
  if (node["refillSeconds"]) {
    const double v = node["refillSeconds"].as<double>();
    if (v < 0.1 || v > 3600) return fieldError("refillSeconds", "must be in [0.1, 3600]");
    c.refill_interval = std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
  }
  if (const auto& t = node["usableTag"]) {
    auto tag = stringMap(t, "usableTag");
    if (!tag.ok()) return tag.status();
    if (tag->size() != 1) return fieldError("usableTag", "must be one key: value");
    const auto& [key, value] = *tag->begin();
    if (auto s = checkTag("usableTag", key, value); !s.ok()) return s;
    c.usable_tag = *tag->begin();
  }
  if (const auto& keys = node["untouchableTagKeys"]) {
    if (!keys.IsSequence()) return fieldError("untouchableTagKeys", "must be a list of tag keys");
    c.untouchable_tag_keys.clear();
    for (const auto& k : keys) {
      const auto key = k.as<std::string>();
      if (auto s = checkTag("untouchableTagKeys", key, ""); !s.ok()) return s;
      c.untouchable_tag_keys.push_back(key);
    }
  }
  return c;
}

}  // namespace

absl::StatusOr<EniConfig> parseEniConfig(const YAML::Node& node) {
  try {
    return parseEniNode(node);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("daemon config field \"eni\": ", e.what()));
  }
}

bool selectsNode(const std::map<std::string, std::string>& selector,
                 const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace quasar::conf
