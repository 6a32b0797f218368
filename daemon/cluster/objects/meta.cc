#include "daemon/cluster/objects/meta.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace quasar::objects {

const OwnerReference* ObjectMeta::controllerRef() const {
  for (const auto& o : owner_references) {
    if (o.controller) return &o;
  }
  return nullptr;
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [k, v] : match_labels) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& e : match_expressions) {
    const auto it = labels.find(e.key);
    const bool has = it != labels.end();
    const bool in =
        has && std::find(e.values.begin(), e.values.end(), it->second) != e.values.end();
    switch (e.op) {
      case LabelSelectorRequirement::Operator::kIn:
        if (!in) return false;
        break;
      case LabelSelectorRequirement::Operator::kNotIn:
        // As in Kubernetes: an object without the key is "not in" any set.
        if (in) return false;
        break;
      case LabelSelectorRequirement::Operator::kExists:
        if (!has) return false;
        break;
      case LabelSelectorRequirement::Operator::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

std::string_view protocolName(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "TCP";
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kSctp:
      return "SCTP";
  }
  return "TCP";
}

std::string toString(const LabelSelector& selector) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : selector.match_labels) parts.push_back(k + "=" + v);
  for (const auto& e : selector.match_expressions) {
    const std::string values = "(" + absl::StrJoin(e.values, ",") + ")";
    switch (e.op) {
      case LabelSelectorRequirement::Operator::kIn:
        parts.push_back(e.key + " in " + values);
        break;
      case LabelSelectorRequirement::Operator::kNotIn:
        parts.push_back(e.key + " notin " + values);
        break;
      case LabelSelectorRequirement::Operator::kExists:
        parts.push_back(e.key);
        break;
      case LabelSelectorRequirement::Operator::kDoesNotExist:
        parts.push_back("!" + e.key);
        break;
    }
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace quasar::objects
