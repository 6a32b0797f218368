// The CNI network configuration on the plugin's stdin (conf::parseNetConf), and what the plugin
// does next with an accepted one: any bytes are refused or accepted, nothing crashes or throws.

#include <cstddef>
#include <cstdint>

#include "cni/result.h"
#include "conf/net_conf.h"
#include "tests/fuzz/fuzz_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = quasar::fuzz::parseJson(data, size);
  if (!j) return 0;
  auto conf = quasar::conf::parseNetConf(*j);
  if (!conf.ok()) return 0;
  for (const auto& ip : conf->requested_ips) (void)ip.toString();
  if (conf->requested_mac) (void)quasar::conf::macToString(*conf->requested_mac);
  if (!conf->prev_result.is_null()) {
    (void)conf->prev_result.dump();
    (void)quasar::cni::parseResult(conf->prev_result);
  }
  return 0;
}
