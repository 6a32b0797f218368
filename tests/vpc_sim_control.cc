// VpcSim's control-socket helpers (tests/vpc_sim.h): HTTP/JSON over vpc-sim's unix socket.

#include <curl/curl.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "tests/vpc_sim.h"

namespace quasar::tests {
namespace {

using json = nlohmann::json;
using Curl = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using CurlList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string seconds(std::chrono::milliseconds t) { return absl::StrCat(t.count() / 1000.0); }

}  // namespace

absl::StatusOr<json> VpcSim::control(const std::string& method, const std::string& path,
                                     const json& body, std::chrono::milliseconds timeout) const {
  Curl curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  CurlList headers(curl_slist_append(nullptr, "Content-Type: application/json"),
                   &curl_slist_free_all);
  const std::string url = "http://vpc-sim" + path;
  const std::string text = body.is_null() ? "" : body.dump();
  std::string answer;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (!body.is_null()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(text.size()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()) + 5000);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (CURLcode rc = curl_easy_perform(h); rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("vpc-sim control ", method, " ", path, ": ", curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  json parsed = json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat("vpc-sim control ", path, ": not JSON: ", answer));
  }
  if (status == 408) return absl::DeadlineExceededError(absl::StrCat(path, ": ", answer));
  if (status < 200 || status > 299) {
    return absl::InternalError(
        absl::StrCat("vpc-sim control ", method, " ", path, ": ", status, " ", answer));
  }
  return parsed;
}

absl::StatusOr<json> VpcSim::state() const { return control("GET", "/state"); }

absl::StatusOr<json> VpcSim::calls() const { return control("GET", "/calls"); }

absl::StatusOr<int> VpcSim::callCount(const std::string& action,
                                      const std::string& instance_id) const {
  auto c = calls();
  if (!c.ok()) return c.status();
  const json& counts = instance_id.empty() ? (*c)["calls"] : (*c)["byCaller"][instance_id];
  return counts.is_object() ? counts.value(action, 0) : 0;
}

absl::Status VpcSim::resetCalls() const { return control("POST", "/calls/reset").status(); }

absl::Status VpcSim::throttleNext(int n, const std::string& action) const {
  return control("POST", "/throttle", {{"action", action}, {"count", n}}).status();
}

absl::Status VpcSim::throttleAlways(const std::string& action) const {
  return control("POST", "/throttle", {{"action", action}, {"always", true}}).status();
}

absl::Status VpcSim::clearThrottle() const { return control("POST", "/throttle/clear").status(); }

absl::Status VpcSim::setLatency(int ms, const std::string& action) const {
  return control("POST", "/latency", {{"action", action}, {"ms", ms}}).status();
}

absl::StatusOr<std::string> VpcSim::holdNext(const std::string& action, Phase phase) const {
  auto h = control("POST", "/holds",
                   {{"action", action}, {"phase", phase == Phase::kBefore ? "before" : "after"}});
  if (!h.ok()) return h.status();
  return h->value("id", "");
}

absl::StatusOr<json> VpcSim::waitHeld(const std::string& hold_id,
                                      std::chrono::milliseconds timeout) const {
  auto h = control("GET", "/holds/" + hold_id + "?timeout=" + seconds(timeout), nullptr, timeout);
  if (!h.ok()) return h.status();
  return (*h)["call"];
}

absl::Status VpcSim::release(const std::string& hold_id) const {
  return control("POST", "/holds/" + hold_id + "/release").status();
}

absl::StatusOr<int> VpcSim::waitForCalls(const std::string& action, int count,
                                         std::chrono::milliseconds timeout) const {
  auto r = control(
      "GET", absl::StrCat("/wait?action=", action, "&count=", count, "&timeout=", seconds(timeout)),
      nullptr, timeout);
  if (!r.ok()) return r.status();
  return r->value("count", 0);
}

absl::StatusOr<json> VpcSim::counters() const { return control("GET", "/counters"); }

absl::StatusOr<long> VpcSim::rpFilterDrops() const {
  auto c = counters();
  if (!c.ok()) return c.status();
  return c->value("rpFilterDrops", 0L);
}

}  // namespace quasar::tests
