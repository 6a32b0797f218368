#pragma once
// Test double of HttpTransport: every request is recorded, and a handler the test sets
// answers it (or fails it, as the curl transport would). Thread-safe.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "ipam/cloud/http_transport.h"

namespace quasar::ipam::cloud {

class FakeHttpTransport : public HttpTransport {
 public:
  using Handler = std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)>;

  explicit FakeHttpTransport(Handler handler = nullptr) : handler_(std::move(handler)) {}

  void setHandler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }

  absl::StatusOr<HttpResponse> send(const HttpRequest& request) override {
    Handler h;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      h = handler_;
    }
    if (!h) return absl::UnavailableError("fake transport: no handler");
    return h(request);
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    requests_.clear();
  }

 private:
  mutable std::mutex mu_;
  Handler handler_;
  std::vector<HttpRequest> requests_;
};

// The value of header `name` in `r` (exact name), or "" when absent.
inline std::string headerOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// An application/x-www-form-urlencoded body's fields, percent-decoded ('+' is a space).
inline std::map<std::string, std::string> formFields(const std::string& body) {
  auto decode = [](absl::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i] == '+' ? ' ' : s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  for (absl::string_view kv : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    fields[decode(p.first)] = decode(p.second);
  }
  return fields;
}

}  // namespace quasar::ipam::cloud
