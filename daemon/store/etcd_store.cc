#include "daemon/store/etcd_store.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quasar::daemon {
namespace {

namespace pb = etcdserverpb;

absl::Status toAbsl(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd ", what, ": ", s.error_message()));
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pb::Compare toPb(const Compare& c, const std::string& key) {
  pb::Compare out;
  out.set_key(key);
  switch (c.result) {
    case Compare::Result::kEqual:
      out.set_result(pb::Compare::EQUAL);
      break;
    case Compare::Result::kNotEqual:
      out.set_result(pb::Compare::NOT_EQUAL);
      break;
    case Compare::Result::kGreater:
      out.set_result(pb::Compare::GREATER);
      break;
    case Compare::Result::kLess:
      out.set_result(pb::Compare::LESS);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.value);
      break;
  }
  return out;
}

}  // namespace

std::string etcdPrefixEnd(const std::string& prefix) {
  const std::string end = prefixRangeEnd(prefix);
  return end.empty() ? std::string(1, '\0') : end;  // etcd: "\0" means "to the end"
}

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::open(const EtcdOptions& options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoints");
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  const bool any_tls =
      !options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty();
  if (any_tls) {
    if (options.ca_file.empty() || options.cert_file.empty() || options.key_file.empty()) {
      return absl::InvalidArgumentError("etcd TLS needs caFile, certFile and keyFile together");
    }
    grpc::SslCredentialsOptions ssl;
    for (auto [path, out] : {std::pair{&options.ca_file, &ssl.pem_root_certs},
                             std::pair{&options.cert_file, &ssl.pem_cert_chain},
                             std::pair{&options.key_file, &ssl.pem_private_key}}) {
      auto text = readFile(*path);
      if (!text.ok()) return text.status();
      *out = std::move(*text);
    }
    creds = grpc::SslCredentials(ssl);
  }
  std::unique_ptr<EtcdStore> s(new EtcdStore(options));
  for (const auto& address : options.endpoints) {
    grpc::ChannelArguments args;
    // Reconnect quickly after etcd comes back.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    Endpoint e;
    e.address = address;
    e.channel = grpc::CreateCustomChannel(address, creds, args);
    e.kv = pb::KV::NewStub(e.channel);
    e.lease = pb::Lease::NewStub(e.channel);
    e.watch = pb::Watch::NewStub(e.channel);
    s->endpoints_.push_back(std::move(e));
  }
  return s;
}

std::string EtcdStore::describe() const {
  std::vector<std::string> addrs;
  for (const auto& e : endpoints_) addrs.push_back(e.address);
  return absl::StrCat("etcd:", absl::StrJoin(addrs, ","), options_.key_prefix);
}

EtcdStore::Endpoint& EtcdStore::current() { return endpoints_[current_ % endpoints_.size()]; }

absl::Status EtcdStore::withRetry(
    const char* what, const std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>& call) {
  std::chrono::milliseconds backoff(50);
  grpc::Status last;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    const size_t index = current_ % endpoints_.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    last = call(endpoints_[index], ctx);
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE) return toAbsl(last, what);
    // Fail over to the next endpoint, then back off before going round again.
    size_t expected = index;
    current_.compare_exchange_strong(expected, index + 1);
    if ((attempt + 1) % endpoints_.size() == 0) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1600));
    }
  }
  return toAbsl(last, what);
}

KeyValue EtcdStore::fromPb(const pb::KeyValue& kv) const {
  std::string key = kv.key();
  if (absl::StartsWith(key, options_.key_prefix)) key = key.substr(options_.key_prefix.size());
  return {std::move(key),    kv.value(),   kv.create_revision(),
          kv.mod_revision(), kv.version(), kv.lease()};
}

absl::StatusOr<std::optional<KeyValue>> EtcdStore::get(const std::string& key) {
  pb::RangeRequest req;
  req.set_key(full(key));
  pb::RangeResponse resp;
  auto s = withRetry(
      "range", [&](Endpoint& e, grpc::ClientContext& c) { return e.kv->Range(&c, req, &resp); });
  if (!s.ok()) return s;
  if (resp.kvs_size() == 0) return std::nullopt;
  return fromPb(resp.kvs(0));
}

absl::StatusOr<ListResult> EtcdStore::list(const std::string& prefix) {
  pb::RangeRequest req;
  req.set_key(full(prefix));
  req.set_range_end(etcdPrefixEnd(full(prefix)));
  pb::RangeResponse resp;
  auto s = withRetry(
      "range", [&](Endpoint& e, grpc::ClientContext& c) { return e.kv->Range(&c, req, &resp); });
  if (!s.ok()) return s;
  ListResult out;
  out.revision = resp.header().revision();
  for (const auto& kv : resp.kvs()) out.kvs.push_back(fromPb(kv));
  return out;
}

absl::StatusOr<int64_t> EtcdStore::put(const std::string& key, const std::string& value,
                                       int64_t lease) {
  pb::PutRequest req;
  req.set_key(full(key));
  req.set_value(value);
  req.set_lease(lease);
  pb::PutResponse resp;
  auto s = withRetry(
      "put", [&](Endpoint& e, grpc::ClientContext& c) { return e.kv->Put(&c, req, &resp); });
  if (!s.ok()) return s;
  return resp.header().revision();
}

absl::StatusOr<int64_t> EtcdStore::del(const std::string& key) {
  pb::DeleteRangeRequest req;
  req.set_key(full(key));
  pb::DeleteRangeResponse resp;
  auto s = withRetry("delete", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.kv->DeleteRange(&c, req, &resp);
  });
  if (!s.ok()) return s;
  return resp.deleted();
}

absl::StatusOr<TxnResult> EtcdStore::txn(const std::vector<Compare>& compares,
                                         const std::vector<Op>& then,
                                         const std::vector<Op>& otherwise) {
  pb::TxnRequest req;
  for (const auto& c : compares) *req.add_compare() = toPb(c, full(c.key));
  auto addOps = [&](const std::vector<Op>& ops, auto* list) {
    for (const auto& op : ops) {
      auto* r = list->Add();
      switch (op.kind) {
        case Op::Kind::kPut:
          r->mutable_request_put()->set_key(full(op.key));
          r->mutable_request_put()->set_value(op.value);
          r->mutable_request_put()->set_lease(op.lease);
          break;
        case Op::Kind::kDelete:
          r->mutable_request_delete_range()->set_key(full(op.key));
          if (op.prefix)
            r->mutable_request_delete_range()->set_range_end(etcdPrefixEnd(full(op.key)));
          break;
        case Op::Kind::kGet:
          r->mutable_request_range()->set_key(full(op.key));
          if (op.prefix) r->mutable_request_range()->set_range_end(etcdPrefixEnd(full(op.key)));
          break;
      }
    }
  };
  addOps(then, req.mutable_success());
  addOps(otherwise, req.mutable_failure());
  pb::TxnResponse resp;
  auto s = withRetry(
      "txn", [&](Endpoint& e, grpc::ClientContext& c) { return e.kv->Txn(&c, req, &resp); });
  if (!s.ok()) {
    // etcd refuses a put to a lease that does not exist with NOT_FOUND, like the SQLite store.
    return s;
  }
  TxnResult out;
  out.succeeded = resp.succeeded();
  out.revision = resp.header().revision();
  for (const auto& r : resp.responses()) {
    if (r.has_response_range()) {
      std::vector<KeyValue> kvs;
      for (const auto& kv : r.response_range().kvs()) kvs.push_back(fromPb(kv));
      out.gets.push_back(std::move(kvs));
    }
  }
  return out;
}

absl::StatusOr<int64_t> EtcdStore::grantLease(std::chrono::seconds ttl) {
  if (ttl.count() <= 0) return absl::InvalidArgumentError("lease TTL must be positive");
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  pb::LeaseGrantResponse resp;
  auto s = withRetry("lease grant", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.lease->LeaseGrant(&c, req, &resp);
  });
  if (!s.ok()) return s;
  if (!resp.error().empty()) return absl::InternalError("etcd lease grant: " + resp.error());
  return resp.id();
}

absl::Status EtcdStore::keepAlive(int64_t lease) {
  pb::LeaseKeepAliveResponse resp;
  auto s = withRetry("lease keep-alive", [&](Endpoint& e, grpc::ClientContext& c) {
    auto stream = e.lease->LeaseKeepAlive(&c);
    pb::LeaseKeepAliveRequest req;
    req.set_id(lease);
    if (!stream->Write(req) || !stream->Read(&resp)) {
      stream->WritesDone();
      auto st = stream->Finish();
      return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed") : st;
    }
    stream->WritesDone();
    c.TryCancel();  // one renewal per stream is enough; don't wait for etcd to close it
    stream->Finish();
    return grpc::Status::OK;
  });
  if (!s.ok()) return s;
  if (resp.ttl() <= 0) return absl::NotFoundError(absl::StrCat("lease ", lease, " expired"));
  return absl::OkStatus();
}

absl::Status EtcdStore::revokeLease(int64_t lease) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease);
  pb::LeaseRevokeResponse resp;
  return withRetry("lease revoke", [&](Endpoint& e, grpc::ClientContext& c) {
    return e.lease->LeaseRevoke(&c, req, &resp);
  });
}

class EtcdStore::EtcdWatch final : public Watch {
 public:
  EtcdWatch(EtcdStore* store, std::string prefix, int64_t start_revision, WatchCallback cb)
      : store_(store), prefix_(std::move(prefix)), next_(start_revision), cb_(std::move(cb)) {
    thread_ = std::thread([this] { run(); });
  }
  ~EtcdWatch() override {
    stopping_ = true;
    {
      std::lock_guard lock(mu_);
      if (ctx_) ctx_->TryCancel();
    }
    thread_.join();
  }

 private:
  void run() {
    std::chrono::milliseconds backoff(100);
    while (!stopping_) {
      Endpoint& e = store_->current();
      auto ctx = std::make_shared<grpc::ClientContext>();
      {
        std::lock_guard lock(mu_);
        ctx_ = ctx;
      }
      if (stopping_) return;
      auto stream = e.watch->Watch(ctx.get());
      pb::WatchRequest req;
      auto* create = req.mutable_create_request();
      create->set_key(store_->full(prefix_));
      create->set_range_end(etcdPrefixEnd(store_->full(prefix_)));
      create->set_start_revision(next_);
      create->set_progress_notify(true);
      pb::WatchResponse resp;
      if (stream->Write(req)) {
        while (stream->Read(&resp)) {
          backoff = std::chrono::milliseconds(100);
          if (resp.created() && next_ == 0) next_ = resp.header().revision() + 1;
          if (resp.compact_revision() != 0 || (resp.canceled() && !stopping_)) {
            cb_({}, absl::OutOfRangeError(absl::StrCat(
                        "etcd watch ", prefix_, " from revision ", next_, " cancelled: ",
                        resp.cancel_reason(), " (compacted to ", resp.compact_revision(), ")")));
            stopping_ = true;
            break;
          }
          if (resp.events_size() == 0) continue;
          std::vector<WatchEvent> batch;
          for (const auto& ev : resp.events()) {
            WatchEvent w{
                ev.type() == pb::Event::PUT ? WatchEvent::Type::kPut : WatchEvent::Type::kDelete,
                store_->fromPb(ev.kv())};
            // A batch ends at a revision boundary so a reconnect resumes after a whole one.
            if (!batch.empty() && w.kv.mod_revision != batch.back().kv.mod_revision) {
              cb_(batch, absl::OkStatus());
              next_ = batch.back().kv.mod_revision + 1;
              batch.clear();
            }
            batch.push_back(std::move(w));
          }
          cb_(batch, absl::OkStatus());
          next_ = batch.back().kv.mod_revision + 1;
        }
      }
      ctx->TryCancel();
      stream->Finish();
      if (stopping_) return;
      spdlog::warn("event=etcd-watch-reconnect prefix={} from_revision={}", prefix_, next_);
      store_->current_++;  // try another endpoint
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  EtcdStore* store_;
  std::string prefix_;
  int64_t next_;  // the next revision to deliver; 0 until the watch is created
  WatchCallback cb_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::shared_ptr<grpc::ClientContext> ctx_;
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<Watch>> EtcdStore::watch(const std::string& prefix,
                                                        int64_t start_revision,
                                                        WatchCallback callback) {
  return std::unique_ptr<Watch>(new EtcdWatch(this, prefix, start_revision, std::move(callback)));
}

}  // namespace quasar::daemon
