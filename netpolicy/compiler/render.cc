#include "netpolicy/compiler/render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quasar::netpolicy {

std::string renderIptables(const Ruleset& ruleset) {
  std::string out = "*filter\n";
  for (const auto& c : ruleset.chains) absl::StrAppend(&out, ":", c.name, " - [0:0]\n");
  for (const auto& c : ruleset.chains) {
    for (const auto& r : c.rules) {
      absl::StrAppend(&out, "-A ", c.name, " ", absl::StrJoin(r.args, " "), "\n");
    }
  }
  out += "COMMIT\n";
  return out;
}

std::string renderIpsets(const Ruleset& ruleset) {
  std::string out;
  const char* family = ruleset.family == conf::Family::kV4 ? "inet" : "inet6";
  for (const auto& s : ruleset.sets) {
    absl::StrAppend(&out, "create ", s.name, " ", setTypeName(s.type), " family ", family,
                    " -exist\nflush ", s.name, "\n");
    for (const auto& e : s.entries) {
      absl::StrAppend(&out, "add ", s.name, " ", e.text, e.nomatch ? " nomatch" : "", "\n");
    }
  }
  return out;
}

}  // namespace quasar::netpolicy
