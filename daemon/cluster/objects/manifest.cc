#include "daemon/cluster/objects/manifest.h"

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/json_reader.h"
#include "daemon/cluster/objects/object.h"

namespace quasar::objects {
namespace {

using nlohmann::json;

// Lists of lists are flattened (as kubectl does), to this depth; deeper input is refused rather
// than recursed into.
constexpr int kMaxListDepth = 8;

absl::Status appendObjects(const json& j, int depth, std::vector<ManifestObject>& out) {
  const json* items = nullptr;
  if (j.is_array()) {
    items = &j;
  } else if (const json* kind = internal::member(j, "kind"); kind != nullptr && *kind == "List") {
    items = internal::member(j, "items");
    if (items == nullptr || !items->is_array()) {
      return absl::InvalidArgumentError("List: items: must be a list");
    }
  }
  if (items == nullptr) {
    auto o = parseManifestObject(j);
    if (!o.ok()) return o.status();
    out.push_back(std::move(*o));
    return absl::OkStatus();
  }
  if (depth >= kMaxListDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("List: lists nest deeper than ", kMaxListDepth, " levels"));
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    if (!item.is_object() && !item.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("List: items[", i, "]: must be a mapping"));
    }
    if (auto s = appendObjects(item, depth + 1, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ManifestObject> parseManifestObject(const json& j) {
  auto o = parseObject(j);
  if (!o.ok()) return o.status();
  ManifestObject out{o->key(), j};
  if (isNamespaced(out.key.kind)) out.body["metadata"]["namespace"] = out.key.namespace_;
  return out;
}

absl::StatusOr<std::vector<ManifestObject>> parseManifest(const json& j) {
  std::vector<ManifestObject> out;
  if (auto s = appendObjects(j, 0, out); !s.ok()) return s;
  return out;
}

}  // namespace quasar::objects
