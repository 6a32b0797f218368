#pragma once
// JSON text from a fuzzer's input, parsed the way quasar parses JSON from outside: with a bound
// on nesting and without exceptions. Uses conf::parseJson where the tree has it
// (conf/json_parse.h); otherwise the same bound is checked here before nlohmann parses.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "nlohmann/json.hpp"

#if __has_include("conf/json_parse.h")
#include "conf/json_parse.h"
#define QUASAR_FUZZ_HAVE_PARSE_JSON 1
#endif

namespace quasar::fuzz {

inline std::optional<nlohmann::json> parseJson(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
#ifdef QUASAR_FUZZ_HAVE_PARSE_JSON
  auto j = conf::parseJson(text);
  if (!j.ok()) return std::nullopt;
  return *std::move(j);
#else
  // Lists and objects nested deeper than this are refused (copying and dumping recurse).
  constexpr int kMaxDepth = 128;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return std::nullopt;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
#endif
}

}  // namespace quasar::fuzz
