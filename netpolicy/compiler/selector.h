#pragma once
// Selector matching exactly as Kubernetes defines it, and the canonical text of selectors that
// names ipsets. The compiler (set members) and explain() (one pod against a peer) both use these
// functions, so they cannot disagree. Pure; thread-compatible.

#include <map>
#include <string>

#include "netpolicy/compiler/model.h"

namespace quasar::netpolicy {

// matchLabels AND every matchExpression. The empty selector matches every label set. In: the key
// exists with one of the values; NotIn: the key is missing or has none of the values; Exists;
// DoesNotExist.
bool matches(const LabelSelector& selector, const Labels& labels);

// A group of pods: a namespace (by name or by selector), a pod selector and quasar's node
// selector, all ANDed. This is what a policy's targets and a selector peer denote.
struct PodGroup {
  std::string namespace_name;                       // used when !namespace_selector
  std::optional<LabelSelector> namespace_selector;  // set: namespaces whose labels match
  LabelSelector pod_selector;
  std::optional<LabelSelector> node_selector;
};

// The pods a policy applies to: its namespace, spec.podSelector, spec.nodeSelector.
PodGroup targetGroup(const Policy& policy);
// A selector peer (no ip_block) of `policy`. A missing pod selector means every pod; a missing
// namespace selector means the policy's own namespace.
PodGroup peerGroup(const Policy& policy, const Peer& peer);

// An injective text for a selector or group: equal meaning (matchLabels k=v is In [v]; order
// and duplicates of expressions and values do not count) gives equal text. Only ever hashed.
std::string canonical(const LabelSelector& selector);
std::string canonical(const PodGroup& group);
std::string canonical(const IpBlock& block);

// Looks up namespaces and nodes by name. Holds pointers into the model, which must outlive it.
class ModelIndex {
 public:
  explicit ModelIndex(const Model& model);
  const Model& model() const { return model_; }
  // Labels of a namespace or node; empty labels when the model does not know it.
  const Labels& namespaceLabels(const std::string& name) const;
  const Labels& nodeLabels(const std::string& name) const;
  const Node* node(const std::string& name) const;

 private:
  const Model& model_;
  std::map<std::string, const Namespace*> namespaces_;
  std::map<std::string, const Node*> nodes_;
  Labels empty_;
};

bool inGroup(const ModelIndex& index, const Pod& pod, const PodGroup& group);

// Whether an address is in the block and in none of its excepts.
bool inBlock(const IpBlock& block, const conf::IpAddress& address);

// The directions a policy isolates its targets for: policyTypes, or Kubernetes' default
// (Ingress, plus Egress when egress rules exist).
bool isolatesIngress(const Policy& policy);
bool isolatesEgress(const Policy& policy);

}  // namespace quasar::netpolicy
