#include "daemon/metrics/readiness.h"

#include "absl/strings/str_cat.h"

namespace quasar::metrics {

Registration Readiness::add(std::string name, Check check) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_++;
  checks_.emplace(id, std::make_pair(std::move(name), std::move(check)));
  return Registration([this, id] { remove(id); });
}

void Readiness::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  checks_.erase(id);
}

Readiness::Report Readiness::evaluate() const {
  Report r;
  std::lock_guard lock(mu_);
  r.ready = !checks_.empty();
  for (const auto& [id, check] : checks_) {
    const absl::Status s = check.second();
    if (s.ok()) {
      absl::StrAppend(&r.text, "[+]", check.first, " ok\n");
    } else {
      r.ready = false;
      absl::StrAppend(&r.text, "[-]", check.first, " failed: ", s.message(), "\n");
    }
  }
  if (checks_.empty()) r.text = "no readiness check is registered yet\n";
  absl::StrAppend(&r.text, r.ready ? "readyz check passed\n" : "readyz check failed\n");
  return r;
}

}  // namespace quasar::metrics
