#include "ipam/cloud/http_transport.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace quasar::ipam::cloud {
namespace {

constexpr size_t kMaxIdleHandles = 4;

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct Sink {
  std::string* body;
  size_t max;
  bool too_large = false;
};

size_t onWrite(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t len = size * n;
  if (sink->body->size() + len > sink->max) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, len);
  return len;
}

// Failures before a byte of the request can have reached the server.
bool notSent(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return true;
    default:
      return false;
  }
}

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  absl::StatusOr<HttpResponse> send(const HttpRequest& req) override {
    Easy easy = take();
    if (easy == nullptr) return absl::ResourceExhaustedError("curl: cannot make a handle");
    HttpResponse resp;
    bool reusable = false;
    absl::Status s = perform(easy.get(), req, resp, reusable);
    if (reusable) giveBack(std::move(easy));
    if (!s.ok()) return s;
    return resp;
  }

 private:
  absl::Status perform(CURL* e, const HttpRequest& req, HttpResponse& resp, bool& reusable) {
    const std::string what = req.method + " " + req.url;
    curl_easy_reset(e);  // keeps the connection cache, drops the last call's options
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(options_.connect_timeout, req.timeout).count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (req.direct) curl_easy_setopt(e, CURLOPT_NOPROXY, "*");

    Slist headers;
    auto add = [&headers](const std::string& h) {
      if (curl_slist* l = curl_slist_append(headers.get(), h.c_str())) {
        (void)headers.release();
        headers.reset(l);
      }
    };
    // A signed request must go out with exactly its signed headers: no 100-continue round trip
    // (EC2 does not need it) and no body type curl would choose.
    add("Expect:");
    bool has_content_type = false;
    for (const auto& [name, value] : req.headers) {
      if (absl::AsciiStrToLower(name) == "content-type") has_content_type = true;
      add(name + ": " + value);
    }
    if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      if (!has_content_type) add("Content-Type:");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());

    Sink sink{&resp.body, options_.max_body_bytes};
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onWrite);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);

    const CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    resp.status = static_cast<int>(code);
    if (sink.too_large) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": body larger than ", options_.max_body_bytes, " bytes"));
    }
    if (rc != CURLE_OK) {
      std::string text = absl::StrCat(what, ": ", curl_easy_strerror(rc));
      if (errbuf[0] != '\0') absl::StrAppend(&text, ": ", errbuf);
      if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
        return absl::FailedPreconditionError(text);  // trying again will not change the CAs
      }
      return notSent(rc) ? absl::UnavailableError(text) : absl::DeadlineExceededError(text);
    }
    reusable = true;
    return absl::OkStatus();
  }

  Easy take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        Easy e = std::move(idle_.back());
        idle_.pop_back();
        return e;
      }
    }
    return Easy(curl_easy_init());
  }

  void giveBack(Easy e) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(e));
  }

  const CurlTransportOptions options_;
  std::mutex mu_;
  std::vector<Easy> idle_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<HttpTransport> makeCurlTransport(CurlTransportOptions options) {
  return std::make_unique<CurlTransport>(std::move(options));
}

}  // namespace quasar::ipam::cloud
