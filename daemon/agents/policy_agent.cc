#include "daemon/agents/policy_agent.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/cluster/objects/node.h"
#include "netpolicy/compiler/compiler.h"
#include "spdlog/spdlog.h"

namespace quasar::daemon {
namespace {

namespace np = netpolicy;
using Clock = std::chrono::steady_clock;

// A family gets a ruleset when anything in the model has an address of it.
bool usesFamily(const np::Model& m, conf::Family f) {
  for (const auto& p : m.pods) {
    for (const auto& ip : p.ips) {
      if (ip.family() == f) return true;
    }
  }
  for (const auto& p : m.policies) {
    for (const auto* rules : {&p.ingress, &p.egress}) {
      for (const auto& r : *rules) {
        for (const auto& peer : r.peers) {
          if (peer.ip_block && peer.ip_block->cidr.family() == f) return true;
        }
      }
    }
  }
  return false;
}

// A node or namespace update that changes nothing policy looks at (a node's heartbeat).
bool irrelevant(const ObjectEvent& e) {
  if (e.type != ObjectEventType::kModified) return false;
  if (e.kind == objects::Kind::kNamespace) {
    return e.old_object->metadata().labels == e.new_object->metadata().labels;
  }
  if (e.kind == objects::Kind::kNode) {
    const auto* a = e.old_object->as<objects::Node>();
    const auto* b = e.new_object->as<objects::Node>();
    return a && b && a->metadata.labels == b->metadata.labels &&
           a->internalIps() == b->internalIps();
  }
  return false;
}

}  // namespace

PolicyAgent::PolicyAgent(ObjectView& view, np::Applier& applier, Options options)
    : view_(view), applier_(applier), options_(std::move(options)) {}

void PolicyAgent::start() {
  subscription_ =
      view_.subscribe({objects::Kind::kPod, objects::Kind::kNamespace, objects::Kind::kNode,
                       objects::Kind::kNetworkPolicy, objects::Kind::kQuasarNetworkPolicy},
                      [this](const std::vector<ObjectEvent>& events) {
                        for (const auto& e : events) {
                          if (irrelevant(e)) continue;
                          const auto& m = e.object().metadata();
                          markDirty(e.kind == objects::Kind::kPod
                                        ? std::optional<PodKey>(PodKey{m.namespace_, m.name})
                                        : std::nullopt);
                        }
                      });
  thread_ = std::thread([this] { run(); });
}

void PolicyAgent::stop() {
  subscription_.reset();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  done_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PolicyAgent::markDirty(std::optional<PodKey> pod) {
  {
    std::lock_guard lock(mu_);
    if (pod) {
      dirty_pods_.insert(std::move(*pod));
    } else {
      full_ = true;
    }
    ++wanted_;
  }
  cv_.notify_all();
}

uint64_t PolicyAgent::podStarting(const std::string& attachment, LocalPod pod) {
  uint64_t mine;
  {
    std::lock_guard lock(mu_);
    mine = rememberLocked(attachment, std::move(pod));
  }
  cv_.notify_all();
  return mine;
}

absl::Status PolicyAgent::awaitApplied(uint64_t generation, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  std::unique_lock lock(mu_);
  // Synced here when the worker has not started on it: waking the worker and being woken by it
  // cost more than the member change itself (~0.2 ms of 0.3 on a busy node).
  if (applied_ < generation && !busy_ && !stopping_ && view_.synced()) syncLocked(lock);
  if (!done_cv_.wait_until(lock, until, [&] { return applied_ >= generation || stopping_; }) ||
      applied_ < generation) {
    return absl::UnavailableError(absl::StrCat("network policy for the pod not applied in time (",
                                               last_status_.message(), ")"));
  }
  // Fail closed, but only where something is to be enforced: with no policy at all nothing
  // isolates the pod (a node without ipset in its kernel still runs pods).
  if (!last_status_.ok() && last_policies_ > 0) {
    return absl::UnavailableError(
        absl::StrCat("network policy for the pod not applied: ", last_status_.message()));
  }
  return absl::OkStatus();
}

void PolicyAgent::podKnown(const std::string& attachment, LocalPod pod) {
  std::lock_guard lock(mu_);
  rememberLocked(attachment, std::move(pod));
  cv_.notify_all();
}

uint64_t PolicyAgent::rememberLocked(const std::string& attachment, LocalPod pod) {
  dirty_pods_.insert({pod.namespace_, pod.name});
  local_[attachment] = std::move(pod);
  return ++wanted_;
}

void PolicyAgent::podStopped(const std::string& attachment) {
  {
    std::lock_guard lock(mu_);
    auto it = local_.find(attachment);
    if (it == local_.end()) return;
    dirty_pods_.insert({it->second.namespace_, it->second.name});
    local_.erase(it);
    ++wanted_;
  }
  cv_.notify_all();
}

void PolicyAgent::run() {
  std::unique_lock lock(mu_);
  auto next_repair = Clock::now() + options_.repair_period;
  auto next_full_repair = next_repair;
  // With a filter generation it is looked at more often than the repair period: one netlink
  // request, so a changed chain waits at most this long before its repair starts.
  const auto generation_period =
      std::min<Clock::duration>(options_.repair_period, std::chrono::milliseconds(100));
  auto next_generation_check = Clock::now() + generation_period;
  while (!stopping_) {
    const bool watching = !busy_ && stats_.ready && applier_.watchesGeneration();
    cv_.wait_until(lock, watching ? std::min(next_repair, next_generation_check) : next_repair,
                   [&] { return stopping_ || (wanted_ > applied_ && !busy_); });
    if (stopping_) break;
    if (busy_) {  // an ADD's thread is syncing: the applier is its until it is done
      cv_.wait(lock, [&] { return stopping_ || !busy_; });
      continue;
    }
    if (wanted_ > applied_) {
      // Nothing is applied from a half-loaded view (a previous quasard's state stays).
      if (!view_.synced()) {
        lock.unlock();
        view_.waitSynced(Clock::now() + std::chrono::milliseconds(100));
        lock.lock();
        continue;
      }
      syncLocked(lock);
      continue;
    }
    bool tick = Clock::now() >= next_repair;
    if (!tick && watching && Clock::now() >= next_generation_check) {
      next_generation_check = Clock::now() + generation_period;
      if (Clock::now() >= next_full_repair) {
        busy_ = true;
        lock.unlock();
        tick = applier_.filterChanged();
        lock.lock();
        busy_ = false;
        done_cv_.notify_all();
      }
    }
    if (!tick) continue;
    next_repair = Clock::now() + options_.repair_period;
    if (!stats_.ready) continue;
    busy_ = true;
    lock.unlock();
    auto repaired = repairPass(next_full_repair);
    lock.lock();
    busy_ = false;
    done_cv_.notify_all();
    if (!repaired.ok()) {
      stats_.last_error = std::string(repaired.status().message());
      spdlog::warn("event=policy-repair-failed error=\"{}\"", stats_.last_error);
      // The applier re-reads the kernel next time; a sync from scratch puts everything back.
      full_ = true;
      ++wanted_;
    } else if (repaired->changed()) {
      ++stats_.repairs;
      spdlog::warn(
          "event=policy-repaired sets_created={} members_added={} chains_written={} "
          "hooks_added={}",
          repaired->sets_created, repaired->members_added, repaired->chains_written,
          repaired->hooks_added);
    }
  }
}

void PolicyAgent::syncLocked(std::unique_lock<std::mutex>& lock) {
  busy_ = true;
  const uint64_t generation = wanted_;
  const bool full = full_ || !compiled_;
  std::set<PodKey> pods = std::move(dirty_pods_);
  dirty_pods_.clear();
  full_ = false;
  std::map<std::string, LocalPod> local = local_;
  lock.unlock();
  absl::Status s;
  if (full || !syncPods(pods, local)) s = syncAll(local);
  lock.lock();
  applied_ = generation;
  last_status_ = s;
  busy_ = false;
  done_cv_.notify_all();
  cv_.notify_all();  // the worker may wait for busy_ to end, or have more to do
}

absl::StatusOr<netpolicy::ApplyStats> PolicyAgent::repairPass(Clock::time_point& next_full) {
  // Every period the cheap check (sets' member counts, hooks), which repairs what it finds. The
  // full comparison of the chains reads the whole filter table (about 0.4 s at 6,000 rules).
  const auto started = Clock::now();
  const bool full_due = started >= next_full;
  if (applier_.watchesGeneration()) {
    // nftables: the cheap check also sees any change of the filter table (the generation), so
    // the table is read only after a change. Another program changing nftables all the time
    // (kube-proxy) would make that every period: a full read starts at most once per
    // max(period, 2 x the last one's duration), so at most about half of the worker's time.
    auto repaired = applier_.quickRepair(full_due);
    if (!repaired.ok() || repaired->filter_reads > 0) {
      next_full =
          started + std::max<Clock::duration>(options_.repair_period, 2 * (Clock::now() - started));
    }
    return repaired;
  }
  // No generation (it could not be read): the full comparison runs every period, or, when it takes
  // longer than a tenth of that, every ten times its duration.
  auto repaired = full_due ? applier_.repair() : applier_.quickRepair();
  if (full_due) {
    next_full = std::max(Clock::now() + options_.repair_period,
                         Clock::now() + 9 * (Clock::now() - started));
  }
  return repaired;
}

absl::Status PolicyAgent::syncAll(const std::map<std::string, LocalPod>& local) {
  const auto started = Clock::now();
  auto model = std::make_shared<np::Model>(buildPolicyModel(view_, local, options_.node));
  {
    std::lock_guard lock(mu_);
    last_policies_ = model->policies.size();
  }
  Compiled compiled;
  absl::Status status;
  for (conf::Family f : {conf::Family::kV4, conf::Family::kV6}) {
    if (f == conf::Family::kV6 && !usesFamily(*model, f)) continue;
    std::vector<np::PodSetDefinition> definitions;
    auto r = np::compile(*model, {f, options_.node.name}, &definitions);
    if (!r.ok()) {
      status = r.status();
      break;
    }
    compiled.rulesets.push_back(std::move(*r));
    compiled.memberships.push_back(
        np::Membership::fromCompile(*model, {f, options_.node.name}, std::move(definitions)));
  }
  absl::StatusOr<np::ApplyStats> applied =
      status.ok() ? applier_.apply(compiled.rulesets) : absl::StatusOr<np::ApplyStats>(status);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (metrics_) {
    metrics_->runs.inc();
    if (!applied.ok()) metrics_->errors.inc();
  }
  if (!applied.ok()) {
    compiled_.reset();
    std::lock_guard lock(mu_);
    ++stats_.syncs;
    ++stats_.sync_errors;
    stats_.last_sync_ms = ms;
    stats_.last_error = std::string(applied.status().message());
    spdlog::warn("event=policy-sync-failed error=\"{}\"", stats_.last_error);
    return applied.status();
  }
  for (size_t i = 0; i < model->pods.size(); ++i) {
    compiled.pod_index[{model->pods[i].namespace_name, model->pods[i].name}] = i;
  }
  size_t rules = 0, sets = 0, members = 0;
  for (const auto& r : compiled.rulesets) {
    for (const auto& c : r.chains) rules += c.rules.size();
    sets += r.sets.size();
    for (const auto& set : r.sets) members += set.entries.size();
  }
  compiled_ = std::move(compiled);
  const size_t policies = model->policies.size(), pods = model->pods.size();
  {
    std::lock_guard lock(model_mu_);
    model_ = std::move(model);
  }
  std::lock_guard lock(mu_);
  ++stats_.syncs;
  stats_.last_sync_ms = ms;
  stats_.ready = true;
  stats_.last_error.clear();
  stats_.policies = policies;
  stats_.pods = pods;
  stats_.rules = rules;
  stats_.sets = sets;
  stats_.set_members = members;
  if (applied->changed()) {
    spdlog::info(
        "event=policy-sync ms={:.1f} policies={} pods={} sets_created={} sets_destroyed={} "
        "members_added={} members_removed={} chains_written={} chains_removed={} hooks_added={}",
        ms, policies, pods, applied->sets_created, applied->sets_destroyed, applied->members_added,
        applied->members_removed, applied->chains_written, applied->chains_removed,
        applied->hooks_added);
  }
  return absl::OkStatus();
}

bool PolicyAgent::syncPods(const std::set<PodKey>& pods,
                           const std::map<std::string, LocalPod>& local) {
  if (pods.empty()) return true;
  const auto started = Clock::now();
  Compiled& c = *compiled_;
  // Decide first, change nothing yet: a pod whose change needs a full sync (an address family
  // or a namespace the compiled state does not have) sends the whole batch there.
  struct Change {
    PodKey key;
    std::optional<np::Pod> before, now;
  };
  std::vector<Change> changes;
  {
    std::lock_guard lock(model_mu_);
    for (const auto& key : pods) {
      auto now = buildPolicyPod(view_, local, options_.node, key.first, key.second);
      auto it = c.pod_index.find(key);
      const np::Pod* before = it == c.pod_index.end() ? nullptr : &model_->pods[it->second];
      if (!now && before == nullptr) continue;
      if (now && before != nullptr && *now == *before) continue;
      if (now) {
        for (const auto& ip : now->ips) {
          bool have = false;
          for (const auto& r : c.rulesets) have = have || r.family == ip.family();
          if (!have) return false;
        }
        bool known_ns = false;
        for (const auto& ns : model_->namespaces) known_ns = known_ns || ns.name == key.first;
        if (!known_ns) return false;
      }
      changes.push_back(
          {key, before ? std::optional<np::Pod>(*before) : std::nullopt, std::move(now)});
    }
  }
  if (changes.empty()) return true;
  size_t added = 0, removed = 0;
  for (auto& [key, before, now] : changes) {
    for (size_t i = 0; i < c.rulesets.size(); ++i) {
      auto delta = c.memberships[i].applyPodChange(before ? &*before : nullptr,
                                                   now ? &*now : nullptr, &c.rulesets[i]);
      if (!delta.ok()) {
        spdlog::warn("event=policy-pod-update-failed pod={}/{} error=\"{}\"", key.first, key.second,
                     std::string(delta.status().message()));
        compiled_.reset();
        return false;
      }
      if (delta->empty()) continue;
      auto applied = applier_.changeMembers(c.rulesets[i].family, *delta);
      if (!applied.ok()) {
        spdlog::warn("event=policy-pod-update-failed pod={}/{} error=\"{}\"", key.first, key.second,
                     std::string(applied.status().message()));
        compiled_.reset();
        return false;
      }
      added += delta->added.size();
      removed += delta->removed.size();
    }
    // The model follows (under model_mu_ for explain()).
    auto it = c.pod_index.find(key);
    std::lock_guard lock(model_mu_);
    auto& list = model_->pods;
    if (now && it != c.pod_index.end()) {
      list[it->second] = std::move(*now);
    } else if (now) {
      c.pod_index[key] = list.size();
      list.push_back(std::move(*now));
    } else {
      const size_t at = it->second;
      c.pod_index.erase(it);
      if (at + 1 != list.size()) {
        list[at] = std::move(list.back());
        c.pod_index[{list[at].namespace_name, list[at].name}] = at;
      }
      list.pop_back();
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  std::lock_guard lock(mu_);
  stats_.pod_updates += changes.size();
  stats_.pods = c.pod_index.size();
  stats_.set_members = stats_.set_members + added - removed;
  spdlog::debug("event=policy-pods ms={:.2f} pods={} members_added={} members_removed={}", ms,
                changes.size(), added, removed);
  return true;
}

absl::StatusOr<np::Verdict> PolicyAgent::explain(const std::string& from_namespace,
                                                 const std::string& from_pod,
                                                 const std::string& to_namespace,
                                                 const std::string& to_pod, int port,
                                                 np::Protocol protocol) const {
  std::lock_guard lock(model_mu_);
  if (!model_) return absl::FailedPreconditionError("no network policy sync yet");
  return np::explain(*model_, from_namespace, from_pod, to_namespace, to_pod, port, protocol);
}

PolicyAgent::Stats PolicyAgent::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace quasar::daemon
