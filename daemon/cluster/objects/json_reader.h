#pragma once
// Internal to the object parsers: reads fields of one object's JSON without ever throwing
// (nlohmann's get(), value() and operator[] throw on a wrong type; this reads only after the type
// checks) and keeps the first error, naming the object and the field:
//   Pod default/web: spec.containers[0].ports[1].containerPort: must be in [1, 65535]
// A parser reads every field it wants, then returns status() if !ok(): after the first error,
// reads return defaults and record nothing more. Thread-compatible; one Reader per parse.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace quasar::objects::internal {

using nlohmann::json;

// obj[key] when obj is a mapping that holds key, else null.
const json* member(const json& obj, const char* key);
// "a.b" ("b" when path is empty), and "a[3]".
std::string field(const std::string& path, const char* key);
std::string index(const std::string& path, size_t i);

class Reader {
 public:
  explicit Reader(std::string ref) : ref_(std::move(ref)) {}
  // The object's reference in errors ("Pod default/web"): set once the name is known.
  void setRef(std::string ref) { ref_ = std::move(ref); }
  const std::string& ref() const { return ref_; }

  bool ok() const { return !failed_; }
  // OK, or InvalidArgument "<ref>: <path>: <what>" of the first failure.
  absl::Status status() const;
  // Records a failure at `path` (only the first one counts). Returns false.
  bool fail(const std::string& path, std::string_view what);

  // Typed reads of obj[key], whose path is field(path, key). Absent (or null, as the API server
  // writes for unset fields): the fallback, or a failure "is required" when `required`.
  std::string str(const json& obj, const char* key, const std::string& path, bool required = false);
  std::optional<int64_t> integer(const json& obj, const char* key, const std::string& path);
  bool boolean(const json& obj, const char* key, const std::string& path);
  // A mapping of strings to strings (labels, annotations, a node selector).
  std::map<std::string, std::string> stringMap(const json& obj, const char* key,
                                               const std::string& path);
  std::vector<std::string> stringList(const json& obj, const char* key, const std::string& path);
  // obj[key] when it is a mapping (null when absent, or a failure when another type).
  const json* object(const json& obj, const char* key, const std::string& path,
                     bool required = false);
  // obj[key] when it is a list (null when absent, or a failure when another type).
  const json* array(const json& obj, const char* key, const std::string& path);

 private:
  // obj[key] unless absent or null; records "is required" when `required` and absent.
  const json* present(const json& obj, const char* key, const std::string& path, bool required);

  std::string ref_;
  bool failed_ = false;
  std::string error_;
};

// Kubernetes' name rules (apimachinery validation).
bool isDns1123Label(std::string_view s);      // lowercase alnum and '-', <= 63
bool isDns1123Subdomain(std::string_view s);  // labels joined by '.', <= 253
bool isLabelKey(std::string_view s);          // [dns1123-subdomain/]name, name <= 63
bool isLabelValue(std::string_view s);        // empty, or alnum with - _ . inside, <= 63
bool isPortName(std::string_view s);          // IANA_SVC_NAME: <= 15, lowercase, a letter

}  // namespace quasar::objects::internal
