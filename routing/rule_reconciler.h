#pragma once
// Makes the policy rules in quasar's priority range (eni_routing.h: kRulePriorityFirst to
// kRulePriorityLast) that carry quasar's protocol (kRuleProtocol) exactly the planned ones, in
// both families: adds what is missing, removes what is no longer planned (or was changed). A
// rule outside the range, or of another protocol inside it, is never touched: it is someone
// else's. Planned rules are added before stale ones are removed, so a rule being replaced never
// leaves a moment without either. Over `sock` (its namespace). Idempotent; the first kernel
// error is returned (the next pass goes on from where the kernel is).

#include <vector>

#include "absl/status/statusor.h"
#include "routing/netlink_socket.h"
#include "routing/policy_rule.h"
#include "routing/route_reconciler.h"

namespace quasar::routing {

// Whether the rule reconciler owns `rule`.
bool isQuasarRule(const Rule& rule);

// InvalidArgument when a planned rule is not quasar's (outside the range, another protocol).
absl::StatusOr<ReconcileResult> reconcileRules(NetlinkSocket& sock,
                                               const std::vector<Rule>& planned);

// Adds `rules` (one pod's, at its ADD, so its replies leave by its ENI before the next pass),
// an existing one being success. Removes `rules` (at its release), a missing one being
// success. For quasar's rules only (InvalidArgument otherwise); the first error is returned.
absl::Status addRules(NetlinkSocket& sock, const std::vector<Rule>& rules);
absl::Status removeRules(NetlinkSocket& sock, const std::vector<Rule>& rules);

}  // namespace quasar::routing
