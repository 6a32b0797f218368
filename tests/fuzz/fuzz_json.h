#pragma once
// JSON text from a fuzzer's input, parsed the way quasar parses JSON from outside
// (conf::parseJson: a bound on nesting, no exceptions).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "conf/json_parse.h"
#include "nlohmann/json.hpp"

namespace quasar::fuzz {

inline std::optional<nlohmann::json> parseJson(const uint8_t* data, size_t size) {
  auto j = conf::parseJson(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!j.ok()) return std::nullopt;
  return *std::move(j);
}

}  // namespace quasar::fuzz
