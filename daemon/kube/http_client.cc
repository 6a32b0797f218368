#include "daemon/kube/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/kube/api_status.h"

namespace quasar::kube {

void Canceller::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  for (void* m : multis_) curl_multi_wakeup(static_cast<CURLM*>(m));
}

bool Canceller::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void Canceller::add(void* multi) const {
  std::lock_guard lock(mu_);
  multis_.insert(multi);
}

void Canceller::remove(void* multi) const {
  std::lock_guard lock(mu_);
  multis_.erase(multi);
}

namespace {

constexpr size_t kMaxIdleConns = 4;
constexpr size_t kMaxErrorBody = 64 << 10;

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const { curl_multi_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool is2xx(long code) { return code >= 200 && code <= 299; }

}  // namespace

struct HttpClient::Conn {
  std::unique_ptr<CURLM, MultiDeleter> multi{curl_multi_init()};
  std::unique_ptr<CURL, EasyDeleter> easy{curl_easy_init()};
};

// What one transfer ended with.
struct HttpClient::Outcome {
  absl::Status status;  // transport error, Cancelled, or on_data's error; OK otherwise
  long code = 0;
  std::string body;  // the whole body of a call, or the (shortened) body of a non-2xx stream
  bool reusable = true;
};

namespace {

// State shared with curl's write callback.
struct WriteCtx {
  CURL* easy;
  const HttpClient::DataFn* on_data;  // null: collect everything into body
  std::string* body;
  size_t max_body;
  absl::Status callback_status;
  bool too_large = false;
};

size_t onWrite(char* data, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<WriteCtx*>(user);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(ctx->easy, CURLINFO_RESPONSE_CODE, &code);
  if (ctx->on_data == nullptr || !is2xx(code)) {
    const size_t limit = ctx->on_data == nullptr ? ctx->max_body : kMaxErrorBody;
    if (ctx->body->size() + len > limit) {
      if (ctx->on_data != nullptr) return len;  // an error body: keep its head only
      ctx->too_large = true;
      return 0;
    }
    ctx->body->append(data, len);
    return len;
  }
  absl::Status s = (*ctx->on_data)(absl::string_view(data, len));
  if (!s.ok()) {
    ctx->callback_status = std::move(s);
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  return len;
}

}  // namespace

absl::StatusOr<std::shared_ptr<HttpClient>> HttpClient::create(KubeConfig config, Options options) {
  if (!absl::StartsWith(config.server, "https://")) {
    return absl::InvalidArgumentError("kube: server \"" + config.server + "\" is not https://");
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return absl::InvalidArgumentError("kube: a client certificate needs its key and vice versa");
  }
  globalInit();
  return std::shared_ptr<HttpClient>(new HttpClient(std::move(config), std::move(options)));
}

HttpClient::HttpClient(KubeConfig config, Options options)
    : config_(std::move(config)),
      options_(std::move(options)),
      tokens_(config_.token, config_.token_file, options_.token_check_interval) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Conn> HttpClient::takeConn() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<Conn>();
  if (c->multi == nullptr || c->easy == nullptr) return nullptr;
  return c;
}

void HttpClient::giveBack(std::unique_ptr<Conn> conn) {
  std::lock_guard lock(pool_mu_);
  if (pool_.size() < kMaxIdleConns) pool_.push_back(std::move(conn));
}

HttpClient::Outcome HttpClient::perform(Conn& conn, const Request& req, const std::string& token,
                                        const DataFn* on_data, const Canceller* cancel) {
  Outcome out;
  const std::string what = req.method + " " + req.path;
  CURL* e = conn.easy.get();
  curl_easy_reset(e);  // keeps the connection cache, drops every option of the last call
  const std::string url = config_.server + req.path;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  const auto total = req.timeout.count() > 0 ? req.timeout : options_.request_timeout;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
  if (req.idle_timeout.count() > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.idle_timeout.count()));
  }
  // A quiet but healthy stream must not look dead to middleboxes; a dead peer is found sooner.
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);

  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.ca_pem.empty()) {
    // Only the cluster's CA: no system bundle or directory beside it.
    curl_easy_setopt(e, CURLOPT_CAINFO, static_cast<char*>(nullptr));
    curl_easy_setopt(e, CURLOPT_CAPATH, static_cast<char*>(nullptr));
    curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
  }
  if (!config_.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(config_.client_cert_pem.data()),
                   config_.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(config_.client_key_pem.data()), config_.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
  }

  Slist headers;
  auto addHeader = [&headers](const std::string& h) {
    curl_slist* l = curl_slist_append(headers.get(), h.c_str());
    if (l != nullptr) {
      (void)headers.release();
      headers.reset(l);
    }
  };
  addHeader("Accept: application/json");
  if (!token.empty()) addHeader("Authorization: Bearer " + token);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    addHeader("Content-Type: " +
              (req.content_type.empty() ? std::string("application/json") : req.content_type));
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
  }
  if (req.method != "GET" && req.method != "POST") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());

  WriteCtx ctx{e, on_data, &out.body, options_.max_body_bytes, absl::OkStatus()};
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &ctx);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);

  CURLM* m = conn.multi.get();
  if (CURLMcode mc = curl_multi_add_handle(m, e); mc != CURLM_OK) {
    out.status = absl::InternalError(what + ": curl_multi_add_handle: " + curl_multi_strerror(mc));
    out.reusable = false;
    return out;
  }
  CURLcode result = CURLE_OK;
  bool cancelled = false;
  {
    if (cancel != nullptr) cancel->add(m);
    absl::Cleanup unregister = [cancel, m] {
      if (cancel != nullptr) cancel->remove(m);
    };
    for (bool done = false; !done;) {
      if (cancel != nullptr && cancel->cancelled()) {
        cancelled = true;
        break;
      }
      int running = 0;
      CURLMcode mc = curl_multi_perform(m, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
        if (msg->msg == CURLMSG_DONE) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done) break;
      if (mc == CURLM_OK) mc = curl_multi_poll(m, nullptr, 0, 1000, nullptr);
      if (mc != CURLM_OK) {
        out.status = absl::InternalError(what + ": curl multi: " + curl_multi_strerror(mc));
        out.reusable = false;
        curl_multi_remove_handle(m, e);
        return out;
      }
    }
  }
  curl_multi_remove_handle(m, e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out.code);
  if (cancelled) {
    out.status = absl::CancelledError(what + ": cancelled");
    out.reusable = false;
  } else if (!ctx.callback_status.ok()) {
    out.status = std::move(ctx.callback_status);
    out.reusable = false;
  } else if (ctx.too_large) {
    out.status = absl::ResourceExhaustedError(
        absl::StrCat(what, ": body larger than ", options_.max_body_bytes, " bytes"));
    out.reusable = false;
  } else if (result != CURLE_OK) {
    std::string text = absl::StrCat(what, ": ", curl_easy_strerror(result));
    if (errbuf[0] != '\0') absl::StrAppend(&text, ": ", errbuf);
    if (result == CURLE_PEER_FAILED_VERIFICATION && !config_.ca_origin.empty()) {
      absl::StrAppend(&text, " (CA from ", config_.ca_origin, ")");
    }
    out.status = result == CURLE_OPERATION_TIMEDOUT ? absl::DeadlineExceededError(text)
                                                    : absl::UnavailableError(text);
    out.reusable = false;
  }
  return out;
}

HttpClient::Outcome HttpClient::performWithAuth(const Request& req, const DataFn* on_data,
                                                const Canceller* cancel) {
  for (int attempt = 0;; ++attempt) {
    auto token = tokens_.token();
    if (!token.ok()) {
      return Outcome{absl::UnauthenticatedError(req.method + " " + req.path + ": " +
                                                std::string(token.status().message())),
                     0, "", true};
    }
    std::unique_ptr<Conn> conn = takeConn();
    if (conn == nullptr) {
      return Outcome{absl::ResourceExhaustedError("curl: cannot make a handle"), 0, "", false};
    }
    Outcome out = perform(*conn, req, *token, on_data, cancel);
    if (out.reusable) giveBack(std::move(conn));
    // A projected service account token rotates: on a 401 read the file again, retry once.
    if (out.status.ok() && out.code == 401 && attempt == 0 && tokens_.forceReload()) continue;
    return out;
  }
}

absl::StatusOr<HttpClient::Response> HttpClient::call(const Request& req, const Canceller* cancel) {
  Outcome out = performWithAuth(req, nullptr, cancel);
  if (!out.status.ok()) return out.status;
  if (!is2xx(out.code)) return statusFromHttp(out.code, out.body, req.method + " " + req.path);
  return Response{out.code, std::move(out.body)};
}

absl::Status HttpClient::stream(const Request& req, const DataFn& on_data,
                                const Canceller* cancel) {
  Outcome out = performWithAuth(req, &on_data, cancel);
  if (!out.status.ok()) return out.status;
  if (!is2xx(out.code)) return statusFromHttp(out.code, out.body, req.method + " " + req.path);
  return absl::OkStatus();
}

}  // namespace quasar::kube
