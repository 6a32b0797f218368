#include "daemon/cluster/pod_addresses.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "conf/json_parse.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {
namespace {

// etcd refuses a transaction of more than 128 operations (its --max-txn-ops default).
constexpr size_t kMaxOpsPerTxn = 100;
// How long changes gather before a write. No node waits for its own records (the local policy
// agent learns a pod's address from the ADD itself), so a short delay costs nothing, and it
// keeps a durable write (an fsync on SQLite, a round trip on etcd) and the watchers' wake-ups
// out of every ADD and DEL of a burst: measured 1.1-1.4 ms of an ADD's 4 ms
// (scripts/bench-policy.sh, 2026-12-03).
constexpr std::chrono::milliseconds kCoalesce(50);

}  // namespace

bool isKubernetesName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return s.front() != '-' && s.front() != '.' && s.back() != '-' && s.back() != '.';
}

std::string podAddressesKey(const std::string& node, const std::string& ns,
                            const std::string& name) {
  return absl::StrCat(kPodIpsPrefix, node, "/", ns, "/", name);
}

std::string podAddressesValue(const PodAddresses& p) {
  return nlohmann::json{{"uid", p.uid}, {"ips", p.ips}}.dump();
}

std::optional<PodAddresses> parsePodAddresses(const std::string& key, const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(key, '/');
  if (parts.size() != 4 || parts[0] + "/" != kPodIpsPrefix) return std::nullopt;
  if (!isKubernetesName(parts[1]) || !isKubernetesName(parts[2]) || !isKubernetesName(parts[3])) {
    return std::nullopt;
  }
  auto j = conf::parseJson(value);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  PodAddresses p{parts[1], parts[2], parts[3], "", {}};
  if (auto it = j->find("uid"); it != j->end() && it->is_string()) p.uid = it->get<std::string>();
  auto ips = j->find("ips");
  if (ips == j->end() || !ips->is_array()) return std::nullopt;
  for (const auto& ip : *ips) {
    if (!ip.is_string()) return std::nullopt;
    p.ips.push_back(ip.get<std::string>());
  }
  return p;
}

PodAddressPublisher::PodAddressPublisher(Store& store, std::string node)
    : store_(store), node_(std::move(node)) {}

void PodAddressPublisher::start(std::vector<AttachmentAddresses> current) {
  std::lock_guard lock(mu_);
  if (writer_.joinable()) return;
  for (auto& a : current) {
    if (!isKubernetesName(a.namespace_) || !isKubernetesName(a.name)) continue;
    setLocked(a.namespace_, a.name, a.uid, a.attachment, std::move(a.ips));
  }
  pending_.clear();  // the first sync writes what differs
  writer_ = std::thread([this] { run(); });
}

void PodAddressPublisher::setAttachment(const std::string& ns, const std::string& name,
                                        const std::string& uid, const std::string& attachment,
                                        std::vector<std::string> ips) {
  if (!isKubernetesName(ns) || !isKubernetesName(name)) return;  // not a Kubernetes pod
  std::lock_guard lock(mu_);
  setLocked(ns, name, uid, attachment, std::move(ips));
}

void PodAddressPublisher::removeAttachment(const std::string& attachment) {
  std::lock_guard lock(mu_);
  auto it = pod_of_.find(attachment);
  if (it == pod_of_.end()) return;
  const auto [ns, name] = it->second;
  setLocked(ns, name, "", attachment, {});
}

void PodAddressPublisher::setLocked(const std::string& ns, const std::string& name,
                                    const std::string& uid, const std::string& attachment,
                                    std::vector<std::string> ips) {
  auto it = pods_.try_emplace({ns, name}).first;
  Pod& pod = it->second;
  if (!uid.empty()) pod.uid = uid;
  if (ips.empty()) {
    pod.by_attachment.erase(attachment);
    pod_of_.erase(attachment);
  } else {
    pod.by_attachment[attachment] = std::move(ips);
    pod_of_[attachment] = {ns, name};
  }
  const std::string key = podAddressesKey(node_, ns, name);
  if (pod.by_attachment.empty()) {
    pending_[key] = std::nullopt;
    pods_.erase(it);
  } else {
    PodAddresses p{node_, ns, name, pod.uid, {}};
    for (const auto& [_, v] : pod.by_attachment) p.ips.insert(p.ips.end(), v.begin(), v.end());
    std::sort(p.ips.begin(), p.ips.end());
    pending_[key] = podAddressesValue(p);
  }
  cv_.notify_all();
}

bool PodAddressPublisher::flush(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mu_);
  ++flushing_;
  cv_.notify_all();  // ends the writer's coalescing wait
  const bool done = cv_.wait_for(
      lock, deadline, [&] { return stopping_ || (synced_ && pending_.empty() && !writing_); });
  --flushing_;
  return done;
}

void PodAddressPublisher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

absl::Status PodAddressPublisher::writeBatch(
    const std::map<std::string, std::optional<std::string>>& batch) {
  std::vector<Op> ops;
  auto send = [&]() -> absl::Status {
    if (ops.empty()) return absl::OkStatus();
    auto r = store_.txn({}, ops, {});
    ops.clear();
    return r.status();
  };
  for (const auto& [key, value] : batch) {
    ops.push_back(value ? Op::put(key, *value) : Op::del(key));
    if (ops.size() == kMaxOpsPerTxn) {
      if (auto s = send(); !s.ok()) return s;
    }
  }
  return send();
}

void PodAddressPublisher::run() {
  std::mt19937 rng(std::random_device{}());
  std::chrono::milliseconds backoff(100);
  std::unique_lock lock(mu_);
  auto wait_backoff = [&] {
    const auto jitter = std::uniform_int_distribution<int64_t>(0, backoff.count())(rng);
    cv_.wait_for(lock, backoff + std::chrono::milliseconds(jitter), [&] { return stopping_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  };
  while (!stopping_) {
    std::map<std::string, std::optional<std::string>> batch;
    if (!synced_) {
      // First make this node's subtree equal to what it holds: a previous run may have left
      // pods that are gone, or missed writes. pods_ is the truth, so what is pending is in it.
      std::map<std::string, std::string> want;
      for (const auto& [ref, pod] : pods_) {
        PodAddresses p{node_, ref.first, ref.second, pod.uid, {}};
        for (const auto& [_, v] : pod.by_attachment) p.ips.insert(p.ips.end(), v.begin(), v.end());
        std::sort(p.ips.begin(), p.ips.end());
        want[podAddressesKey(node_, ref.first, ref.second)] = podAddressesValue(p);
      }
      pending_.clear();
      writing_ = true;
      lock.unlock();
      auto listed = store_.list(absl::StrCat(kPodIpsPrefix, node_, "/"));
      absl::Status s = listed.status();
      if (listed.ok()) {
        for (const auto& kv : listed->kvs) {
          auto w = want.find(kv.key);
          if (w == want.end()) {
            batch[kv.key] = std::nullopt;
          } else if (w->second == kv.value) {
            want.erase(w);
          }
        }
        for (auto& [k, v] : want) batch[k] = std::move(v);
        s = writeBatch(batch);
      }
      lock.lock();
      writing_ = false;
      if (!s.ok()) {
        spdlog::warn("event=pod-addresses-sync-failed node={} error=\"{}\"", node_,
                     std::string(s.message()));
        wait_backoff();
        continue;
      }
      synced_ = true;
    } else {
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) break;
      cv_.wait_for(lock, kCoalesce, [&] { return stopping_ || flushing_ > 0; });
      batch.swap(pending_);
      writing_ = true;
      lock.unlock();
      absl::Status s = writeBatch(batch);
      lock.lock();
      writing_ = false;
      if (!s.ok()) {
        spdlog::warn("event=pod-addresses-write-failed keys={} error=\"{}\"", batch.size(),
                     std::string(s.message()));
        // Put back what failed, unless something newer for the same key arrived meanwhile.
        for (auto& [k, v] : batch) pending_.try_emplace(k, std::move(v));
        wait_backoff();
        continue;
      }
    }
    backoff = std::chrono::milliseconds(100);
    cv_.notify_all();
  }
}

}  // namespace quasar::daemon
