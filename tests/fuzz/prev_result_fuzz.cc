// A previous plugin's result (prevResult, cni::parseResult), and what ADD does with an accepted
// one: render it in every supported version and chain onto it. A result quasar renders must
// parse again.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cni/result.h"
#include "tests/fuzz/fuzz_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quasar::cni;
  auto j = quasar::fuzz::parseJson(data, size);
  if (!j) return 0;
  auto r = parseResult(*j);
  if (!r.ok()) return 0;
  for (const auto& version : supportedVersions()) (void)renderResult(*r, version).dump();
  Result chained = *r;
  chained.append(*r);
  auto again = parseResult(renderResult(chained, supportedVersions().back()));
  if (!again.ok()) std::abort();
  return 0;
}
