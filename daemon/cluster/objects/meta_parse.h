#pragma once
// Internal to the object parsers: the envelope (apiVersion, kind, metadata) and label selectors.

#include <string>

#include "daemon/cluster/objects/json_reader.h"
#include "daemon/cluster/objects/kind.h"
#include "daemon/cluster/objects/meta.h"

namespace quasar::objects::internal {

// The reference errors use before the object is known to be valid: "<kind> <name>" from
// whatever the JSON holds; `fallback_kind` when it has no kind, "(unnamed)" for no name.
std::string refOf(const json& j, std::string_view fallback_kind);

// Checks apiVersion and kind against `kind` and reads metadata: name (a DNS-1123 label for
// Namespaces, else a subdomain), namespace ("default" when absent, refused for cluster-scoped
// kinds), labels (valid keys and values), annotations (strings), ownerReferences. Sets the
// reader's reference to "<kind> <ns/name>" once the name is read.
ObjectMeta readEnvelope(Reader& r, const json& j, Kind kind);

// A LabelSelector at `path`: matchLabels (valid keys and values) and matchExpressions (In and
// NotIn need values, Exists and DoesNotExist have none).
LabelSelector readSelector(Reader& r, const json& sel, const std::string& path);
// A plain map of labels read as a selector ({"a": "b"} = matchLabels), e.g. a nodeSelector.
LabelSelector readLabelMapSelector(Reader& r, const json& obj, const char* key,
                                   const std::string& path);

// obj[key] as TCP, UDP or SCTP; TCP when absent.
Protocol readProtocol(Reader& r, const json& obj, const std::string& path);

}  // namespace quasar::objects::internal
