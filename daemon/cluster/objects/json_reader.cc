#include "daemon/cluster/objects/json_reader.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace quasar::objects::internal {

const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string field(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

absl::Status Reader::status() const {
  return failed_ ? absl::InvalidArgumentError(error_) : absl::OkStatus();
}

bool Reader::fail(const std::string& path, std::string_view what) {
  if (!failed_) {
    failed_ = true;
    const std::string w(what);
    error_ = path.empty() ? absl::StrCat(ref_, ": ", w) : absl::StrCat(ref_, ": ", path, ": ", w);
  }
  return false;
}

const json* Reader::present(const json& obj, const char* key, const std::string& path,
                            bool required) {
  if (failed_) return nullptr;
  const json* v = member(obj, key);
  if (v != nullptr && v->is_null()) v = nullptr;
  if (v == nullptr && required) fail(field(path, key), "is required");
  return v;
}

std::string Reader::str(const json& obj, const char* key, const std::string& path, bool required) {
  const json* v = present(obj, key, path, required);
  if (v == nullptr) return "";
  if (!v->is_string()) {
    fail(field(path, key), "must be a string");
    return "";
  }
  return v->get<std::string>();
}

std::optional<int64_t> Reader::integer(const json& obj, const char* key, const std::string& path) {
  const json* v = present(obj, key, path, false);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer() ||
      (v->is_number_unsigned() &&
       v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    fail(field(path, key), "must be an integer");
    return std::nullopt;
  }
  return v->get<int64_t>();
}

bool Reader::boolean(const json& obj, const char* key, const std::string& path) {
  const json* v = present(obj, key, path, false);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return fail(field(path, key), "must be true or false");
  return v->get<bool>();
}

std::map<std::string, std::string> Reader::stringMap(const json& obj, const char* key,
                                                     const std::string& path) {
  std::map<std::string, std::string> out;
  const json* v = present(obj, key, path, false);
  if (v == nullptr) return out;
  const std::string p = field(path, key);
  if (!v->is_object()) {
    fail(p, "must be a map of strings");
    return out;
  }
  for (const auto& [k, value] : v->items()) {
    if (!value.is_string()) {
      fail(absl::StrCat(p, ".", k), "must be a string");
      return {};
    }
    out.emplace(k, value.get<std::string>());
  }
  return out;
}

std::vector<std::string> Reader::stringList(const json& obj, const char* key,
                                            const std::string& path) {
  std::vector<std::string> out;
  const json* v = array(obj, key, path);
  if (v == nullptr) return out;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      fail(index(field(path, key), i), "must be a string");
      return {};
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

const json* Reader::object(const json& obj, const char* key, const std::string& path,
                           bool required) {
  const json* v = present(obj, key, path, required);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    fail(field(path, key), "must be a mapping");
    return nullptr;
  }
  return v;
}

const json* Reader::array(const json& obj, const char* key, const std::string& path) {
  const json* v = present(obj, key, path, false);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    fail(field(path, key), "must be a list");
    return nullptr;
  }
  return v;
}

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

namespace {

bool isLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

}  // namespace

bool isLabelKey(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return isLabelName(s);
  return isDns1123Subdomain(s.substr(0, slash)) && isLabelName(s.substr(slash + 1));
}

bool isLabelValue(std::string_view s) { return s.empty() || isLabelName(s); }

bool isPortName(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  bool letter = false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
    letter = letter || absl::ascii_islower(c);
  }
  return letter && s.front() != '-' && s.back() != '-' && s.find("--") == std::string_view::npos;
}

}  // namespace quasar::objects::internal
