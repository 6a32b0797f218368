// The plugin's CNI_* environment (cni::readEnv), chiefly CNI_ARGS. The input is lines of
// NAME=VALUE (as `env` prints them); a name it does not set gets a valid value, so most inputs
// reach the CNI_ARGS parser.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cni/env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> env = {
      {"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c0ffee"}, {"CNI_NETNS", "/run/netns/n"},
      {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/opt/cni/bin"},
  };
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // The environment cannot hold a NUL: a value ends at one.
    line = line.substr(0, line.find('\0'));
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  auto e = quasar::cni::readEnv([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  (void)e.ok();
  return 0;
}
