#pragma once
// What every object carries (ObjectMeta) and label selectors, as Kubernetes defines them
// (apimachinery meta/v1). Pure values; thread-compatible.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace quasar::objects {

using Labels = std::map<std::string, std::string>;

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped kinds
  std::string uid;
  // Opaque; equal values mean an unchanged object (the view's relist compares them).
  std::string resource_version;
  std::string creation_timestamp;  // RFC 3339 as written by the API server, or empty
  Labels labels;
  Labels annotations;
  std::vector<OwnerReference> owner_references;

  // The owner reference with controller: true, or null.
  const OwnerReference* controllerRef() const;
  bool operator==(const ObjectMeta&) const = default;
};

// One matchExpressions entry. In and NotIn carry values; Exists and DoesNotExist none.
struct LabelSelectorRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

// matchLabels AND every matchExpressions entry. The empty selector matches everything (where a
// Kubernetes field allows "no selector" as distinct from "{}", the field is a std::optional).
struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;

  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool matches(const Labels& labels) const;
  bool operator==(const LabelSelector&) const = default;
};

// A port's protocol (Kubernetes' default is TCP).
enum class Protocol { kTcp, kUdp, kSctp };
std::string_view protocolName(Protocol p);  // "TCP", "UDP", "SCTP"

// "app=web,tier in (a,b),!gpu": kubectl's notation, for logs and tests.
std::string toString(const LabelSelector& selector);

}  // namespace quasar::objects
