#pragma once
// Why a connection between two pods is allowed or denied: the source's egress and the
// destination's ingress, each with the policies that isolate the pod and the rules that allow
// the connection. Uses the compiler's matching code (selector.h), so it agrees with what is
// programmed. Pure; thread-compatible.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conf/ip.h"
#include "netpolicy/compiler/model.h"

namespace quasar::netpolicy {

struct RuleRef {
  std::string policy_namespace;
  std::string policy_name;
  int rule = 0;  // index in the policy's ingress or egress list
  std::string policy_kind;  // Policy::kind
  auto operator<=>(const RuleRef&) const = default;
};

struct DirectionVerdict {
  bool isolated = false;           // some policy selects the pod for this direction
  bool allowed = true;             // !isolated, or some rule allows
  std::vector<RuleRef> isolating;  // policies selecting the pod (rule = -1)
  std::vector<RuleRef> allowing;   // the rules that allow the connection
};

struct Verdict {
  bool allowed = false;      // egress.allowed && ingress.allowed
  DirectionVerdict egress;   // of the source pod
  DirectionVerdict ingress;  // of the destination pod
};

// NotFound when either pod is not in the model. port: the destination port. family: the
// connection's address family (an ipBlock matches only addresses of that family, as the
// per-family rulesets do).
absl::StatusOr<Verdict> explain(const Model& model, const std::string& from_namespace,
                                const std::string& from_pod, const std::string& to_namespace,
                                const std::string& to_pod, int port, Protocol protocol,
                                conf::Family family = conf::Family::kV4);

// One line per decision, for quasarctl (user strings included: for a terminal, not a kernel).
std::string describe(const Verdict& verdict);
// "ns/name", or "quasar.io:ns/name" for quasar's kind.
std::string policyLabel(const RuleRef& ref);

}  // namespace quasar::netpolicy
