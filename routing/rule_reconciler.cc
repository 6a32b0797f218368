#include "routing/rule_reconciler.h"

#include "absl/strings/str_cat.h"
#include "routing/eni_routing.h"

namespace quasar::routing {

bool isQuasarRule(const Rule& rule) {
  return rule.protocol == kRuleProtocol && rule.priority >= kRulePriorityFirst &&
         rule.priority <= kRulePriorityLast;
}

namespace {

absl::Status checkQuasars(const std::vector<Rule>& rules) {
  for (const auto& r : rules) {
    if (!isQuasarRule(r)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule ", r.toString(), " is outside quasar's rules (priority ",
                       kRulePriorityFirst, "-", kRulePriorityLast, ", proto ", kRuleProtocol, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status addRules(NetlinkSocket& sock, const std::vector<Rule>& rules) {
  if (auto s = checkQuasars(rules); !s.ok()) return s;
  for (const auto& r : rules) {
    if (auto s = addRule(sock, r); !s.ok() && !absl::IsAlreadyExists(s)) return s;
  }
  return absl::OkStatus();
}

absl::Status removeRules(NetlinkSocket& sock, const std::vector<Rule>& rules) {
  if (auto s = checkQuasars(rules); !s.ok()) return s;
  for (const auto& r : rules) {
    if (auto s = deleteRule(sock, r); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<ReconcileResult> reconcileRules(NetlinkSocket& sock,
                                               const std::vector<Rule>& planned) {
  if (auto s = checkQuasars(planned); !s.ok()) return s;
  bool plans_v6 = false;
  for (const auto& r : planned) plans_v6 |= r.family == conf::Family::kV6;
  std::vector<Rule> current;
  for (auto family : {conf::Family::kV4, conf::Family::kV6}) {
    auto rules = listRules(sock, family);
    if (!rules.ok()) {
      // A kernel without IPv6 has no IPv6 rules to remove (EAFNOSUPPORT).
      if (family == conf::Family::kV6 && !plans_v6) continue;
      return rules.status();
    }
    for (auto& r : *rules) {
      if (isQuasarRule(r)) current.push_back(std::move(r));
    }
  }
  ReconcileResult result;
  // Each kernel rule matches at most one planned rule, so a duplicate of a planned rule goes.
  std::vector<bool> matched(current.size(), false);
  for (const auto& want : planned) {
    bool found = false;
    for (size_t i = 0; i < current.size() && !found; ++i) {
      if (!matched[i] && current[i] == want) matched[i] = found = true;
    }
    if (found) {
      ++result.unchanged;
      continue;
    }
    auto s = addRule(sock, want);
    // Equal to a rule the kernel has in all it compares (one this pass did not list, added
    // meanwhile): there.
    if (absl::IsAlreadyExists(s)) {
      ++result.unchanged;
      continue;
    }
    if (!s.ok()) return s;
    ++result.added;
  }
  for (size_t i = 0; i < current.size(); ++i) {
    if (matched[i]) continue;
    // The kernel deletes the first rule that matches every field sent; the fields it was
    // listed with name this one (selectors quasar does not model match as wildcards, so with
    // those a later pass may remove a twin first and put it back: it converges).
    if (auto s = deleteRule(sock, current[i]); !s.ok() && !absl::IsNotFound(s)) return s;
    ++result.removed;
  }
  return result;
}

}  // namespace quasar::routing
