#include "netpolicy/kernel/filter_edit.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

std::string FilterEdit::render() const {
  std::string out = "*filter\n";
  for (const auto& [name, rules] : write) absl::StrAppend(&out, ":", name, " - [0:0]\n");
  for (const auto& name : remove) absl::StrAppend(&out, ":", name, " - [0:0]\n");
  // Hooks go first: a chain being removed must lose its references before -X.
  for (const auto& [chain, count] : delete_hooks) {
    for (int i = 0; i < count; ++i)
      absl::StrAppend(&out, "-D ", hookParent(chain), " -j ", chain, "\n");
  }
  for (const auto& [name, rules] : write) {
    for (const auto& r : rules)
      absl::StrAppend(&out, "-A ", name, " ", absl::StrJoin(r, " "), "\n");
  }
  for (const auto& name : remove) absl::StrAppend(&out, "-X ", name, "\n");
  for (const auto& chain : add_hooks)
    absl::StrAppend(&out, "-I ", hookParent(chain), " 1 -j ", chain, "\n");
  out += "COMMIT\n";
  return out;
}

}  // namespace quasar::netpolicy
