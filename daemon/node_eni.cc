#include "daemon/node_eni.h"

#include <chrono>
#include <utility>

#include "daemon/cluster/objects/node.h"
#include "ipam/cloud/ec2_provider.h"
#include "ipam/eni/limits.h"
#include "spdlog/spdlog.h"

namespace quasar::daemon {
namespace {

ipam::eni::PoolConfig poolConfig(const NodeEni::Options& o) {
  const conf::EniConfig& c = o.config;
  ipam::eni::PoolConfig p;
  p.node_name = o.node_name;
  p.subnet_id = c.subnet;
  p.security_groups = c.security_groups;
  p.warm_ip_target = c.warm_ip_target;
  p.minimum_ip_target = c.minimum_ip_target;
  p.warm_eni_target = c.warm_eni_target;
  // The config parser admits only the two names parseFormula knows.
  p.formula = ipam::eni::parseFormula(c.max_pods_formula)
                  .value_or(ipam::eni::MaxPodsFormula::kPrimaryServesPods);
  p.max_pods = c.max_pods;
  p.surplus_cooldown_ms = std::chrono::milliseconds(c.surplus_cooldown).count();
  p.reuse_cooldown_ms = o.reuse_cooldown_ms;
  p.usable_tag = c.usable_tag;
  p.excluded_tag_keys = c.untouchable_tag_keys;
  return p;
}

}  // namespace

bool NodeEni::enabledOn(const conf::EniConfig& config,
                        const std::map<std::string, std::string>& labels) {
  return conf::selectsNode(config.node_selector, labels);
}

std::map<std::string, std::string> NodeEni::nodeLabels(const conf::DaemonConfig& config,
                                                       const ObjectView& view,
                                                       std::chrono::milliseconds wait) {
  std::map<std::string, std::string> labels = config.labels;
  if (!config.eni || enabledOn(*config.eni, labels)) return labels;
  if (!view.waitSynced(std::chrono::steady_clock::now() + wait)) {
    spdlog::warn(
        "event=eni-node-labels-unknown node={} reason=\"the object view has not synced; "
        "only the config's labels choose the mode\"",
        config.node_name);
    return labels;
  }
  if (auto node = view.get<objects::Node>("", config.node_name)) {
    for (const auto& [k, v] : node->metadata.labels) labels[k] = v;
  }
  return labels;
}

absl::StatusOr<std::unique_ptr<NodeEni>> NodeEni::create(Options options) {
  ipam::cloud::Ec2Options ec2;
  ec2.region = options.config.region;
  ec2.endpoint = options.config.ec2_endpoint;
  ec2.imds_endpoint = options.config.imds_endpoint;
  ec2.ca_file = options.config.ca_file;
  auto cloud = ipam::cloud::Ec2Provider::create(ec2);
  if (!cloud.ok()) return cloud.status();
  // What an ADD waits on (the cold path) stays well inside the plugin's 10 s: a throttled or
  // slow cloud fails that ADD with "try again" instead of holding it for the refill's 30 s.
  ec2.deadline = absl::Seconds(2);
  ec2.max_attempts = 3;
  auto cold = ipam::cloud::Ec2Provider::create(ec2);
  if (!cold.ok()) return cold.status();
  return create(std::move(options), std::move(*cloud), std::move(*cold));
}

absl::StatusOr<std::unique_ptr<NodeEni>> NodeEni::create(
    Options options, std::unique_ptr<ipam::cloud::CloudProvider> cloud,
    std::unique_ptr<ipam::cloud::CloudProvider> cold_cloud) {
  if (!cloud) return absl::InvalidArgumentError("no cloud provider");
  return std::unique_ptr<NodeEni>(
      new NodeEni(std::move(options), std::move(cloud), std::move(cold_cloud)));
}

NodeEni::NodeEni(Options options, std::unique_ptr<ipam::cloud::CloudProvider> cloud,
                 std::unique_ptr<ipam::cloud::CloudProvider> cold_cloud)
    : options_(std::move(options)),
      cloud_(std::move(cloud)),
      cold_cloud_(std::move(cold_cloud)),
      pool_(poolConfig(options_), *cloud_, cold_cloud_.get()),
      agent_(pool_, EniAgent::Options{options_.config.refill_interval, options_.mtu}),
      refiller_(pool_, options_.clock, options_.config.refill_interval),
      source_(pool_, [this] {
        refiller_.kick();
        agent_.kick();
      }) {}

NodeEni::~NodeEni() { stop(); }

absl::Status NodeEni::start() {
  // Once here, so max pods is known for the Node's annotation; the refiller retries a failure.
  if (auto s = pool_.start(); !s.ok()) {
    spdlog::warn("event=eni-start-failed node={} error=\"{}\" (retried every {} ms)",
                 options_.node_name, std::string(s.message()),
                 options_.config.refill_interval.count());
  }
  if (auto s = agent_.start(); !s.ok()) return s;
  refiller_.start();
  spdlog::info(
      "event=eni-started node={} formula={} warm_ip_target={} minimum_ip_target={} "
      "warm_eni_target={}",
      options_.node_name, options_.config.max_pods_formula, options_.config.warm_ip_target,
      options_.config.minimum_ip_target, options_.config.warm_eni_target);
  return absl::OkStatus();
}

void NodeEni::stop() {
  refiller_.stop();
  agent_.stop();
}

}  // namespace quasar::daemon
