// Kubernetes objects sent to quasard's Apply and Delete (objects::parseManifest), what the
// object store does with accepted ones (keys, references, the body written back as JSON), and
// the typed parsers the object view runs on every object it is fed.

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/cluster/objects/manifest.h"
#include "daemon/cluster/objects/object.h"
#include "tests/fuzz/fuzz_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = quasar::fuzz::parseJson(data, size);
  if (!j) return 0;
  // Every kind's parser on the input as it is, whatever its apiVersion and kind say.
  for (quasar::objects::Kind k : quasar::objects::kAllKinds) {
    auto typed = quasar::objects::parseObject(k, *j);
    if (typed.ok()) (void)typed->key().storeKey();
  }
  auto objects = quasar::objects::parseManifest(*j);
  if (!objects.ok()) return 0;
  for (const auto& o : *objects) {
    (void)o.storeKey();
    (void)o.ref();
    (void)o.body.dump();
    auto back = quasar::objects::parseStoreKey(o.storeKey());
    if (!back || *back != o.key) __builtin_trap();  // keys must round-trip
  }
  return 0;
}
