#include "tests/vpc_sim.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/spawn.h"
#include "tests/testbed.h"

#ifndef QUASAR_SOURCE_DIR
#error "QUASAR_SOURCE_DIR must name the source tree (tests/vpc/)"
#endif

namespace quasar::tests {
namespace {

using json = nlohmann::json;

bool netnsExists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

const json* findById(const json& list, const std::string& key, const std::string& id) {
  for (const auto& item : list) {
    if (item.value(key, "") == id) return &item;
  }
  return nullptr;
}

// A self-signed certificate for every subnet's router address (where instances reach the API).
absl::Status makeCert(const std::string& dir, const json& config) {
  std::string san = "subjectAltName=DNS:localhost";
  for (const auto& s : config.at("subnets")) {
    std::string cidr = s.at("cidr");
    std::string net = cidr.substr(0, cidr.find('/'));
    // The router: the subnet's first address + 1 (subnets are /28 or larger: the last octet).
    const size_t dot = net.rfind('.');
    san += ",IP:" + net.substr(0, dot + 1) + std::to_string(std::stoi(net.substr(dot + 1)) + 1);
  }
  CmdResult r = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/api.key", "-out",
                     dir + "/api.crt", "-days", "2", "-subj", "/CN=vpc-sim", "-addext", san});
  if (r.exit_code != 0) return absl::InternalError("openssl req: " + r.err);
  return absl::OkStatus();
}

}  // namespace

std::string VpcSim::instanceId(int n) {
  std::string hex = absl::StrCat(n);
  return "i-" + std::string(17 - hex.size(), '0') + hex;
}

json VpcSim::exampleConfig(const std::string& prefix, int nodes) {
  json instances = json::array();
  for (int n = 1; n <= nodes; ++n) {
    instances.push_back({{"id", instanceId(n)},
                         {"type", "sim.large"},
                         {"subnet", "subnet-a"},
                         {"primaryIp", absl::StrCat("10.30.1.", 10 + n)},
                         {"netns", absl::StrCat(prefix, "-node", n)}});
  }
  return {
      {"routerNetns", prefix + "-vpcr"},
      {"region", kRegion},
      {"vpcCidr", "10.30.0.0/16"},
      {"apiPort", 8080},
      {"imdsPort", 80},
      {"credentials",
       {{"accessKeyId", kAccessKey},
        {"secretAccessKey", kSecretKey},
        {"sessionToken", kSessionToken},
        {"role", "quasar-node"}}},
      {"subnets",
       {{{"id", "subnet-a"}, {"cidr", "10.30.1.0/24"}, {"az", "us-sim-1a"}},
        {{"id", "subnet-b"}, {"cidr", "10.30.2.0/24"}, {"az", "us-sim-1a"}}}},
      {"securityGroups", {{{"id", "sg-00000000000000001"}, {"name", "nodes"}}}},
      {"instanceTypes", {{{"name", "sim.large"}, {"maxInterfaces", 3}, {"ipv4PerInterface", 4}}}},
      {"instances", instances},
      {"vpcHosts", {{{"name", "host"}, {"netns", prefix + "-host"}, {"ip", "10.30.2.50"}}}}};
}

absl::StatusOr<std::unique_ptr<VpcSim>> VpcSim::start(Options options) {
  std::unique_ptr<VpcSim> s(new VpcSim());
  s->config_ = std::move(options.config);
  s->tls_ = options.tls;
  char tmpl[] = "/tmp/quasar-vpc-sim-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  s->dir_ = tmpl;
  s->socket_ = s->dir_ + "/control.sock";
  for (const std::string& ns : s->namespaces()) {
    if (netnsExists(ns)) s->preexisting_.push_back(ns);
  }
  std::ofstream(s->dir_ + "/vpc.json") << s->config_.dump(2);
  std::vector<std::string> argv = {
      "/usr/bin/python3", std::string(QUASAR_SOURCE_DIR) + "/tests/vpc/vpc_sim.py",
      "--config",         s->dir_ + "/vpc.json",
      "--control",        s->socket_};
  if (options.tls) {
    if (absl::Status c = makeCert(s->dir_, s->config_); !c.ok()) return c;
    argv.insert(argv.end(), {"--tls-cert", s->caCert(), "--tls-key", s->dir_ + "/api.key"});
  }
  if (options.verbose) argv.push_back("--verbose");
  s->pid_ = spawnBackground(argv, s->dir_ + "/vpc-sim.log");
  if (s->pid_ < 0) return absl::InternalError("cannot start vpc-sim");
  if (absl::Status r = s->waitReady(std::chrono::seconds(30)); !r.ok()) {
    return absl::UnavailableError(absl::StrCat(r.message(), "; log:\n", s->log()));
  }
  return s;
}

absl::Status VpcSim::waitReady(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  absl::Status last = absl::UnavailableError("not started");
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat("vpc-sim exited (status ", status, ")"));
    }
    auto r = control("GET", "/healthz", nullptr, std::chrono::seconds(2));
    if (r.ok()) return absl::OkStatus();
    last = r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::UnavailableError("vpc-sim not ready: " + last.ToString());
}

absl::Status VpcSim::stop() {
  absl::Status out;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        out = absl::DeadlineExceededError("vpc-sim did not stop on SIGTERM; killed");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (out.ok() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      out = absl::InternalError(absl::StrCat("vpc-sim exited with status ", status));
    }
    pid_ = -1;
  }
  for (const std::string& ns : namespaces()) {
    if (std::find(preexisting_.begin(), preexisting_.end(), ns) != preexisting_.end()) continue;
    if (netnsExists(ns)) run({"ip", "netns", "del", ns});
  }
  return out;
}

VpcSim::~VpcSim() {
  (void)stop();
  if (!dir_.empty() && getenv("QUASAR_VPC_SIM_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::vector<std::string> VpcSim::namespaces() const {
  std::vector<std::string> out = {config_.value("routerNetns", "")};
  for (const auto& i : config_.value("instances", json::array())) out.push_back(i.at("netns"));
  for (const auto& h : config_.value("vpcHosts", json::array())) out.push_back(h.at("netns"));
  return out;
}

std::string VpcSim::log() const { return readFile(dir_ + "/vpc-sim.log"); }

std::string VpcSim::routerNs() const { return config_.at("routerNetns"); }

std::string VpcSim::instanceNs(const std::string& instance_id) const {
  const json* i = findById(config_.at("instances"), "id", instance_id);
  return i ? i->at("netns").get<std::string>() : "";
}

std::string VpcSim::instanceIp(const std::string& instance_id) const {
  const json* i = findById(config_.at("instances"), "id", instance_id);
  return i ? i->at("primaryIp").get<std::string>() : "";
}

std::string VpcSim::vpcHostNs(const std::string& name) const {
  if (!config_.contains("vpcHosts")) return "";
  const json* h = findById(config_["vpcHosts"], "name", name);
  return h ? h->at("netns").get<std::string>() : "";
}

std::string VpcSim::endpoint(const std::string& instance_id) const {
  const json* i = findById(config_.at("instances"), "id", instance_id);
  if (i == nullptr) return "";
  const json* s = findById(config_.at("subnets"), "id", i->at("subnet"));
  std::string cidr = s->at("cidr");
  std::string net = cidr.substr(0, cidr.find('/'));
  const size_t dot = net.rfind('.');
  return absl::StrCat(tls_ ? "https://" : "http://", net.substr(0, dot + 1),
                      std::stoi(net.substr(dot + 1)) + 1, ":", config_.value("apiPort", 8080));
}

std::string VpcSim::imdsEndpoint() const {
  return absl::StrCat("http://", config_.value("imdsAddress", "169.254.169.254"), ":",
                      config_.value("imdsPort", 80));
}

std::vector<std::string> VpcSim::ec2Argv(const std::string& instance_id, const std::string& params,
                                         const Credentials& creds) const {
  const std::string ns = instanceNs(instance_id);
  if (ns.empty()) return {};
  std::vector<std::string> argv = {
      "ip",
      "netns",
      "exec",
      ns,
      "curl",
      "-sS",
      "-m",
      "60",
      "--aws-sigv4",
      absl::StrCat("aws:amz:", config_.value("region", kRegion), ":ec2"),
      "--user",
      creds.access_key + ":" + creds.secret_key,
      "--data-binary",
      "Version=2016-11-15&" + params,
      "-w",
      "\n%{http_code}"};
  if (!creds.session_token.empty()) {
    argv.insert(argv.end(), {"-H", "X-Amz-Security-Token: " + creds.session_token});
  }
  if (tls_) argv.insert(argv.end(), {"--cacert", caCert()});
  argv.push_back(endpoint(instance_id) + "/");
  return argv;
}

absl::StatusOr<VpcSim::HttpResult> VpcSim::ec2(const std::string& instance_id,
                                               const std::string& params,
                                               const Credentials& creds) const {
  std::vector<std::string> argv = ec2Argv(instance_id, params, creds);
  if (argv.empty()) return absl::NotFoundError("no instance " + instance_id);
  CmdResult r = run(argv);
  if (r.exit_code != 0) return absl::UnavailableError("curl: " + r.err);
  const size_t nl = r.out.rfind('\n');
  HttpResult out;
  out.status = std::atol(r.out.c_str() + nl + 1);
  out.body = r.out.substr(0, nl);
  return out;
}

std::string VpcSim::xmlValue(const std::string& xml, const std::string& tag) {
  const std::string open = "<" + tag + ">";
  const size_t b = xml.find(open);
  if (b == std::string::npos) return "";
  const size_t e = xml.find("</" + tag + ">", b);
  return e == std::string::npos ? "" : xml.substr(b + open.size(), e - b - open.size());
}

}  // namespace quasar::tests
