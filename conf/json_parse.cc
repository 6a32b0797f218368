#include "conf/json_parse.h"

#include "absl/strings/str_cat.h"

namespace quasar::conf {
namespace {

// True when lists and objects in `text` nest deeper than `limit`; `at` is then the offset of the
// bracket that went too deep. Exact for valid JSON; other text is the parser's to refuse, and
// nlohmann's parser does not recurse.
bool nestsDeeperThan(absl::string_view text, int limit, size_t& at) {
  int depth = 0;
  bool in_string = false;
  for (at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (in_string) {
      if (c == '\\') {
        ++at;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<nlohmann::json> parseJson(absl::string_view text, int max_depth) {
  size_t at = 0;
  if (nestsDeeperThan(text, max_depth, at)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nests deeper than ", max_depth, " levels (at byte ", at, ")"));
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
}

}  // namespace quasar::conf
