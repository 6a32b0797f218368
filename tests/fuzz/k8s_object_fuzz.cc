// Kubernetes objects sent to quasard's Apply and Delete (conf::parseK8sObjects), and what the
// object store does with accepted ones: keys, references and the body written back as JSON.

#include <cstddef>
#include <cstdint>
#include <string>

#include "conf/k8s_object.h"
#include "tests/fuzz/fuzz_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = quasar::fuzz::parseJson(data, size);
  if (!j) return 0;
  auto objects = quasar::conf::parseK8sObjects(*j);
  if (!objects.ok()) return 0;
  for (const auto& o : *objects) {
    (void)o.key();
    (void)o.ref();
    (void)o.body.dump();
    (void)quasar::conf::canonicalKind(o.kind);
  }
  return 0;
}
