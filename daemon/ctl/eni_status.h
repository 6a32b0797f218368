#pragma once
// `quasarctl status` for a node in ENI mode (docs/eni.md): the instance, its limits and max
// pods with the formula, the pool against its warm targets, and each interface.

#include <string>

#include "daemon/api/quasard.pb.h"
#include "nlohmann/json.hpp"

namespace quasar::ctl {

nlohmann::json eniStatusJson(const quasar::api::v1::EniStatus& s);
// Human-readable, several lines, each ending in a newline.
std::string eniStatusText(const quasar::api::v1::EniStatus& s);

}  // namespace quasar::ctl
