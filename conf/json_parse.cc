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

// Length of the well-formed UTF-8 sequence starting at s[at], or 0 when there is none.
size_t utf8SequenceLength(absl::string_view s, size_t at) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[at + i]); };
  const auto cont = [&](size_t i) { return at + i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
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

bool isValidUtf8(absl::string_view s) {
  for (size_t at = 0; at < s.size();) {
    const size_t n = utf8SequenceLength(s, at);
    if (n == 0) return false;
    at += n;
  }
  return true;
}

std::string toValidUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t at = 0; at < s.size();) {
    const size_t n = utf8SequenceLength(s, at);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++at;
    } else {
      out.append(s.data() + at, n);
      at += n;
    }
  }
  return out;
}

}  // namespace quasar::conf
