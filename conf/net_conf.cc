#include "conf/net_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace quasar::conf {
namespace {

using nlohmann::json;

absl::Status fieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config field \"", field, "\": ", what));
}

// Reads an optional string field; a present field of another type is an error.
absl::Status readString(const json& j, const char* field, std::string& out, bool required) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    return required ? fieldError(field, "is required") : absl::OkStatus();
  }
  if (!it->is_string()) return fieldError(field, "must be a string");
  out = it->get<std::string>();
  if (required && out.empty()) return fieldError(field, "must not be empty");
  return absl::OkStatus();
}

absl::Status readInt(const json& j, const char* field, int& out, int min, int max) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) return fieldError(field, "must be an integer");
  const auto v = it->get<int64_t>();
  if (v < min || v > max)
    return fieldError(field, absl::StrFormat("must be in [%d, %d]", min, max));
  out = static_cast<int>(v);
  return absl::OkStatus();
}

absl::Status readRuntimeConfig(const json& j, NetConf& c) {
  auto rc = j.find("runtimeConfig");
  if (rc == j.end() || rc->is_null()) return absl::OkStatus();
  if (!rc->is_object()) return fieldError("runtimeConfig", "must be an object");
  if (auto ips = rc->find("ips"); ips != rc->end() && !ips->is_null()) {
    if (!ips->is_array()) return fieldError("runtimeConfig.ips", "must be a list");
    for (const auto& v : *ips) {
      if (!v.is_string()) return fieldError("runtimeConfig.ips", "entries must be strings");
      // The "ips" convention allows both 10.1.2.3 and 10.1.2.3/24; only the address matters here.
      const auto s = v.get<std::string>();
      auto a = IpAddress::parse(s.substr(0, s.find('/')));
      if (!a.ok()) return fieldError("runtimeConfig.ips", a.status().message());
      c.requested_ips.push_back(*a);
    }
  }
  if (auto mac = rc->find("mac"); mac != rc->end() && !mac->is_null()) {
    if (!mac->is_string()) return fieldError("runtimeConfig.mac", "must be a string");
    auto m = parseMac(mac->get<std::string>());
    if (!m.ok()) return fieldError("runtimeConfig.mac", m.status().message());
    c.requested_mac = *m;
  }
  return absl::OkStatus();
}

absl::Status readValidAttachments(const json& j, NetConf& c) {
  auto va = j.find("cni.dev/valid-attachments");
  if (va == j.end() || va->is_null()) return absl::OkStatus();
  if (!va->is_array()) return fieldError("cni.dev/valid-attachments", "must be a list");
  c.valid_attachments.emplace();
  for (const auto& a : *va) {
    if (!a.is_object() || !a.contains("containerID") || !a["containerID"].is_string() ||
        !a.contains("ifname") || !a["ifname"].is_string()) {
      return fieldError("cni.dev/valid-attachments",
                        "entries must be objects with string containerID and ifname");
    }
    c.valid_attachments->push_back(
        {a["containerID"].get<std::string>(), a["ifname"].get<std::string>()});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Mac> parseMac(absl::string_view text) {
  Mac m{};
  unsigned v[6];
  char tail;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                  &tail) != 6 ||
      s.size() != 17) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a MAC address"));
  }
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  if (m[0] & 1) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is a multicast MAC address"));
  }
  if (m == Mac{}) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is the all-zero MAC address"));
  }
  return m;
}

std::string macToString(const Mac& m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

absl::StatusOr<NetConf> parseNetConf(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("config must be a JSON object");
  NetConf c;
  if (auto s = readString(j, "cniVersion", c.cni_version, true); !s.ok()) return s;
  if (auto s = readString(j, "name", c.name, true); !s.ok()) return s;
  if (auto s = readString(j, "type", c.type, false); !s.ok()) return s;
  if (auto s = readString(j, "socket", c.socket, false); !s.ok()) return s;
  if (c.socket.empty() || c.socket[0] != '/')
    return fieldError("socket", "must be an absolute path");
  if (auto s = readInt(j, "mtu", c.mtu, 0, 65535); !s.ok()) return s;
  if (c.mtu != 0 && c.mtu < 576) return fieldError("mtu", "must be 0 (automatic) or at least 576");
  if (auto s = readString(j, "logFile", c.log_file, false); !s.ok()) return s;
  if (auto s = readString(j, "logLevel", c.log_level, false); !s.ok()) return s;
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return fieldError("logLevel", "must be one of debug, info, warn, error");
  }
  if (auto s = readInt(j, "timeoutMs", c.timeout_ms, 1, 600000); !s.ok()) return s;
  if (auto dr = j.find("defaultRoute"); dr != j.end() && !dr->is_null()) {
    if (!dr->is_boolean()) return fieldError("defaultRoute", "must be true or false");
    c.default_route = dr->get<bool>();
  }
  if (auto s = readRuntimeConfig(j, c); !s.ok()) return s;
  if (auto s = readValidAttachments(j, c); !s.ok()) return s;
  if (auto pr = j.find("prevResult"); pr != j.end() && !pr->is_null()) {
    if (!pr->is_object()) return fieldError("prevResult", "must be an object");
    c.prev_result = *pr;
  }
  return c;
}

std::string podMtuFile(const std::string& cni_socket) { return cni_socket + ".mtu"; }

int readPodMtuHint(const std::string& cni_socket) {
  const int fd = ::open(podMtuFile(cni_socket).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16] = {};
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  char* end = nullptr;
  const long mtu = std::strtol(buf, &end, 10);
  if (end == buf || (*end != '\n' && *end != '\0')) return 0;
  return mtu >= 68 && mtu <= 65535 ? static_cast<int>(mtu) : 0;
}

absl::Status writePodMtuHint(const std::string& cni_socket, int mtu) {
  const std::string path = podMtuFile(cni_socket);
  const std::string tmp = path + ".tmp";
  const std::string text = absl::StrCat(mtu, "\n");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", tmp, ": ", strerror(errno)));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("write ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace quasar::conf
